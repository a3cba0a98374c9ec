"""Deploy → readiness → liveness → verdict, on the real cluster, with the test workload.

The scenarios are applied together (the operator serves them concurrently, as it would in a
real namespace) and each test asserts one of them. What is asserted is what a user sees: the
resource's conditions, phase, checks and diagnosis as the API server returns them, the
Deployment's own status, and ``kubectl wait``.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from ..statusview import checks_of
from .conftest import (
    RESTRICTED_CONTAINER,
    WORKLOAD_IMAGE,
    Cluster,
    Operator,
    condition,
    host_volume,
    host_volume_name,
    is_final,
    volume_workload,
    workload,
)

SCENARIOS: dict[str, dict[str, Any]] = {
    "healthy": {"target": workload({"READY_DELAY": "2"}),
                "liveness": {"period": "1s", "observeFor": "6s"}},
    "crash-import": {"target": workload({"MODE": "crash-import"}),
                     "readiness": {"within": "90s"}},
    "never-ready": {"target": workload({"MODE": "never-ready"}),
                    "readiness": {"within": "15s"}},
    "flapping": {"target": workload({"LIVENESS_FLAP_PERIOD": "2"}),
                 "liveness": {"period": "500ms", "observeFor": "12s", "failureThreshold": 10,
                              "maxFlaps": 1}},
    "missing-image": {"target": {"deploy": {"image": "readygate.local/no-such-image:1",
                                            "imagePullPolicy": "Never"}},
                      "readiness": {"within": "90s"}},
    # allocates 400 MiB at start under a 48 MiB limit: the kernel kills it, exit code 137
    "oom": {"target": workload(command=["python3", "-c", "x = b'x' * (400 << 20)"],
                               resources={"requests": {"cpu": "50m", "memory": "32Mi"},
                                          "limits": {"memory": "48Mi"}}),
            "readiness": {"within": "90s"}},
    "config-error": {"target": {"deploy": {
        "image": WORKLOAD_IMAGE, "imagePullPolicy": "Never",
        "env": [{"name": "AUTH_TOKEN",
                 "valueFrom": {"secretKeyRef": {"name": "no-such-secret", "key": "token"}}}]}},
        "readiness": {"within": "90s"}},
    # no node of this cluster has 64 CPUs; the default grace is 20 s
    "unschedulable": {"target": workload(resources={"requests": {"cpu": "64"}}),
                      "readiness": {"within": "90s"}},
}


@pytest.fixture(scope="module")
def results(cluster: Cluster, operator: Operator, module_namespace: str) -> dict[str, Any]:
    started = time.monotonic()
    for name, spec in SCENARIOS.items():
        cluster.create_check(module_namespace, name, spec)
    out: dict[str, Any] = {}
    for name in SCENARIOS:
        out[name] = cluster.wait_check(module_namespace, name, is_final, timeout=120,
                                       what="final")
    out["_seconds"] = time.monotonic() - started
    return out


def _parse(ts: str) -> datetime.datetime:
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)


def test_healthy_service_passes_and_kubectl_wait_returns(
        cluster: Cluster, module_namespace: str, results: dict[str, Any]) -> None:
    proc = cluster.kubectl("wait", "--for=condition=Ready", "--timeout=60s", "-n",
                           module_namespace, "readinesscheck/healthy", check=False)
    assert proc.returncode == 0, proc.stderr
    obj = results["healthy"]
    status = obj["status"]
    assert status["phase"] == "Passed", status
    assert condition(obj, "Ready")["status"] == "True"
    assert condition(obj, "Reconciling") is None
    assert condition(obj, "Stalled") is None
    assert condition(obj, "ReadinessPassed")["status"] == "True"
    assert {n: c["result"] for n, c in checks_of(status).items()} == {
        "deploy": "Passed", "readiness": "Passed", "liveness": "Passed"}
    # READY_DELAY=2: readiness can only pass after the workload said so
    assert checks_of(status)["readiness"]["measured"]["secondsToReady"] >= 2.0
    assert checks_of(status)["liveness"]["measured"]["failures"] == 0
    # measured only deploy and health: 15 + 25 of 100, the rest reported as not checked
    assert status["score"] == 40
    assert status["scoreBreakdown"] == {"deploy": 15, "health": 25}
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    assert status["history"] and "Passed" in status["history"][-1]


def test_owned_workload_is_restricted_and_garbage_collected(
        cluster: Cluster, namespace: str, operator: Operator) -> None:
    cluster.create_check(namespace, "owned", {"target": workload(),
                                              "liveness": {"enabled": False}})
    obj = cluster.wait_check(namespace, "owned", is_final, timeout=90, what="final")
    assert obj["status"]["phase"] == "Passed", obj["status"]
    dep = cluster.apps.read_namespaced_deployment("rg-owned", namespace)
    assert dep.metadata.owner_references[0].uid == obj["metadata"]["uid"]
    assert dep.metadata.owner_references[0].controller is True
    pod_spec = dep.spec.template.spec
    sc = pod_spec.containers[0].security_context
    assert sc.run_as_non_root and not sc.allow_privilege_escalation
    assert sc.read_only_root_filesystem and sc.capabilities.drop == ["ALL"]
    assert pod_spec.security_context.seccomp_profile.type == "RuntimeDefault"
    assert dep.status.available_replicas == 1
    cluster.delete_check(namespace, "owned")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        names = [d.metadata.name for d in cluster.apps.list_namespaced_deployment(namespace).items]
        services = [s.metadata.name for s in cluster.core.list_namespaced_service(namespace).items]
        if "rg-owned" not in names and "rg-owned" not in services:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"the check's Deployment/Service survived it: {names} {services}")


def test_crash_at_import_is_diagnosed_within_15s_of_the_first_crash(
        cluster: Cluster, module_namespace: str, results: dict[str, Any]) -> None:
    obj = results["crash-import"]
    status = obj["status"]
    assert status["phase"] == "Failed"
    stalled = condition(obj, "Stalled")
    ready = condition(obj, "Ready")
    assert stalled is not None and stalled["status"] == "True"
    assert ready is not None and ready["status"] == "False"
    line = "ModuleNotFoundError: No module named 'autocoder'"
    diagnosis = status["diagnosis"]
    assert line in diagnosis["message"]
    assert line in ready["message"]
    assert any(line in entry for entry in diagnosis["logTail"])
    assert diagnosis["exitCode"] == 3
    assert diagnosis["reason"] == "CrashLoopBackOff"
    # Diagnosed from the first crash (or the second, which the kubelet starts at once) and
    # within 15 s of it. Timestamps have whole seconds.
    assert diagnosis["restartCount"] <= 1
    lag = (_parse(diagnosis["detectedAt"]) - _parse(diagnosis["crashedAt"])).total_seconds()
    assert -1 <= lag <= 15, f"diagnosed {lag:.0f}s after the crash"
    pod = cluster.core.read_namespaced_pod(diagnosis["pod"], module_namespace)
    since_created = (_parse(diagnosis["detectedAt"])
                     - pod.metadata.creation_timestamp).total_seconds()
    assert since_created <= 60, f"diagnosed {since_created:.0f}s after the pod was created"
    assert checks_of(status)["readiness"]["result"] == "Failed"
    assert checks_of(status)["liveness"]["result"] == "Skipped"


def test_transitions_are_told_in_events(cluster: Cluster, module_namespace: str,
                                        results: dict[str, Any]) -> None:
    events = cluster.core.list_namespaced_event(
        module_namespace, field_selector="involvedObject.name=crash-import").items
    told = [(e.type, e.reason, e.message) for e in events
            if e.involved_object.kind == "ReadinessCheck"]
    reasons = [r for _, r, _ in told]
    assert "Deploying" in reasons and "Failed" in reasons, told
    failed = next(t for t in told if t[1] == "Failed")
    assert failed[0] == "Warning" and "ModuleNotFoundError" in failed[2]


def test_never_ready_fails_when_its_budget_ends(results: dict[str, Any]) -> None:
    status = results["never-ready"]["status"]
    assert status["phase"] == "Failed"
    readiness = checks_of(status)["readiness"]
    assert readiness["result"] == "Failed"
    assert "not ready within 15s" in readiness["message"]
    assert "HTTP 503" in readiness["message"]
    assert readiness["measured"]["budgetSeconds"] == 15
    started, finished = _parse(readiness["startedAt"]), _parse(readiness["finishedAt"])
    assert 12 <= (finished - started).total_seconds() <= 30
    assert condition(results["never-ready"], "Stalled")["status"] == "True"


def test_flapping_liveness_fails_with_evidence(results: dict[str, Any]) -> None:
    status = results["flapping"]["status"]
    assert status["phase"] == "Failed", status
    live = checks_of(status)["liveness"]
    assert live["result"] == "Failed"
    assert "flapping" in live["message"]
    assert live["measured"]["flaps"] >= 2
    assert any("HTTP 500" in e for e in live["evidence"])
    assert checks_of(status)["readiness"]["result"] == "Passed"


def test_missing_image_is_diagnosed(results: dict[str, Any]) -> None:
    obj = results["missing-image"]
    status = obj["status"]
    assert status["phase"] == "Failed"
    assert status["diagnosis"]["reason"] in ("ErrImageNeverPull", "ImagePullBackOff")
    assert "no-such-image" in status["diagnosis"]["message"]
    assert status["diagnosis"]["reason"] in condition(obj, "Ready")["message"]


def _diagnosed_at_once(obj: dict[str, Any], reason: str, within: float) -> dict[str, Any]:
    """The check failed on ``reason``, said in the diagnosis and the Ready condition, ``within``
    seconds of the start of its run, long before its 90 s readiness budget."""
    status = obj["status"]
    assert status["phase"] == "Failed", status
    diagnosis: dict[str, Any] = status["diagnosis"]
    assert diagnosis["reason"] == reason, diagnosis
    assert reason in condition(obj, "Ready")["message"]
    assert condition(obj, "Stalled")["status"] == "True"
    readiness = checks_of(status)["readiness"]
    assert readiness["result"] == "Failed"
    assert readiness["message"].startswith(f"the workload does not start: {reason}: ")
    assert readiness["measured"]["secondsToDiagnosis"] <= within, readiness
    assert checks_of(status)["liveness"]["result"] == "Skipped"
    return diagnosis


def test_oom_killed_is_diagnosed(results: dict[str, Any]) -> None:
    diagnosis = _diagnosed_at_once(results["oom"], "OOMKilled", within=45)
    assert diagnosis["exitCode"] == 137
    assert "exceeding its memory limit" in diagnosis["message"]


def test_a_missing_secret_is_diagnosed(results: dict[str, Any]) -> None:
    diagnosis = _diagnosed_at_once(results["config-error"], "CreateContainerConfigError",
                                   within=45)
    assert "no-such-secret" in diagnosis["message"]


def test_unschedulable_is_diagnosed_after_its_grace(results: dict[str, Any]) -> None:
    diagnosis = _diagnosed_at_once(results["unschedulable"], "Unschedulable", within=50)
    assert "Insufficient cpu" in diagnosis["message"]
    seconds = checks_of(results["unschedulable"]["status"])["readiness"]["measured"][
        "secondsToDiagnosis"]
    # the pod's creationTimestamp has whole seconds, so the grace can end up to 1 s early
    assert seconds >= 19, "failed before the 20 s unschedulableGrace"


def test_all_scenarios_reach_verdicts_together_quickly(results: dict[str, Any]) -> None:
    # never-ready's 15 s budget is the longest wait; everything else is faster than that
    assert results["_seconds"] < 90


def test_spec_change_starts_a_new_run(cluster: Cluster, namespace: str,
                                      operator: Operator) -> None:
    cluster.create_check(namespace, "change", {"target": workload(),
                                               "liveness": {"enabled": False}})
    first = cluster.wait_check(namespace, "change", is_final, timeout=90, what="final")
    assert first["status"]["phase"] == "Passed"
    cluster.patch_spec(namespace, "change", {"target": workload({"MODE": "never-ready"}),
                                             "readiness": {"within": "5s"}})
    seen_reconciling = cluster.wait_check(
        namespace, "change",
        lambda o: (o["status"].get("observedGeneration") == o["metadata"]["generation"]
                   and (condition(o, "Reconciling") or {}).get("status") == "True")
        or (is_final(o) and o["metadata"]["generation"] == 2),
        timeout=30, what="reconciling the new generation")
    assert seen_reconciling["metadata"]["generation"] == 2
    second = cluster.wait_check(namespace, "change", is_final, timeout=90, what="final")
    assert second["status"]["phase"] == "Failed"
    assert second["status"]["runs"] == first["status"]["runs"] + 1
    assert second["status"]["observedGeneration"] == 2
    assert len(second["status"]["history"]) == 2


def test_existing_deployment_can_be_checked(cluster: Cluster, namespace: str,
                                            operator: Operator) -> None:
    labels = {"app": "existing"}
    cluster.apps.create_namespaced_deployment(namespace, {
        "metadata": {"name": "existing"},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                     "name": "web", "image": "readygate.local/workload:dev",
                     "imagePullPolicy": "Never", "ports": [{"containerPort": 8080}],
                     **RESTRICTED_CONTAINER}]}}}})
    cluster.core.create_namespaced_service(namespace, {
        "metadata": {"name": "existing-svc"},
        "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}})
    cluster.create_check(namespace, "existing", {
        "target": {"workloadRef": {"name": "existing"}},
        "liveness": {"period": "1s", "observeFor": "3s"}})
    obj = cluster.wait_check(namespace, "existing", is_final, timeout=90, what="final")
    assert obj["status"]["phase"] == "Passed", obj["status"]
    assert "existing-svc" in obj["status"]["target"]
    # the existing workload is not owned, and is left alone
    dep = cluster.apps.read_namespaced_deployment("existing", namespace)
    assert not dep.metadata.owner_references
    cluster.create_check(namespace, "by-service", {
        "target": {"service": {"name": "existing-svc"}}, "liveness": {"enabled": False}})
    obj = cluster.wait_check(namespace, "by-service", is_final, timeout=60, what="final")
    assert obj["status"]["phase"] == "Passed", obj["status"]


def test_kubectl_get_shows_the_printer_columns(cluster: Cluster, module_namespace: str,
                                               results: dict[str, Any]) -> None:
    out = cluster.kubectl("get", "rgc", "-n", module_namespace).stdout
    header = out.splitlines()[0].split()
    assert header == ["NAME", "READY", "VERDICT", "SCORE", "AGE"], header
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["healthy"][1:3] == ["True", "Passed"], rows["healthy"]
    assert rows["crash-import"][1:3] == ["False", "Failed"], rows["crash-import"]
    # the long ones with -o wide, the verdict not repeated in the summary
    wide = cluster.kubectl("get", "rgc", "-n", module_namespace, "-o", "wide").stdout
    assert wide.splitlines()[0].split() == ["NAME", "READY", "VERDICT", "SCORE", "AGE", "PHASE",
                                            "P95MS", "SUMMARY"], wide.splitlines()[0]
    assert "ModuleNotFoundError" in wide and "ModuleNotFoundError" not in out
    crash = next(line for line in wide.splitlines() if line.startswith("crash-import"))
    assert crash.count("Failed") == 2, crash  # the Verdict and Phase columns, not the summary
    by_category = cluster.kubectl("get", "readygate", "-n", module_namespace).stdout
    assert "healthy" in by_category


def test_explain_reads_well(cluster: Cluster) -> None:
    out = cluster.kubectl("explain", "readinesscheck.spec.readiness.within").stdout
    assert "Time budget" in out


def test_kubectl_wait_on_a_failing_check_times_out(cluster: Cluster, module_namespace: str,
                                                   results: dict[str, Any]) -> None:
    proc = cluster.kubectl("wait", "--for=condition=Ready", "--timeout=2s", "-n",
                           module_namespace, "readinesscheck/never-ready", check=False)
    assert proc.returncode != 0
    assert isinstance(proc, subprocess.CompletedProcess)


def test_a_pod_waiting_for_its_volume_gets_the_whole_readiness_budget(
        cluster: Cluster, namespace: str, operator: Operator) -> None:
    """Volume binding heals by itself (the volume controller retries every 15 s, a provisioner
    takes its time): past the 20 s unschedulableGrace the check still waits, and passes once
    the volume appears. CI once failed here when the controller was slow to bind."""
    volume_workload(cluster, namespace)  # its claim has no volume to bind yet
    cluster.create_check(namespace, "store", {
        "target": {"workloadRef": {"name": "store"}},
        "liveness": {"period": "1s", "observeFor": "3s"}})
    waiting = cluster.wait_check(
        namespace, "store",
        lambda o: "unbound immediate PersistentVolumeClaims" in
        ((o.get("status") or {}).get("diagnosis") or {}).get("message", ""),
        timeout=60, what="diagnosed as waiting for its volume")
    assert waiting["status"]["diagnosis"]["reason"] == "Unschedulable"
    pod = cluster.core.read_namespaced_pod(waiting["status"]["diagnosis"]["pod"], namespace)
    created = pod.metadata.creation_timestamp.timestamp()
    time.sleep(max(0.0, created + 30 - time.time()))  # well past the grace
    obj = cluster.get_check(namespace, "store")
    assert not is_final(obj), obj["status"]
    assert checks_of(obj["status"])["readiness"]["result"] == "Running"
    host_volume(cluster, namespace, Path(os.environ.get("READYGATE_E2E_HOSTPATH", "/tmp"))
                / f"readygate-{namespace}")
    try:
        obj = cluster.wait_check(namespace, "store", is_final, timeout=110, what="final")
        status = obj["status"]
        assert status["phase"] == "Passed", status
        assert checks_of(status)["readiness"]["result"] == "Passed"
        assert condition(obj, "Ready")["status"] == "True"
        assert "diagnosis" not in status, "a wait that ended still reads as why it cannot start"
    finally:
        cluster.custom.delete_namespaced_custom_object("readygate.io", "v1alpha1", namespace,
                                                       "readinesschecks", "store")
        cluster.core.delete_persistent_volume(host_volume_name(namespace))
