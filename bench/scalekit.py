"""The pure half of bench/scale.py: the mix of checks for a size, the objects the benchmark
applies, reading the figures out of Prometheus text, and the table. No I/O.

``plan`` decides which checks a size gets (a few deploy targets, gated workloadRefs, plain
workloadRefs, spread over the benchmark's namespaces and shared Deployments); the builders
return manifests as dicts; ``operator_figures`` and ``flow_dispatched`` read the operator's
``/metrics`` and the API server's; ``window`` turns two ``Snapshot``s into a window's figures;
``table`` formats the rows. bench/scale.py does the acting.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from prometheus_client.parser import text_string_to_metric_families

WORKLOAD_IMAGE = "readygate.local/workload:dev"  # hack/local-cluster/images workload
GROUP, VERSION, PLURAL = "readygate.io", "v1alpha1", "readinesschecks"
TERMINAL_PHASES = frozenset({"Passed", "Failed", "Inconclusive", "Error"})
BENCH_LABEL = "readygate.io/bench"  # on everything the benchmark creates (value "scale")
ROLE_LABEL = "readygate.io/bench-role"  # "plain" / "gated" on the shared workloads' pods
FLOW_SCHEMA = "rg-bench-operator"
# Below "service-accounts" (9000), which would otherwise match the operator's account; its
# priority level is the one that account gets anyway.
FLOW_PRECEDENCE = 8000
PRIORITY_LEVEL = "workload-low"
API_REQUESTS = "readygate_api_requests"  # the family of readygate_api_requests_total
RSS = "process_resident_memory_bytes"
DISPATCHED = "apiserver_flowcontrol_dispatched_requests_total"
# Containers the benchmark runs itself: requests (a BestEffort pod starves on 2 busy cores) and
# the restricted security context (every rg-bench- namespace enforces it), as tests/e2e does.
RESTRICTED_CONTAINER: dict[str, Any] = {
    "resources": {"requests": {"cpu": "20m", "memory": "48Mi"},
                  "limits": {"memory": "256Mi"}},
    "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "seccompProfile": {"type": "RuntimeDefault"}},
}
RESTRICTED_NAMESPACE = {"pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/enforce-version": "latest"}
# A light check: readiness, then liveness over a short window; no load, no schedule.
READINESS = {"within": "300s"}
LIVENESS = {"period": "1s", "observeFor": "3s"}

Kind = Literal["deploy", "gated", "workload"]


@dataclasses.dataclass(frozen=True)
class Mix:
    """How a size is made up; every target in it is healthy, so every right verdict is Passed."""

    namespaces: tuple[str, ...]
    plain_workloads: int = 2  # shared healthy Deployments per namespace, plain workloadRefs
    gated_workloads: int = 2  # shared Deployments per namespace whose pods declare gates
    gated_share: float = 0.2
    deploy_share: float = 0.01
    min_deploy: int = 2
    max_deploy: int = 10


@dataclasses.dataclass(frozen=True)
class Check:
    namespace: str
    name: str
    kind: Kind
    workload: str | None = None  # the shared Deployment of a workloadRef
    gate: str | None = None  # the condition type of a gated check

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


def counts(n: int, mix: Mix) -> dict[Kind, int]:
    """How many checks of each kind size ``n`` gets (deploy targets cost a pod each)."""
    deploy = min(n, mix.max_deploy, max(mix.min_deploy, round(n * mix.deploy_share)))
    gated = min(n - deploy, round(n * mix.gated_share)) if mix.gated_workloads else 0
    return {"deploy": deploy, "gated": gated, "workload": n - deploy - gated}


def plan(n: int, mix: Mix) -> list[Check]:
    """The checks of size ``n``: round-robin over the namespaces, then over the shared
    Deployments of their kind; each gated check has its own condition type."""
    out: list[Check] = []
    spaces = mix.namespaces
    for kind, count in counts(n, mix).items():
        for i in range(count):
            ns = spaces[i % len(spaces)]
            name = f"{kind[0]}-{i:04d}"
            slot = i // len(spaces)
            if kind == "deploy":
                out.append(Check(ns, name, kind))
            elif kind == "gated":
                out.append(Check(ns, name, kind, f"gated-{slot % mix.gated_workloads}",
                                 f"readygate.io/{name}"))
            else:
                out.append(Check(ns, name, kind, f"web-{slot % mix.plain_workloads}"))
    return out


def check_body(check: Check) -> dict[str, Any]:
    target: dict[str, Any]
    if check.kind == "deploy":
        target = {"deploy": {"image": WORKLOAD_IMAGE, "imagePullPolicy": "Never", "port": 8080}}
    else:
        target = {"workloadRef": {"name": check.workload}}
    spec: dict[str, Any] = {"target": target, "readiness": dict(READINESS),
                            "liveness": dict(LIVENESS)}
    if check.gate is not None:
        spec["gate"] = {"podReadinessGate": check.gate}
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ReadinessCheck",
            "metadata": {"name": check.name, "namespace": check.namespace,
                         "labels": {BENCH_LABEL: "scale"}},
            "spec": spec}


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {BENCH_LABEL: "scale", **RESTRICTED_NAMESPACE}}}


def workload(ns: str, name: str, role: str, gates: Sequence[str] = ()) -> dict[str, Any]:
    """A 1-replica Deployment of the test workload; ``gates``: readiness gates its pods
    declare (then they are Ready only once the checks setting them verified the pod)."""
    labels = {"app": name, BENCH_LABEL: "scale", ROLE_LABEL: role}
    pod: dict[str, Any] = {
        "terminationGracePeriodSeconds": 2,
        "containers": [{
            "name": "web", "image": WORKLOAD_IMAGE, "imagePullPolicy": "Never",
            **RESTRICTED_CONTAINER,
            "ports": [{"name": "http", "containerPort": 8080}],
            "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"},
                               "periodSeconds": 2},
        }],
    }
    if gates:
        pod["readinessGates"] = [{"conditionType": g} for g in gates]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": {BENCH_LABEL: "scale"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": labels}, "spec": pod}}}


def service(ns: str, name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "labels": {BENCH_LABEL: "scale"}},
            "spec": {"selector": {"app": name},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}


def gated_workloads(checks: Iterable[Check]) -> dict[tuple[str, str], list[str]]:
    """(namespace, Deployment) -> the condition types its pods must declare for these checks."""
    out: dict[tuple[str, str], list[str]] = {}
    for c in checks:
        if c.kind == "gated" and c.workload is not None and c.gate is not None:
            out.setdefault((c.namespace, c.workload), []).append(c.gate)
    return out


def flow_schema(service_account: tuple[str, str]) -> dict[str, Any]:
    """A FlowSchema that matches every request of the operator's ServiceAccount, so that the
    API server's ``apiserver_flowcontrol_dispatched_requests_total{flow_schema=...}`` counts
    exactly them (``apiserver_request_total`` has no user or user-agent label)."""
    ns, name = service_account
    return {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
        "metadata": {"name": FLOW_SCHEMA, "labels": {BENCH_LABEL: "scale"}},
        "spec": {
            "matchingPrecedence": FLOW_PRECEDENCE,
            "priorityLevelConfiguration": {"name": PRIORITY_LEVEL},
            "distinguisherMethod": {"type": "ByUser"},
            "rules": [{
                "subjects": [{"kind": "ServiceAccount",
                              "serviceAccount": {"namespace": ns, "name": name}}],
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                                   "clusterScope": True, "namespaces": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            }],
        },
    }


# -- reading the figures --------------------------------------------------------------------------
Requests = dict[tuple[str, str, str], float]  # (verb, resource, code) -> count


@dataclasses.dataclass(frozen=True)
class OperatorFigures:
    """What one scrape of the operator's /metrics says; None: the metric is not exported."""

    requests: Requests | None
    rss: float | None


def operator_figures(text: str) -> OperatorFigures:
    requests: Requests | None = None
    rss: float | None = None
    for family in text_string_to_metric_families(text):
        if family.name == API_REQUESTS:
            requests = {}
            for s in family.samples:
                if s.name != f"{API_REQUESTS}_total":
                    continue
                key = (s.labels.get("verb", ""), s.labels.get("resource", ""),
                       s.labels.get("code", ""))
                requests[key] = requests.get(key, 0.0) + s.value
        elif family.name == RSS:
            rss = next((s.value for s in family.samples if s.name == RSS), None)
    return OperatorFigures(requests, rss)


def flow_dispatched(text: str, schema: str = FLOW_SCHEMA) -> float | None:
    """Requests the API server dispatched for FlowSchema ``schema``; None when the API server
    does not export the counter at all (0 when it does but the schema matched nothing yet)."""
    known = False
    total = 0.0
    want = f'flow_schema="{schema}"'
    for line in text.splitlines():
        if line.startswith(f"# TYPE {DISPATCHED} "):
            known = True
        elif line.startswith(DISPATCHED + "{") and want in line:
            known = True
            total += float(line.rsplit(" ", 1)[1])
    return total if known else None


def delta(before: float | None, after: float | None) -> float | None:
    """A counter's increase; None when unknown or when it went back (the process restarted)."""
    if before is None or after is None or after < before:
        return None
    return after - before


def requests_delta(before: Requests | None, after: Requests | None) -> Requests | None:
    if before is None or after is None:
        return None
    out: Requests = {}
    for key, value in after.items():
        d = value - before.get(key, 0.0)
        if d < 0:
            return None
        if d:
            out[key] = d
    return out


def top(requests: Requests | None, n: int = 6) -> list[tuple[str, float]]:
    """The biggest (verb resource code) entries of a delta, for the report."""
    if not requests:
        return []
    merged = sorted(requests.items(), key=lambda kv: -kv[1])[:n]
    return [(f"{v} {r} {c}", count) for (v, r, c), count in merged]


@dataclasses.dataclass(frozen=True)
class Snapshot:
    at: float  # time.monotonic()
    operator: OperatorFigures | None  # None: the scrape failed
    dispatched: float | None  # the FlowSchema's counter; None: not exported
    cpu: float | None  # the operator container's CPU seconds; None: not on this machine
    jiffies: tuple[int, int]  # the machine's (all, idle) CPU ticks


def window(before: Snapshot, after: Snapshot, n: int, prefix: str) -> dict[str, Any]:
    """What the operator did between two snapshots: requests (counts, rates, per check, by
    verb), its CPU, and how busy the whole machine was (others' work disturbs the figures)."""
    seconds = after.at - before.at
    op = requests_delta(before.operator.requests if before.operator else None,
                        after.operator.requests if after.operator else None)
    op_total = sum(op.values()) if op is not None else None
    dispatched = delta(before.dispatched, after.dispatched)
    cpu = delta(before.cpu, after.cpu)
    all_ticks = after.jiffies[0] - before.jiffies[0]
    idle_ticks = after.jiffies[1] - before.jiffies[1]
    return {
        f"{prefix}_s": seconds,
        f"op_requests_{prefix}": op_total,
        f"op_rps_{prefix}": rate(op_total, seconds),
        f"op_rps_{prefix}_per_check": rate(op_total, seconds, n),
        f"op_requests_per_check_{prefix}": None if op_total is None else op_total / n,
        f"op_top_{prefix}": top(op),
        f"op_by_request_{prefix}": None if op is None else
        {" ".join(k): v for k, v in sorted(op.items())},
        f"as_requests_{prefix}": dispatched,
        f"as_rps_{prefix}": rate(dispatched, seconds),
        f"as_rps_{prefix}_per_check": rate(dispatched, seconds, n),
        f"as_requests_per_check_{prefix}": None if dispatched is None else dispatched / n,
        f"op_cpu_s_{prefix}": cpu,
        f"op_cpu_share_{prefix}": rate(cpu, seconds),
        f"machine_busy_{prefix}": 1 - idle_ticks / all_ticks if all_ticks > 0 else None,
    }


def group_wrong(wrong: Iterable[Mapping[str, Any]], width: int = 110) -> list[tuple[int, str]]:
    """Wrong verdicts grouped by kind, verdict and summary (its figures masked), most first."""
    groups: dict[str, int] = {}
    for w in wrong:
        summary = re.sub(r"\d+(\.\d+)?", "#", str(w.get("summary") or ""))[:width]
        key = f"{w.get('kind')} {w.get('verdict')}: {summary}"
        groups[key] = groups.get(key, 0) + 1
    return sorted(((n, k) for k, n in groups.items()), key=lambda g: (-g[0], g[1]))


def rate(count: float | None, seconds: float, per: int = 1) -> float | None:
    if count is None or seconds <= 0 or per <= 0:
        return None
    return count / seconds / per


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# -- the table -------------------------------------------------------------------------------------
COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (header, key of a row, format)
    ("N", "n", "d"),
    ("mix d/g/w", "mix", "s"),
    ("right", "right", "s"),
    ("all verdicts s", "all_final_s", ".1f"),
    ("p50 s", "p50_s", ".1f"),
    ("RSS peak MiB", "rss_peak_mib", ".0f"),
    ("RSS peak MiB (metric)", "rss_peak_metric_mib", ".0f"),
    ("op req/s run", "op_rps_running", ".2f"),
    ("/check", "op_rps_running_per_check", ".4f"),
    ("op req/s idle", "op_rps_idle", ".2f"),
    ("/check", "op_rps_idle_per_check", ".4f"),
    ("apiserver req/s run", "as_rps_running", ".2f"),
    ("/check", "as_rps_running_per_check", ".4f"),
    ("apiserver req/s idle", "as_rps_idle", ".2f"),
    ("/check", "as_rps_idle_per_check", ".4f"),
    ("op req/check run", "op_requests_per_check_running", ".1f"),
    ("apiserver req/check run", "as_requests_per_check_running", ".1f"),
)


def cell(value: Any, fmt: str) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and fmt == "d":
        return str(round(value))
    return format(value, fmt)


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    cells = [[h for h, _, _ in COLUMNS]]
    cells += [[cell(row.get(key), fmt) for _, key, fmt in COLUMNS] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
