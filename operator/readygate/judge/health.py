"""Judging HTTP probe samples: readiness within a budget, liveness over a window. Pure.

``run.prober`` takes the samples (it owns the HTTP calls); this module only turns a list of
``Sample`` into a ``CheckResult`` with its evidence. A liveness window fails on a run of
``failureThreshold`` consecutive failures, on flapping (more recoveries than ``maxFlaps``) and
on container restarts during the window; a window with no samples is Inconclusive, never a pass.
"""

from __future__ import annotations

from readygate.api.results import CheckResult
from readygate.api.spec import LivenessCheck
from readygate.judge.answers import Sample

EVIDENCE_LIMIT = 10


def judge_liveness(samples: list[Sample], spec: LivenessCheck, *, restarts: int,
                   started_at: str, finished_at: str) -> CheckResult:
    if not samples:
        return CheckResult(result="Inconclusive", message="no liveness probe was answered or sent",
                           started_at=started_at, finished_at=finished_at)
    delayed = [s for s in samples if s.overloaded]
    if len(delayed) * 2 > len(samples):
        return CheckResult(
            result="Inconclusive", started_at=started_at, finished_at=finished_at,
            message=f"{len(delayed)} of {len(samples)} probes were delayed by the operator's own "
                    "overload (its event loop ran late): not judged",
            measured={"probes": float(len(samples)), "operatorDelayed": float(len(delayed))},
            evidence=tuple(s.describe(spec.path) for s in delayed[:EVIDENCE_LIMIT]))
    samples = [s for s in samples if not s.overloaded]  # they say nothing about the target
    failures = [s for s in samples if not s.ok]
    longest = run = 0
    flaps = 0
    first_breach: Sample | None = None
    for prev, cur in zip([None, *samples], samples, strict=False):
        run = 0 if cur.ok else run + 1
        if run > longest:
            longest = run
        if run >= spec.failure_threshold and first_breach is None:
            first_breach = cur
        if prev is not None and not prev.ok and cur.ok:
            flaps += 1
    measured = {
        "probes": float(len(samples)),
        "failures": float(len(failures)),
        "longestFailureRun": float(longest),
        "flaps": float(flaps),
        "restarts": float(restarts),
        "failureRatio": len(failures) / len(samples),
    }
    evidence = tuple(s.describe(spec.path) for s in failures[:EVIDENCE_LIMIT])
    reasons = []
    if first_breach is not None:
        reasons.append(f"{longest} consecutive failed probes (threshold {spec.failure_threshold}), "
                       f"first reached at t={first_breach.at:.1f}s")
    if flaps > spec.max_flaps:
        reasons.append(f"flapping: {flaps} recoveries after failures (at most {spec.max_flaps})")
    if restarts > 0:
        reasons.append(f"{restarts} container restart(s) during the window")
    if reasons:
        return CheckResult(result="Failed", message="; ".join(reasons), started_at=started_at,
                           finished_at=finished_at, measured=measured, evidence=evidence)
    window = samples[-1].at - samples[0].at
    message = f"{spec.path} answered {len(samples) - len(failures)}/{len(samples)} probes " \
              f"over {window:.0f}s"
    return CheckResult(result="Passed", message=message, started_at=started_at,
                       finished_at=finished_at, measured=measured, evidence=evidence)


def readiness_failed(samples: list[Sample], path: str, budget: float, *, started_at: str,
                     finished_at: str, pods_ready: str) -> CheckResult:
    """The budget ran out: say what the last probes answered and how many pods were Ready.
    When most of the last probes were delayed by the operator's own overload, that is why, and
    the result is Inconclusive, never Failed."""
    last = samples[-EVIDENCE_LIMIT:]
    tail = samples[-1].describe(path) if samples else "no probe could be sent"
    if last and sum(1 for s in last if s.overloaded) * 2 > len(last):
        return CheckResult(
            result="Inconclusive",
            message=f"not judged: the operator was overloaded (its event loop ran late) for "
                    f"most of the last probes before the {budget:.0f}s budget ended "
                    f"({pods_ready} pods Ready; last probe: {tail})",
            started_at=started_at, finished_at=finished_at,
            measured={"probes": float(len(samples)), "budgetSeconds": budget,
                      "operatorDelayed": float(sum(1 for s in samples if s.overloaded))},
            evidence=tuple(s.describe(path) for s in last))
    return CheckResult(
        result="Failed",
        message=f"not ready within {budget:.0f}s ({pods_ready} pods Ready; last probe: {tail})",
        started_at=started_at, finished_at=finished_at,
        measured={"probes": float(len(samples)), "budgetSeconds": budget},
        evidence=tuple(s.describe(path) for s in last),
    )


def readiness_passed(samples: list[Sample], path: str, seconds: float, *, started_at: str,
                     finished_at: str) -> CheckResult:
    return CheckResult(
        result="Passed",
        message=f"{path} answered 2xx {seconds:.1f}s after the run started",
        started_at=started_at, finished_at=finished_at,
        measured={"secondsToReady": seconds, "probes": float(len(samples))},
    )
