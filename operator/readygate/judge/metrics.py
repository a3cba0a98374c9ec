"""Judging a service by its own numbers: growth bounds and rules over its pods' scraped
``/metrics``, and PromQL answers of the operator's Prometheus. Pure.

The acting side (``run.stages.metrics``) scrapes every pod before the load, while it runs and
after it, parses each page with prometheus-client's parser (``run.scrape``) and hands each
scrape here as a ``Scrape``: the value of every wanted selector on that page (``values_of``: the
sum of the samples a selector matches), or the problem that kept the page from being read. It
asks Prometheus at the end and hands each answer as a ``QueryAnswer`` (``query_answer`` reads
the API's JSON). ``judge_metrics`` makes one result of it all:

- growth: per pod, the last value minus the first (and per minute over the time between them);
  a pod whose series was never on its page, or was NaN or infinite, is no data;
- rules: per pod (``scope: pod``) or summed over the pods (``scope: target``), at the last
  scrape or as the increase over the check (``sample: increase``, counter resets counted as
  Prometheus' ``increase`` does); a missing series or a zero denominator is no data;
- PromQL: every series of an answer must satisfy the bound; an empty answer, an error of
  Prometheus or no Prometheus at all is no data.

Failed when a bound is broken or a pod's page could never be read for a reason of the
target's own (an HTTP error status, a page that does not parse); otherwise Inconclusive when
anything was no data — never a pass — and Passed when every bound held.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import operator as op_
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from readygate.api.metricexpr import Expr, Selector, parse_expr, parse_selector
from readygate.api.names import Result
from readygate.api.quantity import format_bytes
from readygate.api.results import CheckResult, clip
from readygate.api.spec import MetricsCheck, MetricsGrowth, MetricsRule, PromQLRule

PROBLEM_CHARS = 200
MEASURED_KEY_CHARS = 100  # a selector may be long; status.checks[].measured keys stay short
COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": op_.gt, ">=": op_.ge, "<": op_.lt, "<=": op_.le, "==": op_.eq, "!=": op_.ne}
PromSample = tuple[str, Mapping[str, str], float]  # (sample name, labels, value) of a page


@dataclasses.dataclass(frozen=True)
class Scrape:
    """One page of one source (``pod NAME``, or ``target`` for a URL) ``at`` seconds after the
    first scrape: the value of each wanted selector found on it (by ``str(selector)``), or why
    there is none (``fault``: the reason is the target's own, not a transient one)."""

    at: float
    source: str
    values: Mapping[str, float] = dataclasses.field(default_factory=dict)
    problem: str | None = None
    fault: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclasses.dataclass(frozen=True)
class QueryAnswer:
    """What Prometheus answered to one PromQL rule (for one pod when it uses ``{pod}``)."""

    rule: str
    pod: str | None = None
    values: tuple[tuple[str, float], ...] = ()  # (the series' labels as text, value)
    problem: str | None = None
    refused: bool = False  # the query reads beyond the check's namespace: an Error, not no data


def wanted_selectors(spec: MetricsCheck) -> tuple[Selector, ...]:
    """Every distinct selector the growth bounds and the rules read from a page."""
    out: dict[str, Selector] = {}
    for g in spec.growth:
        sel = parse_selector(g.series)
        out.setdefault(str(sel), sel)
    for r in spec.rules:
        for sel in parse_expr(r.expr).selectors():
            out.setdefault(str(sel), sel)
    return tuple(out.values())


def values_of(selectors: Sequence[Selector], samples: Iterable[PromSample]) -> dict[str, float]:
    """The sum of the samples each selector matches; a selector that matches none is absent."""
    by_name: dict[str, list[Selector]] = {}
    for sel in selectors:
        by_name.setdefault(sel.name, []).append(sel)
    out: dict[str, float] = {}
    for name, labels, value in samples:
        for sel in by_name.get(name, ()):
            if sel.matches(name, labels):
                key = str(sel)
                out[key] = out.get(key, 0.0) + float(value)
    return out


def query_answer(rule: str, pod: str | None, status: int | None, data: Any,
                 error: str | None = None) -> QueryAnswer:
    """A ``QueryAnswer`` from Prometheus' ``/api/v1/query`` reply: its HTTP ``status`` and its
    decoded JSON ``data`` (None when it was not JSON), or the transport ``error``."""
    def problem(text: str) -> QueryAnswer:
        return QueryAnswer(rule, pod, problem=clip(text, PROBLEM_CHARS))

    if error is not None or status is None:
        return problem(f"Prometheus did not answer: {error or 'no answer'}")
    if not isinstance(data, Mapping):
        return problem(f"Prometheus answered HTTP {status} without a JSON body")
    if data.get("status") != "success":
        why = str(data.get("errorType") or f"HTTP {status}")
        return problem(f"Prometheus refused the query ({why}): {data.get('error')}")
    result = data.get("data")
    if not isinstance(result, Mapping):
        return problem("Prometheus answered without data")
    kind = result.get("resultType")
    items = result.get("result")
    if kind == "scalar" and isinstance(items, list) and len(items) == 2:
        return QueryAnswer(rule, pod, values=(("scalar", _number(items[1])),))
    if kind != "vector" or not isinstance(items, list):
        return problem(f"the query returns a {kind}; an instant vector or a scalar is judged "
                       "(a range vector [5m] needs a function such as rate())")
    values = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        metric = item.get("metric")
        point = item.get("value")
        labels = _labels_text(metric if isinstance(metric, Mapping) else {})
        value = point[1] if isinstance(point, list) and len(point) == 2 else None
        values.append((labels, _number(value)))
    return QueryAnswer(rule, pod, values=tuple(values))


def _number(raw: Any) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return math.nan


def _labels_text(metric: Mapping[str, Any]) -> str:
    items = sorted((str(k), str(v)) for k, v in metric.items())
    return "{" + ",".join(f'{k}="{v}"' for k, v in items) + "}"


# -- judging -------------------------------------------------------------------------------------

@dataclasses.dataclass
class _Findings:
    errors: list[str] = dataclasses.field(default_factory=list)
    failed: list[str] = dataclasses.field(default_factory=list)
    no_data: list[str] = dataclasses.field(default_factory=list)
    passed: list[str] = dataclasses.field(default_factory=list)
    evidence: list[str] = dataclasses.field(default_factory=list)
    measured: dict[str, float] = dataclasses.field(default_factory=dict)


def _show(value: float, series: str) -> str:
    if math.isfinite(value) and series.split("{", 1)[0].endswith("_bytes"):
        return format_bytes(value)
    return f"{value:g}"


def _by_source(scrapes: Sequence[Scrape]) -> dict[str, list[Scrape]]:
    out: dict[str, list[Scrape]] = {}
    for s in sorted(scrapes, key=lambda s: s.at):
        out.setdefault(s.source, []).append(s)
    return out


def _page_problems(sources: Mapping[str, list[Scrape]], f: _Findings) -> None:
    """Sources none of whose pages could be read: Failed for the target's own reasons."""
    for source, scrapes in sources.items():
        if any(s.ok for s in scrapes):
            failed = [s for s in scrapes if not s.ok]
            if failed:
                f.evidence.append(f"{source}: {len(failed)} of {len(scrapes)} scrapes failed, "
                                  f"the last: {failed[-1].problem}")
            continue
        last = scrapes[-1]
        text = f"{source}: no page could be read: {last.problem}"
        (f.failed if any(s.fault for s in scrapes) else f.no_data).append(text)


def _growth(item: MetricsGrowth, sources: Mapping[str, list[Scrape]], f: _Findings) -> None:
    key = str(parse_selector(item.series))
    worst: tuple[float, float, str] | None = None  # (growth, per minute, source)
    read = missing = 0
    for source, scrapes in sources.items():
        points = [(s.at, s.values[key]) for s in scrapes if s.ok and key in s.values]
        if not any(s.ok for s in scrapes):
            continue
        read += 1
        if not points:
            missing += 1
            f.no_data.append(f"{key} is not on {source}'s page")
            continue
        if len(points) < 2:
            f.evidence.append(f"{source}: {key} scraped once, growth not judged")
            continue
        (t0, first), (t1, last) = points[0], points[-1]
        if not (math.isfinite(first) and math.isfinite(last)) or t1 <= t0:
            missing += 1
            f.no_data.append(f"{key} on {source} is {first:g} then {last:g}: not a number "
                             "to judge")
            continue
        growth = last - first
        per_minute = growth * 60.0 / (t1 - t0)
        f.evidence.append(f"{source}: {key} {_show(first, key)} -> {_show(last, key)} "
                          f"({'+' if growth >= 0 else ''}{_show(growth, key)}, "
                          f"{per_minute:+.1f}/min) over {t1 - t0:.0f}s, {len(points)} scrapes")
        if worst is None or growth > worst[0]:
            worst = (growth, per_minute, source)
        breaches = []
        if item.max is not None and growth > item.max:
            breaches.append(f"max {_show(item.max, key)}")
        if item.max_per_minute is not None and per_minute > item.max_per_minute:
            breaches.append(f"maxPerMinute {item.max_per_minute:g}")
        if breaches:
            f.failed.append(f"{key} grew by {_show(growth, key)} on {source} "
                            f"({_show(first, key)} -> {_show(last, key)} in {t1 - t0:.0f}s, "
                            f"{per_minute:.1f}/min; bound {', '.join(breaches)})")
    if worst is not None:
        f.measured[clip(f"growth:{key}", MEASURED_KEY_CHARS)] = worst[0]
        f.measured[clip(f"growthPerMinute:{key}", MEASURED_KEY_CHARS)] = worst[1]
        f.passed.append(f"{key} grew by at most {_show(worst[0], key)} ({worst[2]})")
    elif read and not missing:
        f.no_data.append(f"{key}: no pod was scraped twice")


def _increase(points: Sequence[float]) -> float:
    """What a counter gained over ``points``, a reset (a drop) counting the new value, as
    Prometheus' ``increase`` does."""
    total = 0.0
    for before, after in itertools.pairwise(points):
        total += after - before if after >= before else after
    return total


def _series_value(sel: Selector, scrapes: Sequence[Scrape], sample: str) -> float | None:
    key = str(sel)
    if sample == "last":
        read = [s for s in scrapes if s.ok]
        return read[-1].values.get(key) if read else None
    points = [s.values[key] for s in scrapes if s.ok and key in s.values]
    return _increase(points) if len(points) >= 2 else None


def _rule(rule: MetricsRule, sources: Mapping[str, list[Scrape]], f: _Findings) -> None:
    expr = parse_expr(rule.expr)
    where = f"rule {rule.name} ({expr} {rule.op} {rule.value:g}"
    where += ", increase over the check)" if rule.sample == "increase" else ")"
    parts: dict[str, tuple[float | None, float | None]] = {}
    for source, scrapes in sources.items():
        if not any(s.ok for s in scrapes):
            continue
        num = _series_value(expr.numerator, scrapes, rule.sample)
        den = (_series_value(expr.denominator, scrapes, rule.sample)
               if expr.denominator is not None else 1.0)
        parts[source] = (num, den)
    if rule.scope == "target":
        nums = [n for n, d in parts.values() if n is not None and d is not None]
        dens = [d for n, d in parts.values() if n is not None and d is not None]
        values = {"the target's pods": _ratio(expr, sum(nums), sum(dens)) if nums else None}
    else:
        values = {s: (_ratio(expr, n, d) if n is not None and d is not None else None)
                  for s, (n, d) in parts.items()}
    judged: list[float] = []
    for source, value in values.items():
        if value is None or not math.isfinite(value):
            why = "a zero or missing denominator" if expr.denominator is not None else (
                "the series is missing")
            f.no_data.append(f"{where}: no value on {source} ({why})" if value is None
                             else f"{where}: {value:g} on {source}, not a number to judge")
            continue
        judged.append(value)
        f.evidence.append(f"{where} on {source}: {value:g}")
        if not COMPARE[rule.op](value, rule.value):
            f.failed.append(f"{where}: {value:g} on {source}")
    if judged:
        f.measured[f"rule:{rule.name}"] = _worst(judged, rule.op, rule.value)
        if all(COMPARE[rule.op](v, rule.value) for v in judged):
            f.passed.append(f"rule {rule.name} held")
    elif not values:
        f.no_data.append(f"{where}: no page was read")


def _ratio(expr: Expr, num: float, den: float) -> float | None:
    if expr.denominator is None:
        return num
    return None if den == 0 else num / den


def _worst(values: Sequence[float], op: str, bound: float) -> float:
    """The value furthest on the wrong side of the bound (the most telling one)."""
    if op in (">", ">="):
        return min(values)
    if op in ("<", "<="):
        return max(values)
    return max(values, key=lambda v: abs(v - bound))


def _promql(rule: PromQLRule, answers: Sequence[QueryAnswer], f: _Findings) -> None:
    mine = [a for a in answers if a.rule == rule.name]
    where = f"promql {rule.name} ({rule.op} {rule.value:g})"
    judged: list[float] = []
    if not mine:
        f.no_data.append(f"{where}: not asked")
    for answer in mine:
        on = f" for pod {answer.pod}" if answer.pod else ""
        if answer.problem is not None:
            (f.errors if answer.refused else f.no_data).append(f"{where}{on}: {answer.problem}")
            continue
        if not answer.values:
            f.no_data.append(f"{where}{on}: no data (the query returned no series)")
            continue
        bad = [(labels, v) for labels, v in answer.values
               if math.isfinite(v) and not COMPARE[rule.op](v, rule.value)]
        odd = [(labels, v) for labels, v in answer.values if not math.isfinite(v)]
        judged += [v for _, v in answer.values if math.isfinite(v)]
        count = len(answer.values)
        if bad:
            shown = ", ".join(f"{labels} {v:g}" for labels, v in bad[:3])
            f.failed.append(f"{where}{on}: {len(bad)} of {count} series break it: {shown}")
        elif odd:
            f.no_data.append(f"{where}{on}: {odd[0][0]} is {odd[0][1]:g}, not a number to "
                             "judge")
        f.evidence.append(f"{where}{on}: {count} series, "
                          + ", ".join(f"{labels} {v:g}" for labels, v in answer.values[:3]))
    if judged:
        f.measured[f"promql:{rule.name}"] = _worst(judged, rule.op, rule.value)
        if all(COMPARE[rule.op](v, rule.value) for v in judged):
            f.passed.append(f"promql {rule.name} held")


def judge_metrics(spec: MetricsCheck, scrapes: Sequence[Scrape],
                  answers: Sequence[QueryAnswer], *, started_at: str,
                  finished_at: str) -> CheckResult:
    f = _Findings()
    sources = _by_source(scrapes)
    read = [s for s in scrapes if s.ok]
    if spec.growth or spec.rules:
        f.measured["pods"] = float(len(sources))
        f.measured["scrapes"] = float(len(read))
        if read:
            f.measured["seconds"] = max(s.at for s in read) - min(s.at for s in read)
        if not sources:
            f.no_data.append("no pod to scrape")
        _page_problems(sources, f)
    for item in spec.growth:
        _growth(item, sources, f)
    for rule in spec.rules:
        _rule(rule, sources, f)
    for query in spec.promql:
        _promql(query, answers, f)
    result: Result
    if f.errors:  # the spec asks what a check may not: fix it, whatever else was measured
        result, message = "Error", "; ".join(f.errors)
    elif f.failed:
        result, message = "Failed", "; ".join(f.failed)
    elif f.no_data:
        result, message = "Inconclusive", "; ".join(f.no_data)
    else:
        result, message = "Passed", "; ".join(f.passed)
        if "seconds" in f.measured:
            message = (f"{len(sources)} pod(s) scraped {len(read)} times over "
                       f"{f.measured['seconds']:.0f}s: {message}")
    # the failures first, then what could not be judged, then the rest
    evidence = tuple(dict.fromkeys([*f.errors, *f.failed, *f.no_data, *f.evidence]))
    return CheckResult(result=result, message=message, started_at=started_at,
                       finished_at=finished_at, measured=f.measured, evidence=evidence)
