"""What the supervisor of one ReadinessCheck does next. Pure, table-tested.

``decide`` looks at the resource's generation, its stored status, whether a run is in flight
(and for which generation), the rerun token a user set (``api.rerun``) and the clock, and
answers: start a run (and why), replace the running one because the spec changed, or wait (and
how long). A rerun token that differs from the one the last run started with
(``status.handledRerun``) starts a run once the one in flight, if any, has finished.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from readygate.api.clock import parse_time
from readygate.api.names import TERMINAL_PHASES, RunReason
from readygate.api.rerun import token_of as rerun_token

__all__ = ["Action", "Decision", "decide", "next_run_at", "rerun_token"]

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
           every: float | None, poll: float = 1.0, rerun: str | None = None) -> Decision:
    """``running``: the generation of the run in flight, or None. ``rerun``: the token of the
    rerun annotation (None when absent, or when a run could not start anyway: an invalid spec)."""
    if running is not None:
        if running != generation:
            return Decision("restart", "NewGeneration")
        return Decision("wait", wait=poll)
    if status.get("observedGeneration") != generation:
        return Decision("start", "NewGeneration")
    if status.get("phase") not in TERMINAL_PHASES:
        return Decision("start", "Resumed")
    if rerun is not None and rerun != status.get("handledRerun"):
        return Decision("start", "Rerun")
    due = next_run_at(status, every)
    if due is not None:
        if now >= due:
            return Decision("start", "Periodic")
        return Decision("wait", wait=max(0.05, min(poll, due - now)))
    return Decision("wait", wait=poll)
