"""Which charts a report has, from ``status.charts`` and the spec: latency percentiles and
throughput per step of the load, errors over time with the resilience check's disruption
marked, and the working set of the container that grew most during the load. ``html`` draws
them as SVG (``svg.chart``), ``markdown`` as one-line sparklines. Pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from readygate.api.quantity import parse_quantity
from readygate.report.model import Report
from readygate.report.svg import Band, Limit, Series

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


def _band(r: Report) -> Band | None:
    if r.killed_at is None:
        return None
    what = "pods deleted" + ("" if r.recovered_at is not None else " (not recovered)")
    return Band(what, r.killed_at, r.recovered_at)


def _domain(r: Report) -> tuple[float, float]:
    """The x axis of every chart of the run: from the load's start (or the first memory
    sample, taken a moment before it) to the last thing seen."""
    start, end = 0.0, 1.0
    if r.memory is not None and r.memory.t:
        start = min(start, min(r.memory.t))
    if r.load is not None and r.load.t:
        end = max(end, max(r.load.t) + r.load.step)
    if r.memory is not None and r.memory.t:
        end = max(end, max(r.memory.t))
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
    domain = _domain(r)
    return [dataclasses.replace(c, domain=domain) for c in out]


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
            out.append(SPARKS[min(len(SPARKS) - 1, int(v / top * (len(SPARKS) - 1) + 0.5))])
    return "".join(out)
