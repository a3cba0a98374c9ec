"""Judging a pod template statically, as kube-score and Polaris do: probes declared (and pointing
at paths that answered in this run), resources set, who the containers run as, read-only root
filesystems, no privilege escalation, capabilities, host namespaces, images pinned. Pure.

The acting side (``run.stages.manifest``) reads the template (a workload's
``spec.template.spec``, or for a service target the spec of a pod behind it) and says what the
run's own probes found (``Probed``); ``findings`` lists what is wrong, each with the container,
what, why it matters and how to fix it, and ``judge_manifest`` applies the spec's policy per
finding as ``judge.security`` does: ``Fail`` fails the check, ``Warn`` makes the verdict
Conditional, ``Ignore`` reports nothing. Regular containers are judged for everything; init
containers (sidecars included) for who they run as, their privileges and their image.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from readygate.api.fields import json_name, meta_of
from readygate.api.results import CheckResult
from readygate.api.spec import POLICIES, ManifestCheck

EVIDENCE_LIMIT = 20
MESSAGE_FINDINGS = 5  # findings named in the message; the rest are in the evidence
WARNING_LIMIT = 10
ALLOWED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})  # what the restricted standard allows
POD = "pod"  # the "container" of a finding about the pod as a whole

Obj = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Finding:
    rule: str  # the spec field that sets its policy (readinessProbe, imageTag, ...)
    container: str  # the container's name, or POD
    what: str
    why: str
    fix: str

    def short(self) -> str:
        return f"{self.container}: {self.what} ({self.rule})"

    def describe(self, policy: str) -> str:
        return f"{policy} {self.rule} {self.container}: {self.what}; {self.why}; fix: {self.fix}"


@dataclasses.dataclass(frozen=True)
class Probed:
    """What the run's own probes found, to compare the declared probes with: the pods' port
    readygate probed (a number or a port name; None when unknown), and for readiness and
    liveness the path probed and whether it answered 2xx (None: not probed in this run)."""

    port: int | str | None
    readiness: tuple[str, bool] | None = None
    liveness: tuple[str, bool] | None = None

    @property
    def answered(self) -> frozenset[str]:
        return frozenset(x[0] for x in (self.readiness, self.liveness) if x is not None and x[1])

    @property
    def failed(self) -> frozenset[str]:
        return frozenset(x[0] for x in (self.readiness, self.liveness)
                         if x is not None and not x[1]) - self.answered

    def verified(self, key: str) -> str | None:
        """The path readygate saw answer for this kind of probe (readinessProbe or
        livenessProbe), to suggest when the probe is missing."""
        mine = self.readiness if key == "readinessProbe" else self.liveness
        return mine[0] if mine is not None and mine[1] else None


def policies(spec: ManifestCheck) -> dict[str, str]:
    """Each finding's rule (its spec field's JSON name) and the spec's policy for it."""
    return {json_name(f): getattr(spec, f.name) for f in dataclasses.fields(spec)
            if meta_of(f).enum == POLICIES}


def _containers(pod_spec: Obj, key: str) -> list[Obj]:
    return [c for c in pod_spec.get(key) or [] if isinstance(c, Mapping)]


def container_names(pod_spec: Obj) -> list[str]:
    return [str(c.get("name")) for key in ("containers", "initContainers")
            for c in _containers(pod_spec, key)]


# -- images ----------------------------------------------------------------------------------
def image_parts(image: str) -> tuple[str | None, str | None]:
    """(tag, digest) of an image reference; either is None when absent.
    ``registry:5000/app`` has no tag: a colon before the last slash is a port."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else None
    return tag or None, digest or None


def _image_findings(name: str, image: str) -> list[Finding]:
    tag, digest = image_parts(image)
    if digest is not None:
        return []
    if tag is None or tag == "latest":
        what = f"image {image} has no tag" if tag is None else f"image {image} is tagged latest"
        return [Finding("imageTag", name, what,
                        "what runs changes with every push, and a rollback cannot name the "
                        "version that worked",
                        "use a version tag, or pin the digest (image@sha256:...)")]
    return [Finding("imageDigest", name, f"image {image} is pinned by tag, not by digest",
                    "a tag can be moved to other contents, so a restarted pod may run other "
                    "code", "pin the digest (image@sha256:...)")]


# -- who it runs as, and with what privileges --------------------------------------------------
def _capability(name: Any) -> str:
    text = str(name).upper()
    return text[4:] if text.startswith("CAP_") else text


def _security_findings(c: Obj, pod_sc: Obj) -> list[Finding]:
    name = str(c.get("name"))
    sc: Obj = c.get("securityContext") or {}
    out: list[Finding] = []
    uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
    non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    if uid == 0:
        refused = " (with runAsNonRoot: true the kubelet refuses to start it)" if non_root else ""
        out.append(Finding("runAsNonRoot", name, f"runs as root (runAsUser: 0){refused}",
                           "a process that breaks out of the container is root on the node",
                           "set runAsUser to the image's non-root UID and runAsNonRoot: true"))
    elif uid is None and non_root is not True:
        out.append(Finding("runAsNonRoot", name,
                           "may run as root: neither runAsNonRoot: true nor runAsUser is set, "
                           "so the image's USER decides",
                           "most images have no USER and run as root",
                           "set runAsNonRoot: true and a non-zero runAsUser (pod or container "
                           "securityContext)"))
    if sc.get("privileged") is True:
        out.append(Finding("privileged", name, "runs privileged",
                           "a privileged container has every device and capability of the "
                           "node", "remove securityContext.privileged"))
    if sc.get("allowPrivilegeEscalation") is not False:
        out.append(Finding("allowPrivilegeEscalation", name,
                           "does not set allowPrivilegeEscalation: false",
                           "it defaults to true: a setuid binary can gain more privileges "
                           "than the process started with",
                           "set securityContext.allowPrivilegeEscalation: false"))
    if sc.get("readOnlyRootFilesystem") is not True:
        out.append(Finding("readOnlyRootFilesystem", name,
                           "has a writable root filesystem",
                           "an intruder can change the container's programs and drop tools",
                           "set securityContext.readOnlyRootFilesystem: true and mount an "
                           "emptyDir where it writes (/tmp)"))
    caps: Obj = sc.get("capabilities") or {}
    added = sorted({_capability(x) for x in caps.get("add") or []} - ALLOWED_CAPABILITIES)
    dropped = {_capability(x) for x in caps.get("drop") or []}
    problems = []
    if added:
        problems.append(f"adds {', '.join(added)}")
    if "ALL" not in dropped:
        problems.append("does not drop ALL capabilities")
    if problems:
        out.append(Finding("capabilities", name, " and ".join(problems),
                           "each capability is a privilege the process keeps if compromised",
                           "set capabilities.drop: [ALL] and add only NET_BIND_SERVICE if "
                           "needed"))
    return out


def _pod_findings(pod_spec: Obj) -> list[Finding]:
    shared = [k for k in ("hostNetwork", "hostPID", "hostIPC") if pod_spec.get(k) is True]
    if not shared:
        return []
    return [Finding("hostNamespaces", POD, f"shares the node's namespaces ({', '.join(shared)})",
                    "the pod sees (and can reach) the node's network, processes or IPC",
                    f"remove {', '.join(shared)}")]


# -- probes and resources --------------------------------------------------------------------
def _port_number(c: Obj, port: Any) -> Any:
    """A port as a number when the container names it; else as given."""
    if isinstance(port, str) and not port.isdigit():
        for p in c.get("ports") or []:
            if p.get("name") == port and p.get("containerPort"):
                return int(p["containerPort"])
        return port
    return int(port) if isinstance(port, str) else port


def _probe_findings(c: Obj, probed: Probed | None) -> tuple[list[Finding], list[str]]:
    """Missing probes, and declared httpGet probes compared with what answered this run.
    Returns (findings, what was confirmed)."""
    name = str(c.get("name"))
    out: list[Finding] = []
    confirmed: list[str] = []
    for key, rule, why in (
            ("readinessProbe", "readinessProbe",
             "without it the pod counts as Ready as soon as it starts, so traffic reaches it "
             "before it can serve and during a stall"),
            ("livenessProbe", "livenessProbe",
             "without it a process that hangs (deadlock, stuck event loop) is never restarted")):
        probe = c.get(key)
        if not isinstance(probe, Mapping):
            path = probed.verified(key) if probed is not None else None
            fix = (f"add {key}.httpGet on {path}, which answered 2xx in this run" if path
                   else f"add {key}.httpGet on a path that answers 2xx while the service is "
                        "fine")
            out.append(Finding(rule, name, f"no {key}", why, fix))
            continue
        get = probe.get("httpGet")
        if not isinstance(get, Mapping) or probed is None:
            continue
        if not (probed.answered or probed.failed):
            continue
        path = str(get.get("path") or "/")
        port = _port_number(c, get.get("port"))
        ours = _port_number(c, probed.port)
        if probed.port is not None and port != ours:
            continue  # another port than the one readygate probed: nothing to compare with
        probe_text = f"{key} GET {path}"
        if path in probed.answered:
            confirmed.append(f"{name}: {probe_text} answered 2xx in this run")
        elif path in probed.failed:
            out.append(Finding("probesAnswered", name,
                               f"{probe_text} did not answer 2xx in this run",
                               "the kubelet judges the pod by a path that failed",
                               f"point {key} at a path that answers 2xx when the service is "
                               "fine"))
        else:
            verified = ", ".join(sorted(probed.answered)) or "none"
            out.append(Finding("probesAnswered", name,
                               f"{probe_text} is not a path this run probed (answered: "
                               f"{verified})",
                               "the kubelet judges the pod by a path readygate did not verify",
                               f"point {key} at a verified path, or set readiness.path or "
                               "liveness.path to it"))
    return out, confirmed


def _resource_findings(c: Obj) -> list[Finding]:
    res: Obj = c.get("resources") or {}
    requests: Obj = res.get("requests") or {}
    limits: Obj = res.get("limits") or {}
    missing = [f"requests.{k}" for k in ("cpu", "memory") if k not in requests]
    if "memory" not in limits:
        missing.append("limits.memory")
    if not missing:
        return []
    return [Finding("resources", str(c.get("name")), f"no {', '.join(missing)}",
                    "without requests it is scheduled without the room it needs and evicted "
                    "first; without a memory limit one leak takes the node's memory",
                    "set resources.requests.cpu, requests.memory and limits.memory")]


def findings(pod_spec: Obj, probed: Probed | None = None,
             only: Iterable[str] = ()) -> tuple[list[Finding], list[str]]:
    """What is wrong with a pod spec (a template's ``spec``), in container order, and what the
    run confirmed of its probes. ``only``: the container names to judge (empty: all)."""
    wanted = set(only)
    pod_sc: Obj = pod_spec.get("securityContext") or {}
    out = _pod_findings(pod_spec)
    confirmed: list[str] = []
    for key in ("containers", "initContainers"):
        for c in _containers(pod_spec, key):
            if wanted and c.get("name") not in wanted:
                continue
            if key == "containers":
                probes, ok = _probe_findings(c, probed)
                out += probes
                confirmed += ok
                out += _resource_findings(c)
            out += _security_findings(c, pod_sc)
            out += _image_findings(str(c.get("name")), str(c.get("image") or ""))
    return out, confirmed


def judge_manifest(spec: ManifestCheck, pod_spec: Obj, *, source: str,
                   probed: Probed | None, started_at: str, finished_at: str) -> CheckResult:
    """The manifest check's result for ``pod_spec``, which is ``source`` (``Deployment
    orders-api's pod template``), with the spec's policy applied to each finding."""
    names = container_names(pod_spec)
    unknown = [n for n in spec.containers if n not in names]
    if unknown:
        return CheckResult(
            result="Error", started_at=started_at, finished_at=finished_at,
            message=f"spec.manifest.containers names {', '.join(unknown)}, which {source} "
                    f"does not have (it has {', '.join(names) or 'no containers'})")
    found, confirmed = findings(pod_spec, probed, spec.containers)
    policy = policies(spec)
    failed = [f for f in found if policy[f.rule] == "Fail"]
    warned = [f for f in found if policy[f.rule] == "Warn"]
    ignored = len(found) - len(failed) - len(warned)
    judged = [n for n in names if not spec.containers or n in spec.containers]
    measured = {
        "containers": float(len(judged)),
        "findings": float(len(found)),
        "failedFindings": float(len(failed)),
        "warnedFindings": float(len(warned)),
        "ignoredFindings": float(ignored),
    }
    evidence = [f"judged {source}: {', '.join(judged) or 'no containers'}",
                *(f.describe("Fail") for f in failed), *(f.describe("Warn") for f in warned),
                *confirmed][:EVIDENCE_LIMIT]
    warnings = _listed([f.short() for f in warned], WARNING_LIMIT)
    if failed:
        more = f"; {len(warned)} warning(s)" if warned else ""
        return CheckResult(
            result="Failed", started_at=started_at, finished_at=finished_at, measured=measured,
            message=f"{len(failed)} finding(s) in {source} fail the check: "
                    + "; ".join(_listed([f.short() for f in failed], MESSAGE_FINDINGS)) + more,
            evidence=tuple(evidence), warnings=tuple(warnings))
    tail = f"; {len(warned)} warning(s)" if warned else ""
    if ignored:
        tail += f"; {ignored} finding(s) ignored by the spec"
    return CheckResult(
        result="Passed", started_at=started_at, finished_at=finished_at, measured=measured,
        message=f"{source}: {len(judged)} container(s) judged, no finding set to Fail{tail}",
        evidence=tuple(evidence), warnings=tuple(warnings))


def _listed(items: Sequence[str], limit: int) -> list[str]:
    """At most ``limit`` items, the last one saying how many more there are."""
    if len(items) <= limit:
        return list(items)
    return [*items[:limit - 1], f"and {len(items) - limit + 1} more (see evidence)"]
