"""The manifest check: the target's pod template judged statically, after readiness and liveness
so that the declared probes can be compared with the paths that answered them. Judged by
``judge.manifest``.

The template is the workload's (the Deployment readygate deployed, or the ``workloadRef``), read
through the run's watch cache like every other read of it in the run: no request of its own
once the namespace is watched. A ``service`` target names no workload: the spec of the newest
pod behind it is judged. A Service without a selector has neither, and the check is Skipped
saying so (a ``url`` target is refused by the spec's rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from readygate.api.clock import utc_now
from readygate.api.results import CheckResult
from readygate.judge.manifest import Probed, judge_manifest
from readygate.judge.targets import Endpoint, TargetError
from readygate.run.context import RunContext
from readygate.run.resolver import workload


async def run_manifest(ctx: RunContext, endpoint: Endpoint) -> None:
    spec = ctx.spec.manifest
    assert spec is not None
    started = utc_now()
    await ctx.record("manifest", CheckResult(
        result="Running", message="judging the pod template", started_at=started))
    try:
        found = await pod_spec_of(ctx, endpoint)
    except TargetError as exc:
        await ctx.record("manifest", CheckResult(
            result="Error", message=f"cannot read the pod template: {exc}",
            started_at=started, finished_at=utc_now()))
        return
    if isinstance(found, str):
        await ctx.record("manifest", CheckResult(
            result="Skipped", message=f"not applicable: {found}", started_at=started,
            finished_at=utc_now()))
        return
    source, pod_spec = found
    await ctx.record("manifest", judge_manifest(spec, pod_spec, source=source,
                                                probed=probed(ctx, endpoint),
                                                started_at=started, finished_at=utc_now()))


async def pod_spec_of(ctx: RunContext,
                      endpoint: Endpoint) -> tuple[str, Mapping[str, Any]] | str:
    """(where it came from, the pod spec to judge), or why there is none."""
    if endpoint.workload is not None:
        kind, name = endpoint.workload
        wl = await workload(ctx.cache, ctx.namespace, kind, name)
        template = ((wl.get("spec") or {}).get("template") or {}).get("spec") or {}
        return f"{kind} {name}'s pod template", template
    if not endpoint.pod_selector:
        return (f"{endpoint.description} has no selector, so there is no pod template to judge "
                "(point the check at the workload with target.workloadRef)")
    pods = [p for p in await ctx.pods(endpoint)
            if not (p.get("metadata") or {}).get("deletionTimestamp")]
    if not pods:
        return (f"no pod behind {endpoint.description} to read a pod spec from (point the check "
                "at the workload with target.workloadRef)")
    newest = max(pods, key=lambda p: (str(p["metadata"].get("creationTimestamp") or ""),
                                      str(p["metadata"].get("name"))))
    return f"the spec of pod {newest['metadata']['name']}", newest.get("spec") or {}


def probed(ctx: RunContext, endpoint: Endpoint) -> Probed:
    """What this run's readiness and liveness checks found of their paths, from their results
    (no request of its own). Only a target that became ready says anything: before that, a
    path that did not answer says nothing about the path."""
    readiness = ctx.result("readiness")
    if readiness is None or readiness.result != "Passed":
        return Probed(port=endpoint.pod_port)
    live: tuple[str, bool] | None = None
    liveness = ctx.result("liveness")
    if liveness is not None and liveness.final:
        probes = liveness.measured.get("probes", 0.0)
        failures = liveness.measured.get("failures", 0.0)
        if probes > 0:
            live = (ctx.spec.liveness.path, failures < probes)
    return Probed(port=endpoint.pod_port, readiness=(ctx.spec.readiness.path, True),
                  liveness=live)
