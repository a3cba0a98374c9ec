"""Availability over the load and downtime during a disruption: the pure computation (windows,
worst window, overall, error budget), the verdict each table row must give, the percentage type of
``spec.availability.objective`` in code and in the generated schema, and the resilience check's
downtime and ``maxDowntime``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from readygate.api import schema
from readygate.api.checks import BY_NAME, ORDER, planned
from readygate.api.parse import SpecError, parse_spec
from readygate.api.percent import format_percent, parse_percent
from readygate.api.results import EVIDENCE_ITEMS, MEASURED_ITEMS, CheckResult
from readygate.api.spec import AvailabilityCheck, ResilienceCheck
from readygate.judge.availability import availability_of, judge_availability
from readygate.judge.resilience import (
    Disruption,
    down_seconds,
    judge_resilience,
    load_downtime,
    probe_downtime,
)
from readygate.judge.verdict import decide
from readygate.load import LoadResult, Second

T = {"started_at": "a", "finished_at": "b"}


def timeline(*rows: tuple[int, int]) -> tuple[Second, ...]:
    """One (requests, errors) per second from 0."""
    return tuple(Second(t, n, e) for t, (n, e) in enumerate(rows))


def load(rows: tuple[Second, ...], duration: float | None = None,
         started: float = 1000.0) -> LoadResult:
    n = sum(s.requests for s in rows)
    e = sum(s.errors for s in rows)
    return LoadResult(model="open", duration=duration or float(len(rows)), requests=n,
                      errors={"status:500": e} if e else {}, timeline=rows, started=started)


STEADY = timeline(*[(100, 0)] * 30)


# -- the computation -----------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "rows", "window", "expect"), [
    # name, timeline, window seconds, (windows, requests, failures, worst start, worst %, empty)
    ("steady", STEADY, 10, (3, 3000, 0, 0, 100.0, 0)),
    ("one bad window", timeline(*[(100, 0)] * 10, *[(100, 5)] * 10, *[(100, 0)] * 10), 10,
     (3, 3000, 50, 10, 95.0, 0)),
    ("blown budget", timeline(*[(100, 5)] * 30), 10, (3, 3000, 150, 0, 95.0, 0)),
    ("empty windows", timeline(*[(10, 0)] * 5, *[(0, 0)] * 10, *[(10, 1)] * 5), 5,
     (4, 100, 5, 15, 90.0, 2)),
    ("tiny counts", timeline((1, 0), (1, 1), (1, 0)), 1, (3, 3, 1, 1, 0.0, 0)),
    # 31 s: the drain second joins the last window; 26 s: a 6 s remainder is its own window
    ("drain joins", timeline(*[(100, 0)] * 30, (3, 0)), 10, (3, 3003, 0, 0, 100.0, 0)),
    ("remainder", timeline(*[(100, 0)] * 26), 10, (3, 2600, 0, 0, 100.0, 0)),
    ("one window", timeline(*[(10, 0)] * 3), 60, (1, 30, 0, 0, 100.0, 0)),
    ("no requests", (), 10, (0, 0, 0, None, None, 0)),
])
def test_windows(name: str, rows: tuple[Second, ...], window: int,
                 expect: tuple[Any, ...]) -> None:
    a = availability_of(rows, 0.999, window)
    worst = a.worst
    got = (len(a.windows), a.requests, a.failures, None if worst is None else worst.start,
           None if worst is None or worst.fraction is None else round(worst.fraction * 100, 6),
           len(a.empty))
    assert got == expect, name


def test_window_bounds_cover_the_timeline_once() -> None:
    a = availability_of(timeline(*[(100, 0)] * 31), 0.999, 10)
    assert [(w.start, w.length) for w in a.windows] == [(0, 10), (10, 10), (20, 11)]
    a = availability_of(timeline(*[(100, 0)] * 26), 0.999, 10)
    assert [(w.start, w.length) for w in a.windows] == [(0, 10), (10, 10), (20, 6)]


def test_an_empty_window_is_not_counted_as_available() -> None:
    a = availability_of(timeline(*[(10, 0)] * 5, *[(0, 0)] * 10, *[(10, 1)] * 5), 0.99, 5)
    assert [w.fraction for w in a.windows] == [1.0, None, None, 0.9]
    assert a.overall == pytest.approx(95 / 100)  # 100 requests, not 100 + two "perfect" windows
    assert [w.start for w in a.below] == [15]


@pytest.mark.parametrize(("requests", "failures", "objective", "budget", "consumed"), [
    (1000, 1, 0.999, 1.0, 100.0),  # exactly the budget: met, 100 % consumed
    (1000, 0, 0.999, 1.0, 0.0),
    (3000, 150, 0.99, 30.0, 500.0),  # 5 % errors against 99 %: blown five times over
    (200, 1, 0.999, 0.2, 500.0),  # one failure blows a budget of a fifth of a request
])
def test_error_budget(requests: int, failures: int, objective: float, budget: float,
                      consumed: float) -> None:
    rows = (Second(0, requests, failures),)
    a = availability_of(rows, objective, 10)
    assert a.budget == pytest.approx(budget) and a.consumed == pytest.approx(consumed)
    assert a.meets == (consumed <= 100.0)


def test_the_objective_is_met_exactly_at_its_edge() -> None:
    # 99.9% parsed in decimal, 999 of 1000 computed in float: equal, so met
    edge = availability_of((Second(0, 1000, 1),), parse_percent("99.9%"), 10)
    assert edge.meets and not availability_of((Second(0, 1000, 2),), 0.999, 10).meets


# -- the verdict ---------------------------------------------------------------------------------
ONE_DIP = timeline(*[(100, 0)] * 10, (100, 20), *[(100, 0)] * 19)  # 20 failures in second 10


@pytest.mark.parametrize(("rows", "spec", "result", "warned", "words"), [
    (STEADY, AvailabilityCheck(objective=0.999), "Passed", False,
     "availability 100% over 3000 requests (0 failed), objective 99.9%: 0% of the error budget"),
    (ONE_DIP, AvailabilityCheck(objective=0.99), "Passed", True,
     "1 of 3 windows below 99% (worst 98.00% at +10s)"),
    (ONE_DIP, AvailabilityCheck(objective=0.99, worst_window="Fail"), "Failed", False,
     "(worstWindow: Fail)"),
    (ONE_DIP, AvailabilityCheck(objective=0.99, worst_window="Ignore"), "Passed", False,
     "ignored (worstWindow: Ignore)"),
    (timeline(*[(100, 5)] * 30), AvailabilityCheck(objective=0.99), "Failed", False,
     "availability 95.00% over 3000 requests (150 failed), objective 99%: 500% of the error "
     "budget (30 requests) consumed"),
    (timeline((20, 0), (20, 0)), AvailabilityCheck(objective=0.99), "Inconclusive", False,
     "40 requests, fewer than minRequests 100"),
    ((), AvailabilityCheck(objective=0.99), "Inconclusive", False, "0 requests"),
    (timeline((2, 0), (1, 1)), AvailabilityCheck(objective=0.5, window=1.0, min_requests=3),
     "Passed", True, "1 of 2 windows below 50% (worst 0.00% at +1s)"),
])
def test_verdict(rows: tuple[Second, ...], spec: AvailabilityCheck, result: str, warned: bool,
                 words: str) -> None:
    got = judge_availability(spec, load(rows), **T)
    assert got.result == result and words in got.message, got.message
    assert bool(got.warnings) == warned


def test_measured_values_for_metrics_and_the_report() -> None:
    got = judge_availability(AvailabilityCheck(objective=0.99), load(ONE_DIP), **T)
    m = got.measured
    assert m["availability"] == pytest.approx(2980 / 3000)
    assert m["objective"] == 0.99 and m["requests"] == 3000 and m["failures"] == 20
    assert m["windows"] == 3 and m["windowSeconds"] == 10 and m["emptyWindows"] == 0
    assert m["windowsBelowObjective"] == 1
    assert m["worstWindowAvailability"] == pytest.approx(0.98)
    assert m["worstWindowStartSeconds"] == 10
    assert m["errorBudgetRequests"] == pytest.approx(30)
    assert m["errorBudgetConsumedPercent"] == pytest.approx(20 / 30 * 100)
    assert all(k[:1].islower() and isinstance(v, float) for k, v in m.items())
    assert got.evidence[0] == "window +10s..+20s: 98.00% (20 of 1000 failed) below 99%"


def test_a_conditional_availability_halves_the_performance_share() -> None:
    load_passed = judge_availability(AvailabilityCheck(objective=0.999), load(STEADY), **T)
    dip = judge_availability(AvailabilityCheck(objective=0.99), load(ONE_DIP), **T)
    ok = CheckResult(result="Passed", message="ok")
    assert decide({"load": ok, "availability": load_passed}).breakdown["performance"] == 25
    verdict = decide({"load": ok, "availability": dip})
    assert verdict.result == "Conditional" and verdict.breakdown["performance"] == 19
    assert verdict.warnings == ("availability: " + dip.warnings[0],)


def test_status_stays_bounded_with_every_window_below() -> None:
    rows = tuple(Second(t, 10, 5) for t in range(3600))  # an hour, 1 s windows, all at 50 %
    got = judge_availability(AvailabilityCheck(objective=0.99, window=1.0), load(rows), **T)
    status = got.to_status()
    assert len(status["evidence"]) <= EVIDENCE_ITEMS and len(status["measured"]) <= MEASURED_ITEMS
    assert len(json.dumps(status)) < 4_000


# -- the registry --------------------------------------------------------------------------------
def test_availability_is_a_performance_check_right_after_the_load() -> None:
    assert BY_NAME["availability"].category == "performance"
    assert ORDER.index("availability") == ORDER.index("load") + 1
    spec = parse_spec({"target": {"deploy": {"image": "a:1"}}, "load": {"rate": 5},
                       "availability": {"objective": "99%"}})
    assert "availability" in [c.name for c in planned(spec)]
    assert "availability" not in [c.name for c in planned(parse_spec(
        {"target": {"deploy": {"image": "a:1"}}, "load": {"rate": 5}}))]


# -- the spec ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "fraction"), [
    ("99.9%", 0.999), ("99%", 0.99), ("50%", 0.5), ("99.9999%", 0.999999), ("99.95%", 0.9995),
])
def test_percentages(text: str, fraction: float) -> None:
    assert parse_percent(text) == fraction  # exact: read in decimal, not 99.9 / 100
    assert format_percent(fraction) == text


BASE: dict[str, Any] = {"target": {"deploy": {"image": "a:1"}}, "load": {"rate": 50}}


def test_availability_defaults() -> None:
    spec = parse_spec({**BASE, "availability": {"objective": "99.9%"}})
    assert spec.availability == AvailabilityCheck(objective=0.999, window=10.0,
                                                  worst_window="Warn", min_requests=100)
    spec = parse_spec({**BASE, "resilience": {"maxDowntime": "3s"}})
    assert spec.resilience is not None and spec.resilience.max_downtime == 3.0
    assert parse_spec({**BASE, "resilience": {}}).resilience.max_downtime is None  # type: ignore[union-attr]


BAD: list[tuple[dict[str, Any], str]] = [
    ({"objective": 0.999}, "spec.availability.objective: write a percentage with a percent sign, "
                           "such as 99.9%, not the number 0.999 (the fraction 0.999 is written "
                           "99.9%)"),
    ({"objective": 99.9}, "not the number 99.9 (write 99.9%)"),
    ({"objective": "0.999"}, "'0.999' is not a percentage such as 99.9%"),
    ({"objective": "0.999%"}, "spec.availability.objective: must be at least 50%, got 0.999%"),
    ({"objective": "100%"}, "spec.availability.objective: must be at most 99.9999%, got 100%"),
    ({}, "spec.availability.objective: required"),
    ({"objective": "99%", "window": "1500ms"},
     "spec.availability.window: 1.5s is not whole seconds (the load counts its requests per "
     "second); use e.g. 2s"),
    ({"objective": "99%", "window": "2h"}, "spec.availability.window: must be at most 1h"),
    ({"objective": "99%", "worstWindow": "Maybe"}, "is not one of Fail, Warn, Ignore"),
    ({"objective": "99%", "minRequests": 0}, "spec.availability.minRequests: must be at least 1"),
]


@pytest.mark.parametrize(("availability", "expected"), BAD)
def test_bad_availability_says_what_to_fix(availability: dict[str, Any], expected: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({**BASE, "availability": availability})
    assert any(expected in p for p in err.value.problems), err.value.problems


@pytest.mark.parametrize(("spec", "expected"), [
    ({"target": BASE["target"], "availability": {"objective": "99%"}},
     "spec.availability: is measured over the load: add spec.load"),
    ({**BASE, "load": {"stress": {"start": 1, "step": 1, "stepDuration": "2s", "max": 3}},
      "availability": {"objective": "99%"}}, "is not judged over a stress run"),
    ({**BASE, "resilience": {"maxDowntime": "-1s"}}, "spec.resilience.maxDowntime"),
])
def test_availability_needs_a_steady_load(spec: dict[str, Any], expected: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec(spec)
    assert any(expected in p for p in err.value.problems), err.value.problems


def _spec_schema() -> dict[str, Any]:
    root = schema.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec: dict[str, Any] = root["properties"]["spec"]
    return spec


def test_the_schema_says_the_same() -> None:
    spec = _spec_schema()
    availability = spec["properties"]["availability"]
    objective = availability["properties"]["objective"]
    assert objective["type"] == "string" and objective["maxLength"] == 12
    assert objective["pattern"] == r"^[0-9]{1,3}(\.[0-9]{1,6})?%$"
    (bounds,) = objective["x-kubernetes-validations"]
    assert bounds["message"] == "must be at least 50% and at most 99.9999%, such as 99.9%"
    assert ">= 50.0" in bounds["rule"] and "<= 99.9999" in bounds["rule"]
    assert "99.9%" in objective["description"] and "0.999 is refused" in objective["description"]
    assert availability["required"] == ["objective"]
    assert availability["properties"]["window"]["default"] == "10s"
    assert availability["properties"]["worstWindow"]["default"] == "Warn"
    assert availability["properties"]["minRequests"]["default"] == 100
    (whole,) = availability["x-kubernetes-validations"]
    assert "getMilliseconds() % 1000 == 0" in whole["rule"] and whole["fieldPath"] == ".window"
    rules = {r["rule"]: r for r in spec["x-kubernetes-validations"]}
    assert "!has(self.availability) || has(self.load)" in rules
    assert "!has(self.availability) || !has(self.load) || !has(self.load.stress)" in rules
    downtime = spec["properties"]["resilience"]["properties"]["maxDowntime"]
    assert downtime["type"] == "string" and "default" not in downtime


# -- downtime during a disruption ----------------------------------------------------------------
@pytest.mark.parametrize(("rows", "empty_is_down", "down"), [
    ([(10, 0), (10, 10), (10, 10), (10, 9), (10, 0)], True, 2),  # one success is not down
    ([(10, 0), (0, 0), (0, 0), (10, 10), (10, 0)], True, 3),  # nothing completed: down
    ([(1, 0), (0, 0), (0, 0), (1, 0)], False, 0),  # a trickle's gaps are not downtime
    ([], True, 0),
])
def test_down_seconds(rows: list[tuple[int, int]], empty_is_down: bool, down: int) -> None:
    assert down_seconds(rows, empty_is_down=empty_is_down) == down


def test_load_downtime_counts_the_seconds_of_the_recovery() -> None:
    rows = timeline(*[(50, 0)] * 5, (50, 30), *[(50, 50)] * 3, (0, 0), (50, 10),
                    *[(50, 0)] * 9)
    result = load(rows, started=1000.0)
    # killed 5.4 s in, recovered 11.2 s in: seconds 5..12, down 6, 7, 8 and the empty 9
    assert load_downtime(result, 1005.4, 1011.2) == 4
    assert load_downtime(result, 1000.0, 1004.0) == 0
    # after the load's last second nothing was sent: not downtime
    assert load_downtime(result, 1015.0, 1100.0) == 0


def test_probe_downtime_from_the_disruptors_own_traffic() -> None:
    samples = [(1000.0 + i / 10, not 12 <= i < 50) for i in range(80)]  # 10/s, fail 1.2..4.9
    assert probe_downtime(samples, 1000.0, 1008.0, rate=10.0) == 3  # seconds 2, 3 and 4
    # failures in second 2, then silence (nothing completed) for seconds 3..7: all down
    assert probe_downtime(samples[:30], 1000.0, 1008.0, rate=10.0) == 6
    assert probe_downtime(samples[:30], 1000.0, 1008.0, rate=1.0) == 1  # a trickle's silence


def _disruption() -> Disruption:
    return Disruption(killed=("web-1",), killed_at=1000.0, recovered_at=1006.0, desired=1,
                      ready_at_end=1, answering_at_end=True)


@pytest.mark.parametrize(("downtime", "max_downtime", "result", "words"), [
    (4, None, "Passed", "down for 4s (no request succeeded)"),
    (4, 5.0, "Passed", "down for 4s"),
    (4, 3.0, "Failed", "longer than maxDowntime 3s"),
    (0, 0.0, "Passed", "down for 0s"),
    (None, 3.0, "Inconclusive", "the downtime cannot be judged"),
])
def test_resilience_downtime(downtime: int | None, max_downtime: float | None, result: str,
                             words: str) -> None:
    spec = ResilienceCheck(max_recovery=60.0, max_downtime=max_downtime)
    got = judge_resilience(spec, _disruption(), 300 if downtime is not None else 0, 40, **T,
                           downtime=downtime)
    assert got.result == result and words in got.message, got.message
    if downtime is not None:
        assert got.measured["downtimeSeconds"] == downtime
    else:
        assert "downtimeSeconds" not in got.measured


def test_without_a_load_result_availability_is_an_error_saying_why() -> None:
    from readygate.run.context import LoadOutcome
    from readygate.run.stages.load import _availability

    spec = AvailabilityCheck(objective=0.999)
    assert _availability(spec, None, "a").message == "could not measure: no load ran"
    failed = LoadOutcome(CheckResult(result="Error", message="the load child exited with 1"))
    got = _availability(spec, failed, "a")
    assert got.result == "Error" and got.message.endswith("the load child exited with 1")
    measured = LoadOutcome(CheckResult(result="Passed", message="ok"), load(STEADY))
    assert _availability(spec, measured, "a").result == "Passed"
