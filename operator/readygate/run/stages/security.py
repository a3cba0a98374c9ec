"""The security check: a handful of unauthenticated GETs around the target (paths that must
require auth, paths probed for banners and stack traces, one path that cannot exist), at most
``CONCURRENCY`` in flight. Judged by ``judge.security``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence

from readygate.api.clock import utc_now
from readygate.api.results import CheckResult
from readygate.judge.answers import Answer
from readygate.judge.security import essentials, judge_security
from readygate.judge.targets import Endpoint
from readygate.run.context import RunContext

CONCURRENCY = 8
TIMEOUT = 5.0


async def gather_limited(ctx: RunContext, calls: Sequence[tuple[str, str]],
                         ) -> list[tuple[str, Answer]]:
    """GET each (label, url) with at most CONCURRENCY in flight; of each answer only what the
    judge reads is kept (``essentials``): up to 32 paths x 500 samples of 64 KiB bodies would
    otherwise be gigabytes."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(label: str, url: str) -> tuple[str, Answer]:
        async with gate:
            return label, essentials(await ctx.prober.request("GET", url, timeout=TIMEOUT))

    return list(await asyncio.gather(*(one(label, url) for label, url in calls)))


async def run_security(ctx: RunContext, endpoint: Endpoint) -> None:
    spec = ctx.spec.security
    assert spec is not None
    started = utc_now()
    await ctx.record("security", CheckResult(
        result="Running", message="probing for unauthenticated access, banners and stack traces",
        started_at=started))
    missing = f"/readygate-missing-{secrets.token_hex(4)}"
    auth = await gather_limited(ctx, [(p, endpoint.url(p)) for p in spec.require_auth])
    probe_calls = [(p, endpoint.url(p)) for p in spec.probe_paths for _ in range(spec.samples)]
    probe_calls.append((missing, endpoint.url(missing)))
    probes = await gather_limited(ctx, probe_calls)
    await ctx.record("security", judge_security(spec, auth, probes, started_at=started,
                                                finished_at=utc_now()))
