"""spec.load → the engine's plan, and the engine's result → status, for operator and CLI."""

from __future__ import annotations

import pytest

from readygate.api.parse import parse_spec
from readygate.api.spec import LoadCheck
from readygate.judge.load import check_result, plan_for, secret_refs
from readygate.load import LoadResult, PlanError, judge
from readygate.run.loadrunner import peak_rate
from readygate.run.ratebudget import LoadRefused, RateBudget


def load_of(**load: object) -> LoadCheck:
    spec = parse_spec({"target": {"url": "http://127.0.0.1:1/"}, "load": load})
    assert spec.load is not None
    return spec.load


def test_open_plan_with_secret_header() -> None:
    load = load_of(rate=100, duration="10s", connections=20, timeout="2s",
                   thresholds={"p95": "200ms", "maxErrorRate": 0.01, "minSamples": 50},
                   requests=[{"path": "/work", "weight": 3, "expectStatus": [200, 201],
                              "headers": [{"name": "X-A", "value": "1"},
                                          {"name": "Authorization", "valueFrom": {
                                              "secretKeyRef": {"name": "tok", "key": "t"}}}]},
                             {"method": "POST", "path": "/items", "body": "{}"}])
    assert [(r.name, r.key) for r in secret_refs(load)] == [("tok", "t")]
    plan = plan_for(load, "http://10.0.0.1:8080", lambda ref: f"Bearer {ref.name}")
    assert plan.model == "open" and plan.rate == 100 and plan.duration == 10
    assert plan.connections == 20 and plan.timeout == 2
    first, second = plan.requests
    assert first.headers == (("X-A", "1"), ("Authorization", "Bearer tok"))
    assert first.expect_status == ((200, 200), (201, 201)) and first.weight == 3
    assert second.method == "POST" and second.body == b"{}"
    assert second.expect_status == ((200, 399),)
    assert plan.thresholds.p95 == 0.2 and plan.thresholds.min_samples == 50


def test_closed_and_stress_plans() -> None:
    closed = plan_for(load_of(model="closed", users=5), "http://h:1", lambda r: "")
    assert closed.model == "closed" and closed.users == 5
    stress = plan_for(load_of(stress={"start": 10, "step": 10, "stepDuration": "2s",
                                      "max": 50}, thresholds={"p99": "100ms"}),
                      "http://h:1", lambda r: "")
    assert stress.stress is not None and stress.stress.max_rate == 50
    assert peak_rate(stress) == 50
    staged = plan_for(load_of(rate=10, stages=[{"duration": "5s", "target": 80}]),
                      "http://h:1", lambda r: "")
    assert peak_rate(staged) == 80


def test_engine_caps_still_apply() -> None:
    with pytest.raises(PlanError):
        plan_for(load_of(rate=10), "ftp://nope", lambda r: "")


def test_empty_result_is_inconclusive_not_a_pass() -> None:
    result = LoadResult(model="open", duration=1.0)
    plan = plan_for(load_of(rate=10, thresholds={"p95": "1s"}), "http://h:1", lambda r: "")
    check = check_result(result, judge(result, plan.thresholds), started_at="a",
                         finished_at="b")
    assert check.result == "Inconclusive"
    assert check.measured["requests"] == 0


def test_rate_budget() -> None:
    budget = RateBudget(100, cap=110)
    with budget.reserve(60):
        with pytest.raises(LoadRefused, match=r"needs 50 req/s.* 60 of the 100 req/s its "
                                              r"global cap 110"), budget.reserve(50):
            pass
        with budget.reserve(40):
            assert budget.in_use == 100
    assert budget.in_use == 0
