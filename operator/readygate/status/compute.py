"""The one function that computes a ReadinessCheck's new status. Pure.

``compute_status(old, view, now)`` takes the status as stored and a ``RunView`` (what the current
run knows: phase, per-check results, diagnosis, the load phase's charts) and returns the
complete new status: phase, kstatus conditions, per-check conditions, score, verdict, summary,
history, the report's ``charts`` (``api.report``) and ``baseline`` (the last passed run before
this one, a few numbers per check, for the report's change column), and the rerun token the run
started with (``api.rerun``). ``writer`` diffs it against the old one and patches once; nothing
else writes status.

kstatus rules kept here: a new generation sets ``observedGeneration``, ``Reconciling=True`` and
``Ready=Unknown``; a pass removes ``Reconciling`` and sets ``Ready=True``; a terminal non-pass
sets ``Stalled=True`` and ``Ready=False``. A periodic re-run of an unchanged spec (or one a user
asked for with the rerun annotation) touches no condition until it has a new verdict, so GitOps
health does not flap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from readygate.api.checks import ORDER as CHECK_ORDER
from readygate.api.names import QUIET_REASONS, TERMINAL_PHASES, RunReason
from readygate.api.report import BASELINE_CHECKS, BASELINE_KEYS, Charts
from readygate.api.rerun import TOKEN_CHARS
from readygate.api.results import MESSAGE_CHARS, CheckResult, Diagnosis, clip
from readygate.judge.verdict import decide
from readygate.status import conditions as cond

HISTORY_LENGTH = 5
SUMMARY_CHARS = 1_000
PASSED_VERDICTS = ("Passed", "Conditional")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunView:
    generation: int
    run: int
    reason: RunReason
    phase: str
    started_at: str
    checks: dict[str, CheckResult] = dataclasses.field(default_factory=dict)
    diagnosis: Diagnosis | None = None
    diagnosed_at: str | None = None
    target: str | None = None
    error: str | None = None  # a spec or policy error: the run is Error with this reason
    next_run_at: str | None = None
    charts: Charts | None = None  # the load phase's series, for the report
    rerun: str | None = None  # the rerun annotation's token when the run started

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL_PHASES


def check_condition_type(check: str) -> str:
    return check[:1].upper() + check[1:] + "Passed"


def _check_condition_status(result: str) -> str:
    return {"Passed": "True", "Failed": "False", "Error": "False"}.get(result, "Unknown")


def summarize(view: RunView) -> str:
    """One line a person reads in ``kubectl get -o wide`` (beside the Ready, Verdict and Phase
    columns, so a finished run's line does not repeat the verdict)."""
    if view.error:
        return view.error
    if view.diagnosis is not None and view.diagnosis.terminal:
        return f"{view.diagnosis.reason}: {view.diagnosis.message}"
    ordered = [n for n in CHECK_ORDER if n in view.checks] + sorted(
        n for n in view.checks if n not in CHECK_ORDER)
    if not view.terminal:
        running = ([n for n in ordered if view.checks[n].result == "Running"]
                   or [n for n in ordered if not view.checks[n].final])
        doing = f"{running[0]}: {view.checks[running[0]].message}" if running else "starting"
        return f"{view.phase}: {doing}"
    bad = [n for n in ordered if view.checks[n].result not in ("Passed", "Skipped")]
    if len(bad) > 1 and bad[:2] == ["deploy", "readiness"]:
        bad = bad[1:]  # readiness says the same and more: the answers, the pods Ready
    if bad:
        first = view.checks[bad[0]]
        return f"{bad[0]} {first.result.lower()}: {first.message}"
    warned = [n for n in ordered if view.checks[n].warnings]
    if warned:
        return "passed with warnings: " + "; ".join(
            f"{n}: {', '.join(view.checks[n].warnings)}" for n in warned)
    return "; ".join(f"{n} ok" for n in ordered)


def compute_status(old: Mapping[str, Any], view: RunView, now: str, *,
                   gate: Mapping[str, Any] | None = None) -> dict[str, Any]:
    conditions: list[dict[str, Any]] = [dict(c) for c in old.get("conditions") or []]
    gen = view.generation
    summary = clip(summarize(view), SUMMARY_CHARS)
    quiet = view.reason in QUIET_REASONS and not view.terminal

    verdict = decide(view.checks) if view.terminal else None
    if view.terminal:
        conditions = cond.remove_condition(conditions, "Reconciling")
        if view.phase == "Passed":
            reason = verdict.result if verdict is not None else "Passed"
            conditions = cond.remove_condition(conditions, "Stalled")
            conditions = cond.set_condition(conditions, "Ready", "True", reason, summary,
                                            generation=gen, now=now)
        else:
            conditions = cond.set_condition(conditions, "Stalled", "True", view.phase, summary,
                                            generation=gen, now=now)
            conditions = cond.set_condition(conditions, "Ready", "False", view.phase, summary,
                                            generation=gen, now=now)
    elif not quiet:
        conditions = cond.remove_condition(conditions, "Stalled")
        conditions = cond.set_condition(conditions, "Reconciling", "True", view.phase, summary,
                                        generation=gen, now=now)
        conditions = cond.set_condition(conditions, "Ready", "Unknown", view.phase, summary,
                                        generation=gen, now=now)

    if not quiet:
        known = {check_condition_type(n) for n in view.checks}
        conditions = [c for c in conditions
                      if not str(c.get("type", "")).endswith("Passed") or c["type"] in known]
        for name, check in view.checks.items():
            conditions = cond.set_condition(
                conditions, check_condition_type(name), _check_condition_status(check.result),
                check.result, clip(check.message, MESSAGE_CHARS), generation=gen, now=now)

    status: dict[str, Any] = {
        "observedGeneration": gen,
        "phase": view.phase,
        "summary": summary,
        "runs": view.run,
        "runStartedAt": view.started_at,
        "conditions": conditions,
        "checks": [{"name": name, **c.to_status()} for name, c in view.checks.items()],
    }
    p95 = (view.checks["load"].measured.get("p95Ms") if "load" in view.checks else None)
    if p95 is not None:
        status["p95Ms"] = round(p95)
    elif quiet and "p95Ms" in old:
        status["p95Ms"] = old["p95Ms"]
    if view.target:
        status["target"] = view.target
    if view.diagnosis is not None:
        status["diagnosis"] = view.diagnosis.to_status(view.diagnosed_at or now)
    if view.error:
        status["error"] = {"message": clip(view.error, MESSAGE_CHARS)}
    if view.charts is not None:
        status["charts"] = view.charts.to_status()
    baseline = _baseline_of(old) if old.get("runs") != view.run else None
    baseline = baseline or old.get("baseline")
    if baseline:
        status["baseline"] = baseline
    rerun = view.rerun or old.get("handledRerun")
    if isinstance(rerun, str) and rerun:
        status["handledRerun"] = rerun[:TOKEN_CHARS]

    history = list(old.get("history") or [])
    if verdict is not None:
        if view.error:
            status.update(verdict="Error", score=0, scoreBreakdown={})
        else:
            status.update(verdict=verdict.result, score=verdict.score,
                          scoreBreakdown=verdict.breakdown)
            if verdict.not_checked:
                status["notChecked"] = list(verdict.not_checked)
            if verdict.warnings:
                status["warnings"] = list(verdict.warnings[:20])
        status["lastVerdictAt"] = old.get("lastVerdictAt") if _same_run(old, view) else now
        line = (f"run {view.run} gen {gen} {status['verdict']} score {status['score']} "
                f"at {status['lastVerdictAt']}: {summary}")[:300]
        history = [h for h in history if not h.startswith(f"run {view.run} ")]
        history.append(line)
    elif view.reason in QUIET_REASONS:
        for key in ("verdict", "score", "scoreBreakdown", "lastVerdictAt", "notChecked",
                    "warnings"):
            if key in old:
                status[key] = old[key]
    if history:
        status["history"] = history[-HISTORY_LENGTH:]
    if view.next_run_at:
        status["nextRunAt"] = view.next_run_at
    if gate is not None:
        status["gate"] = dict(gate)
    return status


def _baseline_of(old: Mapping[str, Any]) -> dict[str, Any] | None:
    """The summary of the run ``old`` is the status of, if that run passed (the baseline of the
    runs after it): verdict, score, when, and a few measured values per check. Bounded."""
    if old.get("phase") != "Passed" or old.get("verdict") not in PASSED_VERDICTS:
        return None
    checks = []
    for entry in list(old.get("checks") or [])[:BASELINE_CHECKS]:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            continue
        measured = entry.get("measured") or {}
        kept = {k: measured[k] for k in BASELINE_KEYS
                if isinstance(measured, Mapping) and isinstance(measured.get(k), (int, float))}
        item: dict[str, Any] = {"name": entry["name"][:63]}
        if isinstance(entry.get("result"), str):
            item["result"] = entry["result"][:63]
        if isinstance(entry.get("finishedAt"), str):
            item["finishedAt"] = entry["finishedAt"]
        if kept:
            item["measured"] = kept
        checks.append(item)
    out: dict[str, Any] = {"verdict": old["verdict"], "checks": checks}
    for key, field in (("run", "runs"), ("generation", "observedGeneration"),
                       ("score", "score"), ("finishedAt", "lastVerdictAt")):
        if isinstance(old.get(field), (int, str)):
            out[key] = old[field]
    return out


def _same_run(old: Mapping[str, Any], view: RunView) -> bool:
    return (old.get("runs") == view.run and old.get("phase") in TERMINAL_PHASES
            and bool(old.get("lastVerdictAt")))
