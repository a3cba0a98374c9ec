"""The report's tables, derived from a ``model.Report``: the scorecard by category, each check's
thresholds against what was measured, what was not checked, and the change against the last
passed run. Pure; ``markdown`` and ``html`` lay the same facts out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from readygate.api.checks import CATEGORIES, CHECKS, checks_of
from readygate.api.quantity import parse_quantity
from readygate.api.report import BASELINE_KEYS
from readygate.api.spec import CheckSpec
from readygate.report.fmt import by_unit, change, label, seconds
from readygate.report.model import Check, Report

# what the spec field to add is, for a category no check measured
_HOW = {"deploy": "spec.target.deploy", "health": "spec.readiness / spec.liveness",
        "performance": "spec.load", "resilience": "spec.resilience or spec.stability",
        "persistence": "spec.persistence", "security": "spec.security"}
# a higher value of these is better; of every other compared value, lower is better
_HIGHER_IS_BETTER = frozenset({"rps"})


@dataclasses.dataclass(frozen=True)
class ScoreRow:
    category: str
    weight: int
    points: float | None  # None: not checked
    checks: tuple[tuple[str, str], ...]  # (check, result) of the checks that ran


@dataclasses.dataclass(frozen=True)
class Bound:
    """One threshold against its measured value; ``ok`` None when either is missing."""

    what: str
    limit: str
    measured: str
    ok: bool | None


@dataclasses.dataclass(frozen=True)
class Change:
    check: str
    what: str
    before: str
    now: str
    change: str
    worse: bool | None  # None: unchanged (within 5 %) or not comparable


def scorecard(r: Report) -> list[ScoreRow]:
    by_name = {c.name: c for c in r.checks}
    rows = []
    for category, weight in CATEGORIES.items():
        ran = tuple((n, by_name[n].result) for n in checks_of(category)
                    if n in by_name and by_name[n].result != "Skipped")
        points = r.breakdown.get(category)
        if points is None and ran and r.verdict is not None and category not in r.not_checked:
            points = 0.0
        rows.append(ScoreRow(category, weight, points if ran else None, ran))
    return rows


def not_checked(r: Report) -> list[str]:
    """Every kind of evidence this run does not give, in words."""
    out = []
    done = {c.name for c in r.checks}
    for category in r.not_checked:
        out.append(f"{category}: not measured, so it adds nothing to the score (add "
                   f"{_HOW.get(category, 'a check of it')})")
    for check in CHECKS:
        if check.name not in done and check.category not in r.not_checked:
            out.append(f"{check.name}: not asked for by the spec")
    for c in r.checks:
        if c.result == "Skipped":
            out.append(f"{c.name}: skipped — {c.message}")
        elif c.result in ("Pending", "Running"):
            out.append(f"{c.name}: {c.result.lower()} — the run has not finished")
    ran = {c.name for c in r.checks if c.result != "Skipped"}
    if "stability" in ran and "metrics" not in ran:
        out.append("open file descriptors: not measured (the kubelet reports memory, not "
                   "descriptors; spec.metrics reads them from the service's own /metrics)")
    return out


def _bound(what: str, limit: float | None, value: float | None, show: Callable[[float], str],
           most: bool = True) -> Bound | None:
    if limit is None and value is None:
        return None
    ok = None
    if limit is not None and value is not None:
        ok = value <= limit if most else value >= limit
    sign = "≤ " if most else "≥ "
    return Bound(what, sign + show(limit) if limit is not None else "—",
                 show(value) if value is not None else "not measured", ok)


def _ms(limit_seconds: float | None) -> float | None:
    return None if limit_seconds is None else limit_seconds * 1000


def _load_bounds(spec: CheckSpec, m: dict[str, float]) -> list[Bound | None]:
    if spec.load is None:
        return []
    t = spec.load.thresholds
    ms = lambda v: by_unit("Ms", v)  # noqa: E731
    rows = [_bound(p, _ms(getattr(t, p)), m.get(f"{p}Ms"), ms)
            for p in ("p50", "p95", "p99", "p999")]
    rows.append(_bound("error rate", t.max_error_rate, m.get("errorRate"),
                       lambda v: by_unit("errorRate", v)))
    rows.append(_bound("throughput", t.min_throughput, m.get("rps"),
                       lambda v: by_unit("rps", v), most=False))
    rows.append(_bound("samples (requests)", float(t.min_samples), m.get("requests"),
                       lambda v: f"{v:,.0f}", most=False))
    return rows


def bounds(spec: CheckSpec | None, check: Check) -> list[Bound]:
    """The check's thresholds (from the spec) against its measured values (none for a check
    that did not run)."""
    m = check.measured
    rows: list[Bound | None] = []
    count = lambda v: f"{v:,.0f}"  # noqa: E731
    if spec is not None and check.result not in ("Skipped", "Pending"):
        name = check.name
        if name == "deploy" and spec.target.deploy is not None:
            rows.append(_bound("replicas Ready", float(spec.target.deploy.replicas),
                               m.get("replicas"), count, most=False))
        elif name == "readiness":
            rows.append(_bound("time to ready", spec.readiness.within, m.get("secondsToReady"),
                               seconds))
        elif name == "liveness":
            lv = spec.liveness
            rows.append(_bound("failed probes in a row", float(lv.failure_threshold - 1),
                               m.get("longestFailureRun"), count))
            rows.append(_bound("flaps", float(lv.max_flaps), m.get("flaps"), count))
            rows.append(_bound("restarts", 0.0, m.get("restarts"), count))
        elif name == "security" and spec.security is not None:
            rows.append(_bound("auth paths refusing anonymous requests",
                               float(len(spec.security.require_auth)),
                               m.get("authPathsRefused"), count, most=False))
        elif name == "load":
            rows += _load_bounds(spec, m)
        elif name == "stability" and spec.stability is not None:
            st = spec.stability
            growth = None
            if st.max_memory_growth is not None:
                try:
                    growth = parse_quantity(st.max_memory_growth)
                except ValueError:
                    growth = None
            rows.append(_bound("memory growth", growth, m.get("memoryGrowthBytes"),
                               lambda v: by_unit("Bytes", v)))
            rows.append(_bound("restarts", float(st.max_restarts), m.get("restarts"), count))
        elif name == "resilience" and spec.resilience is not None:
            rs = spec.resilience
            rows.append(_bound("recovery", rs.max_recovery, m.get("recoverySeconds"), seconds))
            rows.append(_bound("error rate during recovery", rs.max_error_rate,
                               m.get("errorRateDuringRecovery"),
                               lambda v: by_unit("errorRate", v)))
        elif name == "persistence" and spec.persistence is not None:
            rows.append(_bound("restart", spec.persistence.within, m.get("restartSeconds"),
                               seconds))
    return [b for b in rows if b is not None]


def other_measured(spec: CheckSpec | None, check: Check) -> list[tuple[str, str]]:
    """Measured values no threshold row shows: (label, value)."""
    shown = {b.what for b in bounds(spec, check)}
    keys_shown = {"load": {"p50Ms", "p95Ms", "p99Ms", "p999Ms", "errorRate", "rps", "requests"},
                  "readiness": {"secondsToReady"},
                  "liveness": {"longestFailureRun", "flaps", "restarts"},
                  "stability": {"memoryGrowthBytes", "restarts"},
                  "resilience": {"recoverySeconds", "errorRateDuringRecovery"},
                  "persistence": {"restartSeconds"}, "deploy": {"replicas"},
                  "security": {"authPathsRefused"}}.get(check.name, set()) if shown else set()
    return [(label(k), by_unit(k, v)) for k, v in check.measured.items() if k not in keys_shown]


def changes(r: Report) -> list[Change]:
    """The current run against the last passed run: verdict, score, and each compared value."""
    b = r.baseline
    if b is None:
        return []
    out = []
    if r.verdict is not None:
        out.append(Change("run", "verdict", b.verdict, r.verdict, "unchanged" if
                          b.verdict == r.verdict else "changed",
                          None if b.verdict == r.verdict else r.verdict not in ("Passed",
                                                                                "Conditional")))
    if b.score is not None and r.score is not None:
        delta = r.score - b.score
        out.append(Change("run", "score", f"{b.score:.0f}", f"{r.score:.0f}",
                          "unchanged" if delta == 0 else f"{delta:+.0f}",
                          None if delta == 0 else delta < 0))
    for check in r.checks:
        before = b.checks.get(check.name)
        if before is None:
            continue
        for key in BASELINE_KEYS:
            old, new = before[1].get(key), check.measured.get(key)
            if old is None or new is None:
                continue
            worse: bool | None = None
            if abs(new - old) > 0.05 * max(abs(old), 1e-12):
                worse = (new < old) if key in _HIGHER_IS_BETTER else (new > old)
            out.append(Change(check.name, label(key), by_unit(key, old), by_unit(key, new),
                              change(old, new), worse))
    return out
