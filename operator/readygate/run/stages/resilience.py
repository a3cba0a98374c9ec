"""The resilience check: delete ``killPods`` of the target's pods ``after`` seconds into the load
(or, without a load, under light probe traffic of its own at ``probeRate``), watch the recovery
through ``disruptor.disrupt``, and count the errors and the downtime (seconds in which no
request succeeded) of the recovery window. Judged by ``judge.resilience``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from array import array
from collections.abc import Iterator
from typing import Any

from readygate.api.clock import utc_now
from readygate.api.results import CheckResult
from readygate.judge.resilience import (
    Disruption,
    judge_resilience,
    load_downtime,
    probe_downtime,
    window_errors,
)
from readygate.judge.targets import Endpoint
from readygate.load import LoadResult
from readygate.run.context import RunContext
from readygate.run.disruptor import desired_replicas, disrupt
from readygate.run.prober import CHECK_CONNECTIONS

CHILD_STARTUP = 0.5  # seconds a load child needs before its first request
PROBE_TIMEOUT = 2.0
MAX_IN_FLIGHT = CHECK_CONNECTIONS  # more would only wait for the check's probe connections


class Traffic:
    """Light probe traffic for a resilience check without a load: (time, ok) per request.

    Bounded whatever the target does: at most MAX_IN_FLIGHT requests at once (a tick that
    finds them all waiting sends nothing: the target or the queue to it is not answering,
    and the waiting ones count their failures), and one float per completed request, kept
    only from ``mark`` on (the deletion) — not a task and a tuple per tick for hours."""

    def __init__(self, ctx: RunContext, url: str, rate: float) -> None:
        self.ctx, self.url, self.rate = ctx, url, rate
        self._done = array("d")  # completion times; negative: the request failed
        self._from = 0.0
        self.skipped = 0

    def mark(self) -> None:
        """Keep what completes from now on; forget what came before."""
        self._from = time.time()
        self._done = array("d", (t for t in self._done if abs(t) >= self._from))

    @property
    def samples(self) -> Iterator[tuple[float, bool]]:
        return ((abs(t), t > 0) for t in self._done)

    async def run(self) -> None:
        period = 1.0 / self.rate
        inflight: set[asyncio.Task[None]] = set()
        try:
            while True:
                if len(inflight) < MAX_IN_FLIGHT:
                    task = asyncio.create_task(self._one())
                    inflight.add(task)
                    task.add_done_callback(inflight.discard)
                else:
                    self.skipped += 1
                await asyncio.sleep(period)
        finally:
            for task in inflight:
                task.cancel()

    async def _one(self) -> None:
        sample = await self.ctx.prober.get(self.url, timeout=PROBE_TIMEOUT, at=0.0)
        now = time.time()
        if now >= self._from:
            self._done.append(now if sample.ok else -now)

    def window(self, start: float, end: float) -> tuple[int, int]:
        inside = [ok for t, ok in self.samples if start <= t <= end]
        return len(inside), sum(1 for ok in inside if not ok)


Observed = tuple[Disruption | None, Traffic | None, str, str | None]


async def disrupt_target(ctx: RunContext, endpoint: Endpoint,
                         load: asyncio.Task[Any] | None) -> Observed:
    """Delete the pods and watch the recovery: (disruption, own traffic, started at, problem)."""
    spec = ctx.spec.resilience
    assert spec is not None
    started = utc_now()
    ready_url = endpoint.url(ctx.spec.readiness.path)
    traffic = None
    delay = spec.after
    if load is not None:
        lspec = ctx.spec.load
        assert lspec is not None
        delay += ctx.settings.job_start_delay if lspec.workers > 1 else CHILD_STARTUP
    await ctx.record("resilience", CheckResult(
        result="Running", message=f"deleting {spec.kill_pods} pod(s) in {delay:.0f}s",
        started_at=started))
    traffic_task = None
    if load is None:
        traffic = Traffic(ctx, ready_url, spec.probe_rate)
        traffic_task = asyncio.create_task(traffic.run())
    try:
        if load is not None:
            await asyncio.wait([load], timeout=delay)
            if load.done():
                return None, None, started, "the load ended before the pods were deleted"
        else:
            await asyncio.sleep(delay)
        if not endpoint.pod_selector:
            return None, None, started, "the target's Service has no selector: no pods to delete"
        deploy = ctx.spec.target.deploy
        desired = await desired_replicas(ctx.cache, ctx.namespace,
                                         None if deploy else endpoint.workload,
                                         deploy.replicas if deploy else 1)

        await ctx.record("resilience", CheckResult(
            result="Running", message=f"deleted {spec.kill_pods} pod(s); watching the recovery",
            started_at=started))
        if traffic is not None:
            traffic.mark()  # only what answers from the deletion on is judged
        d = await disrupt(ctx.kube, ctx.cache, ctx.namespace, endpoint.pod_selector, desired,
                          kill=spec.kill_pods, grace=round(spec.grace_period),
                          max_recovery=spec.max_recovery,
                          probe=functools.partial(ctx.prober.answers, ready_url,
                                                  timeout=PROBE_TIMEOUT))
        return d, traffic, started, None
    finally:
        if traffic_task is not None:
            traffic_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await traffic_task


def judge(ctx: RunContext, observed: Observed, load: LoadResult | None) -> CheckResult:
    spec = ctx.spec.resilience
    assert spec is not None
    d, traffic, started, problem = observed
    if d is None:
        return CheckResult(result="Error", message=f"could not disrupt: {problem}",
                           started_at=started, finished_at=utc_now())
    if not d.killed:
        return CheckResult(result="Error", message="no Ready pod to delete",
                           started_at=started, finished_at=utc_now())
    end = d.recovered_at if d.recovered_at is not None else d.killed_at + spec.max_recovery
    downtime: int | None = None
    if traffic is not None:
        requests, errors = traffic.window(d.killed_at, end)
        downtime = probe_downtime(traffic.samples, d.killed_at, end, traffic.rate)
    elif load is not None:
        requests, errors = window_errors(load, d.killed_at, end)
        downtime = load_downtime(load, d.killed_at, end)
    else:
        requests = errors = 0
    return judge_resilience(spec, d, requests, errors, started_at=started,
                            finished_at=utc_now(), downtime=downtime)
