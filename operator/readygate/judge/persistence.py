"""Judging the persistence check: a value written through the service must be read back after
the workload (or its dependency) was restarted. Pure.

The acting side (``checks.run_persistence``) writes with this run's random token rendered into
the request (``render``), reads it back once before the restart (so that a service that never
stored it is not mistaken for one that lost it), restarts, reads again, and hands the answers
and the restart's story to ``judge_persistence``.
"""

from __future__ import annotations

import dataclasses

from readygate.api.names import Result
from readygate.api.results import CheckResult
from readygate.api.spec import HttpCall
from readygate.judge.answers import Answer

BODY_EVIDENCE = 300


def render(text: str, token: str) -> str:
    return text.replace("{token}", token)


def _describe(call: HttpCall, token: str, answer: Answer, *, redact: bool = False) -> str:
    """One request and its answer; the body is bounded, and left out where ``redact`` (a url
    target outside the cluster: what it answers is not the check author's to copy)."""
    what = (f"{answer.status}" if answer.status is not None else f"no answer ({answer.error})")
    body = " ".join(answer.body.split())[:BODY_EVIDENCE]
    if redact and body:
        body = (f"({len(answer.body)} characters of body; not shown for a url target"
                f"{', the token is in it' if token in answer.body else ''})")
    return f"{call.method} {render(call.path, token)} -> {what}" + (f" {body}" if body else "")


@dataclasses.dataclass(frozen=True)
class Restart:
    what: str  # "Deployment store"
    replaced: int  # pods deleted and replaced
    seconds: float | None  # until every replica was Ready again (None: not within the budget)


def judge_persistence(write: HttpCall, read: HttpCall, token: str, *, wrote: Answer,
                      before: Answer | None, restart: Restart | None, after: Answer | None,
                      within: float, started_at: str, finished_at: str,
                      redact: bool = False) -> CheckResult:
    def describe(call: HttpCall, token: str, answer: Answer) -> str:
        return _describe(call, token, answer, redact=redact)

    evidence = [describe(write, token, wrote)]
    measured: dict[str, float] = {}

    def result(kind: Result, message: str) -> CheckResult:
        return CheckResult(result=kind, message=message, started_at=started_at,
                           finished_at=finished_at, measured=measured,
                           evidence=tuple(evidence))

    if not wrote.ok:
        return result("Failed", f"the write failed: {evidence[0]}")
    if before is not None:
        evidence.append("before the restart: " + describe(read, token, before))
        if not (before.ok and token in before.body):
            return result("Failed", "the value could not be read back even before the "
                                    f"restart: {describe(read, token, before)}")
    if restart is None or restart.seconds is None:
        what = restart.what if restart is not None else "the workload"
        return result("Error", f"{what} was not Ready again within {within:.0f}s of its "
                               "restart; nothing to read back from")
    measured["restartSeconds"] = restart.seconds
    measured["podsReplaced"] = float(restart.replaced)
    evidence.append(f"restarted {restart.what}: {restart.replaced} pod(s) replaced, Ready "
                    f"again after {restart.seconds:.1f}s")
    assert after is not None
    evidence.append("after the restart: " + describe(read, token, after))
    if after.ok and token in after.body:
        return result("Passed", f"the value written before restarting {restart.what} was read "
                                "back after it")
    return result("Failed", f"the write was lost when {restart.what} restarted: "
                            f"{describe(read, token, after)}")
