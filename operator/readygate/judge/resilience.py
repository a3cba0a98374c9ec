"""Judging a disruption: how long the workload took to recover after readygate deleted its pods,
and how many requests failed meanwhile. Pure.

``Disruption`` is what the acting side (``disruptor``) observed: which pods it deleted and when
(wall-clock seconds), and when the workload was whole again (every replica Ready and the
service answering), or None if it never was within ``maxRecovery``. The errors come from the
load's per-second timeline (``window_errors``) or, without a load, from the probes the
disruptor sent itself; so does the downtime (``load_downtime``, ``probe_downtime``): the seconds
of the recovery in which no request succeeded although requests were sent.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

from readygate.api.durations import format_duration
from readygate.api.names import Result
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


# Requests a second at which a second without any completed request is downtime (nothing was
# served), not the gap between two requests of a slow trickle.
DUE_RATE = 2.0


def down_seconds(seconds: Iterable[tuple[int, int]], *, empty_is_down: bool) -> int:
    """Seconds, each given as (requests, errors) completed in it, in which no request
    succeeded: all of its requests failed, or none completed and ``empty_is_down``."""
    return sum(1 for n, e in seconds if (e >= n > 0) or (n == 0 and empty_is_down))


def load_downtime(result: LoadResult, start: float, end: float) -> int:
    """Down seconds of the load's timeline between ``start`` and ``end`` (epoch seconds), over
    the same whole seconds as ``window_errors``; seconds after the load ended are not counted
    (nothing was sent). A second without a completed request counts when the load averaged at
    least ``DUE_RATE`` requests a second."""
    if not result.timeline:
        return 0
    by_t = {s.t: s for s in result.timeline}
    first = max(int(start - result.started), 0)
    last = min(int(end - result.started) + 1, max(by_t))
    rate = result.requests / result.duration if result.duration > 0 else 0.0
    rows = [(by_t[t].requests, by_t[t].errors) if t in by_t else (0, 0)
            for t in range(first, last + 1)]
    return down_seconds(rows, empty_is_down=rate >= DUE_RATE)


def probe_downtime(samples: Iterable[tuple[float, bool]], start: float, end: float,
                   rate: float) -> int:
    """Down seconds of the disruptor's own probes ((completed at, ok) each) in whole seconds
    from ``start`` until ``end``."""
    count = max(math.ceil(end - start), 0)
    rows = [[0, 0] for _ in range(count)]
    for t, ok in samples:
        if start <= t < start + count:
            row = rows[int(t - start)]
            row[0] += 1
            row[1] += 0 if ok else 1
    return down_seconds(((n, e) for n, e in rows), empty_is_down=rate >= DUE_RATE)


def _sum(rows: Iterable[tuple[int, int, int]]) -> tuple[int, int]:
    requests = errors = 0
    for _, r, e in rows:
        requests += r
        errors += e
    return requests, errors


def judge_resilience(spec: ResilienceCheck, d: Disruption, requests: int, errors: int, *,
                     started_at: str, finished_at: str,
                     downtime: int | None = None) -> CheckResult:
    """``requests``/``errors``: sent and failed between the deletion and the recovery;
    ``downtime``: the seconds of it in which no request succeeded (None: no traffic)."""
    measured: dict[str, float] = {
        "podsKilled": float(len(d.killed)),
        "requestsDuringRecovery": float(requests),
        "errorsDuringRecovery": float(errors),
    }
    rate = errors / requests if requests else None
    if rate is not None:
        measured["errorRateDuringRecovery"] = rate
    if downtime is not None and requests:
        measured["downtimeSeconds"] = float(downtime)
    else:
        downtime = None
    down_text = "" if downtime is None else f", down for {downtime}s (no request succeeded)"
    evidence = tuple(f"deleted pod {p}" for p in d.killed[:10])

    def result(kind: Result, message: str) -> CheckResult:
        return CheckResult(result=kind, message=message, started_at=started_at,
                           finished_at=finished_at, measured=measured, evidence=evidence)

    if d.recovery is None:
        return result("Failed", f"not recovered within {spec.max_recovery:.0f}s after deleting "
                                f"{len(d.killed)} pod(s): {d.ready_at_end}/{d.desired} replicas "
                                f"Ready, service "
                                f"{'answering' if d.answering_at_end else 'not answering'}"
                                f"{down_text}")
    measured["recoverySeconds"] = d.recovery
    errors_text = (f"{errors} of {requests} requests failed meanwhile ({rate * 100:.1f}%)"
                   if rate is not None else "no requests were sent meanwhile")
    head = (f"recovered in {d.recovery:.1f}s after deleting {len(d.killed)} pod(s); "
            f"{errors_text}{down_text}")
    if d.recovery > spec.max_recovery:
        return result("Failed", f"{head}: slower than maxRecovery {spec.max_recovery:.0f}s")
    if spec.max_error_rate is not None:
        if rate is None:
            return result("Inconclusive", f"{head}: the error budget cannot be judged")
        if rate > spec.max_error_rate:
            return result("Failed",
                          f"{head}: over the error budget of {spec.max_error_rate * 100:g}%")
    if spec.max_downtime is not None:
        if downtime is None:
            return result("Inconclusive", f"{head}: the downtime cannot be judged")
        if downtime > spec.max_downtime:
            return result("Failed", f"{head}: longer than maxDowntime "
                                    f"{format_duration(spec.max_downtime)}")
    return result("Passed", head)
