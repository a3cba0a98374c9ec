"""One run of a ReadinessCheck: deploy or resolve the target, wait for readiness while watching
for crashes, observe liveness, apply load, and reach a verdict.

This is the acting side: it calls ``kube`` and ``prober`` and hands every change of what it knows
(a ``status.RunView``) to the one ``writer``. Each decision along the way is made by a pure
neighbour: ``diagnosis`` names a crash, ``probes`` judges samples, ``verdict`` scores, ``status``
computes the status. Target faults end as results (Failed, Error, Inconclusive); faults of the
operator or the API server propagate as exceptions and the supervisor retries the run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from readygate import diagnosis as diag
from readygate import manifests
from readygate.clock import parse_time, utc_now
from readygate.kube import Kube, KubeError, NotFound
from readygate.loadrun import RateBudget
from readygate.prober import Prober
from readygate.probes import Sample, judge_liveness, readiness_failed, readiness_passed
from readygate.results import CheckResult, Diagnosis
from readygate.settings import Settings
from readygate.spec import CheckSpec, target_kind
from readygate.status import RunReason, RunView, compute_status
from readygate.targets import Endpoint, TargetError, url_refusal
from readygate.verdict import overall
from readygate.writer import StatusWriter

log = logging.getLogger(__name__)
Persist = Callable[[RunView], Awaitable[None]]
LoadRunner = Callable[["CheckRunner", Endpoint], Awaitable[CheckResult]]


@dataclasses.dataclass
class Runtime:
    """What every run shares: settings and the I/O seams."""

    settings: Settings
    kube: Kube
    prober: Prober
    rate_budget: RateBudget
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

    # -- persisting ------------------------------------------------------------------------------
    async def persist(self, **changes: Any) -> None:
        self.view = dataclasses.replace(self.view, **changes)
        await self.writer.write(compute_status(self.writer.current, self.view, utc_now()))

    async def set_check(self, name: str, result: CheckResult, **changes: Any) -> None:
        await self.persist(checks={**self.view.checks, name: result}, **changes)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    # -- the run ---------------------------------------------------------------------------------
    async def execute(self) -> RunView:
        pending = {"readiness": CheckResult(result="Pending", message="waiting for the target")}
        if self.spec.target.deploy is not None:
            pending = {"deploy": CheckResult(result="Running", message="creating the workload",
                                             started_at=utc_now()), **pending}
        if self.spec.liveness.enabled:
            pending["liveness"] = CheckResult(result="Pending", message="after readiness")
        if self.spec.load is not None:
            pending["load"] = CheckResult(result="Pending", message="after liveness")
        await self.persist(checks=pending)
        try:
            endpoint = await self.resolve()
        except TargetError as exc:
            first = next(iter(self.view.checks))
            await self.set_check(first, CheckResult(result="Error", message=str(exc),
                                                    finished_at=utc_now()), phase="Error",
                                 error=str(exc))
            return self.view
        await self.persist(target=endpoint.description)
        if await self.await_ready(endpoint) and self.spec.liveness.enabled:
            await self.persist(phase="Verifying")
            await self.observe_liveness(endpoint)
        if self._all_passed_so_far() and self.spec.load is not None:
            await self.run_load(endpoint)
        final = overall({k: v for k, v in self.view.checks.items() if v.final})
        skipped = {k: (v if v.final else CheckResult(result="Skipped",
                                                     message="not run: an earlier check did "
                                                             "not pass"))
                   for k, v in self.view.checks.items()}
        await self.persist(checks=skipped, phase=final)
        return self.view

    def _all_passed_so_far(self) -> bool:
        return all(c.result == "Passed" for c in self.view.checks.values() if c.final)

    # -- resolving the target --------------------------------------------------------------------
    async def resolve(self) -> Endpoint:
        t = self.spec.target
        kind = target_kind(t)
        if t.deploy is not None:
            dep = manifests.deployment(self.check, self.spec)
            svc_body = manifests.service(self.check, self.spec)
            try:
                await self.rt.kube.ensure(self.namespace, dep)
                svc = await self.rt.kube.ensure(self.namespace, svc_body)
            except KubeError as exc:
                if exc.status in (400, 403, 422):
                    raise TargetError(f"cannot create the workload: {exc}") from exc
                raise
            name = dep["metadata"]["name"]
            await self.set_check("deploy", CheckResult(
                result="Running", message=f"Deployment {name} created; waiting for its pods",
                started_at=self.view.checks["deploy"].started_at))
            return self._service_endpoint(svc, t.deploy.port, selector=dict(
                dep["spec"]["selector"]["matchLabels"]), workload=("Deployment", name))
        if t.workload_ref is not None:
            ref = t.workload_ref
            try:
                if ref.kind == "Deployment":
                    wl = await self.rt.kube.get_deployment(self.namespace, ref.name)
                else:
                    wl = await self.rt.kube.get_statefulset(self.namespace, ref.name)
            except NotFound:
                raise TargetError(f"{ref.kind} {ref.name} not found in namespace "
                                  f"{self.namespace}") from None
            selector = dict(((wl.get("spec") or {}).get("selector") or {}).get("matchLabels")
                            or {})
            pod_labels = (((wl.get("spec") or {}).get("template") or {}).get("metadata")
                          or {}).get("labels") or {}
            svc = await self._find_service(ref.service, pod_labels, ref.kind, ref.name)
            return self._service_endpoint(svc, ref.port, selector=selector,
                                          workload=(ref.kind, ref.name))
        if t.service is not None:
            try:
                svc = await self.rt.kube.get_service(self.namespace, t.service.name)
            except NotFound:
                raise TargetError(f"Service {t.service.name} not found in namespace "
                                  f"{self.namespace}") from None
            sel = (svc.get("spec") or {}).get("selector") or None
            return self._service_endpoint(svc, t.service.port, selector=sel, workload=None)
        assert kind == "url" and t.url is not None
        return await self._url_endpoint(t.url)

    async def _find_service(self, name: str | None, pod_labels: Mapping[str, str],
                            kind: str, workload: str) -> dict[str, Any]:
        if name:
            try:
                return await self.rt.kube.get_service(self.namespace, name)
            except NotFound:
                raise TargetError(f"Service {name} not found in namespace "
                                  f"{self.namespace}") from None
        for svc in await self.rt.kube.list_services(self.namespace):
            sel = (svc.get("spec") or {}).get("selector") or {}
            if sel and all(pod_labels.get(k) == v for k, v in sel.items()):
                return svc
        raise TargetError(f"no Service in namespace {self.namespace} selects the pods of {kind} "
                          f"{workload}; name one in spec.target.workloadRef.service")

    def _service_endpoint(self, svc: Mapping[str, Any], port: int | None,
                          selector: dict[str, str] | None,
                          workload: tuple[str, str] | None) -> Endpoint:
        spec = svc.get("spec") or {}
        name = svc["metadata"]["name"]
        ip = spec.get("clusterIP")
        if not ip or ip == "None":
            raise TargetError(f"Service {name} is headless; point the check at a Service with a "
                              "cluster IP")
        ports = spec.get("ports") or []
        chosen = next((p for p in ports if port is None or p.get("port") == port), None)
        if chosen is None:
            have = ", ".join(str(p.get("port")) for p in ports) or "none"
            raise TargetError(f"Service {name} has no port {port} (ports: {have})")
        return Endpoint("http", ip, int(chosen["port"]),
                        f"Service {self.namespace}/{name} {ip}:{chosen['port']}",
                        pod_selector=selector, workload=workload)

    async def _url_endpoint(self, url: str) -> Endpoint:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port)
            addresses = sorted({str(info[4][0]) for info in infos})
        except OSError:
            addresses = []
        refusal = url_refusal(url, addresses, self.rt.settings.url_allowlist)
        if refusal:
            raise TargetError(refusal)
        prefix = parts.path.rstrip("/")
        return Endpoint(parts.scheme, host, port, f"URL {url}", prefix=prefix)

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
        problem = diag.find_problem(pods, time.time(), created)
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
            try:
                lines = await self.rt.kube.pod_log(
                    self.namespace, problem.pod, problem.container,
                    previous=problem.logs_previous, tail_lines=self.rt.settings.log_lines)
            except KubeError as exc:
                log.info("no logs for %s: %s", problem.pod, exc)
        pod = next(p for p in pods if p["metadata"]["name"] == problem.pod)
        found = dataclasses.replace(
            diag.explain(problem, lines, diag.termination_message(pod, problem.container)),
            terminal=terminal)
        self._diagnosed = key
        await self.persist(diagnosis=found, diagnosed_at=utc_now())
        return pods, found

    def _desired(self, endpoint: Endpoint) -> int:
        deploy = self.spec.target.deploy
        return deploy.replicas if deploy is not None else 1

    async def await_ready(self, endpoint: Endpoint) -> bool:
        spec = self.spec.readiness
        url = endpoint.url(spec.path)
        started_at = utc_now()
        await self.set_check("readiness", CheckResult(
            result="Running", message=f"waiting for {spec.path} to answer 2xx "
                                      f"(budget {spec.within:.0f}s)", started_at=started_at))
        samples: list[Sample] = []
        desired = await self._desired_replicas(endpoint)
        ready_pods = 0
        deploy_done = "deploy" not in self.view.checks
        period = min(spec.period, self.rt.settings.poll_interval)
        while True:
            tick = time.monotonic()
            pods, found = await self.observe_pods(endpoint)
            if found is not None and found.terminal:
                return await self._fail_on_diagnosis(found, started_at)
            ready_pods = sum(1 for p in pods if _pod_ready(p))
            if not deploy_done and desired and ready_pods >= desired:
                deploy_done = True
                await self.set_check("deploy", CheckResult(
                    result="Passed", message=f"{ready_pods}/{desired} pods Ready after "
                                             f"{self.elapsed():.1f}s",
                    started_at=self.view.checks["deploy"].started_at, finished_at=utc_now(),
                    measured={"secondsToPodsReady": self.elapsed(),
                              "replicas": float(desired)}))
            sample = await self.rt.prober.get(url, timeout=spec.timeout, at=self.elapsed())
            samples.append(sample)
            pods_ok = not endpoint.pod_selector or ready_pods >= max(1, desired)
            if sample.ok and pods_ok:
                if not deploy_done:
                    await self.set_check("deploy", CheckResult(
                        result="Passed", message=f"{ready_pods}/{desired} pods Ready",
                        started_at=self.view.checks["deploy"].started_at,
                        finished_at=utc_now(), measured={"replicas": float(desired)}))
                await self.set_check("readiness", readiness_passed(
                    samples, spec.path, self.elapsed(), started_at=started_at,
                    finished_at=utc_now()))
                return True
            if self.elapsed() >= spec.within:
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

    async def _desired_replicas(self, endpoint: Endpoint) -> int:
        if endpoint.workload is None or self.spec.target.deploy is not None:
            return self._desired(endpoint)
        kind, name = endpoint.workload
        getter = (self.rt.kube.get_deployment if kind == "Deployment"
                  else self.rt.kube.get_statefulset)
        wl = await getter(self.namespace, name)
        return int((wl.get("spec") or {}).get("replicas", 1) or 0)

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
        baseline = _restarts(await self._pods(endpoint))
        samples: list[Sample] = []
        window_start = time.monotonic()
        last_pod_look = window_start
        while time.monotonic() - window_start < spec.observe_for:
            tick = time.monotonic()
            samples.append(await self.rt.prober.get(url, timeout=spec.timeout,
                                                    at=tick - window_start))
            if tick - last_pod_look >= 2.0:
                last_pod_look = tick
                _, found = await self.observe_pods(endpoint)
                if found is not None and found.terminal:
                    break
            await asyncio.sleep(max(0.0, spec.period - (time.monotonic() - tick)))
        after = _restarts(await self._pods(endpoint))
        restarts = sum(max(0, after.get(k, 0) - v) for k, v in baseline.items())
        await self.set_check("liveness", judge_liveness(
            samples, spec, restarts=restarts, started_at=started_at, finished_at=utc_now()))

    async def _pods(self, endpoint: Endpoint) -> list[dict[str, Any]]:
        if not endpoint.pod_selector:
            return []
        return await self.rt.kube.list_pods(self.namespace, endpoint.pod_selector)

    # -- load ------------------------------------------------------------------------------------
    async def run_load(self, endpoint: Endpoint) -> None:
        if self.rt.load_runner is None:
            await self.set_check("load", CheckResult(
                result="Error", message="this operator build has no load runner"))
            return
        await self.set_check("load", CheckResult(result="Running", message="applying load",
                                                 started_at=utc_now()))
        await self.set_check("load", await self.rt.load_runner(self, endpoint))


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


def _restarts(pods: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for pod in pods:
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            key = f"{pod['metadata']['name']}/{cs.get('name')}"
            out[key] = int(cs.get("restartCount") or 0)
    return out
