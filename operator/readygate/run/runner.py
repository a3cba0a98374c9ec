"""One run of a ReadinessCheck: resolve (or deploy) the target, then its checks stage by stage —
readiness while watching for crashes, liveness, the manifest (judged whether or not the target
became ready), then security, the load (with stability and resilience measured while it runs,
and the pods' own metrics scraped before, during and after it) and persistence — and reach a
verdict.

The runner owns the run's ``status.compute.RunView`` and hands every change of it to the one
``status.writer``; each stage (``run.stages.*``) sees only a ``run.context.RunContext``. Which
checks a run makes comes from the registry ``api.checks``. Target faults end as results (Failed,
Error, Inconclusive); faults of the operator or the API server propagate as exceptions and the
supervisor retries the run.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import traceback
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from readygate.api.checks import FIRST, pending_text, planned
from readygate.api.clock import utc_at, utc_now
from readygate.api.names import RunReason
from readygate.api.rerun import token_of as rerun_token
from readygate.api.results import CheckResult
from readygate.api.spec import CheckSpec
from readygate.judge.targets import TargetError
from readygate.judge.verdict import overall
from readygate.kube.client import Conflict, KubeError, Unavailable
from readygate.run.context import RunContext, Runtime
from readygate.run.crashwatch import CrashWatch
from readygate.run.loadjobs import delete_stale
from readygate.run.resolver import resolve
from readygate.run.stages.liveness import observe_liveness
from readygate.run.stages.load import run_load_phase
from readygate.run.stages.manifest import run_manifest
from readygate.run.stages.metrics import run_metrics
from readygate.run.stages.persistence import run_persistence
from readygate.run.stages.readiness import await_ready
from readygate.run.stages.security import run_security
from readygate.status.compute import RunView
from readygate.status.writer import StatusWriter

log = logging.getLogger(__name__)
T = TypeVar("T")


class CheckRunner:
    def __init__(self, runtime: Runtime, check: Mapping[str, Any], spec: CheckSpec,
                 writer: StatusWriter, *, run: int, reason: RunReason) -> None:
        self.rt = runtime
        self.spec = spec
        self.writer = writer
        meta = check["metadata"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.view = RunView(generation=int(meta.get("generation") or 1), run=run, reason=reason,
                            phase="Deploying" if spec.target.deploy else "Verifying",
                            started_at=utc_now(), rerun=rerun_token(meta))
        self.ctx = RunContext(runtime, check, spec, run=run, record=self._record,
                              update=self._persist, results=lambda: self.view.checks,
                              charts=lambda: self.view.charts)

    async def _persist(self, **changes: Any) -> None:
        self.view = dataclasses.replace(self.view, **changes)
        await self.writer.write_view(self.view)

    async def _record(self, name: str, result: CheckResult, **changes: Any) -> None:
        await self._persist(checks={**self.view.checks, name: result}, **changes)

    def _planned(self) -> dict[str, CheckResult]:
        pending: dict[str, CheckResult] = {}
        for check in planned(self.spec):
            if check.name == "deploy":
                pending["deploy"] = CheckResult(result="Running", message=check.when,
                                                started_at=utc_now())
            else:
                pending[check.name] = CheckResult(result="Pending",
                                                  message=pending_text(check, self.spec))
        return pending

    async def execute(self) -> RunView:
        slots = self.rt.run_slots
        if slots is None:
            return await self._execute()
        if slots.locked():
            # the operator's cap on runs at once: wait, and say so in status
            cap = self.rt.settings.max_concurrent_runs
            planned_checks = self._planned()
            first = next(iter(planned_checks))
            planned_checks[first] = CheckResult(
                result="Pending", message=f"queued: {cap} runs are in progress, the operator's "
                                          "cap (READYGATE_MAX_CONCURRENT_RUNS)")
            await self._persist(phase="Pending", checks=planned_checks)
        async with slots:
            return await self._execute()

    async def _execute(self) -> RunView:
        ctx = self.ctx
        await self._persist(checks=self._planned(),
                            phase="Deploying" if self.spec.target.deploy else "Verifying")
        try:
            await delete_stale(ctx.kube, ctx.check, keep_run=ctx.run)
        except KubeError as exc:  # cleaning up is worth a try, not a failed run
            log.warning("%s/%s: cannot look for stale load Jobs: %s", self.namespace,
                        self.name, exc)
        try:
            endpoint = await resolve(ctx.kube, ctx.check, self.spec,
                                     ctx.settings.url_allowlist)
        except (Unavailable, Conflict):
            raise
        except (TargetError, KubeError) as exc:
            why = str(exc) if isinstance(exc, TargetError) else (
                f"cannot read or create the target: {exc}")
            first = next(iter(self.view.checks))
            await self._record(first, CheckResult(result="Error", message=why,
                                                  finished_at=utc_now()),
                               phase="Error", error=why)
            return self.view
        if endpoint.address is not None:
            ctx.prober = ctx.prober.pinned(endpoint.host, endpoint.address)
        await self._persist(target=endpoint.description)
        watch = CrashWatch(ctx)
        ready = await self._stage(("deploy", "readiness"), await_ready(ctx, endpoint, watch))
        if ready and self.spec.liveness.enabled:
            await self._persist(phase="Verifying")
            await self._stage(("liveness",), observe_liveness(ctx, endpoint, watch))
        if self.spec.manifest is not None:
            # static: judged whether or not the target became ready
            await self._stage(("manifest",), run_manifest(ctx, endpoint))
        if self._healthy():
            await self._persist(phase="Verifying")
            if self.spec.security is not None:
                await self._stage(("security",), run_security(ctx, endpoint))
            load = ("load", "availability", "stability", "resilience")
            phase = (run_load_phase(ctx, endpoint) if self.spec.load is not None
                     or self.spec.resilience is not None else None)
            if self.spec.metrics is not None:
                # the pods' own numbers, scraped before, during and after the load phase
                await self._stage((*load, "metrics"), run_metrics(ctx, endpoint, phase))
            elif phase is not None:
                await self._stage(load, phase)
            if self.spec.persistence is not None:
                await self._stage(("persistence",), run_persistence(ctx, endpoint))
        final = overall({k: v for k, v in self.view.checks.items() if v.final})
        skipped = {k: (v if v.final else CheckResult(result="Skipped",
                                                     message="not run: the target did not "
                                                             "become ready and stay alive"))
                   for k, v in self.view.checks.items()}
        every = self.spec.schedule.every if self.spec.schedule is not None else None
        await self._persist(checks=skipped, phase=final,
                            next_run_at=utc_at(time.time() + every) if every else None)
        return self.view

    async def _stage(self, names: tuple[str, ...], stage: Coroutine[Any, Any, T]) -> T | None:
        """Run one stage. A fault of the operator or the API server that is worth retrying
        propagates (the supervisor retries the run); anything else ends the stage's unfinished
        checks as Error with what went wrong, and the run goes on to its verdict."""
        try:
            return await stage
        except (Unavailable, Conflict):
            raise
        except KubeError as exc:
            message = f"could not measure: the API server refused a request: {exc}"
        except Exception as exc:  # an operator bug must not loop forever, nor leak a value
            log.error("%s/%s: %s stage failed: %s\n%s", self.namespace, self.name,
                      "/".join(names), type(exc).__name__,
                      "".join(traceback.format_tb(exc.__traceback__)))
            message = (f"could not measure: readygate failed with {type(exc).__name__} (an "
                       "operator bug: see the operator's log)")
        for name in names:
            current = self.view.checks.get(name)
            if current is not None and not current.final:
                await self._record(name, CheckResult(result="Error", message=message,
                                                     started_at=current.started_at,
                                                     finished_at=utc_now()))
        return None

    def _healthy(self) -> bool:
        """Deploy, readiness and liveness passed: the later checks are worth running."""
        return all(c.result == "Passed" for n, c in self.view.checks.items() if n in FIRST)
