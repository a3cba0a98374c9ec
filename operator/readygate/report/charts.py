"""Which charts a report has, from ``status.charts`` and the spec: latency percentiles and
throughput per step of the load, errors over time with the resilience check's disruption
marked, the working set of the container that grew most during the load, and the metrics
check's growth series (open file descriptors, say) on the pod where they grew most, with their
bound. ``html`` draws them as SVG (``svg.chart``), ``markdown`` as one-line sparklines. Pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from readygate.api.metricexpr import parse_selector
from readygate.api.quantity import format_bytes, parse_quantity
from readygate.api.report import SERIES_NAME_CHARS
from readygate.api.results import clip
from readygate.api.spec import MetricsGrowth
from readygate.report.fmt import TIMES, plain
from readygate.report.model import MetricsSeries, Report
from readygate.report.svg import LEFT, RIGHT, WIDTH, Band, Limit, Series

MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ChartSpec:
    name: str
    title: str
    unit: str
    x: Sequence[float]
    series: Sequence[Series]
    limits: Sequence[Limit] = ()
    band: Band | None = None
    bars: bool = False
    step: float = 1.0
    domain: tuple[float, float] | None = None
    x_label: str = "seconds since the load started"


def _band(r: Report) -> Band | None:
    if r.killed_at is None:
        return None
    what = "pods deleted" + ("" if r.recovered_at is not None else " (not recovered)")
    return Band(what, r.killed_at, r.recovered_at)


def _domain(r: Report) -> tuple[float, float]:
    """The x axis of every chart of the run: from the load's start (or the first memory
    sample, taken a moment before it) to the last thing seen."""
    start, end = 0.0, 1.0
    for sampled in (r.memory, r.metrics):
        if sampled is not None and sampled.t:
            start = min(start, min(sampled.t))
            end = max(end, max(sampled.t))
    if r.load is not None and r.load.t:
        end = max(end, max(r.load.t) + r.load.step)
    for t in (r.killed_at, r.recovered_at):
        if t is not None:
            end = max(end, t)
    return start, end


def charts(r: Report) -> list[ChartSpec]:
    out: list[ChartSpec] = []
    band = _band(r)
    load = r.load
    spec_load = r.spec.load if r.spec is not None else None
    if load is not None:
        limits = []
        if spec_load is not None:
            for p in ("p50", "p95", "p99"):
                value = getattr(spec_load.thresholds, p)
                if value is not None:
                    limits.append(Limit(f"{p} threshold", value * 1000))
        out.append(ChartSpec("latency", "Latency percentiles per step", "ms", load.t, (
            Series("p50", load.p50, "#2e8b57"), Series("p95", load.p95, "#e08a1e"),
            Series("p99", load.p99, "#c0392b")), limits, band, step=load.step))
        rps = [n / load.step for n in load.requests]
        thru_limits = []
        target = next((c.measured.get("targetRps") for c in r.checks if c.name == "load"), None)
        if target:
            thru_limits.append(Limit("target rate", target))
        if spec_load is not None and spec_load.thresholds.min_throughput is not None:
            thru_limits.append(Limit("min throughput", spec_load.thresholds.min_throughput))
        out.append(ChartSpec("throughput", "Throughput (requests completed per second)",
                             "req/s", load.t, (Series("req/s", rps, "#2b7bb9"),), thru_limits,
                             band, step=load.step))
        errors = [e / load.step for e in load.errors]
        out.append(ChartSpec("errors", "Errors per second"
                             + (" (the band: pods deleted until recovered)" if band else ""),
                             "errors/s", load.t, (Series("errors/s", errors, "#c0392b"),), (),
                             band, bars=True, step=load.step))
    memory = r.memory
    if memory is not None:
        mem_limits = []
        stability = r.spec.stability if r.spec is not None else None
        if stability is not None and stability.max_memory_growth and memory.bytes:
            try:
                bound = parse_quantity(stability.max_memory_growth)
            except ValueError:
                bound = None
            if bound is not None:
                mem_limits.append(Limit("first sample + maxMemoryGrowth",
                                        (memory.bytes[0] + bound) / MIB))
        out.append(ChartSpec("memory", f"Working set of {memory.of} during the load", "MiB",
                             memory.t, (Series("working set", [b / MIB for b in memory.bytes],
                                               "#6a3d9a"),), mem_limits, band))
    if r.metrics is not None:
        out += _metrics_charts(r, r.metrics, band)
    domain = _domain(r)
    x_label = ("seconds since the load started" if r.load is not None or r.load_started_at
               else "seconds since the first scrape")
    return [dataclasses.replace(c, domain=domain, x_label=x_label) for c in out]


def _growth_bounds(r: Report) -> dict[str, MetricsGrowth]:
    """Each growth bound of the spec, by its selector as charted (the first of a selector)."""
    spec = r.spec.metrics if r.spec is not None else None
    out: dict[str, MetricsGrowth] = {}
    for g in spec.growth if spec is not None else ():
        try:
            out.setdefault(clip(str(parse_selector(g.series)), SERIES_NAME_CHARS), g)
        except ValueError:
            continue
    return out


def _growth_limits(growth: MetricsGrowth | None, t: Sequence[float],
                   values: Sequence[float | None], scale: float) -> list[Limit]:
    """The bound's lines: the first scrape's value plus ``max``, and plus ``maxPerMinute``
    times the minutes from the first scrape to the last (the last value above it is the
    breach the check judges)."""
    finite = [(x, v) for x, v in zip(t, values, strict=False) if v is not None]
    if growth is None or not finite:
        return []
    (t0, first), (t1, _) = finite[0], finite[-1]

    def show(v: float) -> str:
        return format_bytes(v) if scale != 1.0 else plain(v)

    out = []
    if growth.max is not None:
        out.append(Limit(f"first scrape + max {show(growth.max)}", (first + growth.max) / scale))
    if growth.max_per_minute is not None and t1 > t0:
        minutes = (t1 - t0) / 60
        out.append(Limit(f"first scrape + maxPerMinute {show(growth.max_per_minute)} {TIMES} "
                         f"{plain(minutes)} min",
                         (first + growth.max_per_minute * minutes) / scale))
    return out


def _metrics_charts(r: Report, m: MetricsSeries, band: Band | None) -> list[ChartSpec]:
    """One chart per growth series (their scales differ): open file descriptors by name, a
    ``*_bytes`` series in MiB, any other as its values; the bound drawn at the first scrape's
    value plus the bound (``_growth_limits``)."""
    bounds = _growth_bounds(r)
    during = " during the load" if r.load is not None or r.load_started_at else ""
    out = []
    for i, (name, values) in enumerate(m.series):
        metric = name.split("{", 1)[0]
        scale, unit, what = 1.0, "value", name
        if metric == "process_open_fds":
            unit, what = "open fds", "Open file descriptors"
            if name != metric:
                what += " " + name[len(metric):]
        elif metric.endswith("_bytes"):
            scale, unit = MIB, "MiB"
        limits = _growth_limits(bounds.get(name), m.t, values, scale)
        shown = [None if v is None else v / scale for v in values]
        title = f"{what} of {m.of}{during}"
        # the legend sits beside the title (bold, ~8 px a character; the legend ~7)
        room = (WIDTH - LEFT - RIGHT - 40 - 8 * len(title)) // 7
        legend = clip(metric, room) if room >= 8 else unit
        out.append(ChartSpec(f"metric-{i + 1}", title, unit, m.t,
                             (Series(legend, shown, "#8c564b" if i == 0 else "#17becf"),),
                             limits, band))
    return out


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None]) -> str:
    """``▁▂▅█`` of the values scaled to their maximum; a gap is a space."""
    finite = [v for v in values if v is not None]
    top = max(finite, default=0.0)
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif top <= 0:
            out.append(SPARKS[0])
        else:
            share = max(0.0, min(1.0, v / top))  # a negative value is the lowest bar
            out.append(SPARKS[int(share * (len(SPARKS) - 1) + 0.5)])
    return "".join(out)
