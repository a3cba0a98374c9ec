"""What a run measured: ``LoadResult`` with its histograms, error counts by kind, the per-second
timeline and, for a stress run, the steps and the knee; exact merging and JSON (de)serialization.

A result is data: the engine (``engine.py`` via ``recorder.py``) builds one per process or pod,
``merge_results`` adds them up exactly (histogram buckets, counts and per-second timelines are
integer sums), and ``thresholds.py`` judges the merged one. ``to_dict``/``from_dict`` is the wire
format between worker processes, Kubernetes Job pods and the operator.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import ResultError
from .histogram import Histogram, percentile_of

__all__ = ["LoadResult", "Second", "StressReport", "StressStep", "merge_results"]

FORMAT = 1


@dataclass(frozen=True)
class Second:
    """One second of the timeline (by completion time, seconds from the start)."""

    t: int
    requests: int
    errors: int
    hist: Mapping[int, int] = field(default_factory=dict)  # coarse buckets, see histogram.COARSE

    @property
    def p99(self) -> float | None:
        n = sum(self.hist.values())
        return percentile_of(self.hist, n, 0.99, coarse=True) / 1e9 if n else None

    def to_dict(self) -> dict[str, Any]:
        p99 = self.p99
        return {"t": self.t, "requests": self.requests, "errors": self.errors,
                "p99": None if p99 is None else round(p99, 6),
                "hist": [[k, v] for k, v in sorted(self.hist.items())]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Second:
        return cls(int(d["t"]), int(d["requests"]), int(d["errors"]),
                   {int(k): int(v) for k, v in d.get("hist", [])})


@dataclass(frozen=True)
class StressStep:
    rate: float
    verdict: str
    p99: float | None
    error_rate: float
    throughput: float
    summary: str


@dataclass(frozen=True)
class StressReport:
    """Steps of a stress run; ``knee`` is the last rate that met the thresholds (None: none)."""

    steps: tuple[StressStep, ...]
    knee: float | None
    broke_at: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"knee": self.knee, "brokeAt": self.broke_at,
                "steps": [s.__dict__ for s in self.steps]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StressReport:
        return cls(tuple(StressStep(**s) for s in d["steps"]), d.get("knee"), d.get("brokeAt"))


@dataclass(frozen=True)
class LoadResult:
    """Everything one run (or a merge of shards) measured.

    ``histogram`` holds latencies of every response (any status) and every timeout; for the open
    model they are measured from the intended send time. ``corrected`` (closed model only) is
    the coordinated-omission-corrected copy; ``latency`` picks the honest one. ``errors`` counts
    failures by kind: ``status:<code>`` (unexpected status), ``timeout``, ``connect``, ``tls``,
    ``reset``, ``protocol`` and ``dropped`` (an open-model send that could not be made within
    the timeout of its due time). Treat instances as immutable.
    """

    model: str
    duration: float
    requests: int = 0
    errors: Mapping[str, int] = field(default_factory=dict)
    late: int = 0
    histogram: Histogram = field(default_factory=Histogram)
    corrected: Histogram | None = None
    timeline: tuple[Second, ...] = ()
    target_rate: float | None = None
    users: int | None = None
    shards: int = 1
    stress: StressReport | None = None
    started: float = 0.0  # wall clock (time.time()) of the schedule's time zero

    @property
    def latency(self) -> Histogram:
        return self.corrected if self.corrected is not None else self.histogram

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def dropped(self) -> int:
        return self.errors.get("dropped", 0)

    @property
    def ok(self) -> int:
        return self.requests - self.error_count

    @property
    def error_rate(self) -> float:
        return self.error_count / self.requests if self.requests else 0.0

    @property
    def responses(self) -> int:
        """Requests that got an HTTP response (any status)."""
        return self.requests - sum(v for k, v in self.errors.items()
                                   if not k.startswith("status:"))

    @property
    def throughput(self) -> float:
        """Responses (any status) per second of the run."""
        return self.responses / self.duration if self.duration > 0 else 0.0

    def merge(self, other: LoadResult) -> LoadResult:
        return merge_results((self, other))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "model": self.model,
            "duration": self.duration,
            "requests": self.requests,
            "errors": dict(sorted(self.errors.items())),
            "late": self.late,
            "targetRate": self.target_rate,
            "users": self.users,
            "shards": self.shards,
            "summary": {**self.latency.summary(), "errorRate": self.error_rate,
                        "throughput": self.throughput},
            "histogram": self.histogram.to_dict(),
            "corrected": None if self.corrected is None else self.corrected.to_dict(),
            "timeline": [s.to_dict() for s in self.timeline],
            "stress": None if self.stress is None else self.stress.to_dict(),
            "started": self.started,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LoadResult:
        try:
            if d.get("format") != FORMAT:
                raise ResultError(f"unknown result format {d.get('format')!r}")
            return cls(
                model=str(d["model"]),
                duration=float(d["duration"]),
                requests=int(d["requests"]),
                errors={str(k): int(v) for k, v in d["errors"].items()},
                late=int(d["late"]),
                histogram=Histogram.from_dict(d["histogram"]),
                corrected=None if d.get("corrected") is None
                else Histogram.from_dict(d["corrected"]),
                timeline=tuple(Second.from_dict(s) for s in d.get("timeline", [])),
                target_rate=d.get("targetRate"),
                users=d.get("users"),
                shards=int(d.get("shards", 1)),
                stress=None if d.get("stress") is None else StressReport.from_dict(d["stress"]),
                started=float(d.get("started", 0.0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, ResultError):
                raise
            raise ResultError(f"invalid load result: {exc!r}") from exc


def _sum_opt(values: Iterable[float | int | None]) -> Any:
    vals = [v for v in values if v is not None]
    return sum(vals) if vals else None


def merge_results(results: Iterable[LoadResult]) -> LoadResult:
    """Exact merge of results of shards of one plan (processes or pods)."""
    rs = list(results)
    if not rs:
        raise ResultError("nothing to merge")
    models = {r.model for r in rs}
    if len(models) != 1:
        raise ResultError(f"cannot merge results of different models: {sorted(models)}")
    errors: dict[str, int] = {}
    seconds: dict[int, tuple[int, int, dict[int, int]]] = {}
    for r in rs:
        for k, v in r.errors.items():
            errors[k] = errors.get(k, 0) + v
        for s in r.timeline:
            n, e, h = seconds.get(s.t, (0, 0, {}))
            h = dict(h)
            for b, c in s.hist.items():
                h[b] = h.get(b, 0) + c
            seconds[s.t] = (n + s.requests, e + s.errors, h)
    corrected = [r.corrected for r in rs]
    has_corrected = [c for c in corrected if c is not None]
    if has_corrected and len(has_corrected) != len(rs):
        raise ResultError("cannot merge corrected and uncorrected histograms")
    out = LoadResult(
        model=rs[0].model,
        duration=max(r.duration for r in rs),
        requests=sum(r.requests for r in rs),
        errors=errors,
        late=sum(r.late for r in rs),
        histogram=Histogram.merged(r.histogram for r in rs),
        corrected=Histogram.merged(has_corrected) if has_corrected else None,
        timeline=tuple(Second(t, n, e, h) for t, (n, e, h) in sorted(seconds.items())),
        target_rate=_sum_opt(r.target_rate for r in rs),
        users=_sum_opt(r.users for r in rs),
        shards=sum(r.shards for r in rs),
        stress=rs[0].stress,
        started=min(r.started for r in rs),
    )
    return out if len(rs) > 1 else replace(out)
