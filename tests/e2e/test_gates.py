"""Pod readiness gates on the real cluster: a rollout waits for readygate's verdict.

Each test makes a Deployment whose pods declare the check's gate, and proves what happened from
the objects Kubernetes itself keeps: the pods' conditions (ContainersReady, the gate, Ready and
their transition times) and the Deployment's own status (updated/ready/available replicas and
its Progressing condition).
"""

from __future__ import annotations

import datetime
from typing import Any

import httpx

from .conftest import RESTRICTED_CONTAINER, WORKLOAD_IMAGE, Cluster, Operator, is_final, wait_for

GATE = "readygate.io/web"


def _deployment(name: str, env: dict[str, str], *, progress_deadline: int = 600,
                replicas: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": progress_deadline,
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "readinessGates": [{"conditionType": GATE}],
                    "terminationGracePeriodSeconds": 2,
                    "containers": [{
                        "name": "web", "image": WORKLOAD_IMAGE, "imagePullPolicy": "Never",
                        **RESTRICTED_CONTAINER,
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "env": [{"name": k, "value": v} for k, v in env.items()],
                        # the kubelet's own probe passes in every version used here
                        "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"},
                                           "periodSeconds": 1},
                    }],
                },
            },
        },
    }


def gated_web(cluster: Cluster, namespace: str, progress_deadline: int = 600) -> None:
    """The gated Deployment ``web`` (2 replicas) and its Service."""
    cluster.apps.create_namespaced_deployment(
        namespace, _deployment("web", {"VERSION": "1"}, progress_deadline=progress_deadline))
    cluster.core.create_namespaced_service(namespace, {
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}})


def _setup(cluster: Cluster, namespace: str, progress_deadline: int = 600) -> None:
    gated_web(cluster, namespace, progress_deadline)
    cluster.create_check(namespace, "web", {
        "target": {"workloadRef": {"name": "web"}},
        "gate": {"podReadinessGate": GATE},
        "readiness": {"within": "30s"},
        "liveness": {"period": "500ms", "observeFor": "4s", "failureThreshold": 2,
                     "maxFlaps": 0}})


def _conditions(pod: Any) -> dict[str, Any]:
    return {c.type: c for c in pod.status.conditions or []}


def _pods(cluster: Cluster, namespace: str) -> list[Any]:
    return [p for p in cluster.core.list_namespaced_pod(namespace,
                                                         label_selector="app=web").items
            if p.metadata.deletion_timestamp is None]


def _rolled_out(cluster: Cluster, namespace: str) -> bool:
    dep = cluster.apps.read_namespaced_deployment("web", namespace)
    s = dep.status
    return bool(s.observed_generation == dep.metadata.generation
                and s.updated_replicas == 2 and s.ready_replicas == 2
                and s.available_replicas == 2 and not s.unavailable_replicas
                and (s.replicas or 0) == 2)


def _roll_to(cluster: Cluster, namespace: str, env: dict[str, str]) -> None:
    dep = cluster.apps.read_namespaced_deployment("web", namespace)
    container = dep.spec.template.spec.containers[0]
    container.env = [{"name": k, "value": v} for k, v in env.items()]
    cluster.apps.patch_namespaced_deployment("web", namespace, {"spec": {"template": {
        "spec": {"containers": [{"name": "web", "env": container.env}]}}}})


def _ts(value: Any) -> datetime.datetime:
    assert isinstance(value, datetime.datetime), value
    return value


def test_new_pods_stay_unready_until_verified_and_a_good_rollout_completes(
        cluster: Cluster, namespace: str, operator: Operator) -> None:
    _setup(cluster, namespace)
    wait_for("rolled out with verified pods", 90, lambda: _rolled_out(cluster, namespace))
    for pod in _pods(cluster, namespace):
        cond = _conditions(pod)
        assert cond[GATE].status == "True" and cond[GATE].reason == "ReadinessCheckPassed"
        # The pod could not be Ready before readygate said so: its containers were ready
        # first, the gate came at least the liveness window (4 s) later, Ready only then.
        containers_ready = _ts(cond["ContainersReady"].last_transition_time)
        gate_set = _ts(cond[GATE].last_transition_time)
        ready = _ts(cond["Ready"].last_transition_time)
        assert (gate_set - containers_ready).total_seconds() >= 3, (containers_ready, gate_set)
        assert ready >= gate_set
    old = {p.metadata.name for p in _pods(cluster, namespace)}
    _roll_to(cluster, namespace, {"VERSION": "2"})
    wait_for("rolled out to version 2", 120,
          lambda: _rolled_out(cluster, namespace)
          and not old & {p.metadata.name for p in _pods(cluster, namespace)})
    for pod in _pods(cluster, namespace):
        assert _conditions(pod)[GATE].status == "True"
    status = cluster.get_check(namespace, "web")["status"]
    assert status["gate"]["conditionType"] == GATE
    assert status["gate"]["verified"] >= 2 and status["gate"]["failed"] == 0


def test_a_failing_pod_blocks_the_rollout_and_deleting_the_check_releases_it(
        cluster: Cluster, namespace: str, operator: Operator) -> None:
    _setup(cluster, namespace, progress_deadline=20)
    wait_for("rolled out with verified pods", 90, lambda: _rolled_out(cluster, namespace))
    old = {p.metadata.name for p in _pods(cluster, namespace)}
    # Version 2 passes the kubelet's readiness probe but its /health flaps: readygate fails it.
    _roll_to(cluster, namespace, {"VERSION": "2", "LIVENESS_FLAP_PERIOD": "1"})

    def failed_new_pod() -> Any:
        for pod in _pods(cluster, namespace):
            gate = _conditions(pod).get(GATE)
            if pod.metadata.name not in old and gate is not None and gate.status == "False":
                return pod
        return None

    bad = wait_for("the new pod's gate False", 60, failed_new_pod)
    gate = _conditions(bad)[GATE]
    assert gate.reason == "ReadinessCheckFailed" and "flapping" in gate.message
    assert _conditions(bad)["Ready"].status == "False"
    assert _conditions(bad)["ContainersReady"].status == "True"

    def stalled() -> Any:
        dep = cluster.apps.read_namespaced_deployment("web", namespace)
        progressing = {c.type: c for c in dep.status.conditions or []}.get("Progressing")
        return dep if progressing is not None and progressing.status == "False" else None

    dep = wait_for("the rollout reported stalled by the Deployment", 60, stalled)
    progressing = {c.type: c for c in dep.status.conditions}["Progressing"]
    assert progressing.reason == "ProgressDeadlineExceeded"
    assert dep.status.updated_replicas == 1  # only the surge pod of version 2 exists
    assert dep.status.ready_replicas == 2 and dep.status.available_replicas == 2
    assert dep.status.unavailable_replicas == 1
    # the old pods keep serving, through the Service
    ready_old = [p for p in _pods(cluster, namespace)
                 if p.metadata.name in old and _conditions(p)["Ready"].status == "True"]
    assert len(ready_old) == 2
    svc = cluster.core.read_namespaced_service("web", namespace)
    for _ in range(5):
        answer = httpx.get(f"http://{svc.spec.cluster_ip}/health", timeout=2, trust_env=False)
        assert answer.status_code == 200
    status = cluster.get_check(namespace, "web")["status"]
    assert status["gate"]["failed"] >= 1

    cluster.delete_check(namespace, "web")
    released = wait_for("the gate released on the blocked pod", 30, lambda: (
        c := _conditions(cluster.core.read_namespaced_pod(bad.metadata.name, namespace))
        .get(GATE)) is not None and c.status == "True" and c)
    assert released.reason == "ReadinessCheckDeleted"
    # Released, the pod counts as Ready and the rollout moves on: the Deployment replaces an
    # old pod with a second new one. (That one declares the gate too, and with no check left
    # nothing will set it: remove the gate from the template before deleting its check.)
    wait_for("the released pod Ready", 30, lambda: _conditions(
        cluster.core.read_namespaced_pod(bad.metadata.name, namespace))["Ready"].status == "True")
    wait_for("the rollout moved on", 60, lambda: (
        cluster.apps.read_namespaced_deployment("web", namespace).status.updated_replicas or 0)
        >= 2)


def test_deploy_target_gets_the_gate_injected(cluster: Cluster, namespace: str,
                                              operator: Operator) -> None:
    cluster.create_check(namespace, "gated", {
        "target": {"deploy": {"image": WORKLOAD_IMAGE, "imagePullPolicy": "Never"}},
        "gate": {"podReadinessGate": "readygate.io/gated"},
        "liveness": {"period": "500ms", "observeFor": "2s"}})
    obj = cluster.wait_check(namespace, "gated", is_final, timeout=90, what="final")
    assert obj["status"]["phase"] == "Passed", obj["status"]
    dep = cluster.apps.read_namespaced_deployment("rg-gated", namespace)
    assert [g.condition_type for g in dep.spec.template.spec.readiness_gates] == [
        "readygate.io/gated"]
    pods = cluster.core.list_namespaced_pod(
        namespace, label_selector="readygate.io/workload=rg-gated").items
    assert pods and all(_conditions(p)["readygate.io/gated"].status == "True" for p in pods)
