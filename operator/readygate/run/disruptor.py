"""Breaking things on purpose, and watching them come back: deleting a workload's pods for the
resilience check, and restarting a workload (all of its pods) for the persistence check.

Acting side: it calls ``kube.client`` (deletes) and the ``prober``, and reads pods and
workloads from the watch cache (``reader``); what the observations mean is judged
by the pure ``judge.resilience`` and ``judge.persistence``. Pods are deleted with their UID as a
precondition, so a pod that was already replaced is never deleted by mistake. "Recovered" means:
as many Ready, non-terminating pods as the workload wants, none of them one that was deleted,
and (when a probe is given) the service answering it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from readygate.judge.persistence import Restart
from readygate.judge.resilience import Disruption
from readygate.judge.targets import TargetError
from readygate.kube.client import Kube
from readygate.kube.podstate import live, pod_ready, rollout
from readygate.kube.selectors import SelectorError, label_selector
from readygate.kube.watchcache import Reader
from readygate.run.resolver import workload

Probe = Callable[[], Awaitable[bool]]
POLL = 0.5


async def desired_replicas(kube: Reader, namespace: str, ref: tuple[str, str] | None,
                           fallback: int) -> int:
    if ref is None:
        return fallback
    desired, _, _ = rollout(await workload(kube, namespace, *ref))
    return desired


async def _delete(kube: Kube, namespace: str, pods: list[dict[str, Any]], grace: int) -> None:
    await asyncio.gather(*(kube.delete_pod(namespace, p["metadata"]["name"],
                                           grace_seconds=grace, uid=p["metadata"]["uid"])
                           for p in pods))


async def _wait_whole(kube: Reader, namespace: str, selector: str, desired: int,
                      gone: set[str], deadline: float,
                      probe: Probe | None) -> tuple[float | None, int, bool]:
    """Poll until recovered; (epoch seconds of recovery or None, Ready pods, answering)."""
    ready = 0
    answering = False
    while True:
        pods = live(await kube.list_pods(namespace, selector))
        ready = sum(1 for p in pods if pod_ready(p) and p["metadata"]["uid"] not in gone)
        answering = probe is None or (ready >= desired and await probe())
        if ready >= desired and answering:
            return time.time(), ready, answering
        if time.monotonic() >= deadline:
            return None, ready, answering
        await asyncio.sleep(POLL)


async def disrupt(kube: Kube, reader: Reader, namespace: str, selector: str, desired: int, *,
                  kill: int, grace: int, max_recovery: float, probe: Probe) -> Disruption:
    """Delete ``kill`` Ready pods (oldest first) and wait until the workload is whole again."""
    pods = sorted((p for p in live(await reader.list_pods(namespace, selector)) if pod_ready(p)),
                  key=lambda p: str(p["metadata"].get("creationTimestamp")))
    victims = pods[:kill]
    killed_at = time.time()
    deadline = time.monotonic() + max_recovery
    await _delete(kube, namespace, victims, grace)
    gone = {p["metadata"]["uid"] for p in victims}
    recovered_at, ready, answering = await _wait_whole(reader, namespace, selector, desired, gone,
                                                       deadline, probe)
    return Disruption(killed=tuple(p["metadata"]["name"] for p in victims),
                      killed_at=killed_at, recovered_at=recovered_at, desired=desired,
                      ready_at_end=ready, answering_at_end=answering)


async def restart(kube: Kube, reader: Reader, namespace: str, target: tuple[str, str], *,
                  within: float,
                  probe: Probe | None) -> Restart:
    """Delete every pod of a workload and wait until all its replicas are new and Ready."""
    kind, name = target
    obj = await workload(reader, namespace, kind, name)
    try:
        selector = label_selector((obj.get("spec") or {}).get("selector"))
    except SelectorError as exc:
        raise TargetError(f"{kind} {name} has a selector readygate cannot use: {exc}") from None
    desired, _, _ = rollout(obj)
    pods = live(await reader.list_pods(namespace, selector))
    started = time.monotonic()
    await _delete(kube, namespace, pods, grace=1)
    recovered_at, _, _ = await _wait_whole(reader, namespace, selector, desired,
                                           {p["metadata"]["uid"] for p in pods},
                                           started + within, probe)
    seconds = None if recovered_at is None else time.monotonic() - started
    return Restart(what=f"{kind} {name}", replaced=len(pods), seconds=seconds)
