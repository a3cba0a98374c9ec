"""Downsampling what a load phase measured into the report's ``api.report.Charts``. Pure.

``load_series`` folds the load's per-second timeline into at most ``CHART_POINTS`` steps of
whole seconds: requests and errors are summed, and the percentiles of a step come from the sum
of its seconds' coarse histograms (exact up to the timeline's ~5 % bucket error, never an
average of percentiles). ``memory_series`` keeps the container the stability check judged (the
one that grew most) and the peak of each group of samples. ``charts_of`` puts them together with
the resilience check's disruption, all on the load's clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from readygate.api.clock import utc_at
from readygate.api.report import CHART_POINTS, Charts, LoadSeries, MemorySeries
from readygate.judge.resilience import Disruption
from readygate.judge.stability import MemorySample
from readygate.load import LoadResult
from readygate.load.histogram import percentile_of


def _ms(ns: float) -> float:
    """Milliseconds with three significant digits (the timeline's buckets are ~5 % wide)."""
    ms = ns / 1e6
    if ms <= 0:
        return 0.0
    digits = max(0, 2 - math.floor(math.log10(ms)))
    return round(ms, digits)


def load_series(result: LoadResult, points: int = CHART_POINTS) -> LoadSeries | None:
    if not result.timeline:
        return None
    seconds = max(s.t for s in result.timeline) + 1
    step = max(1, math.ceil(seconds / points))
    n = math.ceil(seconds / step)
    requests = [0] * n
    errors = [0] * n
    hists: list[dict[int, int]] = [{} for _ in range(n)]
    for s in result.timeline:
        k = min(n - 1, max(0, s.t) // step)
        requests[k] += s.requests
        errors[k] += s.errors
        for bucket, count in s.hist.items():
            hists[k][bucket] = hists[k].get(bucket, 0) + count
    pct: dict[float, list[float | None]] = {q: [] for q in (0.50, 0.95, 0.99)}
    for h in hists:
        total = sum(h.values())
        for q, values in pct.items():
            values.append(_ms(percentile_of(h, total, q, coarse=True)) if total else None)
    return LoadSeries(step=step, t=tuple(float(k * step) for k in range(n)),
                      requests=tuple(requests), errors=tuple(errors),
                      p50_ms=tuple(pct[0.50]), p95_ms=tuple(pct[0.95]),
                      p99_ms=tuple(pct[0.99]))


def memory_series(samples: Sequence[MemorySample], offset: float = 0.0,
                  points: int = CHART_POINTS) -> MemorySeries | None:
    """The working set of the container that grew most (of those in the first sample), its
    times shifted by ``offset`` seconds onto the load's clock; at most ``points`` points, each
    the peak of the samples it stands for."""
    if not samples:
        return None
    first = samples[0][1]
    growth: dict[str, float] = {}
    for _, values in samples:
        for key, value in values.items():
            if key in first:
                growth[key] = value - first[key]
    if not growth:
        return None
    worst = max(sorted(growth), key=lambda k: growth[k])
    series = [(t + offset, values[worst]) for t, values in samples if worst in values]
    size = max(1, math.ceil(len(series) / points))
    ts: list[float] = []
    peaks: list[float] = []
    for i in range(0, len(series), size):
        group = series[i:i + size]
        ts.append(round(group[0][0], 1))
        peaks.append(float(round(max(v for _, v in group))))
    return MemorySeries(of=worst, t=tuple(ts), bytes=tuple(peaks))


def charts_of(result: LoadResult | None, samples: Sequence[MemorySample] = (),
              samples_started: float | None = None,
              disruption: Disruption | None = None) -> Charts | None:
    """The charts of a load phase: ``samples_started`` is the wall-clock time of the memory
    samples' zero; everything is put on the load's clock (its schedule's time zero)."""
    if result is None or result.started <= 0:
        return None
    offset = (samples_started - result.started) if samples_started is not None else 0.0
    killed = recovered = None
    if disruption is not None and disruption.killed:
        killed = max(0.0, disruption.killed_at - result.started)
        if disruption.recovered_at is not None:
            recovered = max(killed, disruption.recovered_at - result.started)
    return Charts(load_started_at=utc_at(result.started), load=load_series(result),
                  memory=memory_series(samples, offset), killed_at=killed,
                  recovered_at=recovered)
