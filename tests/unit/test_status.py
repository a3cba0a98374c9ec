"""compute_status, conditions and merge patches: the kstatus promises, as tables."""

from __future__ import annotations

from typing import Any

from readygate.api.results import CheckResult, Diagnosis
from readygate.judge.verdict import decide
from readygate.status.compute import RunView, compute_status
from readygate.status.conditions import merge_patch, set_condition

T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"
PASS = CheckResult(result="Passed", message="ok")
FAIL = CheckResult(result="Failed", message="bad")


def cond(status: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions", []) if c["type"] == ctype), None)


def view(**kw: Any) -> RunView:
    base: dict[str, Any] = {"generation": 1, "run": 1, "reason": "NewGeneration",
                            "phase": "Verifying", "started_at": T0}
    base.update(kw)
    return RunView(**base)


def test_new_generation_reconciles_with_ready_unknown() -> None:
    status = compute_status({}, view(checks={"readiness": CheckResult(result="Running",
                                                                      message="waiting")}), T0)
    assert status["observedGeneration"] == 1
    assert cond(status, "Reconciling")["status"] == "True"
    assert cond(status, "Ready")["status"] == "Unknown"
    assert cond(status, "Stalled") is None
    assert "score" not in status


def test_pass_removes_reconciling_and_sets_ready() -> None:
    running = compute_status({}, view(), T0)
    done = compute_status(running, view(phase="Passed", checks={"readiness": PASS}), T1)
    assert cond(done, "Reconciling") is None
    assert cond(done, "Ready")["status"] == "True"
    assert cond(done, "Ready")["lastTransitionTime"] == T1
    assert done["lastVerdictAt"] == T1 and done["verdict"] == "Passed"


def test_terminal_failure_is_stalled_and_not_ready() -> None:
    done = compute_status({}, view(phase="Failed", checks={"readiness": FAIL}), T1)
    assert cond(done, "Stalled")["status"] == "True"
    assert cond(done, "Ready")["status"] == "False"
    assert cond(done, "ReadinessPassed")["status"] == "False"
    assert done["summary"] == "readiness failed: bad"


def test_periodic_rerun_touches_no_condition_until_its_verdict() -> None:
    passed = compute_status({}, view(phase="Passed", checks={"readiness": PASS}), T1)
    rerun = compute_status(passed, view(run=2, reason="Periodic", phase="Verifying",
                                        checks={"readiness": CheckResult(result="Running",
                                                                         message="again")}), T2)
    assert rerun["conditions"] == passed["conditions"]
    assert rerun["score"] == passed["score"] and rerun["verdict"] == "Passed"


def test_transition_time_moves_only_on_flips() -> None:
    conds = set_condition([], "Ready", "True", "Passed", "a", generation=1, now=T0)
    same = set_condition(conds, "Ready", "True", "Passed", "b", generation=2, now=T1)
    flipped = set_condition(same, "Ready", "False", "Failed", "c", generation=2, now=T2)
    assert same[0]["lastTransitionTime"] == T0
    assert flipped[0]["lastTransitionTime"] == T2


def test_history_has_one_line_per_run() -> None:
    one = compute_status({}, view(phase="Passed", checks={"readiness": PASS}), T1)
    again = compute_status(one, view(phase="Passed", checks={"readiness": PASS}), T2)
    assert len(again["history"]) == 1 and again["lastVerdictAt"] == T1
    two = compute_status(again, view(run=2, phase="Failed", checks={"readiness": FAIL}), T2)
    assert len(two["history"]) == 2 and two["history"][-1].startswith("run 2 ")


def test_diagnosis_goes_into_status_and_summary() -> None:
    d = Diagnosis(reason="CrashLoopBackOff", message="container app exited with code 3: "
                  "ModuleNotFoundError: No module named 'autocoder'", pod="p", exit_code=3)
    status = compute_status({}, view(phase="Failed", checks={"readiness": FAIL}, diagnosis=d,
                                     diagnosed_at=T1), T1)
    assert status["diagnosis"]["exitCode"] == 3
    assert "ModuleNotFoundError" in cond(status, "Ready")["message"]


def test_spec_error_is_error_phase_with_the_reason() -> None:
    status = compute_status({}, view(phase="Error", error="spec.load.rate: must be at least "
                                     "0.1, got -1"), T0)
    assert status["phase"] == "Error" and status["verdict"] == "Error"
    assert cond(status, "Stalled")["status"] == "True"
    assert "spec.load.rate" in cond(status, "Ready")["message"]


def test_merge_patch_sends_only_changes_and_removals() -> None:
    old = {"a": 1, "b": {"x": 1, "y": 2}, "c": [1]}
    new = {"a": 1, "b": {"x": 1}, "c": [1, 2], "d": "new"}
    assert merge_patch(old, new) == {"b": {"y": None}, "c": [1, 2], "d": "new"}
    assert merge_patch(new, new) == {}


def test_score_counts_only_what_was_measured() -> None:
    v = decide({"deploy": PASS, "readiness": PASS, "liveness": PASS})
    assert (v.result, v.score) == ("Passed", 40)
    assert v.not_checked == ("performance", "resilience", "persistence", "security")
    v = decide({"deploy": PASS, "readiness": PASS, "liveness": FAIL})
    assert v.result == "Failed" and v.breakdown == {"deploy": 15, "health": 12}
    assert decide({}).result == "Inconclusive"
    assert decide({"readiness": PASS, "load": CheckResult(result="Inconclusive",
                                                          message="few")}).result == "Inconclusive"


def test_summary_of_a_deploy_that_never_got_ready_shows_the_readiness_evidence() -> None:
    checks = {"deploy": CheckResult(result="Failed", message="0/1 pods Ready after 20s"),
              "readiness": CheckResult(result="Failed",
                                       message="not ready within 20s (... -> HTTP 503)")}
    done = compute_status({}, view(phase="Failed", checks=checks), T1)
    assert done["summary"] == "readiness failed: not ready within 20s (... -> HTTP 503)"


def test_status_stays_small_at_every_bound() -> None:
    """Every text and list a status holds is bounded: the worst case a target can cause (every
    check planned, each at its bounds, a crash diagnosis, a full history and gate) stays far
    under etcd's request size limit (1.5 MiB) — Argo Rollouts users hit it with unbounded
    AnalysisRun statuses."""
    import json

    from readygate.api.checks import ORDER
    from readygate.api.report import (
        BASELINE_KEYS,
        CHART_POINTS,
        METRICS_SERIES,
        Charts,
        LoadSeries,
        MemorySeries,
        MetricsSeries,
    )

    now = "2026-01-01T00:00:00Z"
    huge = "x" * 100_000
    checks = {name: CheckResult(result="Failed", message=huge, started_at=now, finished_at=now,
                                measured={f"m{i}": float(i) for i in range(500)},
                                evidence=tuple(huge for _ in range(500)),
                                warnings=tuple(huge for _ in range(500)))
              for name in ORDER}
    diagnosis = Diagnosis(reason=huge, message=huge, pod="p", container="c",
                          log_tail=tuple(huge for _ in range(500)))
    gate = {"conditionType": "readygate.io/x", "verified": 0, "failed": 50, "pending": 0,
            "pods": [{"pod": f"p{i}", "result": "Failed", "message": "m" * 300}
                     for i in range(50)]}
    # the report's charts at their bound (a long load and soak), with the widest numbers
    n = 10 * CHART_POINTS
    wide = 123456.789012
    charts = Charts(load_started_at=now,
                    load=LoadSeries(step=3600, t=(wide,) * n, requests=(10**9,) * n,
                                    errors=(10**9,) * n, p50_ms=(wide,) * n,
                                    p95_ms=(wide,) * n, p99_ms=(wide,) * n),
                    memory=MemorySeries(of=huge, t=(wide,) * n, bytes=(2.0**40,) * n),
                    metrics=MetricsSeries(of=huge, t=(wide,) * n, series=tuple(
                        (huge, (-1.23457e+308,) * n) for _ in range(5))),
                    killed_at=wide, recovered_at=wide)
    passed = {name: CheckResult(result="Passed", message=huge, started_at=now, finished_at=now,
                                measured={**{f"m{i}": float(i) for i in range(500)},
                                          **{k: wide for k in BASELINE_KEYS}})
              for name in ORDER}
    status: dict[str, object] = {}
    for run in range(1, 41):  # a check that lives long: many runs, one history
        # every other run passes, so a full baseline is carried from run to run; the last fails
        view = RunView(generation=1, run=run, reason="Periodic",
                       phase="Passed" if run % 2 else "Failed", started_at=now,
                       checks=passed if run % 2 else checks, diagnosis=diagnosis, error=None,
                       target=huge[:2048], charts=charts, rerun=huge)
        status = compute_status(status, view, now, gate=gate)
    assert len(status["charts"]["load"]["t"]) == CHART_POINTS  # type: ignore[index]
    assert len(status["charts"]["metrics"]["series"]) == METRICS_SERIES  # type: ignore[index]
    assert len(json.dumps(status["charts"])) < 12_000  # type: ignore[index]
    assert len(status["baseline"]["checks"]) == len(ORDER)  # type: ignore[index]
    assert len(status["handledRerun"]) <= 100  # type: ignore[arg-type]
    size = len(json.dumps(status))
    # 156 KB measured with 9 checks, of which the report's charts are 7.5 KB (10.8 KB with the
    # metrics check's two series) and its baseline under 1 KB; each further check at its bounds
    # adds about 12 KB (184 KB with 11)
    assert size < 50_000 + 12_500 * len(ORDER), f"a worst-case status is {size} bytes"
    assert size < 1_000_000  # far under etcd's 1.5 MiB whatever is registered
    assert len(status["history"]) == 5  # type: ignore[arg-type]


def test_baseline_is_the_last_passed_run_before_this_one() -> None:
    load = CheckResult(result="Passed", message="ok", finished_at=T1,
                       measured={"p95Ms": 120.0, "errorRate": 0.01, "rps": 99.0, "late": 3.0})
    one = compute_status({}, view(phase="Passed", checks={"load": load}), T1)
    assert "baseline" not in one  # nothing passed before run 1
    running = compute_status(one, view(run=2, phase="Verifying"), T2)
    assert running["baseline"] == {
        "verdict": "Passed", "run": 1, "generation": 1, "score": one["score"],
        "finishedAt": T1, "checks": [{"name": "load", "result": "Passed", "finishedAt": T1,
                                      "measured": {"p95Ms": 120.0, "errorRate": 0.01,
                                                   "rps": 99.0}}]}
    failed = compute_status(running, view(run=2, phase="Failed", checks={"load": FAIL}), T2)
    assert failed["baseline"]["run"] == 1
    # a failed run never becomes the baseline: run 3 still compares with run 1
    three = compute_status(failed, view(run=3, phase="Verifying"), T2)
    assert three["baseline"]["run"] == 1
    four = compute_status(compute_status(three, view(run=3, phase="Passed",
                                                     checks={"load": load}), T2),
                          view(run=4, phase="Verifying"), T2)
    assert four["baseline"]["run"] == 3


def test_a_rerun_keeps_its_token_and_touches_no_condition_until_its_verdict() -> None:
    passed = compute_status({}, view(phase="Passed", checks={"readiness": PASS}), T1)
    rerun = compute_status(passed, view(run=2, reason="Rerun", rerun="2026-01-01T00:02:00.000Z",
                                        checks={"readiness": CheckResult(
                                            result="Running", message="again")}), T2)
    assert rerun["conditions"] == passed["conditions"]
    assert rerun["verdict"] == "Passed" and rerun["handledRerun"] == "2026-01-01T00:02:00.000Z"
    # a view that does not know the token (an error the supervisor writes) keeps it
    error = compute_status(rerun, view(run=3, phase="Error", error="spec: invalid"), T2)
    assert error["handledRerun"] == "2026-01-01T00:02:00.000Z"


def test_charts_go_into_status_bounded() -> None:
    from readygate.api.report import Charts, MemorySeries

    charts = Charts(memory=MemorySeries(of="p/c", t=tuple(float(i) for i in range(100)),
                                        bytes=(1.0,) * 100), killed_at=3.04)
    status = compute_status({}, view(phase="Passed", checks={"readiness": PASS},
                                     charts=charts), T1)
    assert len(status["charts"]["memory"]["t"]) == 60
    assert status["charts"]["disruption"] == {"killedAt": 3.0}
    again = compute_status(status, view(run=2, phase="Verifying"), T2)
    assert "charts" not in again  # the charts are the current run's
