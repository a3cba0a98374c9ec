"""A glob ``--namespace``: every matching namespace is served, including the ones created while
the operator starts, and no other.

kopf lists namespaces twice as it starts (once to seed, once to begin its watch); a namespace
created between the two listings used to be served only once something modified it
(readygate.control.namespaces). This test creates namespaces right through that start-up.
"""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path

from .conftest import (
    OUT,
    SESSION,
    Cluster,
    create_namespace,
    drop_namespace,
    is_final,
    launch_operator,
)

# Error at once (no Service called "nope"), and touches nothing: a cheap proof of service.
PROBE_SPEC = {"target": {"service": {"name": "nope"}}}
BURST, LATER = 30, 5


def _create_while_starting(cluster: Cluster, prefix: str, log: Path, names: list[str],
                           stop: threading.Event) -> None:
    """From the moment the operator's start-up handler is done: a burst of BURST namespaces
    from three threads (kopf's two listings are some 30 ms apart here, and the burst spans
    them), then LATER more, one every 200 ms."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not stop.is_set():
        if log.exists() and "readygate is ready" in log.read_text(errors="replace"):
            break
        time.sleep(0.005)
    lock = threading.Lock()
    numbers = iter(range(BURST))

    def burst() -> None:
        while not stop.is_set():
            with lock:
                i = next(numbers, None)
            if i is None:
                return
            name = create_namespace(cluster, f"{prefix}{i:02d}")
            with lock:
                names.append(name)

    threads = [threading.Thread(target=burst, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for i in range(BURST, BURST + LATER):
        if stop.is_set():
            return
        time.sleep(0.2)
        names.append(create_namespace(cluster, f"{prefix}{i:02d}"))


def test_namespaces_created_while_the_operator_starts_are_served(cluster: Cluster) -> None:
    created: list[str] = []
    token = secrets.token_hex(2)
    prefix = f"rg-e2e-x{SESSION}-glob{token}-"  # matches no session operator's pattern
    log = OUT / f"operator-glob{token}.log"
    OUT.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    creator = threading.Thread(target=_create_while_starting,
                               args=(cluster, prefix, log, created, stop), daemon=True)
    creator.start()
    op = launch_operator(cluster, f"{prefix}*", log)
    try:
        # the last ones are created well after the operator is up: plain ADDED watch events
        creator.join(30)
        assert not creator.is_alive()
        assert len(created) == BURST + LATER, created
        matching = list(created)
        other = create_namespace(cluster, f"rg-e2e-x{SESSION}-other{token}")
        created.append(other)
        for name in created:
            cluster.create_check(name, "probe", PROBE_SPEC)
        unserved = list(matching)
        deadline = time.monotonic() + 60
        while unserved and time.monotonic() < deadline:
            unserved = [n for n in unserved if not is_final(cluster.get_check(n, "probe"))]
            time.sleep(0.5)
        assert not unserved, (f"{len(unserved)} of {len(matching)} matching namespaces not served "
                              f"within 60 s: {unserved}\n{op.log_tail()}")
        for name in matching:
            status = cluster.get_check(name, "probe")["status"]
            assert status["phase"] == "Error" and "Service nope not found" in status["summary"]
        assert not cluster.get_check(other, "probe").get("status"), \
            "a namespace outside the pattern was served"
    finally:
        stop.set()
        creator.join(30)
        # release the finalizers while the operator is still there
        for name in created:
            drop_namespace(cluster, name, timeout=20)
        op.stop()
