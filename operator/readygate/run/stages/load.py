"""The load phase: the load itself, and what is measured while it runs — stability (memory and
restarts) and resilience (a deliberate disruption) — and, from its timeline, availability.

The load runs through the context's ``load_runner`` (``run.loadrunner``: a child process or Job
pods, never this event loop) and is judged there by ``judge.load``; this module starts it, runs
the stability sampler and the resilience disruption beside it, and records them with the
availability of the load's requests (``judge.availability``, from the load's per-second
timeline) — then the run's charts for the report (``judge.charts``: the load's timeline, the
memory samples and the disruption, downsampled into ``status.charts``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from readygate.api.clock import utc_now
from readygate.api.results import CheckResult
from readygate.api.spec import AvailabilityCheck
from readygate.judge.availability import judge_availability
from readygate.judge.charts import charts_of
from readygate.judge.stability import MemorySample
from readygate.judge.targets import Endpoint
from readygate.run.context import LoadOutcome, RunContext
from readygate.run.stages import resilience as resilience_stage
from readygate.run.stages import stability as stability_stage


async def run_load_phase(ctx: RunContext, endpoint: Endpoint) -> None:
    spec = ctx.spec
    load_task: asyncio.Task[LoadOutcome] | None = None
    if spec.load is not None:
        if ctx.load_runner is None:
            await ctx.record("load", CheckResult(
                result="Error", message="this operator build has no load runner"))
        else:
            await ctx.record("load", CheckResult(
                result="Running", message=_load_text(ctx), started_at=utc_now()))
            load_task = asyncio.create_task(ctx.load_runner(ctx, endpoint))
    availability_started = utc_now()
    if spec.availability is not None and load_task is not None:
        await ctx.record("availability", CheckResult(
            result="Running", message="counting successful requests per window of the load",
            started_at=availability_started))
    tasks: list[asyncio.Task[Any]] = []
    stability = resilience = None
    sampled_at: float | None = None  # wall clock of the memory samples' zero, for the charts
    if spec.stability is not None and load_task is not None:
        await ctx.record("stability", CheckResult(
            result="Running", message="sampling container memory while the load runs",
            started_at=utc_now()))
        sampled_at = time.time()
        stability = asyncio.create_task(stability_stage.sample(ctx, endpoint, load_task))
        tasks.append(stability)
    if spec.resilience is not None:
        resilience = asyncio.create_task(
            resilience_stage.disrupt_target(ctx, endpoint, load_task))
        tasks.append(resilience)
    try:
        outcome = await load_task if load_task is not None else None
        if outcome is not None:
            await ctx.record("load", outcome.check)
        if spec.availability is not None:
            await ctx.record("availability", _availability(spec.availability, outcome,
                                                           availability_started))
        samples: list[MemorySample] = []
        if stability is not None:
            observed = await stability
            samples = observed[0]
            await ctx.record("stability", stability_stage.judge(ctx, observed))
        elif spec.stability is not None:
            await ctx.record("stability", CheckResult(
                result="Error", message="no load ran to watch", finished_at=utc_now()))
        disruption = None
        if resilience is not None:
            disrupted = await resilience
            disruption = disrupted[0]
            await ctx.record("resilience", resilience_stage.judge(
                ctx, disrupted, outcome.result if outcome is not None else None))
        # the report's charts (status.charts): downsampled, bounded
        charts = charts_of(outcome.result if outcome is not None else None, samples,
                           sampled_at, disruption)
        if charts is not None:
            await ctx.update(charts=charts)
    finally:
        for task in (load_task, *tasks):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


def _availability(spec: AvailabilityCheck, outcome: LoadOutcome | None,
                  started: str) -> CheckResult:
    if outcome is None or outcome.result is None:
        why = outcome.check.message if outcome is not None else "no load ran"
        return CheckResult(result="Error", message=f"could not measure: {why}",
                           started_at=started, finished_at=utc_now())
    return judge_availability(spec, outcome.result, started_at=started, finished_at=utc_now())


def _load_text(ctx: RunContext) -> str:
    load = ctx.spec.load
    assert load is not None
    what = f"{load.rate:g} req/s" if load.rate else (
        f"{load.users} users" if load.users else "staged load")
    where = f" from {load.workers} Job pods" if load.workers > 1 else ""
    return f"applying {what} ({load.model} model){where}"
