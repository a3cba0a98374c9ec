"""Bad input on the real API server: refused by the schema, or marked Error with the reason —
and the operator keeps serving every other check meanwhile."""

from __future__ import annotations

import json
from typing import Any

import kubernetes
import pytest

from .conftest import Cluster, Operator, condition, is_final, workload

IMG = {"image": "readygate.local/workload:dev", "imagePullPolicy": "Never"}

# Refused by the API server's schema: (spec, words in the API server's message)
REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("no-target", {}, "spec.target"),
    ("two-targets", {"target": {"deploy": IMG, "url": "http://a.example"}},
     "spec.target: Invalid value: set exactly one of deploy, workloadRef, service "
     "or url"),
    ("negative-rate", {"target": {"deploy": IMG}, "load": {"rate": -5}}, "spec.load.rate"),
    ("huge-rate", {"target": {"deploy": IMG}, "load": {"rate": 1e9}}, "spec.load.rate"),
    ("string-port", {"target": {"deploy": {**IMG, "port": "eighty"}}}, "spec.target.deploy.port"),
    ("bad-duration", {"target": {"deploy": IMG}, "readiness": {"within": "2 minutes"}},
     "spec.readiness.within"),
    ("bad-model", {"target": {"deploy": IMG}, "load": {"model": "burst", "rate": 1}},
     "spec.load.model"),
    ("rate-and-users", {"target": {"deploy": IMG}, "load": {"rate": 1, "users": 1}},
     "set rate (open model) or users (closed model), not both"),
    ("ftp-url", {"target": {"url": "ftp://files.example/"}}, "spec.target.url"),
    ("env-without-value", {"target": {"deploy": {**IMG, "env": [{"name": "A"}]}}},
     "spec.target.deploy.env[0]: Invalid value: set exactly one of value or "
     "valueFrom"),
    ("too-many-workers", {"target": {"deploy": IMG}, "load": {"rate": 1, "workers": 500}},
     "spec.load.workers"),
    ("hostile-image", {"target": {"deploy": {"image": "a b; rm -rf /"}}},
     "spec.target.deploy.image"),
    ("replicas-zero", {"target": {"deploy": {**IMG, "replicas": 0}}},
     "spec.target.deploy.replicas"),
    # the corpus of the malformed: wrong types, huge values, hostile strings
    ("target-a-string", {"target": "my-service"}, "spec.target"),
    ("target-a-list", {"target": [{"url": "http://a.example"}]}, "spec.target"),
    ("users-a-float", {"target": {"deploy": IMG}, "load": {"model": "closed", "users": 2.5}},
     "spec.load.users"),
    ("huge-workers", {"target": {"deploy": IMG}, "load": {"rate": 1, "workers": 2**40}},
     "spec.load.workers"),
    ("huge-string", {"target": {"deploy": {**IMG, "image": "a" * 10_000}}},
     "spec.target.deploy.image"),
    ("newline-in-path", {"target": {"deploy": IMG}, "readiness": {"path": "/ready\r\nX: y"}},
     "spec.readiness.path"),
    ("crlf-header", {"target": {"deploy": IMG}, "load": {"rate": 1, "requests": [
        {"headers": [{"name": "X-A\r\nEvil", "value": "1"}]}]}}, "name"),
    ("shell-env-name", {"target": {"deploy": {**IMG, "env": [{"name": "$(rm -rf /)",
                                                               "value": "x"}]}}}, "name"),
    ("negative-kill", {"target": {"deploy": IMG}, "resilience": {"killPods": -1}},
     "spec.resilience.killPods"),
    ("bad-gate-type", {"target": {"deploy": IMG}, "gate": {"podReadinessGate": "a b"}},
     "spec.gate.podReadinessGate"),
    ("bad-policy", {"target": {"deploy": IMG}, "security": {"banners": "Maybe"}},
     "spec.security.banners"),
    # rules across fields and duration bounds: CEL rules, each with the message kubectl shows
    ("open-without-rate", {"target": {"deploy": IMG}, "load": {"duration": "5s"}},
     "spec.load: Invalid value: the open model needs rate, stages or stress"),
    ("stress-upside-down", {"target": {"deploy": IMG}, "load": {"stress": {
        "start": 50, "step": 5, "stepDuration": "5s", "max": 10}}},
     "spec.load.stress.start: Invalid value: start is above max"),
    ("closed-with-stress", {"target": {"deploy": IMG}, "load": {"model": "closed", "users": 2,
        "stress": {"start": 1, "step": 1, "stepDuration": "5s", "max": 5}}},
     "spec.load.stress: Invalid value: stress is only for model open"),
    ("tiny-period", {"target": {"deploy": IMG}, "liveness": {"period": "1ms"}},
     "spec.liveness.period: Invalid value: \"1ms\": must be at least 100ms"),
    ("budget-too-long", {"target": {"deploy": IMG}, "readiness": {"within": "5h"}},
     "spec.readiness.within: Invalid value: \"5h\": must be at least 1s and at most 1h"),
    ("bad-status", {"target": {"deploy": IMG}, "load": {"rate": 1, "requests": [
        {"expectStatus": [999]}]}}, "expectStatus holds HTTP statuses (100-599)"),
    ("huge-duration", {"target": {"deploy": IMG}, "load": {"rate": 1, "duration": "9999h"}},
     "spec.load.duration: Invalid value: \"9999h\": must be at least 1s and at most 1h"),
    ("stability-without-load", {"target": {"deploy": IMG}, "stability": {}},
     "spec.stability: Invalid value: stability needs load"),
    ("kill-after-the-load", {"target": {"deploy": IMG}, "load": {"rate": 1, "duration": "5s"},
                             "resilience": {"after": "10s"}},
     "spec.resilience.after: Invalid value: resilience.after is not within the "
     "load"),
    ("persistence-without-token", {"target": {"deploy": IMG}, "persistence": {
        "write": {"path": "/items"}, "readBack": {"path": "/items"}}},
     "spec.persistence.write: Invalid value: put {token} in write's path or body"),
    ("warn-on-unset-threshold", {"target": {"deploy": IMG}, "load": {
        "rate": 1, "warnOnly": ["p99"]}},
     "spec.load.warnOnly: Invalid value: warnOnly names a threshold that "
     "thresholds does not set"),
    ("gate-on-a-url", {"target": {"url": "http://127.0.0.1:1/"},
                       "gate": {"podReadinessGate": "readygate.io/x"}},
     "spec.gate: Invalid value: pod readiness gates need a deploy or workloadRef "
     "target"),
    ("host-header", {"target": {"deploy": IMG}, "load": {"rate": 1, "requests": [
        {"headers": [{"name": "Host", "value": "admin.internal"}]}]}},
     "spec.load.requests[0].headers[0].name: Invalid value: Host is set by "
     "readygate"),
    ("crlf-header-value", {"target": {"deploy": IMG}, "load": {"rate": 1, "requests": [
        {"headers": [{"name": "X-A", "value": "1\r\nHost: evil"}]}]}},
     "spec.load.requests[0].headers[0].value"),
]

# Accepted by the schema (which cannot say it), marked Error by the operator with the reason
ERRORS: list[tuple[str, dict[str, Any], str]] = [
    ("port-out-of-range", {"target": {"url": "http://a.example.com:99999/"}},
     "spec.target.url: 'http://a.example.com:99999/' is not a valid URL"),
    ("unicode-host", {"target": {"url": "http://b\u00fccher.example.com/"}}, "xn--"),
    ("long-label", {"target": {"url": "http://" + "a" * 64 + ".example.com/"}},
     "is not a valid host name label"),
    ("missing-deployment", {"target": {"workloadRef": {"name": "nope"}}},
     "Deployment nope not found"),
    ("missing-service", {"target": {"service": {"name": "nope"}}}, "Service nope not found"),
    ("metadata-url", {"target": {"url": "http://169.254.169.254/latest/meta-data"}},
     "metadata"),
    ("not-allowed-url", {"target": {"url": "http://192.0.2.1/"}}, "allow-list"),
    ("link-local-url", {"target": {"url": "http://169.254.10.10/"}}, "link-local"),
]


@pytest.mark.parametrize(("name", "spec", "words"), REFUSED, ids=[r[0] for r in REFUSED])
def test_schema_refuses(cluster: Cluster, module_namespace: str, name: str,
                        spec: dict[str, Any], words: str) -> None:
    with pytest.raises(kubernetes.client.ApiException) as info:
        cluster.create_check(module_namespace, name, spec)
    assert info.value.status == 422
    message = json.loads(info.value.body)["message"]  # what kubectl prints
    assert words in message, message


@pytest.fixture(scope="module")
def errored(cluster: Cluster, operator: Operator, module_namespace: str) -> dict[str, Any]:
    for name, spec, _ in ERRORS:
        cluster.create_check(module_namespace, name, spec)
    cluster.create_check(module_namespace, "healthy-neighbour",
                         {"target": workload(), "liveness": {"enabled": False}})
    out = {}
    for name, _, _ in ERRORS:
        out[name] = cluster.wait_check(module_namespace, name, is_final, timeout=60,
                                       what="final")
    out["healthy-neighbour"] = cluster.wait_check(module_namespace, "healthy-neighbour",
                                                  is_final, timeout=90, what="final")
    return out


@pytest.mark.parametrize(("name", "spec", "words"), ERRORS, ids=[e[0] for e in ERRORS])
def test_marked_error_with_the_reason(errored: dict[str, Any], name: str, spec: dict[str, Any],
                                      words: str) -> None:
    obj = errored[name]
    assert obj["status"]["phase"] == "Error", obj["status"]
    ready = condition(obj, "Ready")
    stalled = condition(obj, "Stalled")
    assert ready is not None and ready["status"] == "False" and words in ready["message"]
    assert stalled is not None and stalled["status"] == "True"
    assert words in obj["status"]["summary"]


def test_the_operator_keeps_serving_others(errored: dict[str, Any]) -> None:
    assert errored["healthy-neighbour"]["status"]["phase"] == "Passed"


def test_fixing_the_spec_clears_the_error(cluster: Cluster, module_namespace: str,
                                          errored: dict[str, Any]) -> None:
    fixed = {"target": {"url": None, **workload()}, "liveness": {"period": "1s",
                                                                "observeFor": "2s"}}
    cluster.patch_spec(module_namespace, "port-out-of-range", fixed)
    obj = cluster.wait_check(module_namespace, "port-out-of-range",
                             lambda o: is_final(o) and o["metadata"]["generation"] == 2,
                             timeout=90, what="final for generation 2")
    assert obj["status"]["phase"] == "Passed", obj["status"]
    assert condition(obj, "Stalled") is None


def test_unknown_fields_are_refused_by_kubectl(cluster: Cluster, module_namespace: str) -> None:
    # server-side field validation (strict): the API server refuses a typo, it is not pruned
    manifest = ("apiVersion: readygate.io/v1alpha1\nkind: ReadinessCheck\n"
                "metadata: {name: typo}\n"
                "spec: {target: {deploy: {image: img}}, liveness: {obeserveFor: 5s}}\n")
    proc = cluster.kubectl("apply", "--validate=strict", "-n", module_namespace, "-f", "-",
                           input=manifest, check=False)
    assert proc.returncode != 0
    assert 'unknown field "spec.liveness.obeserveFor"' in proc.stderr, proc.stderr
    assert "strict decoding error" in proc.stderr, proc.stderr


def test_two_targets_are_refused_by_kubectl_apply_naming_the_field(
        cluster: Cluster, module_namespace: str) -> None:
    manifest = ("apiVersion: readygate.io/v1alpha1\nkind: ReadinessCheck\n"
                "metadata: {name: two}\n"
                "spec: {target: {deploy: {image: img}, url: 'http://a.example/'}}\n")
    proc = cluster.kubectl("apply", "-n", module_namespace, "-f", "-", input=manifest,
                           check=False)
    assert proc.returncode != 0
    assert ("spec.target: Invalid value: set exactly one of deploy, workloadRef, "
            "service or url") in proc.stderr, proc.stderr
