"""Inline SVG charts for the HTML report: lines (with gaps), bars, threshold lines and a marked
time band. No script, no external reference: the markup is self-contained, every text in it is
escaped (``fmt.esc``) and every coordinate is a number this module computed.

Each chart is ``<svg class="chart" data-chart="NAME">`` with ``path.series`` (lines),
``rect.column`` (bars), ``line.limit`` (thresholds; one far above the data is named in
``text.off-scale`` instead) and ``rect.disruption`` (the marked band), so the tests can find
them in the browser's DOM. Pure. Times beyond ``X_MAX`` seconds and values beyond ``Y_MAX`` (a
target's page or a hostile status can hold any float) are drawn at the edge: no scale, tick loop
or coordinate ever overflows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from readygate.report.fmt import esc, plain

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 46, 40
OFF_SCALE = 2.5  # a threshold above this many times the data's peak is not drawn to scale
COLORS = ("#2b7bb9", "#e08a1e", "#c0392b", "#6a3d9a", "#2e8b57")
X_MAX = 1e9  # seconds (about 32 years)
Y_MAX = 1e300


@dataclasses.dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    color: str = ""


@dataclasses.dataclass(frozen=True)
class Limit:
    name: str
    value: float


@dataclasses.dataclass(frozen=True)
class Band:
    name: str
    start: float
    end: float | None  # None: until the end of the chart


def nice_step(span: float, ticks: int = 5) -> float:
    """A 1, 2 or 5 times a power of ten that divides ``span`` into about ``ticks`` parts."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * power >= raw:
            return float(m * power)
    return float(10 * power)


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def _within(v: float, limit: float) -> float:
    return max(-limit, min(limit, v)) if math.isfinite(v) else 0.0


def chart(name: str, title: str, x: Sequence[float], series: Sequence[Series], *, unit: str,
          x_label: str = "seconds since the load started", bars: bool = False,
          limits: Sequence[Limit] = (), band: Band | None = None, step: float = 1.0,
          domain: tuple[float, float] | None = None) -> str:
    """One chart: ``series`` values at the times ``x`` (seconds), drawn as lines, or as bars
    ``step`` seconds wide when ``bars``; ``domain`` is the x axis's range (charts of one run
    share it, so their times line up)."""
    x = [_within(v, X_MAX) for v in x]
    step = _within(step, X_MAX)
    if domain is not None:
        domain = (_within(domain[0], X_MAX), _within(domain[1], X_MAX))
    if band is not None:
        band = Band(band.name, _within(band.start, X_MAX),
                    _within(band.end, X_MAX) if band.end is not None else None)
    limits = [lim for lim in limits if math.isfinite(lim.value)]
    n = len(x)
    x0 = min(x) if n else 0.0
    x1 = (max(x) + (step if bars else 0.0)) if n else 1.0
    if domain is not None:
        x0, x1 = domain[0], max(x1, domain[1])
    if band is not None:
        x1 = max(x1, band.end if band.end is not None else band.start)
    if x1 <= x0:
        x1 = x0 + 1.0
    values = [v for s in series for v in s.values if v is not None and math.isfinite(v)]
    peak = min(max([*values, 0.0]), Y_MAX)
    # a threshold far above the data would flatten it: it is named, not drawn
    drawn = [lim for lim in limits if peak <= 0 or lim.value <= OFF_SCALE * peak]
    off = [lim for lim in limits if lim not in drawn]
    top = min(max([peak] + [lim.value for lim in drawn]), Y_MAX)
    ystep = nice_step(top * 1.05 if top > 0 else 1.0)
    y1 = ystep * max(1, math.ceil(top * 1.05 / ystep)) if top > 0 else ystep * 5
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(v: float) -> float:
        return LEFT + (v - x0) / (x1 - x0) * pw

    def py(v: float) -> float:
        return TOP + ph - min(max(v, 0.0), y1) / y1 * ph

    out = [f'<svg class="chart" data-chart="{esc(name)}" xmlns="http://www.w3.org/2000/svg" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
           f'aria-label="{esc(title)}">',
           f'<title>{esc(title)}</title>',
           f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
           f'<text x="{LEFT}" y="20" class="chart-title">{esc(title)}</text>']
    # grid and axes
    k = 0
    while k * ystep <= y1 + 1e-9:
        yv = k * ystep
        out.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + pw}" y1="{_fmt(py(yv))}" '
                   f'y2="{_fmt(py(yv))}" stroke="#e5e5e5"/>')
        out.append(f'<text class="tick" x="{LEFT - 6}" y="{_fmt(py(yv) + 4)}" '
                   f'text-anchor="end">{esc(plain(yv))}</text>')
        k += 1
    xstep = nice_step(x1 - x0, 8)
    xt = math.ceil(x0 / xstep) * xstep
    while xt <= x1 + 1e-9:
        out.append(f'<text class="tick" x="{_fmt(px(xt))}" y="{TOP + ph + 16}" '
                   f'text-anchor="middle">{esc(plain(xt))}</text>')
        xt += xstep
    out.append(f'<text class="axis-label" x="{LEFT + pw / 2:.0f}" y="{HEIGHT - 6}" '
               f'text-anchor="middle">{esc(x_label)}</text>')
    out.append(f'<text class="axis-label" x="14" y="{TOP + ph / 2:.0f}" text-anchor="middle" '
               f'transform="rotate(-90 14 {TOP + ph / 2:.0f})">{esc(unit)}</text>')
    if band is not None:
        bx0 = px(max(x0, band.start))
        bx1 = px(min(x1, band.end)) if band.end is not None else LEFT + pw
        out.append(f'<rect class="disruption" x="{_fmt(bx0)}" y="{TOP}" '
                   f'width="{_fmt(max(2.0, bx1 - bx0))}" height="{ph}" fill="#c0392b" '
                   f'fill-opacity="0.12" stroke="#c0392b" stroke-dasharray="3 3">'
                   f'<title>{esc(band.name)}</title></rect>')
        out.append(f'<text class="band-label" x="{_fmt(bx0 + 3)}" y="{TOP + 12}" '
                   f'fill="#c0392b">{esc(band.name)}</text>')
    for i, s in enumerate(series):
        color = s.color or COLORS[i % len(COLORS)]
        if bars:
            width = max(1.0, pw * step / (x1 - x0) * 0.8 / max(1, len(series)))
            for j, v in enumerate(s.values[:n]):
                if v is None or not math.isfinite(v):
                    continue
                bx = px(x[j]) + i * width + 0.1 * pw * step / (x1 - x0)
                out.append(f'<rect class="column" data-series="{esc(s.name)}" x="{_fmt(bx)}" '
                           f'y="{_fmt(py(v))}" width="{_fmt(width)}" '
                           f'height="{_fmt(TOP + ph - py(v))}" fill="{color}"/>')
            continue
        d: list[str] = []
        pen_up = True
        for j, v in enumerate(s.values[:n]):
            if v is None or not math.isfinite(v):
                pen_up = True
                continue
            d.append(f'{"M" if pen_up else "L"}{_fmt(px(x[j]))} {_fmt(py(v))}')
            pen_up = False
        if d:
            out.append(f'<path class="series" data-series="{esc(s.name)}" d="{" ".join(d)}" '
                       f'fill="none" stroke="{color}" stroke-width="2"/>')
    for i, lim in enumerate(off):
        out.append(f'<text class="limit-label off-scale" x="{LEFT + pw - 4}" '
                   f'y="{TOP - 6 - 13 * i}" text-anchor="end">{esc(lim.name)}: '
                   f'{esc(plain(lim.value))} {esc(unit)} (above the chart)</text>')
    for lim in drawn:
        out.append(f'<line class="limit" x1="{LEFT}" x2="{LEFT + pw}" y1="{_fmt(py(lim.value))}" '
                   f'y2="{_fmt(py(lim.value))}" stroke="#555" stroke-dasharray="6 4">'
                   f'<title>{esc(lim.name)}</title></line>')
        out.append(f'<text class="limit-label" x="{LEFT + pw - 4}" '
                   f'y="{_fmt(py(lim.value) - 4)}" text-anchor="end">{esc(lim.name)}</text>')
    out.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + ph}" stroke="#999"/>')
    out.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{TOP + ph}" y2="{TOP + ph}" '
               f'stroke="#999"/>')
    # legend, top right
    lx = WIDTH - RIGHT
    for i, s in reversed(list(enumerate(series))):
        color = s.color or COLORS[i % len(COLORS)]
        width = 18 + 7 * len(s.name)
        lx -= width
        out.append(f'<rect x="{lx}" y="12" width="10" height="10" fill="{color}"/>'
                   f'<text class="legend" x="{lx + 14}" y="21">{esc(s.name)}</text>')
    out.append("</svg>")
    return "\n".join(out)
