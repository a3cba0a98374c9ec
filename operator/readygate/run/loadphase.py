"""The load phase of a run: the load itself, and what is measured while it runs — container
memory and restarts (stability) and a deliberate disruption (resilience).

Acting side. The load runs through ``Runtime.load_runner`` (a child process or Job pods, never
this event loop); the stability sampler asks the kubelets for ``/stats/summary`` every
``sampleEvery``; the resilience task deletes pods ``after`` seconds into the load and watches the
recovery (``disruptor``). When the load is done, each check is judged by its pure module
(``loadcheck``, ``stability``, ``resilience``) and recorded through the runner. A resilience
check without a load sends its own light probe traffic (``probeRate``) instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from typing import TYPE_CHECKING, Any

from readygate.api.clock import utc_now
from readygate.api.results import CheckResult
from readygate.judge.resilience import Disruption, judge_resilience, window_errors
from readygate.judge.stability import MemorySample, judge_stability, memory_of
from readygate.judge.targets import Endpoint
from readygate.kube.client import KubeError
from readygate.kube.podstate import restarts_of
from readygate.run.disruptor import desired_replicas, disrupt
from readygate.run.loadrunner import LoadOutcome

if TYPE_CHECKING:
    from readygate.run.runner import CheckRunner

log = logging.getLogger(__name__)
CHILD_STARTUP = 0.5  # seconds a load child needs before its first request
PROBE_TIMEOUT = 2.0


async def run_load_phase(runner: CheckRunner, endpoint: Endpoint) -> None:
    spec = runner.spec
    load_task: asyncio.Task[LoadOutcome] | None = None
    if spec.load is not None:
        if runner.rt.load_runner is None:
            await runner.set_check("load", CheckResult(
                result="Error", message="this operator build has no load runner"))
        else:
            await runner.set_check("load", CheckResult(
                result="Running", message=_load_text(runner), started_at=utc_now()))
            load_task = asyncio.create_task(runner.rt.load_runner(runner, endpoint))
    tasks: list[asyncio.Task[Any]] = []
    stability = resilience = None
    if spec.stability is not None and load_task is not None:
        await runner.set_check("stability", CheckResult(
            result="Running", message="sampling container memory while the load runs",
            started_at=utc_now()))
        stability = asyncio.create_task(_sample(runner, endpoint, load_task))
        tasks.append(stability)
    if spec.resilience is not None:
        resilience = asyncio.create_task(_resilience(runner, endpoint, load_task))
        tasks.append(resilience)
    try:
        outcome = await load_task if load_task is not None else None
        if outcome is not None:
            await runner.set_check("load", outcome.check)
        if stability is not None and spec.stability is not None:
            samples, restarts, problem, started = await stability
            result = judge_stability(spec.stability, samples, restarts, started_at=started,
                                     finished_at=utc_now())
            if problem and result.result == "Inconclusive":
                result = CheckResult(result="Inconclusive", message=f"{result.message}: {problem}",
                                     started_at=started, finished_at=utc_now())
            await runner.set_check("stability", result)
        elif spec.stability is not None:
            await runner.set_check("stability", CheckResult(
                result="Error", message="no load ran to watch", finished_at=utc_now()))
        if resilience is not None:
            await runner.set_check("resilience", _judge(runner, await resilience, outcome))
    finally:
        for task in (load_task, *tasks):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


def _load_text(runner: CheckRunner) -> str:
    load = runner.spec.load
    assert load is not None
    what = f"{load.rate:g} req/s" if load.rate else (
        f"{load.users} users" if load.users else "staged load")
    where = f" from {load.workers} Job pods" if load.workers > 1 else ""
    return f"applying {what} ({load.model} model){where}"


# -- stability ----------------------------------------------------------------------------------
async def _sample(runner: CheckRunner, endpoint: Endpoint, load: asyncio.Task[LoadOutcome],
                  ) -> tuple[list[MemorySample], int, str | None, str]:
    spec = runner.spec.stability
    assert spec is not None
    started = utc_now()
    baseline = restarts_of(await runner.pods(endpoint))
    samples: list[MemorySample] = []
    problem: str | None = None
    nodes: dict[str, dict[str, Any]] = {}
    t0 = time.monotonic()
    while True:
        try:
            samples.append((time.monotonic() - t0, await _memory(runner, endpoint, nodes)))
        except KubeError as exc:
            problem = f"kubelet stats: {exc}"
            log.info("%s/%s: %s", runner.namespace, runner.name, problem)
        if load.done():
            break
        await asyncio.wait([load], timeout=spec.sample_every)
    after = restarts_of(await runner.pods(endpoint))
    restarts = sum(max(0, after[k] - v) for k, v in baseline.items() if k in after)
    return [s for s in samples if s[1]], restarts, problem, started


async def _memory(runner: CheckRunner, endpoint: Endpoint,
                  nodes: dict[str, dict[str, Any]]) -> dict[str, float]:
    pods = [p for p in await runner.pods(endpoint)
            if not p["metadata"].get("deletionTimestamp")]
    by_node: dict[str, list[str]] = {}
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            by_node.setdefault(node, []).append(pod["metadata"]["name"])
    values: dict[str, float] = {}
    for node, names in by_node.items():
        if node not in nodes:
            nodes[node] = await runner.rt.kube.get_node(node)
        summary = await runner.rt.kube.kubelet_summary(
            nodes[node], insecure=runner.rt.settings.kubelet_insecure_tls)
        values.update(memory_of(summary, runner.namespace, names))
    return values


# -- resilience ---------------------------------------------------------------------------------
class _Traffic:
    """Light probe traffic for a resilience check without a load: (time, ok) per request."""

    def __init__(self, runner: CheckRunner, url: str, rate: float) -> None:
        self.runner, self.url, self.rate = runner, url, rate
        self.samples: list[tuple[float, bool]] = []

    async def run(self) -> None:
        period = 1.0 / self.rate
        inflight: set[asyncio.Task[None]] = set()
        try:
            while True:
                task = asyncio.create_task(self._one())
                inflight.add(task)
                task.add_done_callback(inflight.discard)
                await asyncio.sleep(period)
        finally:
            for task in inflight:
                task.cancel()

    async def _one(self) -> None:
        sample = await self.runner.prober.get(self.url, timeout=PROBE_TIMEOUT, at=0.0)
        self.samples.append((time.time(), sample.ok))

    def window(self, start: float, end: float) -> tuple[int, int]:
        inside = [ok for t, ok in self.samples if start <= t <= end]
        return len(inside), sum(1 for ok in inside if not ok)


async def _resilience(runner: CheckRunner, endpoint: Endpoint,
                      load: asyncio.Task[LoadOutcome] | None,
                      ) -> tuple[Disruption | None, _Traffic | None, str, str | None]:
    spec = runner.spec.resilience
    assert spec is not None
    started = utc_now()
    ready_url = endpoint.url(runner.spec.readiness.path)
    traffic = None
    delay = spec.after
    if load is not None:
        lspec = runner.spec.load
        assert lspec is not None
        delay += runner.rt.settings.job_start_delay if lspec.workers > 1 else CHILD_STARTUP
    await runner.set_check("resilience", CheckResult(
        result="Running", message=f"deleting {spec.kill_pods} pod(s) in {delay:.0f}s",
        started_at=started))
    traffic_task = None
    if load is None:
        traffic = _Traffic(runner, ready_url, spec.probe_rate)
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
        deploy = runner.spec.target.deploy
        desired = await desired_replicas(runner.rt.kube, runner.namespace,
                                         None if deploy else endpoint.workload,
                                         deploy.replicas if deploy else 1)

        await runner.set_check("resilience", CheckResult(
            result="Running", message=f"deleted {spec.kill_pods} pod(s); watching the recovery",
            started_at=started))
        d = await disrupt(runner.rt.kube, runner.namespace, endpoint.pod_selector, desired,
                          kill=spec.kill_pods, grace=round(spec.grace_period),
                          max_recovery=spec.max_recovery,
                          probe=functools.partial(runner.prober.answers, ready_url,
                                                  timeout=PROBE_TIMEOUT))
        return d, traffic, started, None
    finally:
        if traffic_task is not None:
            traffic_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await traffic_task


def _judge(runner: CheckRunner,
           observed: tuple[Disruption | None, _Traffic | None, str, str | None],
           outcome: LoadOutcome | None) -> CheckResult:
    spec = runner.spec.resilience
    assert spec is not None
    d, traffic, started, problem = observed
    if d is None:
        return CheckResult(result="Error", message=f"could not disrupt: {problem}",
                           started_at=started, finished_at=utc_now())
    if not d.killed:
        return CheckResult(result="Error", message="no Ready pod to delete",
                           started_at=started, finished_at=utc_now())
    end = d.recovered_at if d.recovered_at is not None else d.killed_at + spec.max_recovery
    if traffic is not None:
        requests, errors = traffic.window(d.killed_at, end)
    elif outcome is not None and outcome.result is not None:
        requests, errors = window_errors(outcome.result, d.killed_at, end)
    else:
        requests = errors = 0
    return judge_resilience(spec, d, requests, errors, started_at=started,
                            finished_at=utc_now())
