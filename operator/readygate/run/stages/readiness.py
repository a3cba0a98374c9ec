"""The deploy and readiness checks: wait, within ``readiness.within``, until the target answers
its readiness path with every wanted pod Ready and rolled out, while ``CrashWatch`` diagnoses a
workload that will not start (failing at once, not at the budget's end).

Judged by ``judge.health`` (readiness) and here for deploy (pods Ready, or the diagnosis).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from readygate.api.clock import utc_now
from readygate.api.results import CheckResult, Diagnosis
from readygate.judge.answers import Sample
from readygate.judge.health import readiness_failed, readiness_passed
from readygate.judge.targets import Endpoint, TargetError
from readygate.kube.podstate import pod_ready, rollout
from readygate.run.context import RunContext
from readygate.run.crashwatch import CrashWatch
from readygate.run.resolver import workload


async def await_ready(ctx: RunContext, endpoint: Endpoint, watch: CrashWatch) -> bool:
    spec = ctx.spec.readiness
    url = endpoint.url(spec.path)
    started_at = utc_now()
    await ctx.record("readiness", CheckResult(
        result="Running", message=f"waiting for {spec.path} to answer 2xx "
                                  f"(budget {spec.within:.0f}s)", started_at=started_at))
    samples: list[Sample] = []
    deploy = ctx.spec.target.deploy
    desired = deploy.replicas if deploy else 1
    ready_pods = 0
    deploy_done = not ctx.planned("deploy")
    period = min(spec.period, ctx.settings.poll_interval)
    while True:
        tick = time.monotonic()
        mark = ctx.cache.mark(ctx.namespace)
        # read once a tick: for the rollout below and for the crash watch's admission check
        wl = (await workload(ctx.cache, ctx.namespace, *endpoint.workload)
              if endpoint.workload is not None else None)
        pods, found = await watch.observe(endpoint, wl)
        if found is not None and found.terminal:
            return await _fail_on_diagnosis(ctx, found, started_at)
        ready_pods = sum(1 for p in pods if pod_ready(p))
        rolled_out = True
        if wl is not None:
            # Ready means the current template everywhere: while a rollout is under way,
            # the old pods still answer through the Service and must not count.
            desired, ready_pods, rolled_out = rollout(wl)
        if not deploy_done and desired and rolled_out:
            deploy_done = True
            await _deploy_passed(ctx, ready_pods, desired)
        sample = await ctx.prober.get(url, timeout=spec.timeout, at=ctx.elapsed())
        if not sample.ok and pods:
            # The Service routes only to Ready pods: ask a pod that is not Ready yet
            # directly, so the evidence says what it answers (HTTP 503, not "refused").
            sample = await _pod_sample(ctx, endpoint, pods, spec.path, spec.timeout) or sample
        samples.append(sample)
        pods_ok = rolled_out and (not endpoint.pod_selector or ready_pods >= max(1, desired))
        if sample.ok and pods_ok and sample.via is None:
            if not deploy_done:
                await _deploy_passed(ctx, ready_pods, desired)
            # a wait it got over (a volume bound late, a tolerated crash) no longer says
            # why the workload does not start: status.diagnosis is dropped
            await ctx.record("readiness", readiness_passed(
                samples, spec.path, ctx.elapsed(), started_at=started_at,
                finished_at=utc_now()), diagnosis=None, diagnosed_at=None)
            watch.forget()
            return True
        if ctx.elapsed() >= spec.within:
            if found is not None:
                # still waiting for a volume, or crashing within maxRestarts: that is why
                return await _fail_on_diagnosis(ctx, found, started_at)
            pods_text = f"{ready_pods}/{desired}" if endpoint.pod_selector else "n/a"
            failed = readiness_failed(samples, spec.path, spec.within, started_at=started_at,
                                      finished_at=utc_now(), pods_ready=pods_text)
            if not deploy_done:
                await ctx.record("deploy", CheckResult(
                    result="Failed", message=f"{pods_text} pods Ready after "
                                             f"{spec.within:.0f}s",
                    started_at=_started(ctx, "deploy"), finished_at=utc_now()))
            await ctx.record("readiness", failed)
            return False
        # the next tick at the period, or as soon as one of its pods or its workload changes
        # (a crash is judged when the kubelet reports it, not a poll later)
        await _pause(ctx, endpoint, mark, _versions(pods, wl), tick + period)


def _versions(pods: list[dict[str, Any]], wl: dict[str, Any] | None) -> frozenset[str]:
    objs = [*pods, *([wl] if wl is not None else [])]
    return frozenset(f"{o['metadata'].get('uid')}@{o['metadata'].get('resourceVersion')}"
                     for o in objs)


async def _pause(ctx: RunContext, endpoint: Endpoint, mark: int, seen: frozenset[str],
                 until: float) -> None:
    """Wait until ``until``, or until the target's pods or workload differ from ``seen``.
    Changes elsewhere in the namespace wake the wait but do not end it (no extra probe)."""
    while (left := until - time.monotonic()) > 0:
        if not await ctx.cache.wait(ctx.namespace, mark, left):
            return
        mark = ctx.cache.mark(ctx.namespace)
        pods = [p for p in await ctx.pods(endpoint)
                if not (p.get("metadata") or {}).get("deletionTimestamp")]  # as the watch sees
        try:
            wl = (await workload(ctx.cache, ctx.namespace, *endpoint.workload)
                  if endpoint.workload is not None else None)
        except TargetError:
            wl = None
        if _versions(pods, wl) != seen:
            return


def _started(ctx: RunContext, name: str) -> str | None:
    result = ctx.result(name)
    return result.started_at if result is not None else None


async def _pod_sample(ctx: RunContext, endpoint: Endpoint, pods: list[dict[str, Any]],
                      path: str, probe_timeout: float) -> Sample | None:
    for pod in pods:
        if pod_ready(pod):
            continue
        url = endpoint.pod_url(pod, path)
        if url is None:
            continue
        sample = await ctx.prober.get(url, timeout=probe_timeout, at=ctx.elapsed())
        return dataclasses.replace(sample, via=f"pod {pod['metadata']['name']}")
    return None


async def _deploy_passed(ctx: RunContext, ready: int, desired: int) -> None:
    await ctx.record("deploy", CheckResult(
        result="Passed", message=f"{ready}/{desired} pods Ready after {ctx.elapsed():.1f}s",
        started_at=_started(ctx, "deploy"), finished_at=utc_now(),
        measured={"secondsToPodsReady": ctx.elapsed(), "replicas": float(desired)}))


async def _fail_on_diagnosis(ctx: RunContext, found: Diagnosis, started_at: str) -> bool:
    message = f"{found.reason}: {found.message}"
    if ctx.planned("deploy"):
        await ctx.record("deploy", CheckResult(
            result="Failed", message=message, finished_at=utc_now(),
            started_at=_started(ctx, "deploy"), evidence=found.log_tail[-5:]))
    await ctx.record("readiness", CheckResult(
        result="Failed", message=f"the workload does not start: {message}",
        started_at=started_at, finished_at=utc_now(),
        measured={"secondsToDiagnosis": ctx.elapsed()}))
    return False
