"""Reading pod status the way the checks need it. Pure helpers over pods as plain dicts.

Shared by the runner (readiness, liveness), the disruptor (recovery) and the load phase
(stability): whether a pod is Ready, which pods are not being deleted, restart counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def pod_ready(pod: Mapping[str, Any]) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


def live(pods: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pods that are not being deleted."""
    return [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]


def restarts_of(pods: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """``pod/container`` -> restart count."""
    out: dict[str, int] = {}
    for pod in pods:
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            key = f"{pod['metadata']['name']}/{cs.get('name')}"
            out[key] = int(cs.get("restartCount") or 0)
    return out


def rollout(workload: Mapping[str, Any]) -> tuple[int, int, bool]:
    """(desired replicas, Ready replicas of the current template, rollout complete) of a
    Deployment or StatefulSet, as ``kubectl rollout status`` reads it.

    Complete: the controller has seen the current generation, every replica runs the current
    template and is Ready, and no pod of an older template is left.
    """
    meta = workload.get("metadata") or {}
    spec = workload.get("spec") or {}
    status = workload.get("status") or {}
    desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    seen = int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)
    ready = int(status.get("readyReplicas") or 0)
    total = int(status.get("replicas") or 0)
    if workload.get("kind") == "StatefulSet":
        current = status.get("updateRevision") == status.get("currentRevision")
        updated = int(status.get("updatedReplicas") or status.get("currentReplicas") or 0)
        complete = seen and current and ready >= desired and total == desired
    else:
        updated = int(status.get("updatedReplicas") or 0)
        complete = (seen and updated >= desired and ready >= desired and total == desired
                    and int(status.get("availableReplicas") or 0) >= desired)
    return desired, min(ready, updated), complete
