"""Judging a disruption: how long the workload took to recover after readygate deleted its pods,
and how many requests failed meanwhile. Pure.

``Disruption`` is what the acting side (``disruptor``) observed: which pods it deleted and when
(wall-clock seconds), and when the workload was whole again (every replica Ready and the
service answering), or None if it never was within ``maxRecovery``. The errors come from the
load's per-second timeline (``window_errors``) or, without a load, from the probes the
disruptor sent itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from readygate.api.results import CheckResult
from readygate.api.spec import ResilienceCheck
from readygate.load import LoadResult


@dataclasses.dataclass(frozen=True)
class Disruption:
    killed: tuple[str, ...]
    killed_at: float  # epoch seconds
    recovered_at: float | None
    desired: int
    ready_at_end: int
    answering_at_end: bool
    probe_requests: int = 0  # probes sent by the disruptor itself (no load)
    probe_errors: int = 0

    @property
    def recovery(self) -> float | None:
        return None if self.recovered_at is None else self.recovered_at - self.killed_at


def window_errors(result: LoadResult, start: float, end: float) -> tuple[int, int]:
    """(requests, errors) the load completed between ``start`` and ``end`` (epoch seconds).

    The timeline counts requests by the second they completed in, so the window is widened to
    whole seconds: [floor(start), ceil(end)] relative to the load's start.
    """
    first = int(start - result.started)
    last = int(end - result.started) + 1
    return _sum((s.t, s.requests, s.errors) for s in result.timeline if first <= s.t <= last)


def _sum(rows: Iterable[tuple[int, int, int]]) -> tuple[int, int]:
    requests = errors = 0
    for _, r, e in rows:
        requests += r
        errors += e
    return requests, errors


def judge_resilience(spec: ResilienceCheck, d: Disruption, requests: int, errors: int, *,
                     started_at: str, finished_at: str) -> CheckResult:
    """``requests``/``errors``: sent and failed between the deletion and the recovery."""
    measured: dict[str, float] = {
        "podsKilled": float(len(d.killed)),
        "requestsDuringRecovery": float(requests),
        "errorsDuringRecovery": float(errors),
    }
    rate = errors / requests if requests else None
    if rate is not None:
        measured["errorRateDuringRecovery"] = rate
    evidence = tuple(f"deleted pod {p}" for p in d.killed[:10])
    if d.recovery is None:
        return CheckResult(
            result="Failed",
            message=(f"not recovered within {spec.max_recovery:.0f}s after deleting "
                     f"{len(d.killed)} pod(s): {d.ready_at_end}/{d.desired} replicas Ready, "
                     f"service {'answering' if d.answering_at_end else 'not answering'}"),
            started_at=started_at, finished_at=finished_at, measured=measured,
            evidence=evidence)
    measured["recoverySeconds"] = d.recovery
    errors_text = (f"{errors} of {requests} requests failed meanwhile ({rate * 100:.1f}%)"
                   if rate is not None else "no requests were sent meanwhile")
    head = f"recovered in {d.recovery:.1f}s after deleting {len(d.killed)} pod(s); {errors_text}"
    if d.recovery > spec.max_recovery:
        return CheckResult(result="Failed",
                           message=f"{head}: slower than maxRecovery {spec.max_recovery:.0f}s",
                           started_at=started_at, finished_at=finished_at, measured=measured,
                           evidence=evidence)
    if spec.max_error_rate is not None:
        if rate is None:
            return CheckResult(result="Inconclusive",
                               message=f"{head}: the error budget cannot be judged",
                               started_at=started_at, finished_at=finished_at,
                               measured=measured, evidence=evidence)
        if rate > spec.max_error_rate:
            return CheckResult(
                result="Failed",
                message=(f"{head}: over the error budget of {spec.max_error_rate * 100:g}%"),
                started_at=started_at, finished_at=finished_at, measured=measured,
                evidence=evidence)
    return CheckResult(result="Passed", message=head, started_at=started_at,
                       finished_at=finished_at, measured=measured, evidence=evidence)
