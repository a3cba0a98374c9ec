"""Why a workload's pods do not start, read from pod status and log lines. Pure.

``find_problem`` looks at pods (API objects as plain dicts) and names the first thing that keeps
them from running: a container that exited (the first crash is enough — no waiting for a
progress deadline), OOMKilled, an image that cannot be pulled, a container that cannot be
created, a pod that cannot be scheduled. ``explain`` then takes the container's last log lines
(fetched by the caller) and picks the line that explains it, such as
``ModuleNotFoundError: No module named 'autocoder'``, into a bounded ``Diagnosis``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from readygate.api.results import Diagnosis

LOG_LINES = 20
LOG_LINE_CHARS = 300

IMAGE_REASONS_TERMINAL = frozenset({"ErrImageNeverPull", "InvalidImageName", "ImagePullBackOff"})
IMAGE_REASONS_TRANSIENT = frozenset({"ErrImagePull"})
CONFIG_REASONS = frozenset({"CreateContainerConfigError", "CreateContainerError",
                            "RunContainerError"})
UNSCHEDULABLE_GRACE = 20.0
# What the scheduler says while a pod waits for its volumes to be bound: the volume controller
# (every 15 s) or a provisioner (a cloud disk takes a minute) heals it without anyone acting.
VOLUME_BINDING_WAITS = ("unbound immediate PersistentVolumeClaims",
                        "waiting for ephemeral volume controller")

_EXCEPTION_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt))(:.*)?$")
_ERRORISH = re.compile(r"(error|exception|fatal|panic|failed|cannot|can't|denied)", re.I)


@dataclasses.dataclass(frozen=True)
class Problem:
    reason: str
    pod: str
    container: str | None
    message: str
    exit_code: int | None = None
    restart_count: int = 0
    terminal: bool = True
    logs_previous: bool | None = None  # None: no logs to read (never started)
    crashed_at: str | None = None  # when the diagnosed container exited (its finishedAt)


def _containers(pod: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    status = pod.get("status") or {}
    yield from status.get("initContainerStatuses") or []
    yield from status.get("containerStatuses") or []


def _name(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("name", "?"))


def find_problem(pods: Sequence[Mapping[str, Any]], now: float,
                 pod_created: Mapping[str, float] | None = None,
                 unschedulable_grace: float = UNSCHEDULABLE_GRACE) -> Problem | None:
    """The most telling problem among ``pods``, or None while they look healthy or pending.

    ``now`` and ``pod_created`` (pod name -> creation time, epoch seconds) decide whether an
    Unschedulable pod has been waiting past ``unschedulable_grace``. A pod that waits for its
    volumes to be bound is never terminal here: only the readiness budget ends that wait.
    """
    found: list[Problem] = []
    for pod in pods:
        found.extend(_pod_problems(pod, now, (pod_created or {}).get(_name(pod)),
                                   unschedulable_grace))
    if not found:
        return None
    found.sort(key=lambda p: (not p.terminal, p.logs_previous is None))
    return found[0]


def _pod_problems(pod: Mapping[str, Any], now: float, created: float | None,
                  unschedulable_grace: float) -> list[Problem]:
    out: list[Problem] = []
    name = _name(pod)
    for cs in _containers(pod):
        cname = str(cs.get("name"))
        restarts = int(cs.get("restartCount") or 0)
        state = cs.get("state") or {}
        last = (cs.get("lastState") or {}).get("terminated")
        waiting = state.get("waiting")
        terminated = state.get("terminated")
        if waiting:
            reason = str(waiting.get("reason") or "")
            msg = str(waiting.get("message") or reason)
            if reason in IMAGE_REASONS_TERMINAL or reason in IMAGE_REASONS_TRANSIENT:
                out.append(Problem(reason, name, cname, msg, restart_count=restarts,
                                   terminal=reason in IMAGE_REASONS_TERMINAL))
                continue
            if reason in CONFIG_REASONS:
                out.append(Problem(reason, name, cname, msg, restart_count=restarts))
                continue
        exited = terminated if terminated and terminated.get("exitCode", 0) != 0 else None
        if exited is None and last and last.get("exitCode", 0) != 0:
            exited = last
        if exited is None and terminated and restarts == 0 and last is None:
            # exit code 0 of a long-running container is a crash too
            exited = terminated
        if exited is not None:
            reason = "OOMKilled" if exited.get("reason") == "OOMKilled" else "CrashLoopBackOff"
            code = exited.get("exitCode")
            msg = f"container {cname} exited with code {code}"
            if exited.get("reason") == "OOMKilled":
                msg = f"container {cname} was killed for exceeding its memory limit (OOMKilled)"
            out.append(Problem(reason, name, cname, msg,
                               exit_code=int(code) if code is not None else None,
                               restart_count=restarts,
                               logs_previous=terminated is None,
                               crashed_at=exited.get("finishedAt"),
                               ))
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False" and \
                c.get("reason") == "Unschedulable":
            waited = now - created if created is not None else 0.0
            message = str(c.get("message") or "no node fits the pod")
            binding = any(w in message for w in VOLUME_BINDING_WAITS)
            out.append(Problem("Unschedulable", name, None, message,
                               terminal=not binding and waited >= unschedulable_grace))
    return out


def trim_log(lines: Iterable[str]) -> tuple[str, ...]:
    """The last ``LOG_LINES`` non-empty lines, each cut to ``LOG_LINE_CHARS``."""
    kept = [line.rstrip()[:LOG_LINE_CHARS] for line in lines if line.strip()]
    return tuple(kept[-LOG_LINES:])


def has_exception(lines: Sequence[str]) -> bool:
    return any(_EXCEPTION_LINE.match(line) for line in lines)


def explaining_line(lines: Sequence[str]) -> str | None:
    """The line that says why: the last exception line, else the last error-ish line."""
    for line in reversed(lines):
        if _EXCEPTION_LINE.match(line):
            return line.strip()
    for line in reversed(lines):
        if _ERRORISH.search(line):
            return line.strip()
    return None


def explain(problem: Problem, log_lines: Sequence[str], termination_message: str = "") -> Diagnosis:
    tail = trim_log(log_lines) or trim_log(termination_message.splitlines())
    why = explaining_line(tail)
    message = problem.message + (f": {why}" if why else "")
    return Diagnosis(
        reason=problem.reason, message=message[:1000], pod=problem.pod,
        container=problem.container, exit_code=problem.exit_code,
        restart_count=problem.restart_count, log_tail=tail, terminal=problem.terminal,
        crashed_at=problem.crashed_at,
    )


def termination_message(pod: Mapping[str, Any], container: str | None) -> str:
    for cs in _containers(pod):
        if cs.get("name") != container:
            continue
        for source in ((cs.get("state") or {}).get("terminated"),
                       (cs.get("lastState") or {}).get("terminated")):
            if source and source.get("message"):
                return str(source["message"])
    return ""


def admission_refusal(workload: Mapping[str, Any]) -> Diagnosis | None:
    """Pods that never exist: the ReplicaSet could not create them (Pod Security admission, a
    ResourceQuota, a LimitRange, a webhook). The Deployment carries the ReplicaSet's
    ``ReplicaFailure`` condition with the admission's own message."""
    for cond in (workload.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
            reason = str(cond.get("reason") or "FailedCreate")
            message = " ".join(str(cond.get("message") or "").split())[:1000]
            name = (workload.get("metadata") or {}).get("name", "")
            return Diagnosis(reason=reason, message=message or "the pods could not be created",
                             pod=f"(none: {workload.get('kind', 'Deployment')} {name} has no "
                                 "pods)", terminal=True)
    return None


_PERMISSION = re.compile(r"permission denied|operation not permitted|EACCES|EPERM|"
                         r"bind\(\) to [^ ]*:([0-9]{1,3})\b.*failed", re.IGNORECASE)


def with_non_root_hint(found: Diagnosis, uid: int) -> Diagnosis:
    """A deploy target's crash that looks like the image needs root: say what to change (the
    restricted Pod Security Standard never runs it as root)."""
    text = " ".join([found.message, *found.log_tail])
    if not _PERMISSION.search(text):
        return found
    hint = (f" (readygate ran the image as UID {uid}, never root: give the image a USER that "
            "can run it, set spec.target.deploy.securityContext.runAsUser to the UID it expects, "
            "or listen on a port above 1023)")
    return dataclasses.replace(found, message=found.message + hint)
