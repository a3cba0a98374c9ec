"""manifests/ as shipped: the CRD copy, current kustomize without deprecated fields, RBAC, the pod.

Pure checks of the YAML files, plus every kustomization built by the ``kustomize`` that
hack/tools builds (hack/bootstrap; the test fails, never skips, without it): each must build and
print no warning, and the three installs are checked as rendered. The permission list is
tests/permissions.py; tests/e2e/test_in_cluster.py asks a real API server the same.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .. import permissions
from ..tools import tool

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
SYSTEM = "readygate-system"
# Deprecated in kustomize v5 (`kustomize build` warns; `kustomize edit fix` rewrites them):
# resources, patches, replacements and labels instead.
DEPRECATED_FIELDS = {"bases", "patchesStrategicMerge", "patchesJson6902", "vars",
                     "commonLabels"}
INSTALLS = {
    "manifests": MANIFESTS,
    "local": MANIFESTS / "overlays" / "local",
    "single-namespace": MANIFESTS / "overlays" / "single-namespace",
}


def _load(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _one(path: Path) -> dict[str, Any]:
    (doc,) = _load(path)
    return doc


def _kustomizations() -> list[Path]:
    """Every kustomization under manifests/: the installs, monitoring/ and its Grafana parts."""
    return sorted(MANIFESTS.rglob("kustomization.yaml"))


def test_crd_copy_is_the_generated_crd() -> None:
    generated = ROOT / "crds" / "readinesschecks.readygate.io.yaml"
    copy = MANIFESTS / "base" / "crd.yaml"
    assert copy.read_bytes() == generated.read_bytes(), (
        f"{copy.relative_to(ROOT)} differs from {generated.relative_to(ROOT)} (kustomize cannot "
        "reference files outside manifests/, so it keeps a copy): "
        f"cp {generated.relative_to(ROOT)} {copy.relative_to(ROOT)}")


def test_every_kustomization_is_found() -> None:
    found = {str(p.parent.relative_to(MANIFESTS)) for p in _kustomizations()}
    assert {".", "base", "rbac/cluster-wide", "overlays/local", "overlays/single-namespace",
            "overlays/single-namespace/watched", "monitoring"} <= found, found


@pytest.mark.parametrize("path", _kustomizations(), ids=lambda p: str(p.relative_to(ROOT)))
def test_kustomization_has_no_deprecated_fields_and_stays_in_its_root(path: Path) -> None:
    k = _one(path)
    deprecated = set(k) & DEPRECATED_FIELDS
    assert not deprecated, f"{path}: deprecated kustomize fields {deprecated}"
    for r in k.get("resources", []):
        target = path.parent / r
        if target.is_dir():  # another kustomization, which may be anywhere ...
            assert (target / "kustomization.yaml").is_file(), f"{path}: {r} is no kustomization"
            # ... but not one that contains this one ("cycle detected")
            assert not path.parent.resolve().is_relative_to(target.resolve()), f"{path}: {r}"
        else:  # a file must be inside the kustomization's directory (load restrictor)
            assert not Path(r).is_absolute() and ".." not in Path(r).parts, f"{path}: {r}"
            assert target.is_file(), f"{path}: {r} does not exist"
    for p in k.get("patches", []):
        if "path" in p:
            assert ".." not in Path(p["path"]).parts, f"{path}: {p}"
            assert (path.parent / p["path"]).is_file(), f"{path}: {p['path']} does not exist"


@pytest.mark.parametrize("path", _kustomizations(), ids=lambda p: str(p.relative_to(ROOT)))
def test_kustomize_builds_without_warnings(path: Path) -> None:
    proc = subprocess.run([tool("kustomize"), "build", str(path.parent)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, f"kustomize build {path.parent}: {proc.stderr}"
    assert proc.stderr == "", f"kustomize build {path.parent} warned:\n{proc.stderr}"
    assert [d for d in yaml.safe_load_all(proc.stdout) if d], f"{path.parent}: nothing built"


def test_cluster_role_grants_exactly_the_documented_permissions() -> None:
    role = _one(MANIFESTS / "rbac" / "cluster-wide" / "clusterrole.yaml")
    assert role["kind"] == "ClusterRole"
    assert not permissions.wildcards(role["rules"])
    assert permissions.from_policy_rules(role["rules"]) == permissions.CLUSTER_WIDE_INSTALL


def test_single_namespace_roles_split_the_same_permissions() -> None:
    d = MANIFESTS / "overlays" / "single-namespace"
    role = _one(d / "watched" / "role.yaml")
    nodes = _one(d / "clusterrole.yaml")
    self_role, self_binding = _load(d / "self-role.yaml")
    for r in (role, nodes, self_role):
        assert not permissions.wildcards(r["rules"]), r["metadata"]["name"]
    assert role["kind"] == "Role" and "namespace" not in role["metadata"]  # set by watched/
    assert permissions.from_policy_rules(role["rules"]) == permissions.ALL_NAMESPACED
    assert nodes["kind"] == "ClusterRole"
    assert permissions.from_policy_rules(nodes["rules"]) == permissions.CLUSTER
    assert (self_role["kind"], self_role["metadata"]["namespace"]) == ("Role", SYSTEM)
    assert permissions.from_policy_rules(self_role["rules"]) == permissions.OWN_POD
    assert self_binding["roleRef"]["name"] == self_role["metadata"]["name"]


RBAC_BINDINGS = [
    MANIFESTS / "rbac" / "cluster-wide" / "clusterrolebinding.yaml",
    MANIFESTS / "overlays" / "single-namespace" / "clusterrolebinding.yaml",
    MANIFESTS / "overlays" / "single-namespace" / "watched" / "rolebinding.yaml",
    MANIFESTS / "overlays" / "single-namespace" / "self-role.yaml",
]


@pytest.mark.parametrize("path", RBAC_BINDINGS, ids=lambda p: str(p.relative_to(MANIFESTS)))
def test_bindings_name_only_the_operator_service_account(path: Path) -> None:
    for doc in _load(path):
        if doc["kind"].endswith("Binding"):
            assert doc["subjects"] == [{"kind": "ServiceAccount", "name": "readygate",
                                        "namespace": SYSTEM}], doc


def _deployment() -> dict[str, Any]:
    return _one(MANIFESTS / "base" / "deployment.yaml")


def test_operator_deployment_runs_one_standalone_restricted_pod() -> None:
    dep = _deployment()
    spec = dep["spec"]
    assert dep["metadata"]["namespace"] == SYSTEM
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "readygate"
    assert pod["automountServiceAccountToken"] is True
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001,
                                      "runAsGroup": 10001,
                                      "seccompProfile": {"type": "RuntimeDefault"}}
    (c,) = pod["containers"]
    assert c["args"] == ["run", "--liveness", "http://0.0.0.0:8080/healthz"]
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
        "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"health": 8080,
                                                                    "metrics": 9090}
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "health"}, probe
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert env["READYGATE_METRICS_PORT"]["value"] == "9090"
    assert env["READYGATE_URL_ALLOWLIST"]["value"] == ""
    assert set(c["resources"]) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(c["resources"]["requests"])
    assert "memory" in c["resources"]["limits"]
    assert c["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"][0]["name"] == "tmp" and "emptyDir" in pod["volumes"][0]


def test_namespace_metrics_service_and_network_policy() -> None:
    ns = _one(MANIFESTS / "base" / "namespace.yaml")
    assert ns["metadata"]["name"] == SYSTEM
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    svc = _one(MANIFESTS / "base" / "service.yaml")
    assert svc["metadata"]["labels"]["app.kubernetes.io/name"] == "readygate"
    assert svc["spec"]["ports"] == [{"name": "metrics", "port": 9090, "targetPort": "metrics",
                                     "protocol": "TCP"}]
    labels = _deployment()["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    np = _one(MANIFESTS / "base" / "networkpolicy.yaml")
    assert np["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert set(np["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    health, metrics = np["spec"]["ingress"]
    assert "from" not in health and [p["port"] for p in health["ports"]] == ["health"]
    # every tenant's check names and values: only namespaces labelled as metrics readers
    assert [p["port"] for p in metrics["ports"]] == ["metrics"]
    assert metrics["from"] == [{"namespaceSelector": {"matchLabels": {
        "readygate.io/metrics-reader": "true"}}}]
    assert np["spec"]["egress"] == [{}]  # open on purpose: API server, kubelets, targets


def test_docs_explain_every_permission() -> None:
    """docs/operator.md has a table row per (group, resource) with exactly its verbs."""
    text = (ROOT / "docs" / "operator.md").read_text()
    rules = {**permissions.NAMESPACED, **permissions.CLUSTER_SCOPED,
             **permissions.CLUSTER_WIDE_ONLY}
    for (group, resource), verbs in rules.items():
        row = re.compile(rf"^\| `{re.escape(group or 'core')}` \| `{re.escape(resource)}` \| "
                         rf"{re.escape(', '.join(verbs))} \|", re.MULTILINE)
        assert row.search(text), f"docs/operator.md: no RBAC row for {group or 'core'} " \
                                 f"{resource}: {', '.join(verbs)}"


# -- rendered --------------------------------------------------------------------------------------
def render(path: Path) -> list[dict[str, Any]]:
    """``kustomize build PATH`` with hack/tools' kustomize, as objects."""
    proc = subprocess.run([tool("kustomize"), "build", str(path)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, f"kustomize build {path}: {proc.stderr}"
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {name: render(path) for name, path in INSTALLS.items()}


def _by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def _container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (dep,) = _by_kind(docs, "Deployment")
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    return dict(c)


@pytest.mark.parametrize("name", INSTALLS)
def test_every_install_has_the_shared_parts(rendered: dict[str, list[dict[str, Any]]],
                                            name: str) -> None:
    docs = rendered[name]
    kinds = {d["kind"] for d in docs}
    assert {"CustomResourceDefinition", "Namespace", "ServiceAccount", "Deployment", "Service",
            "NetworkPolicy"} <= kinds
    for d in docs:
        ns = d["metadata"].get("namespace")
        if d["kind"] in ("Namespace", "CustomResourceDefinition", "ClusterRole",
                         "ClusterRoleBinding"):
            assert ns is None, d["metadata"]
        elif not (name == "single-namespace" and d["metadata"]["name"] == "readygate"
                  and d["kind"] in ("Role", "RoleBinding")):
            assert ns == SYSTEM, d["metadata"]


def test_default_and_local_installs(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for name in ("manifests", "local"):
        docs = rendered[name]
        (role,) = _by_kind(docs, "ClusterRole")
        assert permissions.from_policy_rules(role["rules"]) == permissions.CLUSTER_WIDE_INSTALL
        assert not _by_kind(docs, "Role")
        assert _container(docs)["args"] == ["run", "--liveness", "http://0.0.0.0:8080/healthz"]
    assert _container(rendered["manifests"])["image"].startswith("ghcr.io/readygate/operator:")
    local = _container(rendered["local"])
    assert (local["image"], local["imagePullPolicy"]) == ("readygate.local/operator:dev", "Never")


def test_single_namespace_install(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["single-namespace"]
    watched = _one(MANIFESTS / "overlays" / "single-namespace" / "watched" /
                   "kustomization.yaml")["namespace"]
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]): r
             for r in _by_kind(docs, "Role")}
    assert set(roles) == {(watched, "readygate"), (SYSTEM, "readygate-self")}
    bindings = {(b["metadata"]["namespace"], b["metadata"]["name"])
                for b in _by_kind(docs, "RoleBinding")}
    assert bindings == set(roles)
    (cluster_role,) = _by_kind(docs, "ClusterRole")
    assert permissions.from_policy_rules(cluster_role["rules"]) == permissions.CLUSTER
    granted = set().union(*(permissions.from_policy_rules(r["rules"])
                            for r in (*roles.values(), cluster_role)))
    assert granted == permissions.SINGLE_NAMESPACE_INSTALL  # no namespaces permission
    # the operator serves the namespace the Role is in (the overlay's `replacements`)
    assert _container(docs)["args"] == ["run", "--namespace", watched, "--liveness",
                                        "http://0.0.0.0:8080/healthz"]
