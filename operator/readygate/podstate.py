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
