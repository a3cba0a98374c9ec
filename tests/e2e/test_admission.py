"""Workloads refused by admission on the real cluster (Pod Security ``restricted`` enforced on
every e2e namespace, a ResourceQuota): their pods never exist, so there is no crash to see. The
Deployment's ReplicaFailure condition carries the admission's message; readygate diagnoses it
within seconds instead of waiting out the readiness budget."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from .conftest import RESTRICTED_CONTAINER, WORKLOAD_IMAGE, Cluster, Operator, is_final


def _deployment(name: str, container_extra: dict[str, Any]) -> dict[str, Any]:
    labels = {"app": name}
    return {"metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "containers": [{"name": "app", "image": WORKLOAD_IMAGE,
                                         "imagePullPolicy": "Never",
                                         "ports": [{"containerPort": 8080}],
                                         **container_extra}]}}}}


def _seconds(a: str, b: str) -> float:
    def parse(t: str) -> datetime.datetime:
        return datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))
    return (parse(b) - parse(a)).total_seconds()


def _check_refused(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    cluster.core.create_namespaced_service(ns, {
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}})
    cluster.create_check(ns, name, {"target": {"workloadRef": {"name": name}},
                                    "readiness": {"within": "2m"}})
    obj = cluster.wait_check(ns, name, is_final, timeout=60, what="final (diagnosed)")
    status: dict[str, Any] = obj["status"]
    assert status["phase"] == "Failed", status
    return status


def test_a_workload_refused_by_pod_security_is_diagnosed_with_its_message(
        cluster: Cluster, namespace: str, operator: Operator) -> None:
    # runs as root, may escalate: the namespace enforces restricted, so no pod is ever created
    cluster.apps.create_namespaced_deployment(namespace, _deployment("rooty", {
        "resources": RESTRICTED_CONTAINER["resources"],
        "securityContext": {"runAsUser": 0, "allowPrivilegeEscalation": True}}))
    status = _check_refused(cluster, namespace, "rooty")
    diagnosis = status["diagnosis"]
    assert diagnosis["reason"] == "FailedCreate", diagnosis
    assert 'violates PodSecurity "restricted:latest"' in diagnosis["message"], diagnosis
    assert "FailedCreate" in status["summary"]
    # within seconds of the run's start, not at the end of its 2 minute budget
    assert _seconds(status["runStartedAt"], diagnosis["detectedAt"]) < 30, status


@pytest.fixture
def quota(cluster: Cluster, namespace: str) -> str:
    cluster.core.create_namespaced_resource_quota(namespace, {
        "metadata": {"name": "no-pods"}, "spec": {"hard": {"pods": "0"}}})
    return namespace


def test_a_workload_refused_by_a_resource_quota_is_diagnosed_with_its_message(
        cluster: Cluster, quota: str, operator: Operator) -> None:
    cluster.apps.create_namespaced_deployment(quota, _deployment("capped", RESTRICTED_CONTAINER))
    status = _check_refused(cluster, quota, "capped")
    diagnosis = status["diagnosis"]
    assert diagnosis["reason"] == "FailedCreate", diagnosis
    assert "exceeded quota" in diagnosis["message"], diagnosis
