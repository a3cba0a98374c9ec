"""The ReadinessCheck spec as frozen, typed dataclasses: the single source of truth of the API.

Each field's description, bounds and default are declared once, here, with ``fields.field``.
``schema`` generates the CRD's OpenAPI schema from these classes (``crds/`` holds its output,
and a test fails when the two drift), and ``parse`` turns a resource's ``spec`` into these
objects, enforcing the same bounds in code. Nothing here does I/O.

Durations are float seconds in Python and strings such as ``30s`` in YAML.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from readygate.durations import PATTERN as DURATION_PATTERN
from readygate.fields import field

# Caps on what a check may ask for; the schema and the parser both enforce them, and the load
# engine enforces its own again.
MAX_RATE = 10_000.0
MAX_USERS = 1_000
MAX_LOAD_DURATION = 3_600.0
MAX_WORKERS = 16
MAX_CONNECTIONS = 2_000
MAX_REPLICAS = 20
MAX_BUDGET = 3_600.0

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
ENV_NAME = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
HTTP_PATH = r"^/[^\s]*$"
HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
URL = r"^https?://[^\s/?#]+([/?#][^\s]*)?$"


@dataclasses.dataclass(frozen=True, kw_only=True)
class SecretKeyRef:
    name: str = field("Name of a Secret in the check's namespace.", pattern=DNS_SUBDOMAIN,
                      max_length=253)
    key: str = field("Key inside the Secret whose value is used.", max_length=253,
                     pattern=r"^[-._a-zA-Z0-9]+$")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ValueFrom:
    secret_key_ref: SecretKeyRef = field("Read the value from a key of a Secret.")


@dataclasses.dataclass(frozen=True, kw_only=True)
class EnvVar:
    name: str = field("Environment variable name.", pattern=ENV_NAME, max_length=256)
    value: str | None = field("Literal value.", default=None, max_length=32_768)
    value_from: ValueFrom | None = field(
        "Take the value from a Secret instead of a literal.", default=None)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Resources:
    requests: dict[str, str] = field(
        "Resource requests (cpu, memory) of the workload's container, as in a Pod spec.",
        default_factory=dict)
    limits: dict[str, str] = field(
        "Resource limits (cpu, memory) of the workload's container, as in a Pod spec.",
        default_factory=dict)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeployTarget:
    image: str = field("Container image of the workload to deploy and verify.", max_length=512,
                       pattern=r"^[^\s]+$")
    port: int = field("Port the workload's container listens on (HTTP).", default=8080,
                      minimum=1, maximum=65535)
    replicas: int = field("Number of pods to run.", default=1, minimum=1, maximum=MAX_REPLICAS)
    command: tuple[str, ...] = field("Container entrypoint override.", default=(), max_items=64)
    args: tuple[str, ...] = field("Container arguments.", default=(), max_items=256)
    env: tuple[EnvVar, ...] = field("Environment of the container.", default=(), max_items=256)
    resources: Resources | None = field(
        "Requests and limits; when unset readygate requests 50m CPU / 64Mi and limits memory "
        "to 256Mi.", default=None)
    image_pull_policy: str = field(
        "When the kubelet pulls the image.", default="IfNotPresent",
        enum=("Always", "IfNotPresent", "Never"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorkloadRef:
    kind: str = field("Kind of the existing workload.", default="Deployment",
                      enum=("Deployment", "StatefulSet"))
    name: str = field("Name of the workload in the check's namespace.", pattern=DNS_SUBDOMAIN,
                      max_length=253)
    service: str | None = field(
        "Service that fronts the workload; when unset, the Service in the namespace whose "
        "selector matches the workload's pods is used.", default=None, pattern=DNS_LABEL,
        max_length=63)
    port: int | None = field("Service port to probe; defaults to the Service's first port.",
                             default=None, minimum=1, maximum=65535)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ServiceRef:
    name: str = field("Name of a Service in the check's namespace.", pattern=DNS_LABEL,
                      max_length=63)
    port: int | None = field("Service port to probe; defaults to the Service's first port.",
                             default=None, minimum=1, maximum=65535)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Target:
    deploy: DeployTarget | None = field(
        "readygate creates a Deployment and a Service from this, owned by the check and removed "
        "with it.", default=None)
    workload_ref: WorkloadRef | None = field("An existing workload to verify.", default=None)
    service: ServiceRef | None = field("An existing Service to verify.", default=None)
    url: str | None = field(
        "An HTTP(S) URL outside the cluster; allowed only for hosts on the operator's "
        "allow-list. Link-local and metadata addresses are always refused.",
        default=None, pattern=URL, max_length=2048)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LivenessCheck:
    enabled: bool = field("Run the liveness check.", default=True)
    path: str = field("HTTP path that answers 2xx while the process is alive.",
                      default="/health", pattern=HTTP_PATH, max_length=1024)
    period: float = field("Time between probes.", default=2.0, duration=True,
                          minimum=0.1, maximum=300.0)
    timeout: float = field("Probe timeout; a slower answer counts as a failure.", default=1.0,
                           duration=True, minimum=0.05, maximum=60.0)
    failure_threshold: int = field(
        "Consecutive failed probes that fail the check.", default=3, minimum=1, maximum=100)
    observe_for: float = field(
        "How long liveness is observed after the workload became ready.", default=20.0,
        duration=True, minimum=1.0, maximum=MAX_BUDGET)
    max_flaps: int = field(
        "Recoveries (failed then passing again) tolerated in the window; more is flapping and "
        "fails the check.", default=1, minimum=0, maximum=100)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReadinessCheckSpec:
    path: str = field("HTTP path that answers 2xx once the service can take traffic.",
                      default="/ready", pattern=HTTP_PATH, max_length=1024)
    within: float = field(
        "Time budget from the start of the run until the workload is ready; when it ends the "
        "check fails.", default=120.0, duration=True, minimum=1.0, maximum=MAX_BUDGET)
    period: float = field("Time between probes.", default=1.0, duration=True, minimum=0.1,
                          maximum=60.0)
    timeout: float = field("Probe timeout.", default=1.0, duration=True, minimum=0.05,
                           maximum=60.0)
    max_restarts: int = field(
        "Container restarts tolerated while becoming ready; one more crash fails the check at "
        "once, with the crash diagnosed.", default=0, minimum=0, maximum=100)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Header:
    name: str = field("Header name.", pattern=HEADER_NAME, max_length=256)
    value: str | None = field("Literal header value.", default=None, max_length=8192)
    value_from: ValueFrom | None = field(
        "Take the value from a Secret; it never appears in status, events or logs.",
        default=None)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoadRequest:
    method: str = field("HTTP method.", default="GET",
                        enum=("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
    path: str = field("Path (and query) of the request.", default="/", pattern=HTTP_PATH,
                      max_length=2048)
    headers: tuple[Header, ...] = field("Request headers.", default=(), max_items=64)
    body: str | None = field("Request body.", default=None, max_length=1_048_576)
    weight: int = field("Relative share of this request in the mix.", default=1, minimum=1,
                        maximum=1000)
    expect_status: tuple[int, ...] = field(
        "Statuses counted as success; when empty, any 2xx or 3xx.", default=(), max_items=32)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoadStage:
    duration: float = field("Length of the stage.", duration=True, minimum=0.1,
                            maximum=MAX_LOAD_DURATION)
    target: float = field(
        "Rate (open model, req/s) or users (closed model) reached at the end of the stage, "
        "changing linearly from the previous stage's target.", minimum=0, maximum=MAX_RATE)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoadStress:
    start: float = field("First rate (req/s).", minimum=0.1, maximum=MAX_RATE,
                         exclusive_minimum=False)
    step: float = field("Rate added at each step (req/s).", minimum=0.1, maximum=MAX_RATE)
    step_duration: float = field("Length of each step.", duration=True, minimum=1.0,
                                 maximum=600.0)
    max: float = field("Highest rate tried (req/s).", minimum=0.1, maximum=MAX_RATE)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoadThresholds:
    p50: float | None = field("Largest acceptable median latency.", default=None,
                              duration=True, minimum=0.0, maximum=600.0)
    p95: float | None = field("Largest acceptable 95th percentile latency.", default=None,
                              duration=True, minimum=0.0, maximum=600.0)
    p99: float | None = field("Largest acceptable 99th percentile latency.", default=None,
                              duration=True, minimum=0.0, maximum=600.0)
    p999: float | None = field("Largest acceptable 99.9th percentile latency.", default=None,
                               duration=True, minimum=0.0, maximum=600.0, json_name="p999")
    max_error_rate: float | None = field(
        "Largest acceptable fraction of failed requests (0.01 = 1 %).", default=None,
        minimum=0.0, maximum=1.0)
    min_throughput: float | None = field("Smallest acceptable rate of completed requests "
                                         "(req/s).", default=None, minimum=0.0, maximum=MAX_RATE)
    min_samples: int = field(
        "Fewer completed requests than this makes the result Inconclusive, never a pass.",
        default=100, minimum=1, maximum=100_000_000)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoadCheck:
    model: str = field(
        "open: requests arrive at a constant rate and latency counts from the intended send "
        "time; closed: a number of users send back to back.", default="open",
        enum=("open", "closed"))
    rate: float | None = field("Arrival rate for the open model (req/s).", default=None,
                               minimum=0.1, maximum=MAX_RATE)
    users: int | None = field("Concurrent users for the closed model.", default=None,
                              minimum=1, maximum=MAX_USERS)
    duration: float = field("How long the load runs (without stages).", default=30.0,
                            duration=True, minimum=1.0, maximum=MAX_LOAD_DURATION)
    stages: tuple[LoadStage, ...] = field(
        "Ramp, spike or soak profile; replaces rate/users and duration.", default=(),
        max_items=32)
    stress: LoadStress | None = field(
        "Step the rate up until a threshold breaks and report the knee.", default=None)
    connections: int = field("Most requests in flight at once (open model).", default=256,
                             minimum=1, maximum=MAX_CONNECTIONS)
    timeout: float = field("Per-request timeout; a timeout counts as an error.", default=5.0,
                           duration=True, minimum=0.01, maximum=120.0)
    requests: tuple[LoadRequest, ...] = field(
        "The request mix; when empty, GET /.", default=(), max_items=64)
    thresholds: LoadThresholds = field("What the measured load must meet.",
                                       default_factory=LoadThresholds)
    workers: int = field(
        "Kubernetes Job pods that share the load; 1 runs it in the operator's own pod (in a "
        "separate process).", default=1, minimum=1, maximum=MAX_WORKERS)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Schedule:
    every: float = field("Run the checks again this long after each verdict.", duration=True,
                         minimum=60.0, maximum=7 * 24 * 3600.0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CheckSpec:
    target: Target = field("What to verify: exactly one of deploy, workloadRef, service, url.")
    liveness: LivenessCheck = field("Liveness observed over a window after readiness.",
                                    default_factory=LivenessCheck)
    readiness: ReadinessCheckSpec = field("Readiness and its time budget.",
                                          default_factory=ReadinessCheckSpec)
    load: LoadCheck | None = field("Load to apply after readiness, and its thresholds.",
                                   default=None)
    schedule: Schedule | None = field("Periodic re-verification.", default=None)


TargetKind = Literal["deploy", "workloadRef", "service", "url"]


def target_kind(target: Target) -> TargetKind:
    """The one target set (``parse`` guarantees there is exactly one)."""
    if target.deploy is not None:
        return "deploy"
    if target.workload_ref is not None:
        return "workloadRef"
    if target.service is not None:
        return "service"
    return "url"


__all__ = [
    "DURATION_PATTERN",
    "CheckSpec",
    "DeployTarget",
    "EnvVar",
    "Header",
    "LivenessCheck",
    "LoadCheck",
    "LoadRequest",
    "LoadStage",
    "LoadStress",
    "LoadThresholds",
    "ReadinessCheckSpec",
    "Resources",
    "Schedule",
    "SecretKeyRef",
    "ServiceRef",
    "Target",
    "ValueFrom",
    "WorkloadRef",
    "target_kind",
]
