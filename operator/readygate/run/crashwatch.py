"""Watching a target's pods for a crash while readiness and liveness are measured.

``CrashWatch.observe`` lists the target's pods, asks the pure ``judge.diagnosis`` whether one of
them will not start (a crash loop, OOM, an image that will not pull, a pod that cannot be
scheduled) or, when there is no pod at all, whether admission refused them (the Deployment's
``ReplicaFailure`` condition: Pod Security, a ResourceQuota, a LimitRange), reads the crashed
container's last log lines once per new crash, and records the diagnosis on the run through the
context. One per run: it remembers which crash it explained.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import Any

from readygate.api.clock import parse_time, utc_now
from readygate.api.results import Diagnosis
from readygate.judge import diagnosis as diag
from readygate.judge.targets import Endpoint
from readygate.kube.client import KubeError
from readygate.run.context import RunContext
from readygate.run.resolver import workload

log = logging.getLogger(__name__)
LOG_SETTLE = 1.0  # seconds to let a crashed container's log reach its file


class CrashWatch:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.diagnosis: Diagnosis | None = None
        self._key: tuple[str, str | None, int, str] | None = None

    def forget(self) -> None:
        """The wait is over (the target is ready): the next problem is a new one."""
        self.diagnosis = None
        self._key = None

    async def observe(self, endpoint: Endpoint, workload_obj: Mapping[str, Any] | None = None,
                      ) -> tuple[list[dict[str, Any]], Diagnosis | None]:
        """The live pods behind the endpoint, and what keeps them from starting (or None).
        ``workload_obj``: the endpoint's workload as the caller just read it (else it is read
        here when needed)."""
        ctx = self.ctx
        if not endpoint.pod_selector:
            return [], None
        pods = await ctx.pods(endpoint)
        pods = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
        if not pods and endpoint.workload is not None and endpoint.workload[0] == "Deployment":
            # no pod at all: admission may have refused them (they will never exist)
            if workload_obj is None:
                workload_obj = await workload(ctx.cache, ctx.namespace, *endpoint.workload)
            refused = diag.admission_refusal(workload_obj)
            if refused is not None:
                if self.diagnosis != refused:
                    self.diagnosis = refused
                    await ctx.update(diagnosis=refused, diagnosed_at=utc_now())
                return [], refused
        created: dict[str, float] = {}
        for p in pods:
            when = parse_time(p["metadata"].get("creationTimestamp"))
            if when is not None:
                created[p["metadata"]["name"]] = when
        readiness = ctx.spec.readiness
        problem = diag.find_problem(pods, time.time(), created, readiness.unschedulable_grace)
        if problem is None:
            return pods, None
        crash = problem.reason in ("CrashLoopBackOff", "OOMKilled")
        terminal = problem.terminal and not (
            crash and problem.restart_count < readiness.max_restarts)
        key = (problem.pod, problem.container, problem.restart_count, problem.reason)
        if self._key == key and self.diagnosis is not None:
            self.diagnosis = dataclasses.replace(self.diagnosis, terminal=terminal)
            return pods, self.diagnosis
        lines: list[str] = []
        if problem.logs_previous is not None:
            lines = await self._crash_log(problem)
        pod = next(p for p in pods if p["metadata"]["name"] == problem.pod)
        found = dataclasses.replace(
            diag.explain(problem, lines, diag.termination_message(pod, problem.container)),
            terminal=terminal)
        deploy = ctx.spec.target.deploy
        if deploy is not None:
            found = diag.with_non_root_hint(found, deploy.security_context.run_as_user)
        self._key = key
        self.diagnosis = found
        await ctx.update(diagnosis=found, diagnosed_at=utc_now())
        return pods, found

    async def crashed(self, endpoint: Endpoint) -> bool:
        _, found = await self.observe(endpoint)
        return found is not None and found.terminal

    async def _crash_log(self, problem: diag.Problem) -> list[str]:
        """The crashed container's last lines. The runtime writes them asynchronously, so a
        read right at the exit can miss the end: without an exception line, read once more."""
        ctx = self.ctx
        first: list[str] | None = None
        for attempt in range(3):
            # The kubelet restarts a crashed container at once: by the time its log is asked
            # for, "the current container" may already be the next one. So both are tried.
            for previous in (bool(problem.logs_previous), not problem.logs_previous):
                try:
                    lines = await ctx.kube.pod_log(
                        ctx.namespace, problem.pod, problem.container, previous=previous,
                        tail_lines=ctx.settings.log_lines)
                except KubeError as exc:
                    log.debug("no %slogs for %s: %s", "previous " if previous else "",
                              problem.pod, exc)
                    continue
                if first is None:
                    first = lines
                if diag.has_exception(lines):
                    return lines
            if attempt < 2:
                await asyncio.sleep(LOG_SETTLE)
        return first or []
