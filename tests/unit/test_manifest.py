"""The manifest check: the pure judge of a pod template (a table of templates -> findings), the
policy per finding, and its spec (parse, schema, registry, score)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from readygate.api import checks, schema
from readygate.api.parse import SpecError, parse_spec
from readygate.api.results import EVIDENCE_CHARS, MESSAGE_CHARS, WARNING_ITEMS, CheckResult
from readygate.api.spec import POLICIES, ManifestCheck
from readygate.judge.manifest import (
    POD,
    Probed,
    findings,
    image_parts,
    judge_manifest,
    policies,
)
from readygate.judge.verdict import decide
from readygate.kube import manifests

T = {"started_at": "2025-01-01T00:00:00Z", "finished_at": "2025-01-01T00:00:01Z"}
DIGEST = "sha256:" + "ab" * 32
RESTRICTED = {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
              "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
GOOD_CONTAINER: dict[str, Any] = {
    "name": "app", "image": f"registry.example/app:1.2@{DIGEST}",
    "ports": [{"name": "http", "containerPort": 8080}],
    "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
    "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}},
    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
    "securityContext": RESTRICTED,
}
ANSWERED = Probed(port="http", readiness=("/ready", True), liveness=("/health", True))


def pod(*containers: dict[str, Any], init: tuple[dict[str, Any], ...] = (),
        **spec: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"containers": list(containers), **spec}
    if init:
        out["initContainers"] = list(init)
    return out


def good(**change: Any) -> dict[str, Any]:
    """The good container with keys replaced (None: removed); ``sc`` changes its
    securityContext the same way."""
    c = copy.deepcopy(GOOD_CONTAINER)
    for key, value in change.pop("sc", {}).items():
        if value is None:
            c["securityContext"].pop(key, None)
        else:
            c["securityContext"][key] = value
    for key, value in change.items():
        if value is None:
            c.pop(key, None)
        else:
            c[key] = value
    return c


def found(pod_spec: dict[str, Any], probed: Probed | None = ANSWERED) -> set[tuple[str, str]]:
    return {(f.rule, f.container) for f in findings(pod_spec, probed)[0]}


# -- the findings of a template -----------------------------------------------------------------
@pytest.mark.parametrize(("pod_spec", "expected"), [
    (pod(good()), set()),
    # a bare container: everything a template can leave out
    (pod({"name": "app", "image": "nginx"}),
     {("readinessProbe", "app"), ("livenessProbe", "app"), ("resources", "app"),
      ("runAsNonRoot", "app"), ("allowPrivilegeEscalation", "app"),
      ("readOnlyRootFilesystem", "app"), ("capabilities", "app"), ("imageTag", "app")}),
    (pod(good(readinessProbe=None)), {("readinessProbe", "app")}),
    (pod(good(livenessProbe=None)), {("livenessProbe", "app")}),
    # resources: requests cpu and memory, and a memory limit
    (pod(good(resources={"requests": {"cpu": "1", "memory": "1Gi"}})), {("resources", "app")}),
    (pod(good(resources={"requests": {"memory": "1Gi"}, "limits": {"memory": "1Gi"}})),
     {("resources", "app")}),
    (pod(good(resources={"requests": {"cpu": "1", "memory": "1Gi"},
                         "limits": {"cpu": "1", "memory": "1Gi"}})), set()),
    # who it runs as: the container's securityContext over the pod's
    (pod(good(sc={"runAsNonRoot": None})), {("runAsNonRoot", "app")}),
    (pod(good(sc={"runAsNonRoot": None}), securityContext={"runAsNonRoot": True}), set()),
    (pod(good(sc={"runAsNonRoot": None}), securityContext={"runAsUser": 1000}), set()),
    (pod(good(sc={"runAsNonRoot": False}), securityContext={"runAsNonRoot": True}),
     {("runAsNonRoot", "app")}),
    (pod(good(sc={"runAsUser": 0})), {("runAsNonRoot", "app")}),
    (pod(good(), securityContext={"runAsUser": 0}), {("runAsNonRoot", "app")}),
    (pod(good(sc={"runAsUser": 1000}), securityContext={"runAsUser": 0}), set()),
    # privileges
    (pod(good(sc={"readOnlyRootFilesystem": False})), {("readOnlyRootFilesystem", "app")}),
    (pod(good(sc={"allowPrivilegeEscalation": None})), {("allowPrivilegeEscalation", "app")}),
    (pod(good(sc={"allowPrivilegeEscalation": True})), {("allowPrivilegeEscalation", "app")}),
    (pod(good(sc={"privileged": True})), {("privileged", "app")}),
    (pod(good(sc={"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}})), set()),
    (pod(good(sc={"capabilities": {"drop": ["all"], "add": ["CAP_NET_BIND_SERVICE"]}})),
     set()),
    (pod(good(sc={"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}})),
     {("capabilities", "app")}),
    (pod(good(sc={"capabilities": {"drop": ["NET_RAW"]}})), {("capabilities", "app")}),
    (pod(good(), hostNetwork=True), {("hostNamespaces", POD)}),
    (pod(good(), hostPID=True, hostIPC=False), {("hostNamespaces", POD)}),
    # images
    (pod(good(image="registry.example/app:latest")), {("imageTag", "app")}),
    (pod(good(image="registry.example:5000/app")), {("imageTag", "app")}),
    (pod(good(image="registry.example:5000/app:1.2")), {("imageDigest", "app")}),
    (pod(good(image=f"app@{DIGEST}")), set()),
    (pod(good(image=f"app:latest@{DIGEST}")), set()),
    # init containers: who they run as, their privileges, their image; no probes, no resources
    (pod(good(), init=({"name": "migrate", "image": "migrate:3",
                        "securityContext": RESTRICTED},)),
     {("imageDigest", "migrate")}),
    (pod(good(), init=({"name": "setup", "image": f"busybox@{DIGEST}"},)),
     {("runAsNonRoot", "setup"), ("allowPrivilegeEscalation", "setup"),
      ("readOnlyRootFilesystem", "setup"), ("capabilities", "setup")}),
    # every container is judged
    (pod(good(), good(name="sidecar", readinessProbe=None, resources=None)),
     {("readinessProbe", "sidecar"), ("resources", "sidecar")}),
])
def test_findings_of_a_template(pod_spec: dict[str, Any], expected: set[tuple[str, str]]) -> None:
    assert found(pod_spec) == expected


def test_image_digest_is_a_finding_only_when_the_tag_is_not_latest() -> None:
    rules = [f.rule for f in findings(pod(good(image="app:latest")))[0]]
    assert rules == ["imageTag"]  # not imageDigest as well


@pytest.mark.parametrize(("image", "tag", "digest"), [
    ("nginx", None, None),
    ("nginx:1.27", "1.27", None),
    ("registry.example:5000/team/app", None, None),
    ("registry.example:5000/team/app:v2", "v2", None),
    (f"app@{DIGEST}", None, DIGEST),
    (f"registry.example:5000/app:1@{DIGEST}", "1", DIGEST),
    ("app:", None, None),
])
def test_image_parts(image: str, tag: str | None, digest: str | None) -> None:
    assert image_parts(image) == (tag, digest)


# -- the declared probes against what answered ---------------------------------------------------
@pytest.mark.parametrize(("readiness", "liveness", "probed", "expected", "confirmed"), [
    # both answered: confirmed, no finding
    ({"path": "/ready", "port": "http"}, {"path": "/health", "port": 8080}, ANSWERED, set(), 2),
    # the kubelet asks a path readygate did not verify
    ({"path": "/healthz", "port": "http"}, {"path": "/health", "port": 8080}, ANSWERED,
     {("probesAnswered", "app")}, 1),
    # liveness answered nothing in this run
    ({"path": "/ready", "port": "http"}, {"path": "/health", "port": 8080},
     Probed(port=8080, readiness=("/ready", True), liveness=("/health", False)),
     {("probesAnswered", "app")}, 1),
    # a probe on another port than the one readygate probed is not compared
    ({"path": "/ready", "port": "http"}, {"path": "/live", "port": 9090}, ANSWERED, set(), 1),
    # the Service's targetPort as a number matches the container's named port
    ({"path": "/ready", "port": "http"}, {"path": "/x", "port": "http"},
     Probed(port=8080, readiness=("/ready", True)), {("probesAnswered", "app")}, 1),
    # nothing probed (the target never became ready): nothing compared
    ({"path": "/anything", "port": "http"}, {"path": "/else", "port": 8080},
     Probed(port="http"), set(), 0),
    ({"path": "/anything", "port": "http"}, {"path": "/else", "port": 8080}, None, set(), 0),
    # no path means /
    ({"port": "http"}, {"path": "/health", "port": 8080},
     Probed(port="http", readiness=("/", True), liveness=("/health", True)), set(), 2),
])
def test_declared_probes_against_what_answered(readiness: dict[str, Any],
                                               liveness: dict[str, Any], probed: Probed | None,
                                               expected: set[tuple[str, str]],
                                               confirmed: int) -> None:
    spec = pod(good(readinessProbe={"httpGet": readiness}, livenessProbe={"httpGet": liveness}))
    got, ok = findings(spec, probed)
    assert {(f.rule, f.container) for f in got} == expected
    assert len(ok) == confirmed


def test_exec_and_tcp_probes_are_not_compared() -> None:
    spec = pod(good(readinessProbe={"exec": {"command": ["true"]}},
                    livenessProbe={"tcpSocket": {"port": "http"}}))
    assert found(spec) == set()


def test_a_missing_probe_suggests_the_path_that_answered() -> None:
    (finding,), _ = findings(pod(good(readinessProbe=None)), ANSWERED)
    assert "readinessProbe.httpGet on /ready, which answered 2xx" in finding.fix
    (finding,), _ = findings(pod(good(livenessProbe=None)), ANSWERED)
    assert "livenessProbe.httpGet on /health" in finding.fix
    (finding,), _ = findings(pod(good(livenessProbe=None)), Probed(port="http"))
    assert "on a path that answers 2xx" in finding.fix


# -- policies and the result ---------------------------------------------------------------------
def test_every_policy_field_is_a_rule_the_judge_reports() -> None:
    rules = set(policies(ManifestCheck()))
    bare = pod({"name": "app", "image": "nginx", "securityContext": {
        "privileged": True, "runAsUser": 0, "capabilities": {"add": ["SYS_ADMIN"]}}},
        hostNetwork=True)
    bare["containers"].append(good(name="tagged", image="app:1"))
    reported = {f.rule for f in findings(bare, Probed(port=8080, readiness=("/x", True)))[0]}
    reported |= {f.rule for f in findings(pod(good(readinessProbe={"httpGet": {
        "path": "/y", "port": "http"}})), ANSWERED)[0]}
    assert reported == rules


@pytest.mark.parametrize(("policy", "result", "warned"), [
    ("Fail", "Failed", 0), ("Warn", "Passed", 1), ("Ignore", "Passed", 0)])
def test_policy_of_a_finding(policy: str, result: str, warned: int) -> None:
    spec = ManifestCheck(read_only_root_filesystem=policy)
    got = judge_manifest(spec, pod(good(sc={"readOnlyRootFilesystem": False})),
                         source="Deployment web's pod template", probed=ANSWERED, **T)
    assert got.result == result
    assert len(got.warnings) == warned
    assert got.measured["findings"] == 1
    assert got.measured["ignoredFindings"] == (1 if policy == "Ignore" else 0)
    if policy == "Fail":
        assert got.message.startswith("1 finding(s) in Deployment web's pod template fail")
        assert "app: has a writable root filesystem (readOnlyRootFilesystem)" in got.message
    if policy == "Warn":
        assert got.warnings == ("app: has a writable root filesystem (readOnlyRootFilesystem)",)
    described = [e for e in got.evidence if "readOnlyRootFilesystem app" in e]
    assert len(described) == (0 if policy == "Ignore" else 1)
    if described:  # the container, what, why it matters and how to fix it
        assert described[0].startswith(f"{policy} readOnlyRootFilesystem app: has a writable")
        assert "fix: set securityContext.readOnlyRootFilesystem: true" in described[0]


def test_a_clean_template_passes_with_the_confirmed_probes_as_evidence() -> None:
    got = judge_manifest(ManifestCheck(), pod(good()), source="Deployment web's pod template",
                         probed=ANSWERED, **T)
    assert got.result == "Passed" and not got.warnings
    assert got.message == ("Deployment web's pod template: 1 container(s) judged, no finding "
                           "set to Fail")
    assert got.evidence == ("judged Deployment web's pod template: app",
                            "app: readinessProbe GET /ready answered 2xx in this run",
                            "app: livenessProbe GET /health answered 2xx in this run")


def test_containers_limits_what_is_judged_and_an_unknown_name_is_an_error() -> None:
    spec_pod = pod(good(), {"name": "istio-proxy", "image": "proxy"})
    only_app = judge_manifest(ManifestCheck(containers=("app",)), spec_pod, source="x",
                              probed=ANSWERED, **T)
    assert only_app.result == "Passed" and only_app.measured["containers"] == 1
    everything = judge_manifest(ManifestCheck(), spec_pod, source="x", probed=ANSWERED, **T)
    assert everything.result == "Failed" and "istio-proxy" in everything.message
    wrong = judge_manifest(ManifestCheck(containers=("api",)), spec_pod,
                           source="Deployment web's pod template", probed=ANSWERED, **T)
    assert wrong.result == "Error"
    assert wrong.message == ("spec.manifest.containers names api, which Deployment web's pod "
                             "template does not have (it has app, istio-proxy)")


def test_the_result_stays_small_however_bad_the_template() -> None:
    containers = [{"name": f"c{i}", "image": "registry.example/" + "x" * 400}
                  for i in range(40)]
    got = judge_manifest(ManifestCheck(read_only_root_filesystem="Warn"), pod(*containers),
                         source="Deployment big's pod template", probed=None, **T)
    assert got.result == "Failed"
    status = got.to_status()
    assert len(status["message"]) <= MESSAGE_CHARS
    assert "and " in got.message and "more (see evidence)" in got.message
    assert len(status["evidence"]) <= 20
    assert all(len(e) <= EVIDENCE_CHARS for e in status["evidence"])
    assert len(status["warnings"]) <= WARNING_ITEMS
    assert got.warnings[-1].endswith("more (see evidence)")


def test_readygates_own_deploy_target_meets_every_default_but_a_liveness_probe() -> None:
    spec = parse_spec({"target": {"deploy": {"image": "registry.example/app:1"}},
                       "manifest": {}})
    dep = manifests.deployment({"metadata": {"name": "web", "uid": "u"}}, spec)
    assert spec.manifest is not None
    got = judge_manifest(spec.manifest, dep["spec"]["template"]["spec"], source="Deployment",
                         probed=Probed(port="http", readiness=("/ready", True),
                                       liveness=("/health", True)), **T)
    assert got.result == "Passed"
    assert got.warnings == ("app: no livenessProbe (livenessProbe)",)
    assert got.measured["ignoredFindings"] == 1  # imageDigest: pinned by tag only
    writable = parse_spec({"target": {"deploy": {
        "image": "registry.example/app:1", "securityContext": {"readOnlyRootFilesystem": False}}},
        "manifest": {"livenessProbe": "Ignore"}})
    dep = manifests.deployment({"metadata": {"name": "web", "uid": "u"}}, writable)
    assert writable.manifest is not None
    got = judge_manifest(writable.manifest, dep["spec"]["template"]["spec"], source="D",
                         probed=None, **T)
    assert got.warnings == ("app: has a writable root filesystem (readOnlyRootFilesystem)",)


# -- the spec --------------------------------------------------------------------------------------
DEPLOY = {"deploy": {"image": "registry.example/app:1"}}


def test_manifest_defaults() -> None:
    spec = parse_spec({"target": DEPLOY, "manifest": {}})
    assert spec.manifest == ManifestCheck()
    assert policies(ManifestCheck()) == {
        "readinessProbe": "Fail", "livenessProbe": "Warn", "probesAnswered": "Warn",
        "resources": "Fail", "runAsNonRoot": "Fail", "readOnlyRootFilesystem": "Warn",
        "allowPrivilegeEscalation": "Fail", "capabilities": "Warn", "privileged": "Fail",
        "hostNamespaces": "Fail", "imageTag": "Fail", "imageDigest": "Ignore"}
    assert parse_spec({"target": DEPLOY}).manifest is None


def test_manifest_overrides_parse() -> None:
    spec = parse_spec({"target": {"workloadRef": {"name": "web"}}, "manifest": {
        "readOnlyRootFilesystem": "Fail", "imageDigest": "Warn", "livenessProbe": "Ignore",
        "containers": ["app"]}})
    assert spec.manifest == ManifestCheck(read_only_root_filesystem="Fail", image_digest="Warn",
                                          liveness_probe="Ignore", containers=("app",))
    assert parse_spec({"target": {"service": {"name": "web"}}, "manifest": {}}).manifest


@pytest.mark.parametrize(("manifest", "target", "problem"), [
    ({"readOnlyRootFilesystem": "fail"}, DEPLOY,
     "spec.manifest.readOnlyRootFilesystem: 'fail' is not one of Fail, Warn, Ignore"),
    ({"rules": {"readOnlyRootFilesystem": "Warn"}}, DEPLOY,
     "spec.manifest.rules: unknown field; known fields here: allowPrivilegeEscalation, "
     "capabilities, containers, hostNamespaces,"),
    ({"containers": ["App_1"]}, DEPLOY, "spec.manifest.containers[0]: 'App_1' does not match"),
    ({"containers": "app"}, DEPLOY, "spec.manifest.containers: must be a list"),
    ({}, {"url": "https://api.example.com/"},
     "spec.manifest: judges a pod template, and a url target has none"),
])
def test_bad_manifest_specs_say_what_to_fix(manifest: dict[str, Any], target: dict[str, Any],
                                            problem: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({"target": target, "manifest": manifest})
    assert any(p.startswith(problem) for p in err.value.problems), err.value.problems


def test_the_crd_documents_each_finding_with_its_default_and_refuses_a_url_target() -> None:
    root = schema.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec = root["properties"]["spec"]
    node = spec["properties"]["manifest"]
    for name, default in policies(ManifestCheck()).items():
        prop = node["properties"][name]
        assert prop["enum"] == list(POLICIES) and prop["default"] == default, name
        assert prop["description"], name
    assert node["properties"]["containers"]["items"]["pattern"]
    rules = {r["rule"]: r for r in spec["x-kubernetes-validations"]}
    rule = rules["!has(self.manifest) || !has(self.target.url)"]
    assert rule["fieldPath"] == ".manifest" and "url target" in rule["message"]


# -- the registry and the score ------------------------------------------------------------------
def test_manifest_runs_after_liveness_and_scores_in_the_deploy_category() -> None:
    assert checks.ORDER.index("manifest") == checks.ORDER.index("liveness") + 1
    assert checks.BY_NAME["manifest"].category == "deploy"
    assert "manifest" not in checks.FIRST  # a poor template does not stop the later checks
    spec = parse_spec({"target": DEPLOY, "manifest": {}})
    assert [c.name for c in checks.planned(spec)] == ["deploy", "readiness", "liveness",
                                                      "manifest"]
    assert checks.pending_text(checks.BY_NAME["manifest"], spec) == "after readiness and liveness"
    quiet = parse_spec({"target": DEPLOY, "manifest": {}, "liveness": {"enabled": False}})
    assert checks.pending_text(checks.BY_NAME["manifest"], quiet) == "after readiness"


PASS = CheckResult(result="Passed", message="ok")
WARNED = CheckResult(result="Passed", message="ok", warnings=("app: no livenessProbe",))
FAILED = CheckResult(result="Failed", message="no readinessProbe")


@pytest.mark.parametrize(("manifest", "verdict", "score", "deploy_points"), [
    (PASS, "Passed", 40, 15),
    (WARNED, "Conditional", 36, 11),
    (FAILED, "Failed", 32, 8),
])
def test_the_manifest_shares_the_deploy_category(manifest: CheckResult, verdict: str,
                                                 score: int, deploy_points: int) -> None:
    v = decide({"deploy": PASS, "readiness": PASS, "liveness": PASS, "manifest": manifest})
    assert (v.result, v.score, v.breakdown["deploy"]) == (verdict, score, deploy_points)


def test_a_workload_ref_target_scores_its_deploy_category_by_the_manifest() -> None:
    v = decide({"readiness": PASS, "liveness": PASS, "manifest": PASS})
    assert (v.score, v.breakdown.get("deploy")) == (40, 15)
    assert "deploy" not in v.not_checked
    skipped = decide({"readiness": PASS, "manifest": CheckResult(result="Skipped",
                                                                 message="not applicable")})
    assert "deploy" in skipped.not_checked and skipped.result == "Passed"
