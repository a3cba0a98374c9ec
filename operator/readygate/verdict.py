"""The overall verdict and the 0-100 score, from the per-check results. Pure.

The score counts only what was measured: each category has a weight, a category that no check
measured adds nothing and is reported as not checked. A service that was only deployed and
probed cannot score 100; that is the point of measuring instead of expecting.
"""

from __future__ import annotations

import dataclasses

from readygate.results import CheckResult

# category -> (weight, the checks that measure it)
CATEGORIES: dict[str, tuple[int, tuple[str, ...]]] = {
    "deploy": (15, ("deploy",)),
    "health": (25, ("readiness", "liveness")),
    "performance": (25, ("load",)),
    "resilience": (15, ("resilience",)),
    "persistence": (10, ("persistence",)),
    "security": (10, ("security",)),
}


@dataclasses.dataclass(frozen=True)
class Verdict:
    result: str  # Passed | Failed | Inconclusive | Error
    score: int
    breakdown: dict[str, int]
    not_checked: tuple[str, ...]


def overall(checks: dict[str, CheckResult]) -> str:
    """Failed beats Error beats Inconclusive beats Passed; nothing measured is Inconclusive."""
    results = {c.result for c in checks.values() if c.result != "Skipped"}
    for worst in ("Failed", "Error", "Inconclusive"):
        if worst in results:
            return worst
    if results and results <= {"Passed"}:
        return "Passed"
    return "Inconclusive"


def _check_points(check: CheckResult) -> float:
    return 1.0 if check.result == "Passed" else 0.0


def score(checks: dict[str, CheckResult]) -> tuple[int, dict[str, int], tuple[str, ...]]:
    breakdown: dict[str, int] = {}
    not_checked: list[str] = []
    total = 0.0
    for category, (weight, names) in CATEGORIES.items():
        ran = [checks[n] for n in names if n in checks and checks[n].result != "Skipped"]
        if not ran:
            not_checked.append(category)
            continue
        points = weight * sum(_check_points(c) for c in ran) / len(ran)
        breakdown[category] = round(points)
        total += points
    return round(total), breakdown, tuple(not_checked)


def decide(checks: dict[str, CheckResult]) -> Verdict:
    value, breakdown, not_checked = score(checks)
    return Verdict(overall(checks), value, breakdown, not_checked)
