"""Thresholds -> Judgement, table-driven; results merge and serialize exactly."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from readygate.load import (
    Histogram,
    LoadResult,
    PlanError,
    ResultError,
    Second,
    StressReport,
    StressStep,
    Thresholds,
    judge,
    merge_results,
)
from readygate.load.thresholds import _fmt


def result(latencies_ms: list[float], errors: dict[str, int] | None = None,
           duration: float = 10.0, model: str = "open", corrected: bool = False
           ) -> LoadResult:
    h = Histogram()
    for ms in latencies_ms:
        h.record(ms / 1000)
    errs = errors or {}
    no_latency = sum(v for k, v in errs.items() if not k.startswith("status:"))
    return LoadResult(model=model, duration=duration, requests=len(latencies_ms) + no_latency,
                      errors=errs, histogram=h,
                      corrected=h.corrected(50_000_000) if corrected else None)


FAST = [10.0] * 990 + [100.0] * 10  # p50 10 ms, p99 10 ms, p99.9 100 ms


@dataclass
class Case:
    name: str
    res: LoadResult
    th: Thresholds
    want: str
    failed: tuple[str, ...] = ()


CASES = [
    Case("no thresholds, data", result(FAST), Thresholds(), "Passed"),
    Case("all met", result(FAST), Thresholds(p50=0.02, p95=0.02, p99=0.02, p999=0.2,
                                             max_error_rate=0.0, min_throughput=50,
                                             min_samples=1000), "Passed"),
    Case("p99 broken", result(FAST), Thresholds(p99=0.005), "Failed", ("p99",)),
    Case("p999 broken", result(FAST), Thresholds(p999=0.05), "Failed", ("p999",)),
    Case("two broken", result(FAST), Thresholds(p50=0.001, min_throughput=1000), "Failed",
         ("p50", "min_throughput")),
    Case("error rate", result(FAST, {"status:500": 20}), Thresholds(max_error_rate=0.01),
         "Failed", ("max_error_rate",)),
    Case("error rate met", result(FAST, {"status:500": 5}), Thresholds(max_error_rate=0.01),
         "Passed"),
    Case("no data", result([]), Thresholds(p99=1.0), "Inconclusive"),
    Case("no data no thresholds", result([]), Thresholds(), "Inconclusive"),
    Case("below minSamples", result(FAST), Thresholds(p99=1.0, min_samples=5000),
         "Inconclusive"),
    Case("all connections failed", result([], {"connect": 30}), Thresholds(p95=0.1), "Failed",
         ("p95",)),
    Case("closed model judged on corrected",
         result([50.0] * 1000 + [1050.0] * 10, model="closed", corrected=True),
         Thresholds(p99=0.1), "Failed", ("p99",)),
    Case("closed model raw would pass",
         result([50.0] * 1000 + [1050.0] * 10, model="closed"), Thresholds(p99=0.1), "Passed"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_judge(case: Case) -> None:
    j = judge(case.res, case.th)
    assert j.result == case.want, j
    assert tuple(f.threshold for f in j.failures) == case.failed
    if case.want == "Inconclusive":
        assert j.reason
    for f in j.failures:
        assert f.threshold.split("_")[0] in f.message or f.threshold in f.message or \
            "error rate" in f.message or "throughput" in f.message
        assert f.measured is None or f.measured != f.limit
    assert "error_rate" in j.measured and "throughput" in j.measured


def test_failure_reports_measured_vs_limit() -> None:
    j = judge(result(FAST), Thresholds(p99=0.005))
    (f,) = j.failures
    assert f.limit == 0.005 and f.measured == pytest.approx(0.010, rel=0.011)
    assert "ms" in f.message and j.summary == f.message


@pytest.mark.parametrize("kwargs", [{"p99": -1.0}, {"max_error_rate": 1.5},
                                    {"min_samples": -1}])
def test_invalid_thresholds(kwargs: dict[str, float]) -> None:
    with pytest.raises(PlanError):
        Thresholds(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(PlanError):
        Thresholds.from_dict({"p77": 1})


def stress_result(verdicts: list[str]) -> LoadResult:
    steps = tuple(StressStep(100.0 * (i + 1), v, 0.01, 0.0, 100.0 * (i + 1), v)
                  for i, v in enumerate(verdicts))
    knee = None
    broke = None
    for s in steps:
        if s.verdict == "Passed":
            knee = s.rate
        else:
            broke = s.rate
            break
    return LoadResult(model="open", duration=1.0, requests=10, histogram=result(FAST).histogram,
                      stress=StressReport(steps, knee, broke))


@pytest.mark.parametrize("verdicts,want,knee", [
    (["Passed", "Passed", "Failed"], "Passed", 200.0),
    (["Passed", "Passed"], "Passed", 300.0 - 100.0),
    (["Failed"], "Failed", None),
    (["Inconclusive"], "Inconclusive", None),
])
def test_stress_judgement_reports_the_knee(verdicts: list[str], want: str,
                                           knee: float | None) -> None:
    j = judge(stress_result(verdicts), Thresholds())
    assert j.result == want
    assert j.measured.get("knee") == knee


def test_result_json_round_trip_and_exact_merge() -> None:
    a = result(FAST, {"status:500": 3, "timeout": 1})
    b = result([20.0] * 500, {"connect": 2}, duration=11.0)
    a = LoadResult(**{**a.__dict__, "timeline": (Second(0, 10, 1, {100: 9}),
                                                 Second(1, 5, 0, {101: 5}))})
    b = LoadResult(**{**b.__dict__, "timeline": (Second(1, 7, 2, {101: 5, 102: 2}),)})
    wire = [LoadResult.from_dict(json.loads(json.dumps(r.to_dict()))) for r in (a, b)]
    assert wire[0] == a and wire[1] == b
    m = merge_results(wire)
    assert m.requests == a.requests + b.requests
    assert m.errors == {"status:500": 3, "timeout": 1, "connect": 2}
    assert m.duration == 11.0
    assert m.histogram == Histogram.merged([a.histogram, b.histogram])
    assert m.timeline == (Second(0, 10, 1, {100: 9}), Second(1, 12, 2, {101: 10, 102: 2}))
    assert m.shards == 2
    assert m.error_rate == pytest.approx(6 / m.requests)


def test_merge_refuses_mixed_models_and_garbage() -> None:
    with pytest.raises(ResultError):
        merge_results([result(FAST), result(FAST, model="closed")])
    with pytest.raises(ResultError):
        merge_results([])
    with pytest.raises(ResultError):
        LoadResult.from_dict({"format": 1, "model": "open"})


@pytest.mark.parametrize(("seconds", "text"), [(0.2, "200ms"), (0.0123, "12.3ms"),
                                                (0.000001, "0.001ms"), (1.5, "1500ms")])
def test_latency_formats_keep_their_digits(seconds: float, text: str) -> None:
    assert _fmt("p99", seconds) == text
