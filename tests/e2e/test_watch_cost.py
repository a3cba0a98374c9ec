"""What a check costs the API server, and how fast a crash is seen, on the real cluster.

The figures come from the operator's own request counter (``readygate_api_requests_total``,
every request its Kubernetes client sends, by verb and resource) and from the objects the API
server keeps: a gated check left idle for a minute sends no pod LIST or GET (its pods come
from the shared watch cache), and a workload that crashes at start gets its
verdict within a second of the kubelet reporting the crash — the crash wakes the run, it is not
found at the next poll.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from .conftest import Cluster, Operator, is_final, wait_for, workload
from .test_gates import GATE, gated_web

IDLE_SECONDS = 60


def _requests(operator: Operator) -> dict[tuple[str, str], float]:
    """readygate_api_requests_total by (verb, resource), summed over codes."""
    text = httpx.get(operator.metrics, timeout=10).text
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "readygate_api_requests":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                key = (sample.labels["verb"], sample.labels["resource"])
                out[key] = out.get(key, 0.0) + sample.value
    return out


def _delta(after: dict[tuple[str, str], float],
           before: dict[tuple[str, str], float]) -> dict[tuple[str, str], float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}


def test_a_gated_check_left_idle_for_a_minute_makes_no_pod_list(
        cluster: Cluster, namespace: str, operator: Operator) -> None:
    gated_web(cluster, namespace)
    cluster.create_check(namespace, "web", {
        "target": {"workloadRef": {"name": "web"}},
        "gate": {"podReadinessGate": GATE},
        "readiness": {"within": "60s"},
        "liveness": {"period": "500ms", "observeFor": "2s"}})
    obj = cluster.wait_check(namespace, "web", is_final, timeout=120, what="final")
    assert obj["status"]["phase"] == "Passed", obj["status"].get("summary")
    wait_for("both pods verified", 60, lambda: (cluster.get_check(namespace, "web")["status"]
                                                .get("gate") or {}).get("verified") == 2)
    time.sleep(3)  # the last status write and the pods' Ready transitions settle
    before = _requests(operator)
    time.sleep(IDLE_SECONDS)
    spent = _delta(_requests(operator), before)
    # no pod LIST or GET while nothing changes (the counter is the whole operator's: another
    # test's check, a scheduled one, may be running meanwhile; this one alone spends nothing)
    assert spent.get(("list", "pods"), 0) == 0, spent
    assert spent.get(("get", "pods"), 0) == 0, spent
    # and it did list pods once, to start the namespace's watch, and watches them
    total = _requests(operator)
    assert total.get(("watch", "pods"), 0) >= 1, total
    # the gate still works after the idle minute: a new pod is verified
    cluster.apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 3}})
    wait_for("the third pod verified", 60, lambda: (cluster.get_check(namespace, "web")["status"]
                                                    .get("gate") or {}).get("verified") == 3)


def _first_crash_seen(cluster: Cluster, namespace: str) -> bool:
    for pod in cluster.core.list_namespaced_pod(
            namespace, label_selector="app.kubernetes.io/managed-by=readygate").items:
        for cs in (pod.status.container_statuses or []):
            if cs.restart_count or (cs.state and cs.state.terminated) or (
                    cs.last_state and cs.last_state.terminated):
                return True
    return False


def test_a_crash_at_start_gets_its_verdict_within_a_second_of_the_kubelet_reporting_it(
        cluster: Cluster, namespace: str, operator: Operator) -> None:
    before = _requests(operator)
    cluster.create_check(namespace, "crash", {
        "target": workload({"MODE": "crash-import"}),
        "readiness": {"within": "120s"}})
    # Both moments as this test sees them through the API, polled every 50 ms: the first
    # report of the crash (a terminated container, or a restart), and the verdict.
    deadline = time.monotonic() + 120
    crashed_at: float | None = None
    final: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        now = time.monotonic()
        if crashed_at is None and _first_crash_seen(cluster, namespace):
            crashed_at = now
        obj = cluster.get_check(namespace, "crash")
        if is_final(obj):
            final, decided_at = obj, time.monotonic()
            break
        time.sleep(0.05)
    assert final is not None, "no verdict within 120 s"
    assert crashed_at is not None, "the verdict came before any crash was reported"
    status = final["status"]
    assert status["phase"] == "Failed"
    assert "ModuleNotFoundError" in status["diagnosis"]["message"]
    lag = decided_at - crashed_at
    assert lag <= 1.0, f"verdict {lag:.2f}s after the kubelet reported the crash"
    # the whole run is a handful of requests, not one per poll
    spent = _delta(_requests(operator), before)
    print("requests of the crashing run:", spent)
    assert sum(spent.values()) <= 40, spent
