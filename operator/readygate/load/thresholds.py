"""Thresholds and the judgement of a result against them: Passed, Failed or Inconclusive.

Owns ``Thresholds`` (None means unset), ``Failure``, ``Judgement`` and ``judge``. Pure: it reads
a ``LoadResult`` (``result.py``) and returns data. A run with no requests, or fewer than
``min_samples`` requests, is Inconclusive — never a silent pass. For the closed model the
latency thresholds are checked against the coordinated-omission-corrected histogram. The CLI
(``cli.py``) and the operator turn a Judgement into an exit code or a check result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from .errors import PlanError
from .result import LoadResult

__all__ = ["Failure", "Judgement", "Thresholds", "judge"]

Verdict = Literal["Passed", "Failed", "Inconclusive"]
_LATENCY = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999))


@dataclass(frozen=True)
class Thresholds:
    """Limits a run must meet. Latencies in seconds, error rate a fraction 0..1."""

    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    p999: float | None = None
    max_error_rate: float | None = None
    min_throughput: float | None = None
    min_samples: int | None = None

    def __post_init__(self) -> None:
        for name in ("p50", "p95", "p99", "p999", "min_throughput"):
            v = getattr(self, name)
            if v is not None and not v >= 0:
                raise PlanError(f"threshold {name} must be >= 0, got {v!r}")
        if self.max_error_rate is not None and not 0.0 <= self.max_error_rate <= 1.0:
            raise PlanError(f"maxErrorRate must be a fraction in 0..1, got {self.max_error_rate}")
        if self.min_samples is not None and self.min_samples < 0:
            raise PlanError(f"minSamples must be >= 0, got {self.min_samples}")

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Thresholds:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise PlanError(f"unknown thresholds: {sorted(unknown)}")
        return cls(**dict(data))

    def is_empty(self) -> bool:
        return all(v is None for v in asdict(self).values())


@dataclass(frozen=True)
class Failure:
    """One broken threshold: measured value vs limit (seconds, fraction or req/s)."""

    threshold: str
    measured: float | None
    limit: float
    message: str


@dataclass(frozen=True)
class Judgement:
    result: Verdict
    failures: tuple[Failure, ...]
    measured: dict[str, float]
    reason: str = ""

    @property
    def summary(self) -> str:
        if self.result == "Failed":
            return "; ".join(f.message for f in self.failures)
        return self.reason or self.result

    def to_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "reason": self.reason,
            "failures": [asdict(f) for f in self.failures],
            "measured": dict(self.measured),
        }


def measured_values(result: LoadResult) -> dict[str, float]:
    """The numbers a judgement is made from (seconds, fractions, req/s, counts)."""
    out = dict(result.latency.summary())
    if result.corrected is not None:
        out.update({f"{k}_uncorrected": v for k, v in result.histogram.summary().items()})
    out["requests"] = float(result.requests)
    out["errors"] = float(result.error_count)
    out["error_rate"] = result.error_rate
    out["throughput"] = result.throughput
    out["late"] = float(result.late)
    out["dropped"] = float(result.dropped)
    return out


def _fmt(name: str, v: float | None) -> str:
    if v is None:
        return "none"
    if name.startswith("p"):
        ms = v * 1000
        if ms >= 100:
            return f"{ms:.0f}ms"
        return f"{ms:.1f}ms" if ms >= 1 else f"{ms:.3g}ms"
    if name == "max_error_rate":
        return f"{v * 100:.2f}%"
    return f"{v:.1f} req/s"


def judge(result: LoadResult, thresholds: Thresholds) -> Judgement:
    """Passed, Failed (with every broken threshold) or Inconclusive (no data, too few samples)."""
    measured = measured_values(result)
    if result.stress is not None:
        return _judge_stress(result, measured)
    if result.requests == 0:
        return Judgement("Inconclusive", (), measured, "no requests were measured")
    if thresholds.min_samples is not None and result.requests < thresholds.min_samples:
        return Judgement("Inconclusive", (), measured,
                         f"{result.requests} requests measured, minSamples is "
                         f"{thresholds.min_samples}")
    failures: list[Failure] = []
    for name, q in _LATENCY:
        limit = getattr(thresholds, name)
        if limit is None:
            continue
        value = result.latency.percentile(q)
        if value is None:
            failures.append(Failure(name, None, limit,
                                    f"{name}: no latency samples ({result.requests} requests "
                                    f"all failed), limit {_fmt(name, limit)}"))
        elif value > limit:
            failures.append(Failure(name, value, limit,
                                    f"{name} {_fmt(name, value)} > {_fmt(name, limit)}"))
    if thresholds.max_error_rate is not None and result.error_rate > thresholds.max_error_rate:
        failures.append(Failure("max_error_rate", result.error_rate, thresholds.max_error_rate,
                                f"error rate {_fmt('max_error_rate', result.error_rate)} > "
                                f"{_fmt('max_error_rate', thresholds.max_error_rate)}"))
    if thresholds.min_throughput is not None and result.throughput < thresholds.min_throughput:
        failures.append(Failure("min_throughput", result.throughput, thresholds.min_throughput,
                                f"throughput {result.throughput:.1f} req/s < "
                                f"{thresholds.min_throughput:.1f} req/s"))
    if failures:
        return Judgement("Failed", tuple(failures), measured)
    return Judgement("Passed", (), measured, "all thresholds met")


def _judge_stress(result: LoadResult, measured: dict[str, float]) -> Judgement:
    """A stress run passes when at least its first step met the thresholds; the knee is the
    last rate that did."""
    report = result.stress
    assert report is not None
    if report.knee is not None:
        measured["knee"] = report.knee
    if not report.steps:
        return Judgement("Inconclusive", (), measured, "the stress run made no steps")
    if report.knee is None:
        first = report.steps[0]
        verdict: Verdict = "Failed" if first.verdict == "Failed" else "Inconclusive"
        failure = Failure("knee", None, first.rate,
                          f"the first step ({first.rate:g} req/s) did not meet the thresholds: "
                          f"{first.summary}")
        return Judgement(verdict, (failure,) if verdict == "Failed" else (), measured,
                         failure.message)
    tail = (f", broke at {report.broke_at:g} req/s" if report.broke_at is not None
            else ", never broke up to the maximum rate")
    return Judgement("Passed", (), measured, f"knee at {report.knee:g} req/s{tail}")
