"""Pod readiness gates: which pods a check must judge, the condition it sets on them, and the
summary that goes into ``status.gate``. Pure.

A pod takes part when its ``spec.readinessGates`` declares the check's condition type. Until
that condition is True the kubelet keeps the pod un-Ready, so a Service sends it no traffic and
a Deployment's rollout waits for it. The gatekeeper verifies a pod once its containers are ready
(``ContainersReady=True``) and sets the condition True or False; a False carries the check's
generation in its message, so a changed spec re-verifies the pods it failed. ``lastTransitionTime``
moves only when the status flips.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from readygate.judge.answers import Sample

Action = Literal["verify", "wait", "done", "failed", "verifying"]
REASON_VERIFIED = "ReadinessCheckPassed"
REASON_FAILED = "ReadinessCheckFailed"
# verified again later: the probes timed out, or the operator was too loaded to judge
REASON_RETRYING = "ReadinessCheckRetrying"
REASON_RELEASED = "ReadinessCheckDeleted"
POD_LIMIT = 50


def declares(pod: Mapping[str, Any], ctype: str) -> bool:
    gates = (pod.get("spec") or {}).get("readinessGates") or []
    return any(g.get("conditionType") == ctype for g in gates)


def find_condition(pod: Mapping[str, Any], ctype: str) -> Mapping[str, Any] | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return dict(c)
    return None


def generation_mark(generation: int) -> str:
    return f"(check generation {generation})"


def decide_pod(pod: Mapping[str, Any], ctype: str, generation: int,
               verifying: bool) -> Action:
    """What the gatekeeper does with one gated pod now."""
    if verifying:
        return "verifying"
    mine = find_condition(pod, ctype)
    if mine is not None and mine.get("status") == "True":
        return "done"
    if (mine is not None and mine.get("status") == "False"
            and generation_mark(generation) in str(mine.get("message", ""))):
        return "failed"
    containers = find_condition(pod, "ContainersReady")
    if containers is None or containers.get("status") != "True":
        return "wait"
    return "verify"


def condition(ctype: str, ok: bool, reason: str, message: str, now: str,
              old: Mapping[str, Any] | None) -> dict[str, Any]:
    status = "True" if ok else "False"
    since = now
    if old is not None and old.get("status") == status:
        since = str(old.get("lastTransitionTime") or now)
    return {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": message[:1024],
        "lastTransitionTime": since,
    }


@dataclasses.dataclass(frozen=True)
class PodGate:
    pod: str
    action: Action
    message: str = ""


def summary(ctype: str, pods: Sequence[PodGate]) -> dict[str, Any]:
    """``status.gate``: counts and the latest pods (bounded)."""
    result = {"done": "Passed", "failed": "Failed", "wait": "Pending", "verify": "Pending",
              "verifying": "Verifying"}
    return {
        "conditionType": ctype,
        "verified": sum(1 for p in pods if p.action == "done"),
        "failed": sum(1 for p in pods if p.action == "failed"),
        "pending": sum(1 for p in pods if p.action in ("wait", "verify", "verifying")),
        "pods": [_pod_entry(p, result[p.action])
                 for p in sorted(pods, key=lambda p: p.pod)[:POD_LIMIT]],
    }


def _pod_entry(p: PodGate, result: str) -> dict[str, str]:
    entry = {"pod": p.pod, "result": result}
    if p.message:  # an empty string inside a list reaches the API server as null
        entry["message"] = p.message[:300]
    return entry


def unjudged(samples: Sequence[Sample]) -> bool:
    """Every failed probe of a verification timed out or was delayed by the operator's own
    overload: the pod said nothing, so it is verified again rather than failed."""
    failed = [s for s in samples if not s.ok]
    return bool(failed) and all(
        s.overloaded or (s.status is None and (s.error or "").startswith("timeout"))
        for s in failed)
