"""What status keeps for the readiness report beyond the checks: the run's time series
(``status.charts``) and the last passed run's numbers (``status.baseline``). Pure data, bounds
and their CRD schema.

A report draws latency percentiles and throughput per step of the load, errors over time with
the disruption of the resilience check marked, and the working set of the target's container
during the load, and the first ``METRICS_SERIES`` growth series of the metrics check (open
file descriptors, say) on the pod where the first of them grew most. The load engine keeps a
per-second timeline, the stability check samples memory every ``sampleEvery`` and the metrics
check scrapes every ``scrapeEvery``; ``judge.charts`` downsamples them to at most
``CHART_POINTS`` points per series with rounded numbers, and ``to_status`` enforces the bounds
again (a value that is not finite becomes null), so ``status.charts`` stays a few kilobytes
(about 10 KB at the bound) however long a load or soak runs. ``status.compute`` writes it;
``report`` reads it.

``status.baseline`` is the last run that passed before the current one: its verdict, score and
``BASELINE_KEYS`` of each check's measured values (at most ``BASELINE_CHECKS`` checks, about
2 KB), so the report can say "p95 +30 %, error rate times 2" against it. ``status.compute``
moves the finished run there when the next run starts.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from readygate.api.results import EVIDENCE_CHARS, clip

CHART_POINTS = 60  # points per series at most (a step is as many seconds as that takes)
BASELINE_KEYS = ("p50Ms", "p95Ms", "p99Ms", "errorRate", "rps", "secondsToReady",
                 "secondsToPodsReady", "recoverySeconds", "errorRateDuringRecovery",
                 "memoryGrowthBytes", "restartSeconds")
BASELINE_CHECKS = 16
METRICS_SERIES = 2  # growth series of the metrics check charted, at most
SERIES_NAME_CHARS = 100  # a growth series' selector as charted (as its measured key is cut)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoadSeries:
    """One point per ``step`` seconds of the load (by completion time, from its start)."""

    step: int
    t: tuple[float, ...]
    requests: tuple[int, ...]
    errors: tuple[int, ...]
    p50_ms: tuple[float | None, ...]  # None: no latency sample in that step
    p95_ms: tuple[float | None, ...]
    p99_ms: tuple[float | None, ...]

    def to_status(self) -> dict[str, Any]:
        n = CHART_POINTS
        return {"stepSeconds": self.step, "t": list(self.t[:n]),
                "requests": list(self.requests[:n]), "errors": list(self.errors[:n]),
                "p50Ms": list(self.p50_ms[:n]), "p95Ms": list(self.p95_ms[:n]),
                "p99Ms": list(self.p99_ms[:n])}


@dataclasses.dataclass(frozen=True, kw_only=True)
class MemorySeries:
    """The working set of one container (``of``: pod/container) at seconds ``t``."""

    of: str
    t: tuple[float, ...]
    bytes: tuple[float, ...]

    def to_status(self) -> dict[str, Any]:
        n = CHART_POINTS
        return {"of": clip(self.of, EVIDENCE_CHARS), "t": list(self.t[:n]),
                "bytes": list(self.bytes[:n])}


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclasses.dataclass(frozen=True, kw_only=True)
class MetricsSeries:
    """Growth series of the metrics check on one pod (``of``: ``pod NAME``, or ``target``) at
    seconds ``t``: (selector, values) each, a value None where the page had no number."""

    of: str
    t: tuple[float, ...]
    series: tuple[tuple[str, tuple[float | None, ...]], ...]

    def to_status(self) -> dict[str, Any]:
        n = CHART_POINTS
        return {"of": clip(self.of, EVIDENCE_CHARS), "t": list(self.t[:n]),
                "series": [{"name": clip(name, SERIES_NAME_CHARS),
                            "values": [_finite(v) for v in values[:n]]}
                           for name, values in self.series[:METRICS_SERIES]]}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Charts:
    """What the report draws; times are seconds from the load's start (``load_started_at``;
    without a load, the metrics check's first scrape)."""

    load_started_at: str | None = None
    load: LoadSeries | None = None
    memory: MemorySeries | None = None
    metrics: MetricsSeries | None = None
    killed_at: float | None = None  # the resilience check deleted pods
    recovered_at: float | None = None  # ... and the workload was whole again
    # the load's time zero (wall clock), which the metrics check puts its scrapes on; not in
    # status (``load_started_at`` is, to the second)
    load_epoch: float | None = None

    def to_status(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.load_started_at:
            out["loadStartedAt"] = self.load_started_at
        if self.load is not None:
            out["load"] = self.load.to_status()
        if self.memory is not None:
            out["memory"] = self.memory.to_status()
        if self.metrics is not None:
            out["metrics"] = self.metrics.to_status()
        if self.killed_at is not None:
            out["disruption"] = {"killedAt": round(self.killed_at, 1)}
            if self.recovered_at is not None:
                out["disruption"]["recoveredAt"] = round(self.recovered_at, 1)
        return out


def _f(kind: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "description": description, **extra}


def _numbers(description: str, nullable: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "number"}
    if nullable:
        item["nullable"] = True
    return _f("array", description, items=item, maxItems=CHART_POINTS)


def charts_schema() -> dict[str, Any]:
    """``status.charts`` in the CRD."""
    return _f("object", f"The last run's time series for `readygate report` (at most "
                        f"{CHART_POINTS} points each); times are seconds from the load's start.",
              properties={
                  "loadStartedAt": _f("string", "When the load started.", format="date-time"),
                  "load": _f("object", "The load per step: requests and errors completed, and "
                                       "latency percentiles (null: no response in the step).",
                             properties={
                                 "stepSeconds": _f("integer", "Seconds per point.", minimum=1),
                                 "t": _numbers("Start of each step."),
                                 "requests": _numbers("Requests completed in the step."),
                                 "errors": _numbers("Of them, errors."),
                                 "p50Ms": _numbers("Median latency (ms).", nullable=True),
                                 "p95Ms": _numbers("95th percentile latency (ms).",
                                                   nullable=True),
                                 "p99Ms": _numbers("99th percentile latency (ms).",
                                                   nullable=True)}),
                  "memory": _f("object", "The working set of the container that grew most "
                                         "during the load (the stability check's samples).",
                               properties={
                                   "of": _f("string", "pod/container.", maxLength=EVIDENCE_CHARS),
                                   "t": _numbers("When each sample was taken."),
                                   "bytes": _numbers("Its working set (peak of the samples the "
                                                     "point stands for).")}),
                  "metrics": _f("object", f"The first {METRICS_SERIES} growth series of the "
                                          "metrics check on the pod where the first grew most "
                                          "(the check's scrapes: before, during and after the "
                                          "load).", properties={
                      "of": _f("string", "pod NAME, or target.", maxLength=EVIDENCE_CHARS),
                      "t": _numbers("When each scrape was taken."),
                      "series": _f("array", "Each growth series.", maxItems=METRICS_SERIES,
                                   items=_f("object", "One series.", properties={
                                       "name": _f("string", "Its selector.",
                                                  maxLength=SERIES_NAME_CHARS),
                                       "values": _numbers("Its value: the first and the "
                                                          "last scrape's, between them the "
                                                          "peak of the scrapes a point stands "
                                                          "for (null: no number on the page).",
                                                          nullable=True)}))}),
                  "disruption": _f("object", "When the resilience check deleted pods, and when "
                                             "the workload had recovered.",
                                   properties={"killedAt": _f("number", "Pods deleted."),
                                               "recoveredAt": _f("number", "Recovered.")}),
              })


def baseline_schema() -> dict[str, Any]:
    """``status.baseline`` in the CRD."""
    entry = _f("object", "One check of that run.", required=["name"], properties={
        "name": _f("string", "The check.", maxLength=63),
        "result": _f("string", "Its result.", maxLength=63),
        "finishedAt": _f("string", "When it finished.", format="date-time"),
        "measured": _f("object", "Some of its measured values (" + ", ".join(BASELINE_KEYS)
                       + ").", additionalProperties={"type": "number"},
                       maxProperties=len(BASELINE_KEYS)),
    })
    return _f("object", "The last run that passed before the current one, which "
                        "`readygate report` compares the current run with.", properties={
        "run": _f("integer", "Its run number."),
        "generation": _f("integer", "The spec generation it checked."),
        "verdict": _f("string", "Passed or Conditional.", maxLength=63),
        "score": _f("integer", "Its score.", minimum=0, maximum=100),
        "finishedAt": _f("string", "When it reached its verdict.", format="date-time"),
        "checks": _f("array", "Its checks.", items=entry, maxItems=BASELINE_CHECKS),
    })
