"""The load phase: the load itself, and what is measured while it runs — stability (memory and
restarts) and resilience (a deliberate disruption).

The load runs through the context's ``load_runner`` (``run.loadrunner``: a child process or Job
pods, never this event loop) and is judged there by ``judge.load``; this module starts it, runs
the stability sampler and the resilience disruption beside it, and records all three.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from readygate.api.clock import utc_now
from readygate.api.results import CheckResult
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
    tasks: list[asyncio.Task[Any]] = []
    stability = resilience = None
    if spec.stability is not None and load_task is not None:
        await ctx.record("stability", CheckResult(
            result="Running", message="sampling container memory while the load runs",
            started_at=utc_now()))
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
        if stability is not None:
            await ctx.record("stability", stability_stage.judge(ctx, await stability))
        elif spec.stability is not None:
            await ctx.record("stability", CheckResult(
                result="Error", message="no load ran to watch", finished_at=utc_now()))
        if resilience is not None:
            await ctx.record("resilience", resilience_stage.judge(
                ctx, await resilience, outcome.result if outcome is not None else None))
    finally:
        for task in (load_task, *tasks):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


def _load_text(ctx: RunContext) -> str:
    load = ctx.spec.load
    assert load is not None
    what = f"{load.rate:g} req/s" if load.rate else (
        f"{load.users} users" if load.users else "staged load")
    where = f" from {load.workers} Job pods" if load.workers > 1 else ""
    return f"applying {what} ({load.model} model){where}"
