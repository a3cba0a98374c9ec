"""The liveness check: probe the liveness path every ``period`` for ``observeFor`` after the
target became ready, counting container restarts in the window and ending early when
``CrashWatch`` sees the workload crash for good. Judged by ``judge.health``.
"""

from __future__ import annotations

import functools

from readygate.api.clock import utc_now
from readygate.api.results import CheckResult
from readygate.judge.health import judge_liveness
from readygate.judge.targets import Endpoint
from readygate.kube.podstate import restarts_of
from readygate.run.context import RunContext
from readygate.run.crashwatch import CrashWatch


async def observe_liveness(ctx: RunContext, endpoint: Endpoint, watch: CrashWatch) -> None:
    spec = ctx.spec.liveness
    url = endpoint.url(spec.path)
    started_at = utc_now()
    await ctx.record("liveness", CheckResult(
        result="Running", message=f"probing {spec.path} every {spec.period:g}s for "
                                  f"{spec.observe_for:.0f}s", started_at=started_at))
    baseline = restarts_of(await ctx.pods(endpoint))
    samples = await ctx.prober.window(url, period=spec.period, timeout=spec.timeout,
                                      duration=spec.observe_for,
                                      look=functools.partial(watch.crashed, endpoint))
    after = restarts_of(await ctx.pods(endpoint))
    restarts = sum(max(0, after.get(k, 0) - v) for k, v in baseline.items())
    await ctx.record("liveness", judge_liveness(
        samples, spec, restarts=restarts, started_at=started_at, finished_at=utc_now()))
