"""The ReadinessCheck spec as frozen, typed dataclasses: the single source of truth of the API.

Each field's description, bounds and default are declared once, here, with ``fields.field``.
``schema`` generates the CRD's OpenAPI schema from these classes (``crds/`` holds its output,
and a test fails when the two drift), and ``parse`` turns a resource's ``spec`` into these
objects, enforcing the same bounds in code. Nothing here does I/O.

Durations are float seconds in Python and strings such as ``30s`` in YAML.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

from readygate.api.durations import PATTERN as DURATION_PATTERN
from readygate.api.fields import Rule, field

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
HEADER_VALUE = r"^[\t\x20-\x7e]*$"  # visible ASCII, spaces and tabs: no CR/LF, no controls
THRESHOLD_NAMES = ("p50", "p95", "p99", "p999", "maxErrorRate", "minThroughput")
# Headers readygate sends itself, from the vetted target and the body: never from a spec.
RESERVED_HEADERS = ("host", "content-length", "transfer-encoding", "connection", "upgrade")
_ONE_VALUE = Rule("has(self.value) != has(self.valueFrom)",
                  "set exactly one of value or valueFrom")
POLICIES = ("Fail", "Warn", "Ignore")
QUANTITY = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$"
QUALIFIED_NAME = (r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                  r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


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
    RULES: ClassVar[tuple[Rule, ...]] = (_ONE_VALUE,)

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


DEFAULT_UID = 65532  # the non-root UID a deploy target runs as unless its spec says otherwise
MAX_ID = 2_147_483_647


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeploySecurityContext:
    run_as_user: int = field(
        "UID the container runs as. Images without a USER (most images) would run as root, "
        "which the restricted Pod Security Standard refuses: readygate runs them as this UID. "
        "Set it to the UID the image expects.", default=DEFAULT_UID, minimum=1, maximum=MAX_ID)
    run_as_group: int = field("GID the container runs as.", default=DEFAULT_UID, minimum=0,
                              maximum=MAX_ID)
    fs_group: int = field("Group that owns the pod's volumes (so the UID above can write "
                          "them).", default=DEFAULT_UID, minimum=0, maximum=MAX_ID)
    read_only_root_filesystem: bool = field(
        "Mount the image's filesystem read-only (/tmp is always a writable emptyDir); false "
        "for images that write elsewhere.", default=True)


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
    security_context: DeploySecurityContext = field(
        "Who the container runs as, within the restricted Pod Security Standard (never root, "
        "no privilege escalation, no capabilities).", default_factory=DeploySecurityContext)


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
    RULES: ClassVar[tuple[Rule, ...]] = (Rule(
        "[has(self.deploy), has(self.workloadRef), has(self.service), has(self.url)]"
        ".filter(x, x).size() == 1",
        "set exactly one of deploy, workloadRef, service or url"),)

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
    unschedulable_grace: float = field(
        "How long a pod may stay Unschedulable before the check fails with the scheduler's "
        "reason; raise it where a cluster autoscaler adds nodes on demand. A pod waiting for "
        "its PersistentVolumeClaims to be bound is given the whole budget (`within`).",
        default=20.0, duration=True, minimum=0.0, maximum=MAX_BUDGET)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Header:
    RULES: ClassVar[tuple[Rule, ...]] = (
        _ONE_VALUE,
        Rule("!(self.name.lowerAscii() in " + str(list(RESERVED_HEADERS)) + ")",
             "this header is set by readygate; remove it",
             message_expression="self.name + ' is set by readygate (from the target and the "
                                "body); remove it'", field_path=".name"),
    )

    name: str = field("Header name.", pattern=HEADER_NAME, max_length=256)
    value: str | None = field("Literal header value (visible ASCII, spaces and tabs).",
                              default=None, max_length=8192, pattern=HEADER_VALUE)
    value_from: ValueFrom | None = field(
        "Take the value from a Secret; it never appears in status, events or logs.",
        default=None)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoadRequest:
    RULES: ClassVar[tuple[Rule, ...]] = (Rule(
        "!has(self.expectStatus) || self.expectStatus.all(s, s >= 100 && s <= 599)",
        "expectStatus holds HTTP statuses (100-599)", field_path=".expectStatus"),)

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
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule("self.start <= self.max", "start is above max", field_path=".start"),)

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
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule("!(has(self.rate) && has(self.users))",
             "set rate (open model) or users (closed model), not both"),
        Rule("self.model != 'open' || !has(self.users)",
             "users is only for model closed; the open model takes rate", field_path=".users"),
        Rule("self.model != 'open' || has(self.rate) || has(self.stress) || "
             "(has(self.stages) && size(self.stages) > 0)",
             "the open model needs rate, stages or stress"),
        Rule("self.model != 'closed' || !has(self.rate)",
             "rate is only for model open; the closed model takes users",
             field_path=".rate"),
        Rule("self.model != 'closed' || !has(self.stress)", "stress is only for model open",
             field_path=".stress"),
        Rule("self.model != 'closed' || has(self.users) || "
             "(has(self.stages) && size(self.stages) > 0)",
             "the closed model needs users or stages"),
        Rule("self.model != 'closed' || !has(self.stages) || "
             "self.stages.all(s, double(int(s.target)) == s.target)",
             "in the closed model a stage's target is users: a whole number",
             field_path=".stages"),
        Rule("!has(self.warnOnly) || self.warnOnly.all(n, has(self.thresholds) && ("
             "(n == 'p50' && has(self.thresholds.p50)) || "
             "(n == 'p95' && has(self.thresholds.p95)) || "
             "(n == 'p99' && has(self.thresholds.p99)) || "
             "(n == 'p999' && has(self.thresholds.p999)) || "
             "(n == 'maxErrorRate' && has(self.thresholds.maxErrorRate)) || "
             "(n == 'minThroughput' && has(self.thresholds.minThroughput))))",
             "warnOnly names a threshold that thresholds does not set",
             field_path=".warnOnly"),
    )

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
    max_rate: float = field(
        "Closed model: the most requests per second the users send together; they are paced to "
        "it, and it is what the check reserves of the operator's global rate cap.",
        default=1000.0, minimum=0.1, maximum=MAX_RATE)
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
    warn_only: tuple[str, ...] = field(
        "Thresholds whose breach is a warning (verdict Conditional) instead of a failure.",
        default=(), max_items=6, item_enum=THRESHOLD_NAMES)



MIN_OBJECTIVE = 0.5  # below it is a typo (0.999% for 99.9%) more often than an objective
MAX_OBJECTIVE = 0.999999  # 100% leaves no error budget to consume


@dataclasses.dataclass(frozen=True, kw_only=True)
class AvailabilityCheck:
    RULES: ClassVar[tuple[Rule, ...]] = (Rule(
        "!has(self.window) || duration(self.window).getMilliseconds() % 1000 == 0",
        "window is whole seconds (the load counts its requests per second), such as 10s or 1m",
        field_path=".window"),)

    objective: float = field(
        "Smallest acceptable fraction of successful requests over the load, and in every "
        "window of it: 99.9% allows 1 failed request in 1000 (the error budget).",
        percent=True, minimum=MIN_OBJECTIVE, maximum=MAX_OBJECTIVE)
    window: float = field(
        "The load is cut into windows this long (from its start; the last one may be "
        "shorter) and each window's fraction of successful requests is judged too.",
        default=10.0, duration=True, minimum=1.0, maximum=MAX_LOAD_DURATION)
    worst_window: str = field(
        "When the whole load meets the objective but a window does not: fail the check, warn "
        "(verdict Conditional), or ignore (only reported).", default="Warn", enum=POLICIES)
    min_requests: int = field(
        "Fewer requests over the load than this makes the result Inconclusive, never a pass.",
        default=100, minimum=1, maximum=100_000_000)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResilienceCheck:
    kill_pods: int = field("Target pods deleted at once (the oldest first).", default=1,
                           minimum=1, maximum=MAX_REPLICAS)
    after: float = field(
        "When to delete them: this long after the load started (or after readiness when there "
        "is no load).", default=5.0, duration=True, minimum=0.0, maximum=MAX_LOAD_DURATION)
    max_recovery: float = field(
        "Longest acceptable time from the deletion until every replica is Ready again and the "
        "service answers its readiness path.", default=300.0, duration=True, minimum=1.0,
        maximum=MAX_BUDGET)
    max_error_rate: float | None = field(
        "Error budget: largest acceptable fraction of failed requests between the deletion and "
        "the recovery. Unset: errors are reported, not judged.", default=None, minimum=0.0,
        maximum=1.0)
    max_downtime: float | None = field(
        "Longest acceptable downtime: the seconds between the deletion and the recovery in "
        "which no request succeeded although requests were sent. Unset: reported, not judged.",
        default=None, duration=True, minimum=0.0, maximum=MAX_BUDGET)
    grace_period: float = field(
        "Grace period of the deletions: 1s kills the containers almost at once, like a crash; "
        "longer lets them shut down gracefully.", default=1.0, duration=True, minimum=1.0,
        maximum=300.0)
    probe_rate: float = field(
        "Requests per second sent to the readiness path during the disruption when the check "
        "has no load.", default=10.0, minimum=1.0, maximum=100.0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class HttpCall:
    method: str = field("HTTP method.", default="GET",
                        enum=("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"))
    path: str = field("Path (and query); {token} is replaced by the run's random token.",
                      pattern=HTTP_PATH, max_length=2048)
    headers: tuple[Header, ...] = field("Request headers.", default=(), max_items=64)
    body: str | None = field("Request body; {token} is replaced by the run's random token.",
                             default=None, max_length=65_536)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RestartRef:
    kind: str = field("Kind of the workload to restart.", default="Deployment",
                      enum=("Deployment", "StatefulSet"))
    name: str = field("Its name, in the check's namespace.", pattern=DNS_SUBDOMAIN,
                      max_length=253)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PersistenceCheck:
    RULES: ClassVar[tuple[Rule, ...]] = (Rule(
        "self.write.path.contains('{token}') || "
        "(has(self.write.body) && self.write.body.contains('{token}'))",
        "put {token} in write's path or body, so that the value read back can only come from "
        "this run's write", field_path=".write"),)

    write: HttpCall = field("The request that stores a value (must answer 2xx).")
    read_back: HttpCall = field(
        "The request that reads it back after the restart; it must answer 2xx with the token "
        "in its body.")
    restart: RestartRef | None = field(
        "What to restart between the two: a dependency such as the database. Unset: the "
        "target's own workload. Its pods are deleted and recreated by their controller.",
        default=None)
    within: float = field("Time budget for the restarted workload to be Ready again.",
                          default=120.0, duration=True, minimum=1.0, maximum=MAX_BUDGET)


@dataclasses.dataclass(frozen=True, kw_only=True)
class StabilityCheck:
    max_memory_growth: str | None = field(
        "Largest acceptable growth of a container's working-set memory during the load, as a "
        "quantity (64Mi). Unset: reported, not judged.", default=None, pattern=QUANTITY,
        max_length=32)
    max_restarts: int = field("Container restarts tolerated during the load.", default=0,
                              minimum=0, maximum=100)
    sample_every: float = field("Time between memory samples.", default=5.0, duration=True,
                                minimum=1.0, maximum=300.0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SecurityCheck:
    require_auth: tuple[str, ...] = field(
        "Paths that must refuse a request without credentials (401 or 403).", default=(),
        max_items=64, item_pattern=HTTP_PATH)
    banners: str = field(
        "Responses that disclose the server software and version (Server: gunicorn/20.1.0, "
        "X-Powered-By): fail the check, warn, or ignore.", default="Warn", enum=POLICIES)
    stack_traces: str = field(
        "Error responses that contain a stack trace: fail the check, warn, or ignore.",
        default="Fail", enum=POLICIES)
    probe_paths: tuple[str, ...] = field(
        "Paths requested to look at responses and errors; a path that does not exist is "
        "always added.", default=("/",), max_items=32, item_pattern=HTTP_PATH)
    samples: int = field("Requests sent to each probe path.", default=20, minimum=1,
                         maximum=500)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ManifestCheck:
    """Each finding about the target's pod template: fail the check, warn, or ignore."""

    readiness_probe: str = field(
        "A container without a readinessProbe: its pod counts as Ready as soon as it starts "
        "and takes traffic before it can serve.", default="Fail", enum=POLICIES)
    liveness_probe: str = field(
        "A container without a livenessProbe: a process that hangs is never restarted.",
        default="Warn", enum=POLICIES)
    probes_answered: str = field(
        "An httpGet readiness or liveness probe on the port readygate probed whose path did "
        "not answer 2xx in this run, or is not a path the run probed (readiness.path, "
        "liveness.path): the kubelet would judge the pods by what readygate did not verify.",
        default="Warn", enum=POLICIES)
    resources: str = field(
        "A container without requests.cpu, requests.memory or limits.memory: it is scheduled "
        "without the room it needs and can take a node's memory.", default="Fail",
        enum=POLICIES)
    run_as_non_root: str = field(
        "A container (or init container) that may run as root: runAsUser 0, or neither "
        "runAsNonRoot: true nor a non-zero runAsUser in its or the pod's securityContext.",
        default="Fail", enum=POLICIES)
    read_only_root_filesystem: str = field(
        "A container (or init container) whose root filesystem is writable "
        "(readOnlyRootFilesystem not true).", default="Warn", enum=POLICIES)
    allow_privilege_escalation: str = field(
        "A container (or init container) without allowPrivilegeEscalation: false.",
        default="Fail", enum=POLICIES)
    capabilities: str = field(
        "A container (or init container) that does not drop ALL capabilities or adds one "
        "other than NET_BIND_SERVICE.", default="Warn", enum=POLICIES)
    privileged: str = field("A privileged container (or init container).", default="Fail",
                            enum=POLICIES)
    host_namespaces: str = field(
        "A pod that shares the node's network, PID or IPC namespace (hostNetwork, hostPID, "
        "hostIPC).", default="Fail", enum=POLICIES)
    image_tag: str = field(
        "An image with no tag or the tag latest, and no digest: what runs changes with every "
        "push.", default="Fail", enum=POLICIES)
    image_digest: str = field(
        "An image pinned by a tag but not by digest (@sha256:...): a tag can be moved to other "
        "contents.", default="Ignore", enum=POLICIES)
    containers: tuple[str, ...] = field(
        "Judge only these containers and init containers, by name; when empty, all of them.",
        default=(), max_items=64, item_pattern=DNS_LABEL)


# spec.metrics: what may be asked of a target's own numbers (api.metricexpr parses the series
# selectors, rule expressions and PromQL templates; parse checks them)
MAX_METRIC_ITEMS = 16
MAX_METRIC_VALUE = 1e18
COMPARISONS = (">", ">=", "<", "<=", "==", "!=")
SERIES = r"^[a-zA-Z_:][a-zA-Z0-9_:]*[ \t]*(\{[^\n]*\})?[ \t]*$"
SERIES_EXPR = r"^[ \t]*[a-zA-Z_:][^\n]*$"


def _unique_names(field_name: str) -> Rule:
    return Rule(f"!has(self.{field_name}) || self.{field_name}.all(a, "
                f"self.{field_name}.exists_one(b, b.name == a.name))",
                f"the names of {field_name} must be unique", field_path=f".{field_name}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class MetricsGrowth:
    RULES: ClassVar[tuple[Rule, ...]] = (Rule(
        "has(self.max) || has(self.maxPerMinute)",
        "set max, maxPerMinute or both: a growth without a bound judges nothing"),)

    series: str = field(
        "The series whose growth is bounded: a metric name with optional exact label matchers "
        "(process_open_fds, process_resident_memory_bytes, "
        "db_pool_connections{pool=\"orders\"}); a pod's value is the sum of the samples it "
        "matches.", pattern=SERIES, max_length=1024)
    max: float | None = field(
        "Largest acceptable growth of a pod's value (last minus first scrape; bytes for a "
        "*_bytes series).", default=None, minimum=0.0, maximum=MAX_METRIC_VALUE)
    max_per_minute: float | None = field(
        "Largest acceptable growth per minute between a pod's first and last scrape.",
        default=None, minimum=0.0, maximum=MAX_METRIC_VALUE)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MetricsRule:
    name: str = field("Name of the rule, unique among rules and promql (it keys the measured "
                      "value).", pattern=DNS_LABEL, max_length=63)
    expr: str = field(
        "A series, or the ratio of two (cache_hits_total / cache_lookups_total, "
        "http_responses_total{code=\"500\"} / http_responses_total), with exact label matchers "
        "(= or !=); each series is the sum of the samples it matches. A ratio with a zero or "
        "missing denominator is no data.", pattern=SERIES_EXPR, max_length=2048)
    op: str = field("How the value compares with value: it must hold.", enum=COMPARISONS)
    value: float = field("The bound.", minimum=-MAX_METRIC_VALUE, maximum=MAX_METRIC_VALUE)
    sample: str = field(
        "last: the values of the last scrape (gauges); increase: what each series gained "
        "between the first and the last scrape, counter resets included (counters: the hit "
        "ratio over the check, not since the process started).", default="last",
        enum=("last", "increase"))
    scope: str = field(
        "pod: every pod must satisfy the rule on its own; target: the series of all pods are "
        "added up first (the ratio of the whole service).", default="pod",
        enum=("pod", "target"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class PromQLRule:
    name: str = field("Name of the query, unique among rules and promql (it keys the measured "
                      "value).", pattern=DNS_LABEL, max_length=63)
    query: str = field(
        "An instant PromQL query sent to the operator's Prometheus (READYGATE_PROMETHEUS_URL) "
        "at the end of the run. Inside quoted label values {namespace}, {name} (the target "
        "workload, else the check) and {pod} (the query is then asked once per pod) are "
        "replaced, escaped; no other placeholder exists. Every selector is limited to the "
        "check's namespace (the operator adds namespace=\"<its namespace>\"; a selector that "
        "names another namespace is refused, and so is info()). Every series of the "
        "answer must satisfy op and value; no series is no data (Inconclusive), never a pass.",
        max_length=4096)
    op: str = field("How each value compares with value: it must hold.", enum=COMPARISONS)
    value: float = field("The bound.", minimum=-MAX_METRIC_VALUE, maximum=MAX_METRIC_VALUE)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MetricsCheck:
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule("(has(self.growth) && size(self.growth) > 0) || (has(self.rules) && "
             "size(self.rules) > 0) || (has(self.promql) && size(self.promql) > 0)",
             "name at least one growth bound, rule or promql query"),
        _unique_names("rules"),
        _unique_names("promql"),
    )

    path: str = field("Path of the pods' Prometheus endpoint (text exposition format).",
                      default="/metrics", pattern=HTTP_PATH, max_length=1024)
    port: int | None = field(
        "Port of the pods' metrics endpoint; defaults to the port the checks probe. Not for a "
        "url target, whose metrics are read at its own URL and path.", default=None, minimum=1,
        maximum=65535)
    scrape_every: float = field(
        "Time between scrapes of each pod: once before the load, then while it runs, and once "
        "more settle after it.", default=5.0, duration=True, minimum=1.0, maximum=300.0)
    settle: float = field(
        "Wait after the load before the last scrape, so what the load held (connections) is "
        "released and what stays is a leak.", default=2.0, duration=True, minimum=0.0,
        maximum=300.0)
    observe_for: float = field(
        "Without a load: how long the pods are scraped.", default=30.0, duration=True,
        minimum=1.0, maximum=MAX_BUDGET)
    timeout: float = field("Timeout of one scrape or one PromQL query.", default=5.0,
                           duration=True, minimum=0.1, maximum=60.0)
    growth: tuple[MetricsGrowth, ...] = field(
        "Bounds on how much a series may grow on each pod from the first scrape to the last.",
        default=(), max_items=MAX_METRIC_ITEMS)
    rules: tuple[MetricsRule, ...] = field(
        "Thresholds and ratios over the scraped series (a cache hit ratio).", default=(),
        max_items=MAX_METRIC_ITEMS)
    promql: tuple[PromQLRule, ...] = field(
        "PromQL queries against the operator's Prometheus, judged as Argo Rollouts, Flagger "
        "and Keptn judge; without READYGATE_PROMETHEUS_URL they are Inconclusive.",
        default=(), max_items=MAX_METRIC_ITEMS)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Gate:
    pod_readiness_gate: str = field(
        "Condition type of the pod readiness gate this check sets on the target's pods, such "
        "as readygate.io/orders-api. Pods that declare it in spec.readinessGates stay un-Ready "
        "until the operator has verified them; for a deploy target the gate is added to the "
        "pod template.", pattern=QUALIFIED_NAME, max_length=316)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Schedule:
    every: float = field("Run the checks again this long after each verdict.", duration=True,
                         minimum=60.0, maximum=7 * 24 * 3600.0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CheckSpec:
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule("!has(self.resilience) || !has(self.target.url)",
             "resilience needs a target with pods (deploy, workloadRef or service); a url "
             "target has none to delete", field_path=".resilience"),
        Rule("!has(self.stability) || has(self.load)",
             "stability needs load (memory and restarts are watched while the load runs)",
             field_path=".stability"),
        Rule("!has(self.stability) || !has(self.target.url)",
             "stability needs a target with pods (deploy, workloadRef or service)",
             field_path=".stability"),
        Rule("!has(self.persistence) || !has(self.target.url) || has(self.persistence.restart)",
             "a url target has no workload to restart: name the Deployment or StatefulSet in "
             "persistence.restart", field_path=".persistence"),
        Rule("!has(self.manifest) || !has(self.target.url)",
             "manifest judges a pod template: it needs a deploy, workloadRef or service "
             "target; a url target has none", field_path=".manifest"),
        Rule("!has(self.metrics) || !has(self.target.url) || !has(self.metrics.port)",
             "metrics.port is a pod's port; a url target's metrics are read at its own URL and "
             "metrics.path", field_path=".metrics.port"),
        Rule("!has(self.gate) || has(self.target.deploy) || has(self.target.workloadRef)",
             "pod readiness gates need a deploy or workloadRef target", field_path=".gate"),
        Rule("!has(self.resilience) || !has(self.load) || has(self.load.stress) || "
             "duration(self.resilience.after) < ((has(self.load.stages) && "
             "size(self.load.stages) > 0) ? self.load.stages.map(s, duration(s.duration)).sum()"
             " : duration(self.load.duration))",
             "resilience.after is not within the load: pods are deleted while the load runs",
             field_path=".resilience.after"),
        Rule("!has(self.availability) || has(self.load)",
             "availability is measured over the load: add spec.load (a soak is a long load at "
             "a low rate)", field_path=".availability"),
        Rule("!has(self.availability) || !has(self.load) || !has(self.load.stress)",
             "availability is not judged over a stress run, which raises the rate until the "
             "service breaks: give the load a rate or stages", field_path=".availability"),
    )

    target: Target = field("What to verify: exactly one of deploy, workloadRef, service, url.")
    liveness: LivenessCheck = field("Liveness observed over a window after readiness.",
                                    default_factory=LivenessCheck)
    readiness: ReadinessCheckSpec = field("Readiness and its time budget.",
                                          default_factory=ReadinessCheckSpec)
    load: LoadCheck | None = field("Load to apply after readiness, and its thresholds.",
                                   default=None)
    availability: AvailabilityCheck | None = field(
        "The fraction of successful requests over the load, overall and per window, against "
        "an objective such as 99.9%, with the error budget consumed; needs spec.load.",
        default=None)
    resilience: ResilienceCheck | None = field(
        "Delete target pods (during the load, when there is one) and measure the recovery.",
        default=None)
    persistence: PersistenceCheck | None = field(
        "Write through the service, restart the workload or a dependency, read it back.",
        default=None)
    stability: StabilityCheck | None = field(
        "Watch container memory and restarts while the load runs.", default=None)
    metrics: MetricsCheck | None = field(
        "Judge the service by its own numbers during and after the load: growth bounds and "
        "rules over its pods' Prometheus endpoint, and PromQL against the operator's "
        "Prometheus.", default=None)
    security: SecurityCheck | None = field(
        "Probe for unauthenticated access, disclosed server versions and leaked stack traces.",
        default=None)
    manifest: ManifestCheck | None = field(
        "Judge the target's pod template statically (probes, resources, who it runs as, image "
        "pinning), each finding Fail, Warn or Ignore; needs a deploy, workloadRef or service "
        "target.", default=None)
    gate: Gate | None = field("Pod readiness gate set by this check.", default=None)
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
    "AvailabilityCheck",
    "CheckSpec",
    "DeployTarget",
    "EnvVar",
    "Gate",
    "Header",
    "HttpCall",
    "LivenessCheck",
    "LoadCheck",
    "LoadRequest",
    "LoadStage",
    "LoadStress",
    "LoadThresholds",
    "ManifestCheck",
    "MetricsCheck",
    "MetricsGrowth",
    "MetricsRule",
    "PersistenceCheck",
    "PromQLRule",
    "ReadinessCheckSpec",
    "ResilienceCheck",
    "Resources",
    "RestartRef",
    "Schedule",
    "SecretKeyRef",
    "SecurityCheck",
    "ServiceRef",
    "StabilityCheck",
    "Target",
    "ValueFrom",
    "WorkloadRef",
    "target_kind",
]
