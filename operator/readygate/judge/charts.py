"""Downsampling what a load phase measured into the report's ``api.report.Charts``. Pure.

``load_series`` folds the load's per-second timeline into at most ``CHART_POINTS`` steps of
whole seconds: requests and errors are summed, and the percentiles of a step come from the sum
of its seconds' coarse histograms (exact up to the timeline's ~5 % bucket error, never an
average of percentiles). ``memory_series`` keeps the container the stability check judged (the
one that grew most) and the peak of each group of samples. ``charts_of`` puts them together with
the resilience check's disruption, all on the load's clock. ``with_metrics`` adds the metrics
check's first growth series on the pod where the first grew most (``metrics_series``: the first
and the last scrape as they were, between them the peak of each group), put on that clock too —
the metrics check scrapes before, during and after the load phase, so it comes last.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from readygate.api.clock import utc_at
from readygate.api.metricexpr import parse_selector
from readygate.api.report import (
    CHART_POINTS,
    METRICS_SERIES,
    Charts,
    LoadSeries,
    MemorySeries,
    MetricsSeries,
)
from readygate.api.spec import MetricsCheck
from readygate.judge.metrics import Scrape
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
                  recovered_at=recovered, load_epoch=result.started)


def _number(value: float) -> float | None:
    """Six significant digits (a JSON number of a dozen characters at most), None for NaN or an
    infinity."""
    return float(f"{value:.6g}") if math.isfinite(value) else None


def _growth(values: Sequence[float | None]) -> float:
    finite = [v for v in values if v is not None]
    return finite[-1] - finite[0] if len(finite) >= 2 else -math.inf


def metrics_series(scrapes: Sequence[Scrape], keys: Sequence[str], offset: float = 0.0,
                   points: int = CHART_POINTS) -> MetricsSeries | None:
    """``keys`` (selectors as ``judge.metrics`` keys them) on the source where the first grew
    most (then the second; then by name), its times shifted by ``offset`` seconds; at most
    ``points`` points: the first and the last scrape as they were — what growth is measured
    between — and the peak of each group of the scrapes between them. A page that was not read
    is no point; a series missing from a page, or not a finite number on it, is None there."""
    keys = list(dict.fromkeys(keys))[:METRICS_SERIES]
    if not keys or points < 3:
        return None
    by_source: dict[str, list[Scrape]] = {}
    for s in sorted(scrapes, key=lambda s: s.at):
        if s.ok and math.isfinite(s.at):
            by_source.setdefault(s.source, []).append(s)

    def column(source: str, key: str) -> list[float | None]:
        return [_number(s.values[key]) if key in s.values else None
                for s in by_source[source]]

    sources = [s for s in sorted(by_source) if any(any(k in x.values for k in keys)
                                                  for x in by_source[s])]
    if not sources:
        return None
    worst = max(sources, key=lambda src: tuple(_growth(column(src, k)) for k in keys))
    rows = by_source[worst]
    columns = [column(worst, k) for k in keys]
    last = len(rows) - 1
    size = max(1, math.ceil((last - 1) / (points - 2)))
    groups = [[0], *(list(range(j, min(j + size, last))) for j in range(1, last, size))]
    if last > 0:
        groups.append([last])
    ts = tuple(round(rows[g[0]].at + offset, 1) for g in groups)
    series = []
    for key, values in zip(keys, columns, strict=True):
        peaks = []
        for g in groups:
            finite = [v for v in (values[i] for i in g) if v is not None]
            peaks.append(max(finite) if finite else None)
        series.append((key, tuple(peaks)))
    return MetricsSeries(of=worst, t=ts, series=tuple(series))


def with_metrics(charts: Charts | None, spec: MetricsCheck, scrapes: Sequence[Scrape],
                 scraped_at: float) -> Charts | None:
    """``charts`` (the load phase's, None when it has none) with the metrics check's growth
    series: ``scraped_at`` is the wall-clock time of the scrapes' zero; on the load's clock
    when the load phase left one, else on the scrapes' own (the first at 0)."""
    keys = [str(parse_selector(g.series)) for g in spec.growth]
    epoch = charts.load_epoch if charts is not None else None
    offset = scraped_at - epoch if epoch is not None else 0.0
    series = metrics_series(scrapes, keys, offset)
    if series is None:
        return charts
    return dataclasses.replace(charts or Charts(), metrics=series)
