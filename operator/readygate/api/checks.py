"""The checks a run can make, registered once: name, scoring category, when it runs, and whether
a spec asks for it. Pure.

The order of ``CHECKS`` is the order a run performs them, and the order of ``status.checks``.
Stability and resilience are measured while the load runs, metrics before, during and after
it; persistence restarts the workload, so it is last. ``judge.verdict`` scores by
``CATEGORIES``; ``run.runner`` plans a run with
``planned``; ``status.compute`` orders its summary by ``ORDER``. A new check is a line here, a
judge module and a stage module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from readygate.api.spec import CheckSpec


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    category: str
    when: str  # what its Pending result says about when it runs
    wanted: Callable[[CheckSpec], bool]


def _has_pods_later(spec: CheckSpec) -> str:
    return "while the load runs" if spec.load is not None else "after liveness"


CHECKS: tuple[Check, ...] = (
    Check("deploy", "deploy", "creating the workload", lambda s: s.target.deploy is not None),
    Check("readiness", "health", "waiting for the target", lambda s: True),
    Check("liveness", "health", "after readiness", lambda s: s.liveness.enabled),
    # static, so it runs whether or not the target became ready; after readiness and liveness
    # because it compares the declared probes with the paths that answered them
    Check("manifest", "deploy", "after readiness and liveness",
          lambda s: s.manifest is not None),
    Check("security", "security", "after liveness", lambda s: s.security is not None),
    Check("load", "performance", "after liveness", lambda s: s.load is not None),
    # the load's own requests, judged per window: it shares the load's category, so one load
    # cannot earn the resilience category without a disruption
    Check("availability", "performance", "over the load",
          lambda s: s.availability is not None),
    Check("stability", "resilience", "while the load runs", lambda s: s.stability is not None),
    Check("resilience", "resilience", "while the load runs (or after liveness)",
          lambda s: s.resilience is not None),
    # the service's own numbers (its pods' /metrics, PromQL): scraped before, during and
    # after the load, like stability a question of leaks under load
    Check("metrics", "resilience", "before, during and after the load (or after liveness)",
          lambda s: s.metrics is not None),
    Check("persistence", "persistence", "last: it restarts the workload",
          lambda s: s.persistence is not None),
)
ORDER: tuple[str, ...] = tuple(c.name for c in CHECKS)
BY_NAME = {c.name: c for c in CHECKS}

# scoring category -> weight (of 100); a category no check measured adds nothing
CATEGORIES: dict[str, int] = {
    "deploy": 15, "health": 25, "performance": 25, "resilience": 15, "persistence": 10,
    "security": 10,
}
# the checks that start right away: the ones before them never wait for anything
FIRST: tuple[str, ...] = ("deploy", "readiness", "liveness")


def checks_of(category: str) -> tuple[str, ...]:
    return tuple(c.name for c in CHECKS if c.category == category)


def planned(spec: CheckSpec) -> list[Check]:
    """The checks ``spec`` asks for, in run order."""
    return [c for c in CHECKS if c.wanted(spec)]


def pending_text(check: Check, spec: CheckSpec) -> str:
    if check.name == "resilience":
        return _has_pods_later(spec)
    if check.name == "metrics":
        return "before, during and after the load" if spec.load is not None else (
            "after liveness")
    if check.name == "manifest" and not spec.liveness.enabled:
        return "after readiness"
    return check.when
