"""Setting a check's pod readiness gate: verify each new gated pod, then let it (or not) count as
Ready.

Acting side of ``judge.gates``. Each supervisor turn of a check with ``spec.gate`` reads, from
the watch cache and without a request to the API, the pods of its own target (never the whole
namespace: another check naming the same condition type cannot verify or release them) that
declare the gate's condition type; a turn when nothing changed in the namespace since the last
one does nothing at all. It starts a verification for each pod whose containers are ready and
that has no verdict yet (at most ``CONCURRENCY`` at once), and writes ``status.gate`` through the
writer. A verification asks the pod itself, at its IP, for the readiness path (within
``readiness.within``) and then observes the liveness path over ``liveness.observeFor``, like the
check's own run does through the Service; the verdict is patched on ``pods/status`` as that one
condition (``kube.patch_pod_condition``). A pod just patched is not verified again while the
cache catches up (``CACHE_LAG``). ``release`` sets every gate of a deleted check True, so its pods
are not held un-Ready forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from readygate.api.clock import utc_now
from readygate.api.spec import CheckSpec
from readygate.judge import gates
from readygate.judge.answers import Sample
from readygate.judge.health import judge_liveness
from readygate.judge.targets import TargetError, pod_url
from readygate.kube import manifests
from readygate.kube.client import Kube, KubeError
from readygate.kube.podstate import live
from readygate.kube.selectors import SelectorError, label_selector
from readygate.kube.watchcache import Reader, WatchCache
from readygate.run.prober import Prober
from readygate.run.resolver import resolve, workload
from readygate.status.writer import StatusWriter

log = logging.getLogger(__name__)
CONCURRENCY = 4
# seconds a pod whose gate was just written counts as decided while the watch cache still shows
# it without that condition: it is not verified twice
CACHE_LAG = 30.0
# A verification that could not judge — its probes timed out, or the operator's own overload
# made liveness Inconclusive — is tried again (after 10 s, then 20 s) before the gate says
# Failed for the generation: a slow moment must not hold a healthy pod un-Ready for good.
ATTEMPTS = 3
RETRY_AFTER = 10.0


class Gatekeeper:
    def __init__(self, kube: Kube, prober: Prober, check: Mapping[str, Any],
                 writer: StatusWriter, cache: WatchCache) -> None:
        self.kube = kube
        self.cache = cache
        self.prober = prober.for_check(check["metadata"]["namespace"], check["metadata"]["name"])
        self.check = check
        self.namespace: str = check["metadata"]["namespace"]
        self.writer = writer
        self.tasks: dict[str, asyncio.Task[None]] = {}  # pod uid -> verification
        self.port: tuple[int, int | str | None] | None = None  # (generation, pod port)
        self.slots = asyncio.Semaphore(CONCURRENCY)
        self.ctype: str | None = None  # the condition type of the last turn
        self.selector: tuple[int, str] | None = None  # (generation, the target's pod selector)
        self.seen: tuple[int, int] | None = None  # (generation, cache mark) of the last look
        self.written: dict[str, tuple[float, str]] = {}  # pod uid -> (when, message) patched
        self.attempts: dict[str, int] = {}  # pod uid -> verifications that could not judge
        self.retry_at: dict[str, float] = {}  # pod uid -> when to verify it again

    async def turn(self, spec: CheckSpec, generation: int) -> None:
        ctype = spec.gate.pod_readiness_gate if spec.gate is not None else None
        if self.ctype is not None and ctype != self.ctype:
            # the gate was renamed or dropped from the spec: never leave pods held by it
            await self.stop()
            if self.selector is not None:
                await release(self.kube, self.namespace, self.ctype, self.selector[1])
        self.ctype = ctype
        if ctype is None:
            if self.writer.gate is not None:
                await self.writer.write_gate(None)
            return
        finished = any(t.done() for t in self.tasks.values())
        self.tasks = {uid: t for uid, t in self.tasks.items() if not t.done()}
        mark = self.cache.mark(self.namespace)
        due = any(at <= time.monotonic() for at in self.retry_at.values())
        if self.seen == (generation, mark) and not finished and not due:
            return  # nothing changed in the namespace: the last look still holds
        selector = await self._selector(spec, generation)
        if selector is None:
            await self.writer.write_gate(gates.summary(ctype, []))
            return
        # only the pods of this check's own target: another check (another team's) naming the
        # same condition type can neither verify nor release them
        pods = [p for p in live(await self.cache.list_pods(self.namespace, selector))
                if gates.declares(p, ctype)]
        self.seen = (generation, mark)
        seen: list[gates.PodGate] = []
        now = time.monotonic()
        uids = {p["metadata"]["uid"] for p in pods}
        self.written = {uid: w for uid, w in self.written.items()
                        if uid in uids and now - w[0] < CACHE_LAG}
        self.attempts = {uid: n for uid, n in self.attempts.items() if uid in uids}
        self.retry_at = {uid: at for uid, at in self.retry_at.items() if uid in uids}
        for pod in pods:
            uid = pod["metadata"]["uid"]
            action = gates.decide_pod(pod, ctype, generation, uid in self.tasks)
            mine = gates.find_condition(pod, ctype) or {}
            if uid in self.written and mine.get("message") == self.written[uid][1]:
                del self.written[uid]  # the cache shows what was patched
            if action == "verify" and uid in self.written:
                action = "verifying"  # just patched; the cache has not shown it yet
            elif action == "verify" and self.retry_at.get(uid, 0.0) > now:
                action = "wait"  # tried and could not judge: again at retry_at
            if action == "verify":
                port = await self._pod_port(spec, generation)
                self.tasks[uid] = asyncio.create_task(
                    self._verify(pod, spec, generation, port),
                    name=f"gate {self.namespace}/{pod['metadata']['name']}")
                action = "verifying"
            seen.append(gates.PodGate(pod["metadata"]["name"], action,
                                      str(mine.get("message", ""))))
        await self.writer.write_gate(gates.summary(ctype, seen))

    async def _selector(self, spec: CheckSpec, generation: int) -> str | None:
        if self.selector is not None and self.selector[0] == generation:
            return self.selector[1]
        try:
            selector = await target_selector(self.cache, self.check, spec)
        except (TargetError, SelectorError) as exc:
            log.info("%s/%s: gate: %s", self.namespace, self.check["metadata"]["name"], exc)
            return None
        self.selector = (generation, selector)
        return selector

    async def stop(self) -> None:
        tasks, self.tasks = list(self.tasks.values()), {}
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _pod_port(self, spec: CheckSpec, generation: int) -> int | str | None:
        if self.port is not None and self.port[0] == generation:
            return self.port[1]
        if spec.target.deploy is not None:
            port: int | str | None = spec.target.deploy.port
        else:
            try:
                port = (await resolve(self.kube, self.check, spec, ())).pod_port
            except TargetError as exc:
                # not cached: the Service may appear a moment later, and later pods of this
                # generation must not all fail for want of it
                log.info("%s/%s: gate: %s", self.namespace, self.check["metadata"]["name"], exc)
                return None
        self.port = (generation, port)
        return port

    async def _verify(self, pod: Mapping[str, Any], spec: CheckSpec, generation: int,
                      port: int | str | None) -> None:
        async with self.slots:
            ok, message, unjudged = await self._judge(pod, spec, port)
        ctype = spec.gate.pod_readiness_gate if spec.gate else ""
        uid = pod["metadata"]["uid"]
        reason = gates.REASON_VERIFIED if ok else gates.REASON_FAILED
        attempt = self.attempts.get(uid, 0) + 1
        if not ok and unjudged and attempt < ATTEMPTS:
            self.attempts[uid] = attempt
            delay = RETRY_AFTER * attempt
            self.retry_at[uid] = time.monotonic() + delay
            reason = gates.REASON_RETRYING
            message = (f"{message}; verified again in {delay:.0f}s (attempt {attempt} of "
                       f"{ATTEMPTS})")
        elif not ok:
            message = f"{message} {gates.generation_mark(generation)}"
        name = pod["metadata"]["name"]
        try:
            fresh = await self.kube.get_pod(self.namespace, name)
            cond = gates.condition(ctype, ok, reason, message, utc_now(),
                                   gates.find_condition(fresh, ctype))
            await self.kube.patch_pod_condition(self.namespace, name, pod["metadata"]["uid"],
                                                cond)
            self.written[uid] = (time.monotonic(), str(cond.get("message", "")))
            log.info("%s/%s: gate %s=%s: %s", self.namespace, name, ctype, cond["status"],
                     message)
        except KubeError as exc:  # the pod went away or was replaced: nothing to gate
            log.info("%s/%s: gate not set: %s", self.namespace, name, exc)

    async def _judge(self, pod: Mapping[str, Any], spec: CheckSpec,
                     port: int | str | None) -> tuple[bool, str, bool]:
        """(passed, why, could not judge: only timeouts, or the operator's overload)."""
        base = pod_url(pod, port, "")
        if base is None:
            return False, "no pod IP or port to verify (is the target's port right?)", False
        ready = spec.readiness
        started = time.monotonic()
        last: Sample | None = None
        while True:
            last = await self.prober.get(base + ready.path, timeout=ready.timeout,
                                         at=time.monotonic() - started)
            if last.ok:
                break
            if time.monotonic() - started >= ready.within:
                return False, (f"not ready within {ready.within:.0f}s: "
                               f"{last.describe(ready.path)}"), gates.unjudged([last])
            await asyncio.sleep(ready.period)
        live_spec = spec.liveness
        if not live_spec.enabled:
            return True, f"{ready.path} answered 2xx", False
        samples = await self.prober.window(base + live_spec.path, period=live_spec.period,
                                           timeout=live_spec.timeout,
                                           duration=live_spec.observe_for)
        verdict = judge_liveness(samples, live_spec, restarts=0, started_at="", finished_at="")
        if verdict.result != "Passed":
            return (False, f"liveness {verdict.result.lower()}: {verdict.message}",
                    verdict.result == "Inconclusive" or gates.unjudged(samples))
        return True, f"ready, and {verdict.message}", False



async def target_selector(kube: Reader, check: Mapping[str, Any], spec: CheckSpec) -> str:
    """The label selector of the pods a gate of this check may hold: its target's."""
    if spec.target.deploy is not None:
        return label_selector(manifests.deployment(check, spec)["spec"]["selector"])
    ref = spec.target.workload_ref
    if ref is None:
        raise TargetError("a readiness gate needs a deploy or workloadRef target")
    obj = await workload(kube, check["metadata"]["namespace"], ref.kind, ref.name)
    return label_selector((obj.get("spec") or {}).get("selector"))


async def release(kube: Kube, namespace: str, ctype: str, selector: str) -> int:
    """Set the gate True on every pod of the target that declares it (the check is gone);
    returns how many."""
    released = 0
    for pod in live(await kube.list_pods(namespace, selector)):
        if not gates.declares(pod, ctype):
            continue
        mine = gates.find_condition(pod, ctype)
        if mine is not None and mine.get("status") == "True":
            continue
        cond = gates.condition(ctype, True, gates.REASON_RELEASED,
                               "the ReadinessCheck that set this gate was deleted", utc_now(),
                               mine)
        try:
            await kube.patch_pod_condition(namespace, pod["metadata"]["name"],
                                           pod["metadata"]["uid"], cond)
            released += 1
        except KubeError as exc:
            log.info("%s/%s: gate not released: %s", namespace, pod["metadata"]["name"], exc)
    return released
