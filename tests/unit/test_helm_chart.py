"""charts/readygate: the same install as manifests/, rendered by the helm that hack/tools builds.

``helm lint`` and ``helm template`` with default values (cluster-wide), single-namespace values
and monitoring on: no wildcards in any RBAC, exactly tests/permissions.py's permissions — and
exactly the RBAC, pod, Service and NetworkPolicy that kustomize renders from manifests/ (the
installs are compared object by object) —, the restricted pod security context on every pod
(the pre-delete hook's included), values reaching the operator's environment. The chart's copies
of crds/ and manifests/monitoring/ must equal their sources. Fails, never skips, without helm or
kustomize (hack/bootstrap builds them).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from readygate.api.settings import from_env

from .. import permissions
from ..tools import tool
from .test_install_manifests import render

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "readygate"
MANIFESTS = ROOT / "manifests"
SYSTEM = "readygate-system"
HOOK = "helm.sh/hook"
OPERATOR_SA = {"kind": "ServiceAccount", "name": "readygate", "namespace": SYSTEM}
POD_SECURITY = {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                      "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                      "capabilities": {"drop": ["ALL"]},
                      "seccompProfile": {"type": "RuntimeDefault"}}
# Environment variables the chart sets beyond manifests/base/deployment.yaml (the operator's
# defaults when unset).
CHART_ONLY_ENV = {"READYGATE_PROBE_SHARE": "0.1",
                  "READYGATE_EXCLUDED_NAMESPACES": "kube-system,kube-public,kube-node-lease",
                  "READYGATE_PROMETHEUS_NAMESPACE_LABEL": "namespace"}
RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
Docs = list[dict[str, Any]]


@pytest.fixture(scope="module")
def helm_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """helm with its config, cache and data in a temporary directory, not the user's."""
    home = tmp_path_factory.mktemp("helm")
    yield {**os.environ, "HELM_CONFIG_HOME": str(home / "config"),
           "HELM_CACHE_HOME": str(home / "cache"), "HELM_DATA_HOME": str(home / "data")}


def helm(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([tool("helm"), *args], capture_output=True, text=True, env=env,
                          timeout=60)
    if check:
        assert proc.returncode == 0, f"helm {' '.join(args)}: {proc.stderr}{proc.stdout}"
    return proc


def template(env: dict[str, str], *sets: str, namespace: str = SYSTEM) -> Docs:
    args = ["template", "readygate", str(CHART), "--namespace", namespace, "--include-crds"]
    for s in sets:
        args += ["--set", s]
    proc = helm(env, *args)
    assert proc.stderr == "", proc.stderr  # no warnings either
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


SINGLE = ("watchNamespace=team-a",)
MONITORING = ("monitoring.serviceMonitor.enabled=true", "monitoring.prometheusRule.enabled=true")


@pytest.fixture(scope="module")
def default(helm_env: dict[str, str]) -> Docs:
    return template(helm_env)


@pytest.fixture(scope="module")
def single(helm_env: dict[str, str]) -> Docs:
    return template(helm_env, *SINGLE)


def _hook(d: dict[str, Any]) -> bool:
    return HOOK in (d["metadata"].get("annotations") or {})


def _operator(docs: Docs) -> Docs:
    """The release's objects but the pre-delete hook's."""
    return [d for d in docs if not _hook(d)]


def _find(docs: Docs, kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def _rbac(docs: Docs) -> dict[tuple[str, str | None, str], dict[str, Any]]:
    """RBAC objects by (kind, namespace, name): what they grant and to whom, not their labels."""
    out = {}
    for d in docs:
        if d["kind"] in RBAC_KINDS:
            key = (d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"])
            out[key] = {k: d[k] for k in ("rules", "roleRef", "subjects") if k in d}
    return out


def _pod(docs: Docs, kind: str, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = _find(docs, kind, name)["spec"]["template"]["spec"]
    return spec


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


# -- the chart's copies ----------------------------------------------------------------------------
def test_chart_crd_is_the_generated_crd() -> None:
    generated = ROOT / "crds" / "readinesschecks.readygate.io.yaml"
    copy = CHART / "crds" / generated.name
    assert copy.read_bytes() == generated.read_bytes(), (
        f"{copy.relative_to(ROOT)} differs from {generated.relative_to(ROOT)} (Helm installs "
        f"CRDs from the chart's crds/): cp {generated.relative_to(ROOT)} {copy.relative_to(ROOT)}")
    assert [p.name for p in (CHART / "crds").iterdir()] == [generated.name]


@pytest.mark.parametrize("name", ["servicemonitor.yaml", "prometheusrule.yaml"])
def test_chart_monitoring_files_are_manifests_monitoring(name: str) -> None:
    source = MANIFESTS / "monitoring" / name
    copy = CHART / "files" / "monitoring" / name
    assert copy.read_bytes() == source.read_bytes(), (
        f"{copy.relative_to(ROOT)} differs from {source.relative_to(ROOT)} (Helm reads only "
        f"files inside the chart): cp {source.relative_to(ROOT)} {copy.relative_to(ROOT)}")


# -- helm lint -------------------------------------------------------------------------------------
@pytest.mark.parametrize("sets", [(), SINGLE, MONITORING, ("namespacePatterns={team-*}",)],
                         ids=["default", "single-namespace", "monitoring", "patterns"])
def test_helm_lint_is_clean(helm_env: dict[str, str], sets: tuple[str, ...]) -> None:
    args = ["lint", "--strict", str(CHART)]
    for s in sets:
        args += ["--set", s]
    proc = helm(helm_env, *args)
    out = proc.stdout + proc.stderr
    assert "[WARNING]" not in out and "[ERROR]" not in out, out
    assert "1 chart(s) linted, 0 chart(s) failed" in out, out


# -- RBAC ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("values", ["default", "single"])
def test_no_wildcards_in_any_rbac(request: pytest.FixtureRequest, values: str) -> None:
    docs: Docs = request.getfixturevalue(values)
    roles = [d for d in docs if d["kind"] in ("Role", "ClusterRole")]
    assert roles
    for r in roles:
        assert not permissions.wildcards(r["rules"]), r["metadata"]["name"]


def test_default_rbac_is_cluster_wide(default: Docs) -> None:
    role = _find(default, "ClusterRole", "readygate")
    assert permissions.from_policy_rules(role["rules"]) == permissions.CLUSTER_WIDE_INSTALL
    assert _find(default, "ClusterRoleBinding", "readygate")["subjects"] == [OPERATOR_SA]
    assert not [d for d in _operator(default) if d["kind"] == "Role"]
    # exactly what `kubectl apply -k manifests/` grants, rule by rule
    assert _rbac(_operator(default)) == _rbac(render(MANIFESTS))


def test_single_namespace_rbac_is_the_overlays(helm_env: dict[str, str], single: Docs) -> None:
    ops = _operator(single)
    role = _find(ops, "Role", "readygate")
    assert role["metadata"]["namespace"] == "team-a"
    assert permissions.from_policy_rules(role["rules"]) == permissions.ALL_NAMESPACED
    nodes = _find(ops, "ClusterRole", "readygate-nodes")
    assert permissions.from_policy_rules(nodes["rules"]) == permissions.CLUSTER
    own = _find(ops, "Role", "readygate-self")
    assert own["metadata"]["namespace"] == SYSTEM
    assert permissions.from_policy_rules(own["rules"]) == permissions.OWN_POD
    granted = set().union(*(permissions.from_policy_rules(r["rules"])
                            for r in (role, nodes, own)))
    assert granted == permissions.SINGLE_NAMESPACE_INSTALL  # its own pod: within pods get
    assert not [d for d in ops if d["kind"] == "ClusterRole" and d["metadata"]["name"] ==
                "readygate"]
    for d in ops:
        if d["kind"].endswith("Binding"):
            assert d["subjects"] == [OPERATOR_SA], d
    # exactly manifests/overlays/single-namespace, for the namespace it ships with
    shipped = yaml.safe_load((MANIFESTS / "overlays" / "single-namespace" / "watched" /
                              "kustomization.yaml").read_text())["namespace"]
    chart = _operator(template(helm_env, f"watchNamespace={shipped}"))
    overlay = render(MANIFESTS / "overlays" / "single-namespace")
    assert _rbac(chart) == _rbac(overlay)


@pytest.mark.parametrize("values", ["default", "single"])
def test_uninstall_hook_may_only_list_and_delete_checks(request: pytest.FixtureRequest,
                                                        values: str) -> None:
    docs: Docs = request.getfixturevalue(values)
    hooks = [d for d in docs if _hook(d)]
    assert sorted((d["kind"], d["metadata"]["name"]) for d in hooks) == sorted(
        [("ServiceAccount", "readygate-uninstall"), ("Job", "readygate-uninstall"),
         *((k, "readygate-uninstall") for k in (
             ("Role", "RoleBinding") if values == "single"
             else ("ClusterRole", "ClusterRoleBinding")))])
    for d in hooks:
        ann = d["metadata"]["annotations"]
        assert ann[HOOK] == "pre-delete", d["metadata"]
        assert set(ann["helm.sh/hook-delete-policy"].split(",")) == {"before-hook-creation",
                                                                     "hook-succeeded"}
        # the account and its RBAC exist before the Job runs
        assert int(ann["helm.sh/hook-weight"]) < 0 or d["kind"] == "Job"
    (role,) = [d for d in hooks if d["kind"] in ("Role", "ClusterRole")]
    assert not permissions.wildcards(role["rules"])
    assert permissions.from_policy_rules(role["rules"]) == {
        ("readygate.io", "readinesschecks", "list"), ("readygate.io", "readinesschecks", "delete")}
    (binding,) = [d for d in hooks if d["kind"].endswith("Binding")]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "readygate-uninstall",
                                    "namespace": SYSTEM}]
    if values == "single":  # only where the operator serves checks
        assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "team-a"
    job = _find(hooks, "Job", "readygate-uninstall")
    # a failed hook's log (which checks are left, what to do) is printed by helm uninstall
    assert job["metadata"]["annotations"]["helm.sh/hook-output-log-policy"] == "hook-failed"
    pod = _pod(hooks, "Job", "readygate-uninstall")
    assert pod["serviceAccountName"] == "readygate-uninstall"
    (c,) = pod["containers"]
    # the operator's image, its python3 and kubernetes client: no image or code of its own
    assert c["image"] == _pod(docs, "Deployment", "readygate")["containers"][0]["image"]
    assert c["command"][:2] == ["python3", "-c"]
    compile(c["command"][2], "uninstall-hook", "exec")
    assert _env(c)["WATCH_NAMESPACE"] == ("team-a" if values == "single" else "")


# -- the pods --------------------------------------------------------------------------------------
@pytest.mark.parametrize("values", ["default", "single"])
def test_every_pod_is_restricted(request: pytest.FixtureRequest, values: str) -> None:
    docs: Docs = request.getfixturevalue(values)
    pods = [d["spec"]["template"]["spec"] for d in docs if d["kind"] in ("Deployment", "Job")]
    assert len(pods) == 2
    for pod in pods:
        assert pod["securityContext"] == POD_SECURITY
        assert pod["automountServiceAccountToken"] is True
        for c in pod["containers"]:
            assert c["securityContext"] == CONTAINER_SECURITY, c["name"]
            assert "memory" in c["resources"]["limits"], c["name"]


def _without_chart_env(pod: dict[str, Any]) -> dict[str, Any]:
    """The pod spec with the environment variables only the chart sets taken out."""
    (c,) = pod["containers"]
    env = [e for e in c["env"] if e["name"] not in CHART_ONLY_ENV]
    return {**pod, "containers": [{**c, "env": env}]}


def test_default_deployment_is_manifests_base(default: Docs) -> None:
    base = yaml.safe_load((MANIFESTS / "base" / "deployment.yaml").read_text())
    dep = _find(default, "Deployment", "readygate")
    assert dep["metadata"]["namespace"] == SYSTEM
    for key in ("replicas", "strategy", "revisionHistoryLimit", "selector"):
        assert dep["spec"][key] == base["spec"][key], key
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert base["spec"]["template"]["metadata"]["labels"].items() <= labels.items()
    pod = dep["spec"]["template"]["spec"]
    assert _without_chart_env(pod) == base["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert {k: v for k, v in _env(c).items() if k in CHART_ONLY_ENV} == CHART_ONLY_ENV
    assert "READYGATE_PROMETHEUS_URL" not in _env(c)  # no Prometheus unless given one


def test_single_namespace_deployment_is_the_overlays(helm_env: dict[str, str],
                                                      single: Docs) -> None:
    (c,) = _pod(single, "Deployment", "readygate")["containers"]
    assert c["args"] == ["run", "--namespace", "team-a", "--liveness",
                         "http://0.0.0.0:8080/healthz"]
    chart = template(helm_env, "watchNamespace=default")
    overlay = render(MANIFESTS / "overlays" / "single-namespace")
    assert (_without_chart_env(_pod(chart, "Deployment", "readygate"))
            == _pod(overlay, "Deployment", "readygate"))


def test_service_and_network_policy_are_manifests_base(default: Docs) -> None:
    for kind, name, file in (("Service", "readygate-metrics", "service.yaml"),
                             ("NetworkPolicy", "readygate", "networkpolicy.yaml")):
        base = yaml.safe_load((MANIFESTS / "base" / file).read_text())
        obj = _find(default, kind, name)
        assert obj["spec"] == base["spec"], kind
        assert obj["metadata"]["namespace"] == SYSTEM
        assert base["metadata"]["labels"].items() <= obj["metadata"]["labels"].items()


def test_every_object_is_in_the_release_namespace_or_cluster_scoped(single: Docs) -> None:
    kinds = {d["kind"] for d in single}
    assert {"CustomResourceDefinition", "ServiceAccount", "Deployment", "Service",
            "NetworkPolicy"} <= kinds
    assert "Namespace" not in kinds  # helm install --create-namespace, or yours
    for d in single:
        ns = d["metadata"].get("namespace")
        if d["kind"] in ("CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"):
            assert ns is None, d["metadata"]
        elif d["kind"] in ("Role", "RoleBinding") and d["metadata"]["name"] != "readygate-self":
            assert ns == "team-a", d["metadata"]  # where the operator serves checks
        else:
            assert ns == SYSTEM, d["metadata"]


def test_chart_crd_is_installed_from_crds(default: Docs) -> None:
    crd = _find(default, "CustomResourceDefinition", "readinesschecks.readygate.io")
    assert crd == yaml.safe_load((ROOT / "crds" / "readinesschecks.readygate.io.yaml").read_text())


# -- values ----------------------------------------------------------------------------------------
def test_values_reach_the_operator(helm_env: dict[str, str]) -> None:
    docs = template(helm_env, "image.repository=registry.example/readygate/operator",
                    "image.tag=1.2.3", "image.pullPolicy=Always",
                    "urlAllowlist={api.example.com,*.corp.example,10.20.0.0/16}",
                    "maxTotalRate=5000", "probeShare=0.25", "excludedNamespaces={kube-system}",
                    "extraEnv[0].name=READYGATE_WORKER_IMAGE",
                    "extraEnv[0].value=registry.example/readygate/operator:1.2.3",
                    "extraLabels.team=platform",
                    "prometheus.url=http://prometheus-operated.monitoring:9090",
                    "prometheus.namespaceLabel=kubernetes_namespace", namespace="ops")
    (c,) = _pod(docs, "Deployment", "readygate")["containers"]
    assert (c["image"], c["imagePullPolicy"]) == ("registry.example/readygate/operator:1.2.3",
                                                  "Always")
    env = _env(c)
    assert env["READYGATE_URL_ALLOWLIST"] == "api.example.com,*.corp.example,10.20.0.0/16"
    assert env["READYGATE_MAX_TOTAL_RATE"] == "5000"
    assert env["READYGATE_PROBE_SHARE"] == "0.25"
    assert env["READYGATE_EXCLUDED_NAMESPACES"] == "kube-system"
    assert env["READYGATE_WORKER_IMAGE"] == "registry.example/readygate/operator:1.2.3"
    assert env["READYGATE_PROMETHEUS_URL"] == "http://prometheus-operated.monitoring:9090"
    assert env["READYGATE_PROMETHEUS_NAMESPACE_LABEL"] == "kubernetes_namespace"
    # what the operator reads from them
    assert from_env(env).prometheus_url == "http://prometheus-operated.monitoring:9090"
    assert from_env(env).prometheus_namespace_label == "kubernetes_namespace"
    (job,) = _pod(docs, "Job", "readygate-uninstall")["containers"]
    assert (job["image"], job["imagePullPolicy"]) == (c["image"], c["imagePullPolicy"])
    for d in docs:
        if d["kind"] != "CustomResourceDefinition":
            assert d["metadata"]["labels"]["team"] == "platform", d["metadata"]
        if d["kind"].endswith("Binding"):
            assert {s["namespace"] for s in d["subjects"]} == {"ops"}


def test_allowlist_as_a_string_and_digest(helm_env: dict[str, str]) -> None:
    digest = "sha256:" + "ab" * 32
    docs = template(helm_env, "urlAllowlist=api.example.com\\,10.0.0.0/8",
                    "excludedNamespaces=", f"image.digest={digest}")
    (c,) = _pod(docs, "Deployment", "readygate")["containers"]
    assert _env(c)["READYGATE_URL_ALLOWLIST"] == "api.example.com,10.0.0.0/8"
    assert _env(c)["READYGATE_EXCLUDED_NAMESPACES"] == ""  # excludes none
    assert c["image"] == f"ghcr.io/readygate/operator@{digest}"


def test_namespace_patterns(helm_env: dict[str, str]) -> None:
    docs = template(helm_env, "namespacePatterns={team-*,!team-x}")
    (c,) = _pod(docs, "Deployment", "readygate")["containers"]
    assert c["args"] == ["run", "--namespace", "team-*,!team-x", "--liveness",
                         "http://0.0.0.0:8080/healthz"]
    role = _find(docs, "ClusterRole", "readygate")  # patterns need namespaces list/watch
    assert permissions.from_policy_rules(role["rules"]) == permissions.CLUSTER_WIDE_INSTALL
    both = helm(helm_env, "template", "readygate", str(CHART), "--set", "watchNamespace=a",
                "--set", "namespacePatterns={b-*}", check=False)
    assert both.returncode != 0 and "not both" in both.stderr, both.stderr


@pytest.mark.parametrize("bad", ["probeShare=2", "maxTotalRate=0", "image.pullPolicy=Sometimes",
                                 "watchNamespace=Not_A_Namespace", "unknownValue=1",
                                 "prometheus.url=prometheus:9090",
                                 "prometheus.namespaceLabel=name-space"])
def test_schema_refuses_bad_values(helm_env: dict[str, str], bad: str) -> None:
    proc = helm(helm_env, "template", "readygate", str(CHART), "--set", bad, check=False)
    assert proc.returncode != 0 and "schema" in proc.stderr, proc.stderr


# -- monitoring ------------------------------------------------------------------------------------
def test_monitoring_is_off_by_default(default: Docs) -> None:
    assert not {"ServiceMonitor", "PrometheusRule"} & {d["kind"] for d in default}


@pytest.mark.parametrize("namespace", [SYSTEM, "ops"])
def test_monitoring_renders_manifests_monitoring(helm_env: dict[str, str],
                                                 namespace: str) -> None:
    docs = template(helm_env, *MONITORING, "monitoring.serviceMonitor.labels.release=prom",
                    namespace=namespace)
    for kind, file in (("ServiceMonitor", "servicemonitor.yaml"),
                       ("PrometheusRule", "prometheusrule.yaml")):
        source = yaml.safe_load((MANIFESTS / "monitoring" / file).read_text())
        obj = _find(docs, kind, source["metadata"]["name"])
        assert obj["apiVersion"] == source["apiVersion"]
        assert obj["metadata"]["namespace"] == namespace
        assert source["metadata"]["labels"].items() <= obj["metadata"]["labels"].items()
        spec = source["spec"]
        if kind == "ServiceMonitor":  # it scrapes the release's namespace
            spec = {**spec, "namespaceSelector": {"matchNames": [namespace]}}
            assert obj["metadata"]["labels"]["release"] == "prom"
        # the alert annotations' {{ $labels.* }} reach Prometheus untouched by Helm
        assert obj["spec"] == spec, kind
