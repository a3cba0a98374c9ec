"""The manifest check on the real cluster: readygate's own Deployment meets every default but a
liveness probe (a Conditional pass), a Deployment with a poor template fails as the spec set its
findings (Fail, Warn, Ignore) while readiness and liveness pass, and the API server refuses a
manifest for a url target.

Every e2e namespace enforces the restricted Pod Security Standard, so the poor template keeps
what that standard requires (non-root, no privilege escalation, no capabilities, a seccomp
profile) and leaves out what it does not: probes, resources, a read-only root filesystem, a
digest.
"""

from __future__ import annotations

import json
from typing import Any

import kubernetes
import pytest

from .conftest import (
    WORKLOAD_IMAGE,
    Cluster,
    Operator,
    checks_of_obj,
    condition,
    is_final,
    workload,
)

SHORT_LIVENESS = {"period": "1s", "observeFor": "3s"}
LABELS = {"app": "poor"}


def poor_workload(cluster: Cluster, namespace: str) -> None:
    """Deployment and Service ``poor``: no probes, no resources, a writable root filesystem,
    an image by tag (:dev) and not by digest."""
    cluster.apps.create_namespaced_deployment(namespace, {
        "metadata": {"name": "poor"},
        "spec": {"replicas": 1, "selector": {"matchLabels": LABELS},
                 "template": {"metadata": {"labels": LABELS}, "spec": {
                     "terminationGracePeriodSeconds": 2,
                     "containers": [{
                         "name": "web", "image": WORKLOAD_IMAGE, "imagePullPolicy": "Never",
                         "ports": [{"name": "http", "containerPort": 8080}],
                         "securityContext": {
                             "runAsNonRoot": True, "allowPrivilegeEscalation": False,
                             "capabilities": {"drop": ["ALL"]},
                             "seccompProfile": {"type": "RuntimeDefault"}}}]}}}})
    cluster.core.create_namespaced_service(namespace, {
        "metadata": {"name": "poor"},
        "spec": {"selector": LABELS, "ports": [{"port": 80, "targetPort": "http"}]}})


def test_readygates_own_deployment_meets_every_default_but_a_liveness_probe(
        cluster: Cluster, namespace: str, operator: Operator) -> None:
    cluster.create_check(namespace, "own", {"target": workload(), "liveness": SHORT_LIVENESS,
                                            "manifest": {}})
    obj = cluster.wait_check(namespace, "own", is_final, timeout=180, what="final")
    status = obj["status"]
    manifest = checks_of_obj(obj)["manifest"]
    assert status["phase"] == "Passed" and status["verdict"] == "Conditional", status
    assert manifest["result"] == "Passed", manifest
    assert manifest["message"] == ("Deployment rg-own's pod template: 1 container(s) judged, no "
                                   "finding set to Fail; 1 warning(s); 1 finding(s) ignored by "
                                   "the spec")
    assert status["warnings"] == ["manifest: app: no livenessProbe (livenessProbe)"]
    # the probe readygate declared is the path it saw answer; the tag is not a digest (ignored)
    assert "app: readinessProbe GET /ready answered 2xx in this run" in manifest["evidence"]
    assert manifest["measured"] == {"containers": 1, "findings": 2, "failedFindings": 0,
                                    "warnedFindings": 1, "ignoredFindings": 1}
    ready = condition(obj, "Ready")
    assert ready is not None and (ready["status"], ready["reason"]) == ("True", "Conditional")
    assert status["scoreBreakdown"]["deploy"] == 11  # (deploy 1 + manifest 0.5) / 2 of 15


def test_a_poor_template_fails_and_warns_as_the_spec_says(
        cluster: Cluster, namespace: str, operator: Operator) -> None:
    poor_workload(cluster, namespace)
    cluster.create_check(namespace, "poor", {
        "target": {"workloadRef": {"name": "poor"}}, "liveness": SHORT_LIVENESS,
        "manifest": {"readOnlyRootFilesystem": "Fail", "imageDigest": "Warn",
                     "livenessProbe": "Ignore"}})
    obj = cluster.wait_check(namespace, "poor", is_final, timeout=180, what="final")
    status = obj["status"]
    checks = checks_of_obj(obj)
    assert status["phase"] == "Failed", status
    # the service itself is fine: only its template fails
    assert {n: c["result"] for n, c in checks.items()} == {
        "readiness": "Passed", "liveness": "Passed", "manifest": "Failed"}
    manifest = checks["manifest"]
    assert manifest["message"] == (
        "3 finding(s) in Deployment poor's pod template fail the check: web: no readinessProbe "
        "(readinessProbe); web: no requests.cpu, requests.memory, limits.memory (resources); "
        "web: has a writable root filesystem (readOnlyRootFilesystem); 1 warning(s)")
    assert manifest["warnings"] == [
        f"web: image {WORKLOAD_IMAGE} is pinned by tag, not by digest (imageDigest)"]
    assert manifest["measured"] == {"containers": 1, "findings": 5, "failedFindings": 3,
                                    "warnedFindings": 1, "ignoredFindings": 1}
    evidence = manifest["evidence"]
    assert evidence[0] == "judged Deployment poor's pod template: web"
    assert any(e.startswith("Fail readinessProbe web: no readinessProbe;")
               and "fix: add readinessProbe.httpGet on /ready, which answered 2xx" in e
               for e in evidence), evidence
    assert any(e.startswith("Warn imageDigest web:") for e in evidence), evidence
    assert not any("livenessProbe" in e for e in evidence)  # ignored: counted, not shown
    assert status["summary"].startswith("manifest failed: 3 finding(s)")
    ready = condition(obj, "Ready")
    assert ready is not None and ready["status"] == "False"
    # a workloadRef target: its deploy category is the manifest's alone, and it earned nothing
    assert status["scoreBreakdown"]["deploy"] == 0 and status["score"] == 25


def test_the_api_server_refuses_a_manifest_for_a_url_target(cluster: Cluster,
                                                            namespace: str) -> None:
    spec: dict[str, Any] = {"target": {"url": "http://127.0.0.1:9/"}, "manifest": {}}
    with pytest.raises(kubernetes.client.ApiException) as info:
        cluster.create_check(namespace, "url", spec)
    assert info.value.status == 422
    message = json.loads(info.value.body)["message"]  # what kubectl prints
    assert "spec.manifest: Invalid value" in message and "a url target has none" in message, \
        message
    with pytest.raises(kubernetes.client.ApiException) as info:
        cluster.create_check(namespace, "typo", {"target": workload(),
                                                 "manifest": {"imageTag": "fail"}})
    assert info.value.status == 422
    assert 'spec.manifest.imageTag: Unsupported value: "fail"' in \
        json.loads(info.value.body)["message"]
