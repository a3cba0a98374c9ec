"""Stress runs: step the open-model rate up until the thresholds break; report the knee.

Owns the stepping logic shared by the in-process runner (``engine.run_load`` steps through
these helpers itself) and the multi-process runner (``workers.run_processes``): ``step_plan``
makes the constant-rate plan of one step, ``combine`` joins the step results into one
``LoadResult`` whose ``stress`` report lists every step's verdict and the knee (the last rate
that met the thresholds; None when even the first step failed). A step that is Failed or
Inconclusive ends the run. Judging uses ``thresholds.judge``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from .histogram import Histogram
from .plan import LoadPlan
from .result import LoadResult, Second, StressReport, StressStep
from .thresholds import Judgement, judge

__all__ = ["Stepping", "combine", "run_stress", "step_plan", "to_step"]


def step_plan(plan: LoadPlan, rate: float) -> LoadPlan:
    assert plan.stress is not None
    return replace(plan, stress=None, rate=rate, stages=(), duration=plan.stress.step_duration,
                   start_at=None)


def to_step(rate: float, result: LoadResult, j: Judgement) -> StressStep:
    return StressStep(rate=rate, verdict=j.result, p99=result.latency.percentile(0.99),
                      error_rate=result.error_rate, throughput=result.throughput,
                      summary=j.summary)


def combine(plan: LoadPlan, results: Sequence[LoadResult], steps: Sequence[StressStep]
            ) -> LoadResult:
    """One result for the whole stress run (timelines laid end to end) plus its report."""
    knee = None
    broke = None
    for s in steps:
        if s.verdict == "Passed":
            knee = s.rate
        else:
            broke = s.rate
            break
    timeline: list[Second] = []
    offset = 0
    errors: dict[str, int] = {}
    for r in results:
        timeline.extend(replace(s, t=s.t + offset) for s in r.timeline)
        offset += max(int(round(r.duration)), (r.timeline[-1].t + 1) if r.timeline else 0)
        for k, v in r.errors.items():
            errors[k] = errors.get(k, 0) + v
    return LoadResult(
        model="open",
        duration=sum(r.duration for r in results),
        requests=sum(r.requests for r in results),
        errors=errors,
        late=sum(r.late for r in results),
        histogram=Histogram.merged(r.histogram for r in results),
        timeline=tuple(timeline),
        target_rate=None,
        shards=max((r.shards for r in results), default=1),
        stress=StressReport(tuple(steps), knee, broke),
        started=min((r.started for r in results), default=0.0),
    )


class Stepping:
    """The bookkeeping of one stress run, shared by the in-process and the multi-process
    runner: the step plans in order, each step's result recorded (and judged: a step that is
    not Passed ends the run), and the combined result."""

    def __init__(self, plan: LoadPlan) -> None:
        assert plan.stress is not None
        self.plan = plan
        self.stress = plan.stress
        self.results: list[LoadResult] = []
        self.steps: list[StressStep] = []

    def plans(self) -> list[tuple[float, LoadPlan]]:
        return [(rate, step_plan(self.plan, rate)) for rate in self.stress.rates()]

    def record(self, rate: float, result: LoadResult) -> bool:
        """Keep one step's result; True when the run goes on to the next step."""
        j = judge(result, self.stress.thresholds)
        self.results.append(result)
        self.steps.append(to_step(rate, result, j))
        return j.result == "Passed"

    def combined(self) -> LoadResult:
        return combine(self.plan, self.results, self.steps)


def run_stress(plan: LoadPlan, run_step: Callable[[LoadPlan], LoadResult]) -> LoadResult:
    """Synchronous stepping with any runner (used by the multi-process path)."""
    stepping = Stepping(plan)
    for rate, step in stepping.plans():
        if not stepping.record(rate, run_step(step)):
            break
    return stepping.combined()
