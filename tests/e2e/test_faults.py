"""Faults on the real cluster: the operator killed mid-check, the API server restarted mid-check,
someone else writing the status, and 200 checks applied at once.

These tests run operators of their own (``launch_operator``), each serving only the namespace
of its test, so they can kill and restart them without touching the session's operator.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
from pathlib import Path

import kubernetes

from ..statusview import checks_of
from .conftest import (
    GROUP,
    OUT,
    PLURAL,
    RESTRICTED_CONTAINER,
    ROOT,
    VERSION,
    Cluster,
    Operator,
    checks_of_obj,
    is_final,
    launch_operator,
    wait_for,
    workload,
)

LOAD_WORKER = "readygate.io/component=load-worker"


def _log(namespace: str) -> Path:
    return OUT / f"operator-{namespace}.log"


def _cleanup(cluster: Cluster, namespace: str, op: Operator) -> None:
    """Delete the checks while an operator is there to release their finalizers."""
    if op.proc.poll() is not None:
        op = launch_operator(cluster, namespace, _log(namespace))
    with contextlib.suppress(kubernetes.client.ApiException):
        cluster.custom.delete_collection_namespaced_custom_object(GROUP, VERSION, namespace,
                                                                  PLURAL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if not cluster.custom.list_namespaced_custom_object(GROUP, VERSION, namespace,
                                                            PLURAL)["items"]:
            break
        time.sleep(0.5)
    op.stop()


def _names(cluster: Cluster, kind: str, namespace: str, selector: str = "") -> list[str]:
    args = ["get", kind, "-n", namespace, "-o", "name"] + (["-l", selector] if selector else [])
    out = cluster.kubectl(*args).stdout
    return sorted(line for line in out.splitlines() if line)


def test_operator_killed_mid_check_finishes_with_one_verdict(
        cluster: Cluster, own_namespace: str) -> None:
    ns = own_namespace
    op = launch_operator(cluster, ns, _log(ns))
    try:
        cluster.create_check(ns, "killed", {
            "target": workload(), "liveness": {"period": "1s", "observeFor": "2s"},
            "load": {"rate": 40, "duration": "12s", "workers": 2,
                     "thresholds": {"minSamples": 300}}})
        wait_for("the distributed load running", 90, lambda: (
            checks_of_obj(cluster.get_check(ns, "killed")).get("load", {}).get("result")
            == "Running" and _names(cluster, "jobs", ns, LOAD_WORKER)))
        dep_uid = cluster.apps.read_namespaced_deployment("rg-killed", ns).metadata.uid
        op.stop(signal.SIGKILL)
        assert op.proc.returncode == -signal.SIGKILL
        orphans = _names(cluster, "jobs", ns, LOAD_WORKER)
        assert len(orphans) == 1  # the killed run's Indexed Job is still there
        op = launch_operator(cluster, ns, _log(ns))
        obj = cluster.wait_check(ns, "killed", is_final, timeout=150, what="final")
        status = obj["status"]
        assert status["phase"] == "Passed", status
        assert status["runs"] == 2  # the killed run, and the one that resumed it
        verdicts = [h for h in status["history"] if h.startswith("run ")]
        assert len(verdicts) == 1 and verdicts[0].startswith("run 2 "), status["history"]
        assert checks_of(status)["load"]["measured"]["workers"] == 2
        # one Deployment (the same one, adopted), one Service, no load Jobs or plan Secrets left
        assert _names(cluster, "deployments", ns) == ["deployment.apps/rg-killed"]
        assert _names(cluster, "services", ns) == ["service/rg-killed"]
        assert cluster.apps.read_namespaced_deployment("rg-killed", ns).metadata.uid == dep_uid
        wait_for("no load Jobs or Secrets left", 30,
              lambda: not _names(cluster, "jobs,secrets", ns, LOAD_WORKER))
    finally:
        _cleanup(cluster, ns, op)


def test_api_server_restart_mid_check(cluster: Cluster, own_namespace: str) -> None:
    ns = own_namespace
    op = launch_operator(cluster, ns, _log(ns))
    try:
        cluster.create_check(ns, "before", {
            "target": workload(), "liveness": {"period": "1s", "observeFor": "2s"},
            "load": {"rate": 20, "duration": "15s", "thresholds": {"minSamples": 250,
                                                                    "maxErrorRate": 0}}})
        wait_for("the load running", 90, lambda: (
            checks_of_obj(cluster.get_check(ns, "before")).get("load", {}).get("result")
            == "Running"))
        restart = subprocess.run([str(ROOT / "hack/local-cluster/up"), "--restart",
                                  "kube-apiserver"], capture_output=True, text=True,
                                 timeout=180)
        assert restart.returncode == 0, restart.stderr[-2000:]
        obj = cluster.wait_check(ns, "before", is_final, timeout=120, what="final")
        status = obj["status"]
        assert status["phase"] == "Passed", status
        # the target's traffic never went through the API server: the load is unaffected
        assert 280 <= checks_of(status)["load"]["measured"]["requests"] <= 310
        assert op.proc.poll() is None
        # and the operator's watch came back: a check created after the restart is served
        cluster.create_check(ns, "after", {"target": workload(),
                                           "liveness": {"enabled": False}})
        after = cluster.wait_check(ns, "after", is_final, timeout=90, what="final")
        assert after["status"]["phase"] == "Passed", after["status"]
    finally:
        _cleanup(cluster, ns, op)


def test_conflicting_status_writes_are_resolved(cluster: Cluster, own_namespace: str) -> None:
    ns = own_namespace
    op = launch_operator(cluster, ns, _log(ns))
    stop = threading.Event()
    meddled = [0]

    def meddle() -> None:  # another writer: a second controller, or someone with kubectl
        while not stop.is_set():
            with contextlib.suppress(kubernetes.client.ApiException):
                cluster.custom.patch_namespaced_custom_object_status(
                    GROUP, VERSION, ns, PLURAL, "contested",
                    {"status": {"phase": "Pending", "summary": "meddled with"}})
                meddled[0] += 1
            stop.wait(0.15)

    try:
        cluster.create_check(ns, "contested", {
            "target": workload(), "liveness": {"period": "500ms", "observeFor": "6s"}})
        thread = threading.Thread(target=meddle, daemon=True)
        thread.start()
        time.sleep(10)
        stop.set()
        thread.join()
        assert meddled[0] >= 20
        obj = cluster.wait_check(ns, "contested", is_final, timeout=90, what="final")
        # the meddling stopped; the operator's own status stands (restored if need be)
        obj = wait_for("the operator's status restored", 20, lambda: (
            o := cluster.get_check(ns, "contested"))["status"]["summary"] != "meddled with"
            and is_final(o) and o)
        assert obj["status"]["phase"] == "Passed", obj["status"]
        log = op.log.read_text(errors="replace")
        assert "status write conflicted (409)" in log
    finally:
        stop.set()
        _cleanup(cluster, ns, op)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_200_checks_applied_at_once_all_reach_a_verdict(
        cluster: Cluster, own_namespace: str) -> None:
    ns = own_namespace
    labels = {"app": "shared"}
    cluster.apps.create_namespaced_deployment(ns, {
        "metadata": {"name": "shared"},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                     "name": "web", "image": workload()["deploy"]["image"],
                     "imagePullPolicy": "Never", "ports": [{"containerPort": 8080}],
                     "env": [{"name": "THREADS", "value": "16"}], **RESTRICTED_CONTAINER}]}}}})
    cluster.core.create_namespaced_service(ns, {
        "metadata": {"name": "shared"},
        "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}})
    op = launch_operator(cluster, ns, _log(ns))
    try:
        rss_idle = _rss_mib(op.proc.pid)
        started = time.monotonic()
        for i in range(200):
            cluster.create_check(ns, f"c{i:03d}", {
                "target": {"service": {"name": "shared"}},
                "readiness": {"within": "2m"},
                "liveness": {"period": "1s", "observeFor": "3s"}})
        created = time.monotonic() - started
        peak = rss_idle

        def all_final() -> bool:
            nonlocal peak
            peak = max(peak, _rss_mib(op.proc.pid))
            items = cluster.custom.list_namespaced_custom_object(GROUP, VERSION, ns,
                                                                 PLURAL)["items"]
            return len(items) == 200 and all(is_final(o) for o in items)

        wait_for("200 verdicts", 300, all_final)
        took = time.monotonic() - started
        items = cluster.custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)["items"]
        phases = {o["metadata"]["name"]: o["status"]["phase"] for o in items}
        assert set(phases.values()) == {"Passed"}, {k: v for k, v in phases.items()
                                                    if v != "Passed"}
        report = (f"200 checks: created in {created:.1f}s, all final after {took:.1f}s; "
                  f"operator RSS {rss_idle:.0f} MiB idle, {peak:.0f} MiB peak")
        (OUT / "200-checks.txt").write_text(report + "\n")
        print(report)
        assert peak < 1024, report
        assert op.proc.poll() is None
    finally:
        _cleanup(cluster, ns, op)


def test_the_global_rate_cap_bounds_what_the_operator_sends(
        cluster: Cluster, own_namespace: str) -> None:
    ns = own_namespace
    op = launch_operator(cluster, ns, _log(ns), {"READYGATE_MAX_TOTAL_RATE": "30"})
    try:
        cluster.create_check(ns, "too-much", {
            "target": workload(), "liveness": {"enabled": False},
            "load": {"rate": 50, "duration": "3s", "thresholds": {"minSamples": 10}}})
        cluster.create_check(ns, "within", {
            "target": workload(), "liveness": {"enabled": False},
            "load": {"rate": 20, "duration": "3s", "thresholds": {"minSamples": 50}}})
        refused = cluster.wait_check(ns, "too-much", is_final, timeout=90, what="final")
        load = checks_of(refused["status"])["load"]
        assert load["result"] == "Error", load
        assert "needs 50 req/s" in load["message"], load
        assert "global cap 30 req/s (READYGATE_MAX_TOTAL_RATE)" in load["message"]
        assert "measured" not in load  # nothing was sent
        within = cluster.wait_check(ns, "within", is_final, timeout=90, what="final")
        assert checks_of(within["status"])["load"]["result"] == "Passed", within["status"]
    finally:
        _cleanup(cluster, ns, op)
