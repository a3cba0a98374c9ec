"""The manifest check on the fakes: a run reads the target's pod template (the Deployment
readygate made, a workloadRef's, or a service target's pod), judges it after readiness and
liveness, and folds the findings into the verdict; the status it writes passes the CRD's schema."""

from __future__ import annotations

from typing import Any, cast

from readygate.api.parse import parse_spec
from readygate.judge.targets import Endpoint
from readygate.kube import manifests
from readygate.kube.client import Kube
from readygate.run.context import RunContext
from readygate.run.runner import CheckRunner
from readygate.run.stages.manifest import pod_spec_of
from readygate.status.compute import RunView
from readygate.status.writer import StatusWriter

from ..statusview import checks_of
from .fakekube import FakeController, FakeKube
from .fakeprober import FakeProber, ready_pods
from .harness import FAST, NS, deploy_spec, results, run, runtime

NAME = "orders"
WORKLOAD = manifests.workload_name(NAME)
LABELS = {"app": "web"}
CRASH_LOG = ("ModuleNotFoundError: No module named 'x'",)


async def execute(kube: FakeKube, prober: FakeProber, controller: FakeController,
                  spec: dict[str, Any]) -> RunView:
    check = kube.create_check(NS, NAME, spec)
    writer = StatusWriter(cast(Kube, kube), NS, NAME, {},
                          resource_version=check["metadata"]["resourceVersion"])
    runner = CheckRunner(runtime(kube, prober), check, parse_spec(check["spec"]), writer,
                         run=1, reason="NewGeneration")
    async with controller.running():
        return await runner.execute()


def poor_workload(kube: FakeKube) -> None:
    """Deployment and Service ``web``: no probes, no resources, a root-by-default container."""
    kube.put({"kind": "Deployment", "metadata": {"name": "web", "namespace": NS}, "spec": {
        "replicas": 1, "selector": {"matchLabels": LABELS},
        "template": {"metadata": {"labels": LABELS}, "spec": {
            "containers": [{"name": "web", "image": "registry.example/web:latest",
                            "ports": [{"name": "http", "containerPort": 8080}]}]}}}})
    kube.put({"kind": "Service", "metadata": {"name": "web", "namespace": NS},
              "spec": {"selector": LABELS, "ports": [{"port": 80, "targetPort": "http"}]}})


def test_readygates_own_deployment_passes_with_the_liveness_probe_warning() -> None:
    kube, prober = FakeKube(), FakeProber()
    controller = FakeController(kube)
    controller.behave(NS, WORKLOAD, "ready")
    prober.on("http://10.96.*", ready_pods(kube, NS, {manifests.LABEL_WORKLOAD: WORKLOAD}))

    view = run(execute(kube, prober, controller, deploy_spec(manifest={})))

    st = kube.check(NS, NAME)["status"]
    assert view.phase == "Passed"
    assert results(st) == {"deploy": "Passed", "readiness": "Passed", "liveness": "Passed",
                           "manifest": "Passed"}
    manifest = checks_of(st)["manifest"]
    assert manifest["message"].startswith(f"Deployment {WORKLOAD}'s pod template: 1 container")
    assert st["verdict"] == "Conditional"
    assert st["warnings"] == ["manifest: app: no livenessProbe (livenessProbe)"]
    # the declared readinessProbe is the path that answered; the fix names the liveness path
    assert "app: readinessProbe GET /ready answered 2xx in this run" in manifest["evidence"]
    assert any("add livenessProbe.httpGet on /health, which answered 2xx" in e
               for e in manifest["evidence"])
    assert st["scoreBreakdown"]["deploy"] == 11  # (deploy 1 + manifest 0.5) / 2 of 15


def test_a_poor_workload_fails_the_manifest_and_the_verdict_but_is_still_measured() -> None:
    kube, prober = FakeKube(), FakeProber()
    poor_workload(kube)
    controller = FakeController(kube)
    prober.on("http://10.96.*", ready_pods(kube, NS, LABELS))
    spec = {"target": {"workloadRef": {"name": "web"}}, **FAST,
            "manifest": {"readOnlyRootFilesystem": "Ignore", "capabilities": "Ignore"},
            "security": {"samples": 1}}

    view = run(execute(kube, prober, controller, spec))

    st = kube.check(NS, NAME)["status"]
    assert view.phase == "Failed"
    # a poor template does not stop the measuring: security still ran
    assert results(st) == {"readiness": "Passed", "liveness": "Passed", "manifest": "Failed",
                           "security": "Passed"}
    manifest = checks_of(st)["manifest"]
    assert manifest["message"].startswith(
        "5 finding(s) in Deployment web's pod template fail the check: web: no readinessProbe "
        "(readinessProbe); web: no requests.cpu, requests.memory, limits.memory (resources)")
    assert "image registry.example/web:latest is tagged latest (imageTag)" in manifest["message"]
    assert manifest["warnings"] == ["web: no livenessProbe (livenessProbe)"]
    assert manifest["measured"] == {"containers": 1, "findings": 8, "failedFindings": 5,
                                    "warnedFindings": 1, "ignoredFindings": 2}
    assert manifest["evidence"][0] == "judged Deployment web's pod template: web"
    assert st["summary"].startswith("manifest failed: 5 finding(s) in Deployment web's pod")
    # a workloadRef target: the manifest alone measures the deploy category
    assert st["scoreBreakdown"]["deploy"] == 0 and "deploy" not in st.get("notChecked", [])


def test_a_target_that_never_starts_still_has_its_template_judged() -> None:
    kube, prober = FakeKube(), FakeProber()  # nothing answers
    controller = FakeController(kube)
    controller.behave(NS, WORKLOAD, "crash", log=CRASH_LOG)

    view = run(execute(kube, prober, controller, deploy_spec(manifest={}, security={})))

    st = kube.check(NS, NAME)["status"]
    assert view.phase == "Failed"
    assert results(st) == {"deploy": "Failed", "readiness": "Failed", "liveness": "Skipped",
                           "manifest": "Passed", "security": "Skipped"}
    # readiness never passed: the declared probes are not compared with anything
    manifest = checks_of(st)["manifest"]
    assert not any("answered" in e for e in manifest["evidence"])
    assert any("on a path that answers 2xx" in e for e in manifest["evidence"])


def test_a_service_target_has_the_newest_pod_behind_it_judged() -> None:
    kube, prober = FakeKube(), FakeProber()
    poor_workload(kube)
    controller = FakeController(kube)
    prober.on("http://10.96.*", ready_pods(kube, NS, LABELS))
    spec = {"target": {"service": {"name": "web"}}, **FAST, "manifest": {}}

    view = run(execute(kube, prober, controller, spec))

    st = kube.check(NS, NAME)["status"]
    assert view.phase == "Failed"
    manifest = checks_of(st)["manifest"]
    (pod,) = controller.pods_of(NS, "web")
    assert manifest["evidence"][0] == f"judged the spec of pod {pod['metadata']['name']}: web"
    assert manifest["result"] == "Failed" and "web: no readinessProbe" in manifest["message"]


def test_a_service_without_a_selector_is_not_applicable() -> None:
    endpoint = Endpoint("http", "10.96.0.9", 80, "Service shop/external 10.96.0.9:80")
    # no workload and no selector: nothing is read
    said = run(pod_spec_of(cast(RunContext, None), endpoint))
    assert said == ("Service shop/external 10.96.0.9:80 has no selector, so there is no pod "
                    "template to judge (point the check at the workload with "
                    "target.workloadRef)")
