"""The overall verdict and the 0-100 score, from the per-check results. Pure.

The score counts only what was measured: each category has a weight, a category that no check
measured adds nothing and is reported as not checked. A service that was only deployed and
probed cannot score 100; that is the point of measuring instead of expecting.

Verdicts: Failed beats Error beats Inconclusive beats Conditional beats Passed. Conditional is a
pass with warnings: a threshold the check's author named as a warning (``load.warnOnly``) or a
security or manifest finding set to ``Warn`` was breached. A check that passed with warnings earns
``WARNED_POINTS`` of its weight.
"""

from __future__ import annotations

import dataclasses

from readygate.api.checks import CATEGORIES, checks_of
from readygate.api.results import CheckResult

WARNED_POINTS = 0.5


@dataclasses.dataclass(frozen=True)
class Verdict:
    result: str  # Passed | Conditional | Failed | Inconclusive | Error
    score: int
    breakdown: dict[str, int]
    not_checked: tuple[str, ...]
    warnings: tuple[str, ...] = ()


def overall(checks: dict[str, CheckResult]) -> str:
    """The run's phase: Failed, Error, Inconclusive or Passed (warnings do not change it)."""
    results = {c.result for c in checks.values() if c.result != "Skipped"}
    for worst in ("Failed", "Error", "Inconclusive"):
        if worst in results:
            return worst
    if results and results <= {"Passed"}:
        return "Passed"
    return "Inconclusive"


def warnings_of(checks: dict[str, CheckResult]) -> tuple[str, ...]:
    return tuple(f"{name}: {w}" for name, c in checks.items() if c.result == "Passed"
                 for w in c.warnings)


def _check_points(check: CheckResult) -> float:
    if check.result != "Passed":
        return 0.0
    return WARNED_POINTS if check.warnings else 1.0


def score(checks: dict[str, CheckResult]) -> tuple[int, dict[str, int], tuple[str, ...]]:
    breakdown: dict[str, int] = {}
    not_checked: list[str] = []
    total = 0.0
    for category, weight in CATEGORIES.items():
        ran = [checks[n] for n in checks_of(category)
               if n in checks and checks[n].result != "Skipped"]
        if not ran:
            not_checked.append(category)
            continue
        points = weight * sum(_check_points(c) for c in ran) / len(ran)
        breakdown[category] = round(points)
        total += points
    return round(total), breakdown, tuple(not_checked)


def decide(checks: dict[str, CheckResult]) -> Verdict:
    value, breakdown, not_checked = score(checks)
    result = overall(checks)
    warnings = warnings_of(checks)
    if result == "Passed" and warnings:
        result = "Conditional"
    return Verdict(result, value, breakdown, not_checked, warnings)
