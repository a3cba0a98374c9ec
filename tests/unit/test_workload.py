"""Tests of the test workload (tests/workload): the real app under Debian's python3 and Gunicorn.

Each test starts ``main.py`` with ``/usr/bin/python3`` (the interpreter of the workload image) as a
subprocess on 127.0.0.1 and a free port, with the behaviour chosen by environment variables, and
checks what a client sees. The whole module takes well under 30 s.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

WORKLOAD = Path(__file__).resolve().parents[1] / "workload"
MAIN = WORKLOAD / "main.py"
PYTHON = "/usr/bin/python3"  # Debian's interpreter: the image's, not a venv's or pyenv's
NOT_FOUND_LINE = "ModuleNotFoundError: No module named 'autocoder'"


def _prerequisite_problem() -> str | None:
    if not os.access(PYTHON, os.X_OK):
        return f"{PYTHON} is missing"
    probe = subprocess.run(
        [PYTHON, "-c", "import flask, gunicorn"], capture_output=True, text=True, timeout=30
    )
    if probe.returncode != 0:
        return probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else "import failed"
    return None


@pytest.fixture(scope="module", autouse=True)
def _debian_flask_gunicorn() -> None:
    problem = _prerequisite_problem()
    if problem:
        pytest.fail(
            f"the workload needs Debian's python3-flask and gunicorn under {PYTHON} ({problem}); "
            "run the project's bootstrap (it apt-installs python3-flask and gunicorn)",
            pytrace=False,
        )


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Workload:
    """One run of main.py: started on construction, stopped by ``stop()``."""

    def __init__(self, tmp: Path, env: dict[str, str], wait: bool = True) -> None:
        self.port = free_port()
        self.log = tmp / f"workload-{self.port}.log"
        full_env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "PORT": str(self.port),
            "BIND_HOST": "127.0.0.1",
            "HOSTNAME": "workload-test-0",
            **env,
        }
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [PYTHON, str(MAIN)],
                cwd=tmp,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started = time.monotonic()
        if wait:
            self.wait_serving()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_serving(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"workload exited {self.proc.returncode}:\n{self.output()}")
            try:
                self.get("/info", timeout=1.0)
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"workload did not serve within {timeout} s:\n{self.output()}")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        began = time.monotonic()
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            return Reply(
                resp.status,
                {k.lower(): v for k, v in resp.getheaders()},
                raw,
                time.monotonic() - began,
            )
        finally:
            conn.close()

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def wait_exit(self, timeout: float = 15.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"workload still running after {timeout} s") from None

    def stop(self) -> None:
        """SIGTERM, as the kubelet sends: Gunicorn's graceful shutdown (about 1 s when idle)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL to the run's own process group (master and workers): fast teardown."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


Start = Callable[..., Workload]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    runs: list[Workload] = []

    def _start(wait: bool = True, **env: str) -> Workload:
        w = Workload(tmp_path, env, wait=wait)
        runs.append(w)
        return w

    yield _start
    for w in runs:
        w.kill()


def test_healthy_endpoints(start: Start) -> None:
    w = start()
    for path in ("/", "/work", "/health", "/ready", "/admin", "/info"):
        r = w.get(path)
        assert r.status == 200, (path, r.body)
        assert r.headers["content-type"] == "application/json"
        assert "server" not in r.headers  # Gunicorn's banner is suppressed by default
        assert "x-powered-by" not in r.headers
        r.json()
    assert w.get("/health").json() == {"status": "ok"}
    wrong_method = w.request("POST", "/health")
    assert wrong_method.status == 405 and wrong_method.json()["status"] == 405
    missing = w.get("/no-such-page")
    assert missing.status == 404
    assert missing.json()["status"] == 404
    info = w.get("/info").json()
    assert info["pod"] == "workload-test-0"
    assert info["settings"]["mode"] == "healthy"
    assert info["counters"]["work_requests"] == 2
    assert info["items_backend"] == "memory"


def test_crash_import_kills_gunicorn_with_module_not_found(start: Start) -> None:
    w = start(wait=False, MODE="crash-import")
    code = w.wait_exit()
    out = w.output()
    assert code == 3, out  # Gunicorn's WORKER_BOOT_ERROR: "Reason: Worker failed to boot."
    assert NOT_FOUND_LINE in out.splitlines(), out
    assert "Worker failed to boot" in out


def test_crash_exit_and_bad_config(start: Start) -> None:
    default = start(wait=False, MODE="crash-exit")
    custom = start(wait=False, MODE="crash-exit", EXIT_CODE="7")
    bad = start(wait=False, MODE="crash-expand")
    assert default.wait_exit() == 3
    assert "MODE=crash-exit, exiting with code 3" in default.output()
    assert custom.wait_exit() == 7
    assert bad.wait_exit() == 2
    assert "invalid configuration: MODE='crash-expand'" in bad.output()


def test_ready_delay_then_liveness_fails_after(start: Start) -> None:
    w = start(READY_DELAY="1.2", LIVENESS_FAIL_AFTER="2.2")
    first = w.get("/ready")
    assert first.status == 503 and first.json()["status"] == "starting"
    assert w.get("/health").status == 200
    app_started = time.monotonic() - w.get("/info").json()["uptime_s"]

    def sleep_until_uptime(seconds: float) -> None:
        time.sleep(max(0.0, app_started + seconds - time.monotonic()))

    sleep_until_uptime(1.3)
    assert w.get("/ready").status == 200
    assert w.get("/health").status == 200
    sleep_until_uptime(2.3)
    for _ in range(3):
        r = w.get("/health")
        assert r.status == 500 and r.json()["reason"] == "LIVENESS_FAIL_AFTER"
        time.sleep(0.1)


def test_never_ready_with_flapping_liveness(start: Start) -> None:
    period = 0.4
    w = start(MODE="never-ready", LIVENESS_FLAP_PERIOD=str(period))
    seen: list[tuple[float, int]] = []
    end = time.monotonic() + 5 * period
    while time.monotonic() < end:
        assert w.get("/ready").status == 503
        seen.append((time.monotonic(), w.get("/health").status))
        time.sleep(0.05)
    statuses = [s for _, s in seen]
    assert set(statuses) == {200, 500}
    assert 0.25 < statuses.count(500) / len(statuses) < 0.75
    changes = sum(1 for a, b in itertools.pairwise(statuses) if a != b)
    assert 3 <= changes <= 6  # about one flip per period over five periods


def test_error_rate_is_deterministic_and_clean(start: Start) -> None:
    w = start(ERROR_RATE="0.1")
    replies = [w.get("/work") for _ in range(400)]
    errors = [r for r in replies if r.status == 500]
    assert 32 <= len(errors) <= 48, len(errors)  # 40 expected; exactly 40 with one worker
    assert all(r.status in (200, 500) for r in replies)
    body = errors[0].json()
    assert body == {"error": "internal server error", "status": 500}
    assert all(b"Traceback" not in r.body for r in replies)
    assert w.get("/info").json()["counters"]["injected_errors"] == len(errors)


def test_error_leak_shows_traceback(start: Start) -> None:
    w = start(ERROR_RATE="0.5", ERROR_LEAK="1")
    errors = [r for r in (w.get("/") for _ in range(6)) if r.status == 500]
    assert len(errors) == 3
    body = errors[0].json()
    assert body["traceback"].startswith("Traceback (most recent call last):")
    assert b"Traceback (most recent call last):" in errors[0].body
    assert "InjectedError" in body["exception"]


def test_latency_and_slow_under_load(start: Start) -> None:
    w = start(LATENCY_MS="250", SLOW_UNDER_LOAD="2", SLOW_FACTOR_MS="100")
    assert w.get("/health").seconds < 0.2  # probes are not slowed
    single = w.get("/work")
    assert single.status == 200 and 0.25 <= single.seconds < 0.6
    assert single.json()["latency_ms"] == 250.0
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: w.get("/work"), range(8)))
    assert all(r.status == 200 for r in replies)
    slowest = max(r.seconds for r in replies)
    assert slowest >= 0.5, [round(r.seconds, 3) for r in replies]  # up to 6 excess x 100 ms
    assert max(r.json()["latency_ms"] for r in replies) >= 500.0
    assert w.get("/info").json()["counters"]["max_in_flight"] >= 5


def test_p99_tail_latency(start: Start) -> None:
    w = start(LATENCY_P99_MS="300", LATENCY_JITTER_MS="2")
    replies = [w.get("/work") for _ in range(200)]
    slow = [r for r in replies if r.seconds >= 0.3]
    assert len(slow) == 2, sorted(round(r.seconds, 3) for r in replies)[-4:]


def test_state_in_memory_is_lost_on_restart(start: Start) -> None:
    w = start()
    put = w.request("POST", "/items", body={"key": "k1", "value": {"n": 1}})
    assert put.status == 201 and put.json()["stored"] == "memory"
    assert w.get("/items/k1").json() == {"key": "k1", "value": {"n": 1}}
    assert w.request("POST", "/items", body={"value": 1}).status == 400
    big = w.request("POST", "/items", body={"key": "big", "value": "x" * (1100 * 1024)})
    assert big.status == 413 and big.json()["status"] == 413
    w.stop()
    assert w.proc.returncode == 0, w.output()  # SIGTERM: Gunicorn shuts down cleanly
    again = start()
    assert again.get("/items/k1").status == 404


def test_state_dir_survives_restart(start: Start, tmp_path: Path) -> None:
    data = tmp_path / "data"
    w = start(STATE_DIR=str(data))
    for i in range(3):
        value = {"i": i, "text": "é"}
        assert w.request("POST", "/items", body={"key": "a/b c", "value": value}).status == 201
    w.stop()
    again = start(STATE_DIR=str(data))
    assert again.get("/items/a/b c".replace(" ", "%20")).json()["value"] == {"i": 2, "text": "é"}
    assert again.get("/items/other").status == 404
    files = sorted(p.name for p in data.iterdir())
    assert len(files) == 1 and files[0].startswith("item-"), files  # no temporaries left


def test_auth_token_on_prefixes(start: Start) -> None:
    w = start(AUTH_TOKEN="s3cret", AUTH_PATHS="/admin,/items")
    denied = w.get("/admin")
    assert denied.status == 401 and denied.headers["www-authenticate"].startswith("Bearer")
    assert denied.json()["error"] == "unauthorized"
    assert w.get("/admin", headers={"Authorization": "Bearer wrong"}).status == 401
    ok = w.get("/admin", headers={"Authorization": "Bearer s3cret"})
    assert ok.status == 200 and ok.json()["admin"] is True
    assert w.request("POST", "/items", body={"key": "k", "value": 1}).status == 401
    auth = {"Authorization": "Bearer s3cret"}
    assert w.request("POST", "/items", body={"key": "k", "value": 1}, headers=auth).status == 201
    assert w.get("/items/k").status == 401
    assert w.get("/health").status == 200 and w.get("/work").status == 200
    info = w.get("/info").json()["settings"]
    assert info["auth_token"] == "<set>" and "s3cret" not in json.dumps(info)


def test_server_banner(start: Start) -> None:
    w = start(SERVER_BANNER="1")
    r = w.get("/")
    assert r.headers["server"].startswith("gunicorn/"), r.headers
    assert r.headers["x-powered-by"] == "Flask"


def test_memory_growth_is_bounded(start: Start) -> None:
    w = start(MEMORY_GROWTH_MB_PER_S="40", MEMORY_GROWTH_MAX_MB="20")
    time.sleep(0.8)
    info = w.get("/info").json()
    assert info["memory_grown_mb"] == 20.0
    status = Path(f"/proc/{info['pid']}/status").read_text()
    rss_kb = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS:")))
    assert rss_kb > 20 * 1024


# -- /metrics and LEAK_FDS: what the metrics check scrapes (tests/e2e/test_metrics_check.py) --

def page(w: Workload) -> dict[str, float]:
    reply = w.get("/metrics")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {f"{s.name}{s.labels or ''}": s.value
            for family in text_string_to_metric_families(reply.body.decode())
            for s in family.samples}


def test_metrics_parse_and_count_requests(start: Start) -> None:
    w = start()
    before = page(w)
    for path in ("/", "/work", "/work"):
        assert w.get(path).status == 200
    after = page(w)
    for name in ("process_open_fds", "process_max_fds", "process_resident_memory_bytes",
                 "process_cpu_seconds_total", "process_start_time_seconds"):
        assert after[name] > 0, name
    assert after["workload_work_requests_total"] - before["workload_work_requests_total"] == 3
    assert after["workload_responses_total{'code': '200'}"] >= 3
    assert after["workload_leaked_fds"] == 0
    # every request closes what it opened: a steady process keeps its descriptors
    assert abs(after["process_open_fds"] - before["process_open_fds"]) <= 2


def _target(fd: Path) -> str:
    try:
        return os.readlink(fd)
    except OSError:  # closed between the listing and the read
        return ""


def test_leak_fds_grows_open_fds_per_request_up_to_the_max(start: Start) -> None:
    w = start(LEAK_FDS="3", LEAK_FDS_MAX="20")
    pid = w.get("/info").json()["pid"]

    def dev_null() -> int:
        fds = Path(f"/proc/{pid}/fd")
        return sum(1 for fd in fds.iterdir() if _target(fd) == "/dev/null")

    nulls, before = dev_null(), page(w)["process_open_fds"]
    for _ in range(5):
        w.get("/work")
    grown = page(w)
    assert grown["workload_leaked_fds"] == 15
    assert dev_null() - nulls == 15
    # the gauge counts every descriptor: the leak shows through the sockets that come and go
    # (a keep-alive connection of an earlier request may still be open in `before`)
    assert grown["process_open_fds"] - before >= 15 - 2
    for _ in range(5):
        w.get("/")
    capped = page(w)
    assert capped["workload_leaked_fds"] == 20
    assert w.get("/info").json()["leaked_fds"] == 20
