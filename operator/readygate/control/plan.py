"""What the supervisor of one ReadinessCheck does next. Pure, table-tested.

``decide`` looks at the resource's generation, its stored status, whether a run is in flight
(and for which generation) and the clock, and answers: start a run (and why), replace the
running one because the spec changed, or wait (and how long).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from readygate.api.clock import parse_time
from readygate.api.names import TERMINAL_PHASES, RunReason

Action = Literal["start", "restart", "wait"]


@dataclasses.dataclass(frozen=True)
class Decision:
    action: Action
    reason: RunReason | None = None
    wait: float = 1.0


def next_run_at(status: Mapping[str, Any], every: float | None) -> float | None:
    last = parse_time(status.get("lastVerdictAt"))
    if every is None or last is None:
        return None
    return last + every


def decide(*, generation: int, status: Mapping[str, Any], running: int | None, now: float,
           every: float | None, poll: float = 1.0) -> Decision:
    """``running``: the generation of the run in flight, or None."""
    if running is not None:
        if running != generation:
            return Decision("restart", "NewGeneration")
        return Decision("wait", wait=poll)
    if status.get("observedGeneration") != generation:
        return Decision("start", "NewGeneration")
    if status.get("phase") not in TERMINAL_PHASES:
        return Decision("start", "Resumed")
    due = next_run_at(status, every)
    if due is not None:
        if now >= due:
            return Decision("start", "Periodic")
        return Decision("wait", wait=max(0.05, min(poll, due - now)))
    return Decision("wait", wait=poll)
