"""What the operator exports for a status, what it sets on a gated pod, and the new spec rules.

Metrics are read back from a fresh ``CollectorRegistry`` per test; gates and parsing are tables.
"""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from readygate.api.parse import SpecError, parse_spec
from readygate.judge import gates
from readygate.judge.load import check_result
from readygate.kube.podstate import rollout
from readygate.load import Failure, Judgement, LoadResult
from readygate.status.metrics import Metrics, finished_checks, series_of, verdict_reached

from ..statusview import checks_of

STATUS: dict[str, Any] = {
    "phase": "Passed", "verdict": "Passed", "score": 65, "runs": 1,
    "runStartedAt": "2026-01-01T00:00:00Z", "lastVerdictAt": "2026-01-01T00:00:30Z",
    "conditions": [{"type": "Ready", "status": "True"}],
    "checks": [
        {"name": "readiness", "result": "Passed", "measured": {"secondsToReady": 2.5}},
        {"name": "load", "result": "Passed",
         "measured": {"p50Ms": 1.0, "p95Ms": 12.0, "p99Ms": 20.0, "rps": 99.5,
                      "errorRate": 0.0, "requests": 1000}},
        {"name": "resilience", "result": "Passed", "measured": {"recoverySeconds": 4.0}},
    ],
}


def sample(metrics: Metrics, metric: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(metric, labels)


def test_series_of_a_verdict() -> None:
    s = series_of(STATUS)
    assert s[("readygate_check_verdict", (("verdict", "Passed"),))] == 1.0
    assert s[("readygate_check_verdict", (("verdict", "Failed"),))] == 0.0
    assert s[("readygate_check_latency_seconds", (("percentile", "p95"),))] == 0.012
    assert s[("readygate_check_recovery_seconds", ())] == 4.0
    assert s[("readygate_check_ready", ())] == 1.0 and s[("readygate_check_score", ())] == 65
    assert ("readygate_check_memory_growth_bytes", ()) not in s  # not measured: not exported


def test_no_verdict_no_series() -> None:
    assert series_of({"phase": "Verifying"}) == {}


def test_observe_then_forget_removes_every_series() -> None:
    m = Metrics(CollectorRegistry())
    m.observe("ns", "a", STATUS)
    m.observe("ns", "b", STATUS)
    assert sample(m, "readygate_check_score", namespace="ns", name="a") == 65
    assert sample(m, "readygate_check_latency_seconds", namespace="ns", name="a",
                  percentile="p99") == 0.02
    m.forget("ns", "a")
    assert sample(m, "readygate_check_score", namespace="ns", name="a") is None
    assert sample(m, "readygate_check_verdict", namespace="ns", name="a",
                  verdict="Passed") is None
    assert sample(m, "readygate_check_score", namespace="ns", name="b") == 65


def test_a_value_no_longer_measured_is_removed() -> None:
    m = Metrics(CollectorRegistry())
    m.observe("ns", "a", STATUS)
    without_load = {**STATUS, "checks": [checks_of(STATUS)["readiness"]]}
    m.observe("ns", "a", without_load)
    assert sample(m, "readygate_check_requests_per_second", namespace="ns", name="a") is None
    assert sample(m, "readygate_check_time_to_ready_seconds", namespace="ns", name="a") == 2.5


def test_transitions_count_each_result_once() -> None:
    running = {"runs": 1, "phase": "Verifying",
               "checks": [{"name": "readiness", "result": "Running"}]}
    assert finished_checks(running, STATUS) == [("readiness", "Passed"), ("load", "Passed"),
                                                ("resilience", "Passed")]
    assert finished_checks(STATUS, STATUS) == []
    assert verdict_reached(running, STATUS) and not verdict_reached(STATUS, STATUS)
    m = Metrics(CollectorRegistry())
    m.transitions(running, STATUS)
    m.transitions(STATUS, STATUS)
    assert sample(m, "readygate_check_runs_total", check="load", result="Passed") == 1
    assert sample(m, "readygate_time_to_verdict_seconds_count") == 1
    assert sample(m, "readygate_time_to_verdict_seconds_sum") == 30


# -- gates ---------------------------------------------------------------------------------------
CT = "readygate.io/web"


def pod(*conditions: tuple[str, str, str]) -> dict[str, Any]:
    return {"spec": {"readinessGates": [{"conditionType": CT}]},
            "status": {"conditions": [{"type": t, "status": s, "message": m}
                                      for t, s, m in conditions]}}


@pytest.mark.parametrize(("p", "verifying", "action"), [
    (pod(("ContainersReady", "False", "")), False, "wait"),
    (pod(("ContainersReady", "True", "")), False, "verify"),
    (pod(("ContainersReady", "True", "")), True, "verifying"),
    (pod(("ContainersReady", "True", ""), (CT, "True", "ok")), False, "done"),
    (pod(("ContainersReady", "True", ""), (CT, "False", "flapping (check generation 3)")),
     False, "failed"),
    # failed for an older spec: judged again
    (pod(("ContainersReady", "True", ""), (CT, "False", "flapping (check generation 2)")),
     False, "verify"),
])
def test_decide_pod(p: dict[str, Any], verifying: bool, action: str) -> None:
    assert gates.declares(p, CT)
    assert gates.decide_pod(p, CT, 3, verifying) == action


def test_condition_moves_its_transition_time_only_on_a_flip() -> None:
    old = {"type": CT, "status": "False", "lastTransitionTime": "T0"}
    assert gates.condition(CT, False, "R", "m", "T1", old)["lastTransitionTime"] == "T0"
    assert gates.condition(CT, True, "R", "m", "T1", old)["lastTransitionTime"] == "T1"
    assert gates.condition(CT, True, "R", "m", "T1", None)["lastTransitionTime"] == "T1"


def test_gate_summary_has_no_empty_strings() -> None:
    s = gates.summary(CT, [gates.PodGate("b", "done", "ok"), gates.PodGate("a", "wait")])
    assert (s["verified"], s["failed"], s["pending"]) == (1, 0, 1)
    assert s["pods"] == [{"pod": "a", "result": "Pending"},
                         {"pod": "b", "result": "Passed", "message": "ok"}]


# -- warnOnly thresholds -------------------------------------------------------------------------
def test_warn_only_threshold_makes_a_pass_with_a_warning() -> None:
    result = LoadResult(model="open", duration=1.0, requests=100)
    failure = Failure("p99", 0.3, 0.2, "p99 300.0ms > 200.0ms")
    judgement = Judgement("Failed", (failure,), {"p99": 0.3})
    warned = check_result(result, judgement, started_at="a", finished_at="b",
                          warn_only=("p99",))
    assert warned.result == "Passed" and warned.warnings == ("p99 300.0ms > 200.0ms",)
    failed = check_result(result, judgement, started_at="a", finished_at="b")
    assert failed.result == "Failed" and not failed.warnings


# -- spec rules of the later checks ---------------------------------------------------------------
IMG = {"deploy": {"image": "img"}}


@pytest.mark.parametrize(("spec", "words"), [
    ({"target": {"url": "http://x"}, "resilience": {}}, "spec.resilience: needs a target"),
    ({"target": IMG, "stability": {}}, "spec.stability: needs spec.load"),
    ({"target": IMG, "stability": {"maxMemoryGrowth": "lots"}, "load": {"rate": 1}},
     "spec.stability.maxMemoryGrowth"),
    ({"target": IMG, "load": {"rate": 1, "duration": "10s"}, "resilience": {"after": "20s"}},
     "is not within the load"),
    ({"target": IMG, "persistence": {"write": {"path": "/items"}, "readBack": {"path": "/i"}}},
     "put {token} in the path or body"),
    ({"target": {"url": "http://x"}, "persistence": {
        "write": {"path": "/{token}"}, "readBack": {"path": "/{token}"}}},
     "spec.persistence.restart"),
    ({"target": {"service": {"name": "s"}}, "gate": {"podReadinessGate": "readygate.io/x"}},
     "spec.gate: pod readiness gates need a deploy or workloadRef"),
    ({"target": IMG, "gate": {"podReadinessGate": "bad type!"}}, "spec.gate.podReadinessGate"),
    ({"target": IMG, "load": {"rate": 1, "warnOnly": ["p99"]}},
     "spec.load.warnOnly: p99 has no threshold"),
    ({"target": IMG, "load": {"rate": 1, "warnOnly": ["p42"]}}, "is not one of p50"),
    ({"target": IMG, "security": {"requireAuth": ["admin"]}}, "spec.security.requireAuth[0]"),
])
def test_rules_of_the_later_checks(spec: dict[str, Any], words: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec(spec)
    assert words in str(err.value), str(err.value)


def test_a_full_spec_parses() -> None:
    spec = parse_spec({
        "target": IMG, "load": {"rate": 10, "duration": "30s", "warnOnly": ["p99"],
                                "thresholds": {"p99": "200ms"}},
        "resilience": {"killPods": 1, "after": "5s", "maxRecovery": "2m", "maxErrorRate": 0.05},
        "stability": {"maxMemoryGrowth": "64Mi"},
        "persistence": {"write": {"method": "POST", "path": "/items", "body": "{token}"},
                        "readBack": {"path": "/items/{token}"},
                        "restart": {"kind": "StatefulSet", "name": "db"}},
        "security": {"requireAuth": ["/admin"], "banners": "Fail"},
        "gate": {"podReadinessGate": "readygate.io/orders-api"}})
    assert spec.resilience is not None and spec.resilience.max_recovery == 120
    assert spec.persistence is not None and spec.persistence.restart is not None
    assert spec.persistence.restart.kind == "StatefulSet"
    assert spec.load is not None and spec.load.warn_only == ("p99",)


# -- rollouts ------------------------------------------------------------------------------------
def deployment(generation: int, observed: int, replicas: int, updated: int, ready: int,
               total: int) -> dict[str, Any]:
    return {"kind": "Deployment", "metadata": {"generation": generation},
            "spec": {"replicas": replicas},
            "status": {"observedGeneration": observed, "updatedReplicas": updated,
                       "readyReplicas": ready, "availableReplicas": ready, "replicas": total}}


@pytest.mark.parametrize(("dep", "want"), [
    (deployment(2, 2, 2, 2, 2, 2), (2, 2, True)),
    (deployment(2, 1, 2, 2, 2, 2), (2, 2, False)),  # the controller has not seen the change
    (deployment(2, 2, 2, 1, 2, 3), (2, 1, False)),  # an old pod still serves: mid-rollout
    (deployment(1, 1, 2, 2, 1, 2), (2, 1, False)),  # one not Ready
])
def test_rollout(dep: dict[str, Any], want: tuple[int, int, bool]) -> None:
    assert rollout(dep) == want
