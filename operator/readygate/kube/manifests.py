"""Builders of the objects readygate creates for a ``deploy`` target. Pure: dicts in, dicts out.

The Deployment and Service get deterministic names derived from the check's name, an owner
reference to the check (so Kubernetes garbage-collects them with it), readygate's labels, and a
hash of what was asked so that the acting side (``kube.client``) can tell whether an existing
object is current. Pods run under the restricted Pod Security Standard by default.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from readygate.api.schema import GROUP, KIND, VERSION
from readygate.api.spec import CheckSpec, DeployTarget

MANAGED_BY = "readygate"
LABEL_CHECK = f"{GROUP}/check"
LABEL_WORKLOAD = f"{GROUP}/workload"
ANNOTATION_HASH = f"{GROUP}/spec-hash"
CONTAINER = "app"
DEFAULT_REQUESTS = {"cpu": "50m", "memory": "64Mi"}
DEFAULT_LIMITS = {"memory": "256Mi"}


def restricted_container(read_only_root: bool = True) -> dict[str, Any]:
    """A container securityContext within the restricted Pod Security Standard."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": read_only_root,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def workload_name(check_name: str) -> str:
    """A DNS-1035 label (<= 63 chars), a different one for every check name: ``rg-<name>``
    when the name is such a label already, else its readable part and a hash of the whole name
    (``a.b`` and ``a-b`` never share ``rg-a-b``)."""
    base = "rg-" + check_name
    if len(base) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", check_name):
        return base
    digest = hashlib.sha256(check_name.encode()).hexdigest()[:8]
    readable = re.sub(r"[^a-z0-9-]", "-", check_name.lower())[:50].strip("-")
    return f"rg-{readable}-{digest}" if readable else f"rg-{digest}"


def owner_reference(check: Mapping[str, Any]) -> dict[str, Any]:
    meta = check["metadata"]
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def labels(check_name: str) -> dict[str, str]:
    name = workload_name(check_name)
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        LABEL_WORKLOAD: name,
    }


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def _env(target: DeployTarget) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for env in target.env:
        if env.value_from is not None:
            ref = env.value_from.secret_key_ref
            out.append({"name": env.name,
                        "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}})
        else:
            out.append({"name": env.name, "value": env.value or ""})
    return out


def deployment(check: Mapping[str, Any], spec: CheckSpec) -> dict[str, Any]:
    target = spec.target.deploy
    if target is None:
        raise ValueError("deployment() needs a deploy target")
    check_name = check["metadata"]["name"]
    name = workload_name(check_name)
    pod_labels = labels(check_name)
    resources = target.resources
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": target.image,
        "imagePullPolicy": target.image_pull_policy,
        "ports": [{"name": "http", "containerPort": target.port, "protocol": "TCP"}],
        "env": _env(target),
        "resources": {
            "requests": dict(resources.requests) if resources and resources.requests
            else dict(DEFAULT_REQUESTS),
            "limits": dict(resources.limits) if resources and resources.limits
            else dict(DEFAULT_LIMITS),
        },
        "readinessProbe": {
            "httpGet": {"path": spec.readiness.path, "port": "http"},
            "periodSeconds": 1,
            "timeoutSeconds": max(1, round(spec.readiness.timeout)),
            "failureThreshold": 3,
        },
        "securityContext": restricted_container(
            target.security_context.read_only_root_filesystem),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if target.command:
        container["command"] = list(target.command)
    if target.args:
        container["args"] = list(target.args)
    template: dict[str, Any] = {
        "metadata": {"labels": pod_labels},
        "spec": {
            "containers": [container],
            # an image without a USER runs as a non-root UID (restricted forbids root)
            "securityContext": {"runAsNonRoot": True,
                                "runAsUser": target.security_context.run_as_user,
                                "runAsGroup": target.security_context.run_as_group,
                                "fsGroup": target.security_context.fs_group,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 5,
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
        },
    }
    if spec.gate is not None:
        template["spec"]["readinessGates"] = [{"conditionType": spec.gate.pod_readiness_gate}]
    body_spec = {
        "replicas": target.replicas,
        "selector": {"matchLabels": {LABEL_WORKLOAD: name}},
        "template": template,
        "progressDeadlineSeconds": max(30, round(spec.readiness.within)),
        "revisionHistoryLimit": 2,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "labels": {**pod_labels, LABEL_CHECK: label_value(check_name)},
            "annotations": {ANNOTATION_HASH: _hash(body_spec)},
            "ownerReferences": [owner_reference(check)],
        },
        "spec": body_spec,
    }


def service(check: Mapping[str, Any], spec: CheckSpec) -> dict[str, Any]:
    target = spec.target.deploy
    if target is None:
        raise ValueError("service() needs a deploy target")
    check_name = check["metadata"]["name"]
    name = workload_name(check_name)
    body_spec = {
        "type": "ClusterIP",
        "selector": {LABEL_WORKLOAD: name},
        "ports": [{"name": "http", "port": target.port, "targetPort": "http",
                   "protocol": "TCP"}],
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "labels": {**labels(check_name), LABEL_CHECK: label_value(check_name)},
            "annotations": {ANNOTATION_HASH: _hash(body_spec)},
            "ownerReferences": [owner_reference(check)],
        },
        "spec": body_spec,
    }


def label_value(value: str) -> str:
    if len(value) <= 63:
        return value
    return value[:54].rstrip("-.") + "-" + hashlib.sha256(value.encode()).hexdigest()[:8]


def spec_hash(obj: Mapping[str, Any]) -> str | None:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(ANNOTATION_HASH)
    return str(value) if value is not None else None


# -- distributed load: one Indexed Job (a pod per shard), and the Secret with their plan -------
LABEL_COMPONENT = f"{GROUP}/component"
LABEL_RUN = f"{GROUP}/run"
LOAD_WORKER = "load-worker"
PLAN_KEY = "plan.json"
WORKER_UID = 10001


def _short(name: str) -> str:
    """A DNS-1123 label (<= 63 chars): hashed when longer."""
    name = re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-")
    if len(name) <= 63:
        return name
    return name[:54].rstrip("-") + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]


def load_labels(check_name: str, run: int) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": MANAGED_BY,
        LABEL_CHECK: label_value(check_name),
        LABEL_COMPONENT: LOAD_WORKER,
        LABEL_RUN: str(run),
    }


def load_secret_name(check_name: str, run: int) -> str:
    return _short(f"{workload_name(check_name)}-load-r{run}")


def load_secret(check: Mapping[str, Any], run: int, plan_json: str) -> dict[str, Any]:
    """The plan of a distributed load (it may hold header values from Secrets): a Secret."""
    name = check["metadata"]["name"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": load_secret_name(name, run),
            "labels": load_labels(name, run),
            "ownerReferences": [owner_reference(check)],
        },
        "stringData": {PLAN_KEY: plan_json},
    }


def load_job(check: Mapping[str, Any], run: int, shards: int, *, image: str,
             pull_policy: str, secret: str, deadline: int) -> dict[str, Any]:
    """A distributed load as one Indexed Job: pod i runs shard i of ``shards``
    (``python3 -m readygate.load --shard auto/N`` reads its JOB_COMPLETION_INDEX).

    A shard is never retried (a second try would send load outside the shared start time):
    ``backoffLimit: 0``; the pod failure policy fails the Job at once on a non-zero exit and
    ignores a disruption (a preempted or evicted pod is replaced, not counted)."""
    name = check["metadata"]["name"]
    job_labels = load_labels(name, run)
    container = {
        "name": "load",
        "image": image,
        "imagePullPolicy": pull_policy,
        "command": ["python3", "-m", "readygate.load"],
        "args": ["--plan-env", "READYGATE_PLAN", "--shard", f"auto/{shards}"],
        "env": [{"name": "READYGATE_PLAN",
                 "valueFrom": {"secretKeyRef": {"name": secret, "key": PLAN_KEY}}}],
        "resources": {"requests": {"cpu": "250m", "memory": "64Mi"},
                      "limits": {"memory": "512Mi"}},
        "securityContext": restricted_container(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": load_job_name(name, run),
            "labels": job_labels,
            "ownerReferences": [owner_reference(check)],
        },
        "spec": {
            "completionMode": "Indexed",
            "completions": shards,
            "parallelism": shards,
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline,
            "podFailurePolicy": {"rules": [
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
                {"action": "FailJob",
                 "onExitCodes": {"containerName": "load", "operator": "NotIn", "values": [0]}},
            ]},
            "template": {
                "metadata": {"labels": job_labels},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [container],
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": WORKER_UID,
                                        "runAsGroup": WORKER_UID,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                },
            },
        },
    }


def load_job_name(check_name: str, run: int) -> str:
    return _short(f"{workload_name(check_name)}-load-r{run}")
