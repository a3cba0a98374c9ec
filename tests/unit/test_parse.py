"""Table tests of spec validation in code: every bad input names the field and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from readygate.api.durations import format_duration, parse_duration
from readygate.api.parse import SpecError, parse_spec

DEPLOY = {"deploy": {"image": "example/app:1"}}


def test_defaults_fill_in() -> None:
    spec = parse_spec({"target": DEPLOY})
    assert spec.target.deploy is not None and spec.target.deploy.port == 8080
    assert spec.readiness.within == 120 and spec.readiness.path == "/ready"
    assert spec.liveness.enabled and spec.liveness.observe_for == 20
    assert spec.load is None


def test_a_full_spec_parses() -> None:
    spec = parse_spec({
        "target": {"workloadRef": {"name": "web", "service": "web", "port": 80}},
        "liveness": {"path": "/livez", "period": "500ms", "observeFor": "1m"},
        "readiness": {"within": "2m30s"},
        "load": {"model": "open", "rate": 100, "duration": "10s",
                 "thresholds": {"p95": "200ms", "maxErrorRate": 0.01},
                 "requests": [{"path": "/work", "headers": [
                     {"name": "Authorization",
                      "valueFrom": {"secretKeyRef": {"name": "tok", "key": "t"}}}]}]},
        "schedule": {"every": "10m"},
    })
    assert spec.liveness.period == 0.5 and spec.liveness.observe_for == 60
    assert spec.readiness.within == 150
    assert spec.load is not None and spec.load.thresholds.p95 == 0.2
    assert spec.schedule is not None and spec.schedule.every == 600


BAD: list[tuple[Any, str]] = [
    ({}, "spec.target: required"),
    ({"target": {}}, "set exactly one of deploy, workloadRef, service, url (got none)"),
    ({"target": {**DEPLOY, "url": "http://x.example"}}, "(got deploy, url)"),
    ({"target": {"deploy": {}}}, "spec.target.deploy.image: required"),
    ({"target": {"deploy": {"image": "a", "port": 70000}}}, "port: must be at most 65535"),
    ({"target": {"deploy": {"image": "a", "port": "80"}}}, "port: must be an integer"),
    ({"target": DEPLOY, "readiness": {"within": "2 minutes"}}, "is not a duration"),
    ({"target": DEPLOY, "readiness": {"within": "5h"}}, "within: must be at most 1h"),
    ({"target": DEPLOY, "bogus": 1}, "spec.bogus: unknown field"),
    ({"target": DEPLOY, "load": {"rate": -5}}, "spec.load.rate: must be at least 0.1"),
    ({"target": DEPLOY, "load": {"rate": 1e9}}, "spec.load.rate: must be at most 10000"),
    ({"target": DEPLOY, "load": {}}, "the open model needs rate, stages or stress"),
    ({"target": DEPLOY, "load": {"rate": 5, "users": 5}}, "not both"),
    ({"target": DEPLOY, "load": {"model": "closed"}}, "the closed model needs users"),
    ({"target": DEPLOY, "load": {"model": "closed", "users": 2,
                                 "stress": {"start": 1, "step": 1, "stepDuration": "5s",
                                            "max": 5}}}, "stress: only for model open"),
    ({"target": DEPLOY, "load": {"stress": {"start": 50, "step": 1, "stepDuration": "5s",
                                            "max": 5}}}, "start (50) is above max (5)"),
    ({"target": DEPLOY, "load": {"model": "burst", "rate": 1}}, "is not one of open, closed"),
    ({"target": {"url": "ftp://x"}}, "does not match"),
    ({"target": {"deploy": {"image": "a", "env": [{"name": "A"}]}}},
     "env[0]: set exactly one of value, valueFrom"),
    ({"target": DEPLOY, "load": {"rate": 1, "requests": [{"expectStatus": [999]}]}},
     "999 is not an HTTP status"),
    ({"target": DEPLOY, "liveness": {"path": "health"}}, "liveness.path"),
    ("not an object", "spec: must be an object"),
    ({"target": DEPLOY, "load": {"rate": 1, "workers": 100}}, "workers: must be at most 16"),
]


@pytest.mark.parametrize(("data", "expected"), BAD)
def test_bad_specs_say_what_to_fix(data: Any, expected: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(data)
    assert expected in str(info.value)


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec({"target": DEPLOY, "readiness": {"within": "x"}, "liveness": {"period": 5}})
    assert len(info.value.problems) == 2


@pytest.mark.parametrize(("text", "seconds"), [
    ("500ms", 0.5), ("30s", 30), ("2m", 120), ("1m30s", 90), ("1h", 3600), ("1.5s", 1.5)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 s", "-1s", "1d", "s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
