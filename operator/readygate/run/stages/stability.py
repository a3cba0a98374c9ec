"""The stability check, measured while the load runs: container memory per pod from the
kubelets' ``/stats/summary`` every ``sampleEvery``, and container restarts over the load.
Judged by ``judge.stability``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from readygate.api.clock import utc_now
from readygate.api.results import CheckResult
from readygate.judge.stability import MemorySample, judge_stability, memory_of
from readygate.judge.targets import Endpoint
from readygate.kube.client import KubeError
from readygate.kube.podstate import restarts_of
from readygate.run.context import RunContext

log = logging.getLogger(__name__)
Observed = tuple[list[MemorySample], int, str | None, str]


async def sample(ctx: RunContext, endpoint: Endpoint, load: asyncio.Task[Any]) -> Observed:
    """Sample memory until ``load`` is done: (samples, restarts, a problem, started at)."""
    spec = ctx.spec.stability
    assert spec is not None
    started = utc_now()
    baseline = restarts_of(await ctx.pods(endpoint))
    samples: list[MemorySample] = []
    problem: str | None = None
    nodes: dict[str, dict[str, Any]] = {}
    t0 = time.monotonic()
    while True:
        try:
            samples.append((time.monotonic() - t0, await _memory(ctx, endpoint, nodes)))
        except KubeError as exc:
            problem = f"kubelet stats: {exc}"
            log.info("%s/%s: %s", ctx.namespace, ctx.name, problem)
        if load.done():
            break
        await asyncio.wait([load], timeout=spec.sample_every)
    after = restarts_of(await ctx.pods(endpoint))
    restarts = sum(max(0, after[k] - v) for k, v in baseline.items() if k in after)
    return [s for s in samples if s[1]], restarts, problem, started


def judge(ctx: RunContext, observed: Observed) -> CheckResult:
    spec = ctx.spec.stability
    assert spec is not None
    samples, restarts, problem, started = observed
    result = judge_stability(spec, samples, restarts, started_at=started, finished_at=utc_now())
    if problem and result.result == "Inconclusive":
        result = CheckResult(result="Inconclusive", message=f"{result.message}: {problem}",
                             started_at=started, finished_at=utc_now())
    return result


async def _memory(ctx: RunContext, endpoint: Endpoint,
                  nodes: dict[str, dict[str, Any]]) -> dict[str, float]:
    pods = [p for p in await ctx.pods(endpoint) if not p["metadata"].get("deletionTimestamp")]
    by_node: dict[str, list[str]] = {}
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            by_node.setdefault(node, []).append(pod["metadata"]["name"])
    values: dict[str, float] = {}
    for node, names in by_node.items():
        if node not in nodes:
            nodes[node] = await ctx.kube.get_node(node)
        summary = await ctx.kube.kubelet_summary(
            nodes[node], insecure=ctx.settings.kubelet_insecure_tls)
        values.update(memory_of(summary, ctx.namespace, names))
    return values
