"""The loop that watches over one ReadinessCheck for as long as it exists (a kopf daemon body).

Each turn it observes the resource (kopf keeps ``body`` current), asks ``plan.decide`` what to
do, and acts: parse the spec (an invalid one becomes an ``Error`` status, permanently, until the
spec changes), start a ``runner.CheckRunner`` as a task, replace it when the spec changes,
re-run it on schedule, or retry it with backoff when the operator (not the target) failed.
A fault in one check's supervisor never reaches another's.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
import traceback
from collections.abc import Mapping
from typing import Any

from readygate.api.clock import utc_now
from readygate.api.names import RunReason
from readygate.api.parse import SpecError, parse_spec
from readygate.api.spec import CheckSpec
from readygate.control.plan import decide, rerun_token
from readygate.kube.client import KubeError
from readygate.run.context import Runtime
from readygate.run.gatekeeper import Gatekeeper
from readygate.run.runner import CheckRunner
from readygate.status.compute import RunView
from readygate.status.writer import EventSink, StatusWriter

log = logging.getLogger(__name__)
MAX_BACKOFF = 60.0
MAX_RUN_FAILURES = 3  # runs in a row that fail on an operator bug before it gives up


class Supervisor:
    def __init__(self, runtime: Runtime, body: Mapping[str, Any],
                 events: EventSink | None = None) -> None:
        self.rt = runtime
        self.body = body
        meta = body["metadata"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.writer = StatusWriter(runtime.kube, self.namespace, self.name,
                                   copy.deepcopy(dict(body.get("status") or {})), events,
                                   metrics=runtime.metrics,
                                   resource_version=meta.get("resourceVersion"))
        runtime.metrics.observe(self.namespace, self.name, self.writer.current)
        self.gatekeeper = Gatekeeper(runtime.kube, runtime.prober, body, self.writer,
                                     runtime.cache)
        self.task: asyncio.Task[RunView] | None = None
        self.task_generation: int | None = None
        self.failures = 0
        self.bugs = 0  # runs in a row that failed on something other than the API
        self.failed_generation: int | None = None  # the generation whose run failed last
        self.retry_at = 0.0
        self.parsed: tuple[int, CheckSpec | None] | None = None  # (generation, its spec)

    def _snapshot(self) -> dict[str, Any]:
        return {"metadata": copy.deepcopy(dict(self.body["metadata"])),
                "spec": copy.deepcopy(dict(self.body.get("spec") or {}))}

    async def loop(self, stopped: Any) -> None:
        metrics = self.rt.metrics
        # the namespace's pods, workloads and load Jobs are watched while a check lives there
        self.rt.cache.hold(self.namespace)
        try:
            while not stopped:
                metrics.reconciles.inc()
                with metrics.reconcile_duration.time():
                    try:
                        wait = await self.turn()
                    except Exception as exc:
                        metrics.reconcile_errors.inc()
                        what = f"{type(exc).__name__}: {exc}" if isinstance(exc, KubeError) \
                            else type(exc).__name__
                        log.warning("%s/%s: reconcile failed (%s); retrying\n%s",
                                    self.namespace, self.name, what,
                                    "".join(traceback.format_tb(exc.__traceback__)))
                        wait = self._back_off()
                await stopped.wait(wait)
        finally:
            await self.gatekeeper.stop()
            await self._cancel()
            self.rt.cache.release(self.namespace)

    async def turn(self) -> float:
        await self._reap()
        if self.task is None:
            await self._resync()
        generation = int(self.body["metadata"].get("generation") or 1)
        status = self.writer.current
        spec = self._spec(generation)
        every = spec.schedule.every if spec is not None and spec.schedule else None
        if spec is not None and self.namespace not in self.rt.settings.excluded_namespaces:
            await self.gatekeeper.turn(spec, generation)
        if self.failed_generation is not None and generation != self.failed_generation:
            # a new spec is a new start: it does not wait out the old one's back-off
            self.failures = self.bugs = 0
            self.retry_at = 0.0
            self.failed_generation = None
        d = decide(generation=generation, status=status, running=self.task_generation,
                   now=time.time(), every=every, poll=self.rt.settings.poll_interval,
                   rerun=rerun_token(self.body["metadata"]) if spec is not None and
                   self.namespace not in self.rt.settings.excluded_namespaces else None)
        if d.action == "wait":
            return d.wait
        if d.action == "restart":
            log.info("%s/%s: spec changed, replacing the running check", self.namespace,
                     self.name)
            await self._cancel()
            self.failures = self.bugs = 0
            self.retry_at = 0.0
        if time.monotonic() < self.retry_at:
            return min(self.rt.settings.poll_interval, self.retry_at - time.monotonic())
        reason: RunReason = d.reason or "NewGeneration"
        if reason == "Resumed" and self.failures:
            reason = "Retry"
        await self._start(self._snapshot(), generation, reason)
        return self.rt.settings.poll_interval

    def _spec(self, generation: int) -> CheckSpec | None:
        """The parsed spec (None: invalid), parsed once per generation: an idle check's turn
        costs a comparison, not a parse."""
        if self.parsed is None or self.parsed[0] != generation:
            try:
                spec: CheckSpec | None = parse_spec(dict(self.body.get("spec") or {}))
            except SpecError:
                spec = None
            self.parsed = (generation, spec)
        return self.parsed[1]

    async def _start(self, snapshot: dict[str, Any], generation: int, reason: RunReason) -> None:
        run = int(self.writer.current.get("runs") or 0) + 1
        refusal = None
        if self.namespace in self.rt.settings.excluded_namespaces:
            refusal = (f"readygate does not serve ReadinessChecks in namespace {self.namespace} "
                       "(READYGATE_EXCLUDED_NAMESPACES): a check creates pods and reads "
                       "Secrets where it lives; create it in an application namespace")
        try:
            spec = parse_spec(snapshot["spec"])
        except SpecError as exc:
            refusal = refusal or str(exc)
        if refusal is not None:
            view = RunView(generation=generation, run=run, reason=reason, phase="Error",
                           started_at=utc_now(), error=refusal)
            await self.writer.write_view(view)
            return
        runner = CheckRunner(self.rt, snapshot, spec, self.writer, run=run, reason=reason)
        self.task = asyncio.create_task(runner.execute(), name=f"check {self.namespace}/"
                                                              f"{self.name}")
        self.task_generation = generation

    async def _resync(self) -> None:
        """Between runs, put back a status someone else changed (the writer owns it).

        kopf keeps ``body`` current from its watch. When the stored status differs from what
        the writer last wrote, at another resourceVersion, the writer adopts the stored one and
        rewrites what it computes from its last view (a no-op when nothing it owns changed).
        """
        meta = self.body.get("metadata") or {}
        stored = dict(self.body.get("status") or {})
        version = meta.get("resourceVersion")
        if stored == self.writer.current or version == self.writer.resource_version:
            return
        self.writer.current = copy.deepcopy(stored)
        self.writer.resource_version = str(version) if version else None
        if await self.writer.rewrite():
            log.info("%s/%s: status was changed by someone else; restored it", self.namespace,
                     self.name)

    async def _reap(self) -> None:
        task = self.task
        if task is None or not task.done():
            return
        self.task = None
        generation, self.task_generation = self.task_generation, None
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            self.failures = 0
            return
        self.rt.metrics.reconcile_errors.inc()
        delay = self._back_off()
        self.retry_at = time.monotonic() + delay
        self.failed_generation = generation
        # an API error's message is the server's; any other may quote a value (a Secret's):
        # only its type and where it was raised are logged
        what = f"{type(exc).__name__}: {exc}" if isinstance(exc, KubeError) else \
            type(exc).__name__
        where = "".join(traceback.format_tb(exc.__traceback__))
        # API faults are retried for as long as they last (the back-off is capped); a run that
        # keeps failing on anything else would never end: it gives up after a few
        self.bugs = 0 if isinstance(exc, KubeError) else self.bugs + 1
        if self.bugs >= MAX_RUN_FAILURES and generation is not None:
            log.error("%s/%s: run failed %d times in a row (%s); giving up until the spec "
                      "changes\n%s", self.namespace, self.name, self.bugs, what, where)
            await self._give_up(generation, what)
            return
        log.warning("%s/%s: run failed on an operator-side error (%s); retrying in %.0fs\n%s",
                    self.namespace, self.name, what, delay, where)

    async def _give_up(self, generation: int, what: str) -> None:
        """A run that keeps failing ends as Error with the reason, not in an endless retry."""
        run = int(self.writer.current.get("runs") or 0)
        view = RunView(generation=generation, run=max(run, 1), reason="Retry", phase="Error",
                       started_at=utc_now(),
                       error=f"the run failed {self.bugs} times in a row on an error of the "
                             f"operator ({what}, see its log); it runs again when the spec "
                             "changes or the operator restarts")
        await self.writer.write_view(view)
        self.failures = self.bugs = 0

    def _back_off(self) -> float:
        """One more operator-side failure (of a turn or of a run): seconds until the next try,
        doubling from 2 s up to ``MAX_BACKOFF``. A run that finishes resets the count."""
        self.failures += 1
        return min(MAX_BACKOFF, 2.0 ** min(6, self.failures))

    async def _cancel(self) -> None:
        task, self.task, self.task_generation = self.task, None, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
