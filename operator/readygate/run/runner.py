"""One run of a ReadinessCheck: deploy or resolve the target, wait for readiness while watching
for crashes, observe liveness, then the security probes, the load (with stability and
resilience measured while it runs) and the persistence check, and reach a verdict.

This is the acting side: it calls ``kube`` and ``prober`` and hands every change of what it knows
(a ``status.RunView``) to the one ``writer``. Each decision along the way is made by a pure
neighbour: ``diagnosis`` names a crash, ``probes`` judges samples, ``verdict`` scores, ``status``
computes the status. The later checks live in ``httpchecks`` (security, persistence) and
``loadphase`` (load, stability, resilience). Target faults end as results (Failed, Error,
Inconclusive); faults of the operator or the API server propagate as exceptions and the
supervisor retries the run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from readygate.api.clock import parse_time, utc_at, utc_now
from readygate.api.names import RunReason
from readygate.api.results import CheckResult, Diagnosis
from readygate.api.settings import Settings
from readygate.api.spec import CheckSpec
from readygate.judge import diagnosis as diag
from readygate.judge.answers import Sample
from readygate.judge.health import judge_liveness, readiness_failed, readiness_passed
from readygate.judge.targets import Endpoint, TargetError
from readygate.judge.verdict import overall
from readygate.kube.client import Kube, KubeError
from readygate.kube.podstate import pod_ready, restarts_of, rollout
from readygate.run.httpchecks import run_persistence, run_security
from readygate.run.loadjobs import delete_stale
from readygate.run.loadphase import run_load_phase
from readygate.run.loadrunner import RateBudget
from readygate.run.prober import Prober
from readygate.run.resolver import resolve, workload
from readygate.status.compute import RunView
from readygate.status.metrics import Metrics
from readygate.status.writer import StatusWriter

if TYPE_CHECKING:
    from readygate.run.loadrunner import LoadOutcome

log = logging.getLogger(__name__)
LOG_SETTLE = 1.0  # seconds to let a crashed container's log reach its file
LoadRunner = Callable[["CheckRunner", Endpoint], Coroutine[Any, Any, "LoadOutcome"]]


@dataclasses.dataclass
class Runtime:
    """What every run shares: settings and the I/O seams."""

    settings: Settings
    kube: Kube
    prober: Prober
    rate_budget: RateBudget
    metrics: Metrics
    load_runner: LoadRunner | None = None


class CheckRunner:
    def __init__(self, runtime: Runtime, check: Mapping[str, Any], spec: CheckSpec,
                 writer: StatusWriter, *, run: int, reason: RunReason) -> None:
        self.rt = runtime
        self.check = check
        self.spec = spec
        self.writer = writer
        meta = check["metadata"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.generation = int(meta.get("generation") or 1)
        self.started = time.monotonic()
        self.view = RunView(generation=self.generation, run=run, reason=reason,
                            phase="Deploying" if spec.target.deploy else "Verifying",
                            started_at=utc_now())
        self._diagnosed: tuple[str, str | None, int, str] | None = None
        self.prober: Prober = runtime.prober  # pinned to a url target's vetted address

    # -- persisting ------------------------------------------------------------------------------
    async def persist(self, **changes: Any) -> None:
        self.view = dataclasses.replace(self.view, **changes)
        await self.writer.write_view(self.view)

    async def set_check(self, name: str, result: CheckResult, **changes: Any) -> None:
        await self.persist(checks={**self.view.checks, name: result}, **changes)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    # -- the run ---------------------------------------------------------------------------------
    def _planned(self) -> dict[str, CheckResult]:
        s = self.spec
        pending: dict[str, CheckResult] = {}
        if s.target.deploy is not None:
            pending["deploy"] = CheckResult(result="Running", message="creating the workload",
                                            started_at=utc_now())
        pending["readiness"] = CheckResult(result="Pending", message="waiting for the target")
        later = (("liveness", s.liveness.enabled, "after readiness"),
                 ("security", s.security is not None, "after liveness"),
                 ("load", s.load is not None, "after liveness"),
                 ("stability", s.stability is not None, "while the load runs"),
                 ("resilience", s.resilience is not None,
                  "while the load runs" if s.load is not None else "after liveness"),
                 ("persistence", s.persistence is not None, "last: it restarts the workload"))
        for name, wanted, when in later:
            if wanted:
                pending[name] = CheckResult(result="Pending", message=when)
        return pending

    async def execute(self) -> RunView:
        await self.persist(checks=self._planned())
        try:
            await delete_stale(self.rt.kube, self.namespace, self.name)
        except KubeError as exc:  # cleaning up is worth a try, not a failed run
            log.warning("%s/%s: cannot look for stale load Jobs: %s", self.namespace,
                        self.name, exc)
        try:
            endpoint = await resolve(self.rt.kube, self.check, self.spec,
                                     self.rt.settings.url_allowlist)
        except TargetError as exc:
            first = next(iter(self.view.checks))
            await self.set_check(first, CheckResult(result="Error", message=str(exc),
                                                    finished_at=utc_now()), phase="Error",
                                 error=str(exc))
            return self.view
        if endpoint.address is not None:
            self.prober = self.rt.prober.pinned(endpoint.host, endpoint.address)
        await self.persist(target=endpoint.description)
        if await self.await_ready(endpoint) and self.spec.liveness.enabled:
            await self.persist(phase="Verifying")
            await self.observe_liveness(endpoint)
        if self._healthy():
            await self.persist(phase="Verifying")
            if self.spec.security is not None:
                await run_security(self, endpoint)
            if self.spec.load is not None or self.spec.resilience is not None:
                await run_load_phase(self, endpoint)
            if self.spec.persistence is not None:
                await run_persistence(self, endpoint)
        final = overall({k: v for k, v in self.view.checks.items() if v.final})
        skipped = {k: (v if v.final else CheckResult(result="Skipped",
                                                     message="not run: the target did not "
                                                             "become ready and stay alive"))
                   for k, v in self.view.checks.items()}
        every = self.spec.schedule.every if self.spec.schedule is not None else None
        await self.persist(checks=skipped, phase=final,
                           next_run_at=utc_at(time.time() + every) if every else None)
        return self.view

    def _healthy(self) -> bool:
        """Deploy, readiness and liveness passed: the later checks are worth running."""
        first = ("deploy", "readiness", "liveness")
        return all(c.result == "Passed" for n, c in self.view.checks.items() if n in first)

    # -- readiness, with crash diagnosis ---------------------------------------------------------
    async def observe_pods(
            self, endpoint: Endpoint) -> tuple[list[dict[str, Any]], Diagnosis | None]:
        if not endpoint.pod_selector:
            return [], None
        pods = await self.rt.kube.list_pods(self.namespace, endpoint.pod_selector)
        pods = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
        created: dict[str, float] = {}
        for p in pods:
            when = parse_time(p["metadata"].get("creationTimestamp"))
            if when is not None:
                created[p["metadata"]["name"]] = when
        problem = diag.find_problem(pods, time.time(), created,
                                     self.spec.readiness.unschedulable_grace)
        if problem is None:
            return pods, None
        crash = problem.reason in ("CrashLoopBackOff", "OOMKilled")
        terminal = problem.terminal and not (
            crash and problem.restart_count < self.spec.readiness.max_restarts)
        key = (problem.pod, problem.container, problem.restart_count, problem.reason)
        if self._diagnosed == key and self.view.diagnosis is not None:
            return pods, dataclasses.replace(self.view.diagnosis, terminal=terminal)
        lines: list[str] = []
        if problem.logs_previous is not None:
            lines = await self._crash_log(problem)
        pod = next(p for p in pods if p["metadata"]["name"] == problem.pod)
        found = dataclasses.replace(
            diag.explain(problem, lines, diag.termination_message(pod, problem.container)),
            terminal=terminal)
        self._diagnosed = key
        await self.persist(diagnosis=found, diagnosed_at=utc_now())
        return pods, found

    async def _crash_log(self, problem: diag.Problem) -> list[str]:
        """The crashed container's last lines. The runtime writes them asynchronously, so a
        read right at the exit can miss the end: without an exception line, read once more."""
        first: list[str] | None = None
        for attempt in range(3):
            # The kubelet restarts a crashed container at once: by the time its log is asked
            # for, "the current container" may already be the next one. So both are tried.
            for previous in (bool(problem.logs_previous), not problem.logs_previous):
                try:
                    lines = await self.rt.kube.pod_log(
                        self.namespace, problem.pod, problem.container, previous=previous,
                        tail_lines=self.rt.settings.log_lines)
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

    async def await_ready(self, endpoint: Endpoint) -> bool:
        spec = self.spec.readiness
        url = endpoint.url(spec.path)
        started_at = utc_now()
        await self.set_check("readiness", CheckResult(
            result="Running", message=f"waiting for {spec.path} to answer 2xx "
                                      f"(budget {spec.within:.0f}s)", started_at=started_at))
        samples: list[Sample] = []
        deploy = self.spec.target.deploy
        desired = deploy.replicas if deploy else 1
        ready_pods = 0
        deploy_done = "deploy" not in self.view.checks
        period = min(spec.period, self.rt.settings.poll_interval)
        while True:
            tick = time.monotonic()
            pods, found = await self.observe_pods(endpoint)
            if found is not None and found.terminal:
                return await self._fail_on_diagnosis(found, started_at)
            ready_pods = sum(1 for p in pods if pod_ready(p))
            rolled_out = True
            if endpoint.workload is not None:
                # Ready means the current template everywhere: while a rollout is under way,
                # the old pods still answer through the Service and must not count.
                desired, ready_pods, rolled_out = rollout(await workload(
                    self.rt.kube, self.namespace, *endpoint.workload))
            if not deploy_done and desired and rolled_out:
                deploy_done = True
                await self._deploy_passed(ready_pods, desired)
            sample = await self.prober.get(url, timeout=spec.timeout, at=self.elapsed())
            if not sample.ok and pods:
                # The Service routes only to Ready pods: ask a pod that is not Ready yet
                # directly, so the evidence says what it answers (HTTP 503, not "refused").
                sample = await self._pod_sample(endpoint, pods, spec.path, spec.timeout) \
                    or sample
            samples.append(sample)
            pods_ok = rolled_out and (not endpoint.pod_selector or ready_pods >= max(1, desired))
            if sample.ok and pods_ok and sample.via is None:
                if not deploy_done:
                    await self._deploy_passed(ready_pods, desired)
                # a wait it got over (a volume bound late, a tolerated crash) no longer says
                # why the workload does not start: status.diagnosis is dropped
                await self.set_check("readiness", readiness_passed(
                    samples, spec.path, self.elapsed(), started_at=started_at,
                    finished_at=utc_now()), diagnosis=None, diagnosed_at=None)
                self._diagnosed = None
                return True
            if self.elapsed() >= spec.within:
                if found is not None:
                    # still waiting for a volume, or crashing within maxRestarts: that is why
                    return await self._fail_on_diagnosis(found, started_at)
                pods_text = f"{ready_pods}/{desired}" if endpoint.pod_selector else "n/a"
                failed = readiness_failed(samples, spec.path, spec.within, started_at=started_at,
                                          finished_at=utc_now(), pods_ready=pods_text)
                if not deploy_done:
                    await self.set_check("deploy", CheckResult(
                        result="Failed", message=f"{pods_text} pods Ready after "
                                                 f"{spec.within:.0f}s",
                        started_at=self.view.checks["deploy"].started_at,
                        finished_at=utc_now()))
                await self.set_check("readiness", failed)
                return False
            await asyncio.sleep(max(0.0, period - (time.monotonic() - tick)))

    async def _pod_sample(self, endpoint: Endpoint, pods: list[dict[str, Any]], path: str,
                          probe_timeout: float) -> Sample | None:
        for pod in pods:
            if pod_ready(pod):
                continue
            url = endpoint.pod_url(pod, path)
            if url is None:
                continue
            sample = await self.prober.get(url, timeout=probe_timeout, at=self.elapsed())
            return dataclasses.replace(sample, via=f"pod {pod['metadata']['name']}")
        return None

    async def _deploy_passed(self, ready: int, desired: int) -> None:
        await self.set_check("deploy", CheckResult(
            result="Passed", message=f"{ready}/{desired} pods Ready after {self.elapsed():.1f}s",
            started_at=self.view.checks["deploy"].started_at, finished_at=utc_now(),
            measured={"secondsToPodsReady": self.elapsed(), "replicas": float(desired)}))

    async def _fail_on_diagnosis(self, found: Diagnosis, started_at: str) -> bool:
        message = f"{found.reason}: {found.message}"
        if "deploy" in self.view.checks:
            await self.set_check("deploy", CheckResult(
                result="Failed", message=message, finished_at=utc_now(),
                started_at=self.view.checks["deploy"].started_at,
                evidence=found.log_tail[-5:]))
        await self.set_check("readiness", CheckResult(
            result="Failed", message=f"the workload does not start: {message}",
            started_at=started_at, finished_at=utc_now(),
            measured={"secondsToDiagnosis": self.elapsed()}))
        return False

    # -- liveness --------------------------------------------------------------------------------
    async def observe_liveness(self, endpoint: Endpoint) -> None:
        spec = self.spec.liveness
        url = endpoint.url(spec.path)
        started_at = utc_now()
        await self.set_check("liveness", CheckResult(
            result="Running", message=f"probing {spec.path} every {spec.period:g}s for "
                                      f"{spec.observe_for:.0f}s", started_at=started_at))
        baseline = restarts_of(await self.pods(endpoint))

        async def crashed() -> bool:
            _, found = await self.observe_pods(endpoint)
            return found is not None and found.terminal

        samples = await self.prober.window(url, period=spec.period, timeout=spec.timeout,
                                              duration=spec.observe_for, look=crashed)
        after = restarts_of(await self.pods(endpoint))
        restarts = sum(max(0, after.get(k, 0) - v) for k, v in baseline.items())
        await self.set_check("liveness", judge_liveness(
            samples, spec, restarts=restarts, started_at=started_at, finished_at=utc_now()))

    async def pods(self, endpoint: Endpoint) -> list[dict[str, Any]]:
        if not endpoint.pod_selector:
            return []
        return await self.rt.kube.list_pods(self.namespace, endpoint.pod_selector)
