"""Periodic re-verification on the real cluster: a second run starts on schedule, and while it
runs the check's conditions do not move (Reconciling is never raised again), so GitOps health
does not flap; the new verdict then lands in status and history."""

from __future__ import annotations

import time
from typing import Any

from .conftest import Cluster, Operator, condition, is_final, workload


def test_a_periodic_run_does_not_flap_the_conditions(cluster: Cluster, namespace: str,
                                                     operator: Operator) -> None:
    cluster.create_check(namespace, "periodic", {
        "target": workload(), "liveness": {"period": "1s", "observeFor": "3s"},
        "schedule": {"every": "1m"}})
    first = cluster.wait_check(namespace, "periodic", is_final, timeout=90, what="final")
    assert first["status"]["phase"] == "Passed" and first["status"]["runs"] == 1
    ready_since = condition(first, "Ready")["lastTransitionTime"]
    seen: list[dict[str, Any]] = []

    def second_verdict(obj: dict[str, Any]) -> bool:
        seen.append(obj)
        status = obj["status"]
        return bool(status["runs"] == 2 and is_final(obj)
                    and status["lastVerdictAt"] != first["status"]["lastVerdictAt"])

    started = time.monotonic()
    second = cluster.wait_check(namespace, "periodic", second_verdict, timeout=120,
                                what="verdict of the periodic run")
    waited = time.monotonic() - started
    running = [o for o in seen if o["status"]["phase"] not in ("Passed", "Failed")]
    assert running, "never saw the periodic run in progress"
    for obj in seen:
        assert condition(obj, "Reconciling") is None, obj["status"]["conditions"]
        assert condition(obj, "Ready")["status"] == "True"
        assert obj["status"]["verdict"] == "Passed"  # the last verdict stays while re-running
    assert condition(second, "Ready")["lastTransitionTime"] == ready_since  # never flipped
    assert 30 <= waited <= 100
    assert [h.split(" ")[:2] for h in second["status"]["history"]] == [["run", "1"],
                                                                        ["run", "2"]]
    assert second["status"]["nextRunAt"] > second["status"]["lastVerdictAt"]
