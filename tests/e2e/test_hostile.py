"""Hostile tenants on the real cluster: a check cannot delete its neighbours' pods, take over
objects it does not own, or bring the operator down with what its target sends back.

Each scenario is one a security review reproduced against earlier code (issue 11): a workload
selecting its pods with ``matchExpressions`` (whose persistence restart once selected every pod
of the namespace), pre-existing ``rg-<check>`` objects (once replaced), and a target answering
its readiness path with 256 MiB (once read whole by the operator).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from ..statusview import checks_of
from .conftest import (
    RESTRICTED_CONTAINER,
    WORKLOAD_IMAGE,
    Cluster,
    Operator,
    is_final,
    wait_for,
    workload,
)


def _deployment(name: str, labels: dict[str, str], selector: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name},
            "spec": {"replicas": 1, "selector": selector,
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "app", "image": WORKLOAD_IMAGE,
                                         "imagePullPolicy": "Never", **RESTRICTED_CONTAINER,
                                         "ports": [{"containerPort": 8080}]}]}}}}


def _pods(cluster: Cluster, namespace: str, selector: str) -> dict[str, str]:
    pods = cluster.core.list_namespaced_pod(namespace, label_selector=selector).items
    return {p.metadata.name: p.metadata.uid for p in pods if not p.metadata.deletion_timestamp}


def test_a_matchexpressions_restart_leaves_the_neighbours_alone(
        cluster: Cluster, namespace: str, operator: Operator) -> None:
    ns = namespace
    cluster.apps.create_namespaced_deployment(ns, _deployment(
        "exp", {"app": "exp", "tier": "web"},
        {"matchExpressions": [{"key": "app", "operator": "In", "values": ["exp"]}]}))
    cluster.apps.create_namespaced_deployment(ns, _deployment(
        "neighbour", {"app": "neighbour"}, {"matchLabels": {"app": "neighbour"}}))
    cluster.core.create_namespaced_service(ns, {
        "metadata": {"name": "exp"},
        "spec": {"selector": {"app": "exp"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    neighbours = wait_for("the neighbour running", 90,
                          lambda: _pods(cluster, ns, "app=neighbour"))
    before = wait_for("the target running", 90, lambda: _pods(cluster, ns, "app=exp"))
    # The test workload keeps items on disk when STATE_DIR is set, else in memory: the write
    # is lost on restart and persistence fails — what matters here is which pods were deleted.
    cluster.create_check(ns, "exp", {
        "target": {"workloadRef": {"name": "exp", "service": "exp"}},
        "liveness": {"enabled": False},
        "persistence": {"write": {"method": "POST", "path": "/items",
                                  "body": '{"key": "k-{token}", "value": "{token}"}'},
                        "readBack": {"path": "/items/k-{token}"}, "within": "60s"}})
    obj = cluster.wait_check(ns, "exp", is_final, timeout=150, what="final")
    persistence = checks_of(obj["status"])["persistence"]
    assert "restarted" in persistence["message"] or persistence["result"] == "Failed", \
        persistence
    after = _pods(cluster, ns, "app=exp")
    assert after and not set(after.values()) & set(before.values()), "the target was restarted"
    assert _pods(cluster, ns, "app=neighbour") == neighbours, "a neighbour's pod was deleted"


def test_pre_existing_rg_objects_are_left_untouched(
        cluster: Cluster, namespace: str, operator: Operator) -> None:
    ns = namespace
    # someone else's production Service and Deployment under the name the check would use
    cluster.apps.create_namespaced_deployment(ns, _deployment(
        "rg-victim", {"app": "prod"}, {"matchLabels": {"app": "prod"}}))
    cluster.core.create_namespaced_service(ns, {
        "metadata": {"name": "rg-victim"},
        "spec": {"selector": {"app": "prod"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    dep_before = cluster.apps.read_namespaced_deployment("rg-victim", ns)
    svc_before = cluster.core.read_namespaced_service("rg-victim", ns)
    cluster.create_check(ns, "victim", {"target": workload(), "liveness": {"enabled": False}})
    obj = cluster.wait_check(ns, "victim", is_final, timeout=90, what="final")
    status = obj["status"]
    assert status["phase"] == "Error", status
    assert "not owned by this ReadinessCheck" in status["summary"], status["summary"]
    dep = cluster.apps.read_namespaced_deployment("rg-victim", ns)
    svc = cluster.core.read_namespaced_service("rg-victim", ns)
    # (its controller writes its status; its spec, labels and owners are what a takeover changes)
    assert dep.metadata.generation == dep_before.metadata.generation
    assert dep.spec.template.to_dict() == dep_before.spec.template.to_dict()
    assert dep.metadata.labels == dep_before.metadata.labels
    assert svc.metadata.resource_version == svc_before.metadata.resource_version
    assert svc.spec.selector == {"app": "prod"} and not dep.metadata.owner_references


class _Huge(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    size = 256 * 2**20

    def do_GET(self) -> None:  # the http.server API
        self.send_response(200)
        self.send_header("Content-Length", str(self.size))
        self.end_headers()
        chunk = b"x" * 2**20
        try:
            for _ in range(self.size // len(chunk)):
                self.wfile.write(chunk)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def huge() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Huge)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_256_mib_answer_does_not_grow_the_operator(
        cluster: Cluster, namespace: str, operator: Operator,
        huge: ThreadingHTTPServer) -> None:
    pid = operator.proc.pid
    before = _rss_mib(pid)
    url = f"http://127.0.0.1:{huge.server_address[1]}"
    cluster.create_check(namespace, "huge", {
        "target": {"url": url}, "readiness": {"path": "/ready", "within": "20s"},
        "liveness": {"path": "/health", "period": "500ms", "observeFor": "5s"},
        "security": {"requireAuth": ["/admin"], "samples": 3}})
    peak = before
    deadline = time.monotonic() + 120
    obj: dict[str, Any] = {}
    while time.monotonic() < deadline:
        peak = max(peak, _rss_mib(pid))
        obj = cluster.get_check(namespace, "huge")
        if is_final(obj):
            break
        time.sleep(0.2)
    assert is_final(obj), obj.get("status")
    assert peak - before < 64, f"operator RSS grew {peak - before:.0f} MiB"
    # it answered 200 to every probe: a big body is not a failure, it is simply not read
    assert checks_of(obj["status"])["readiness"]["result"] == "Passed", obj["status"]
    assert httpx.get(operator.health, timeout=2, trust_env=False).status_code == 200
