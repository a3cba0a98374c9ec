"""charts/readygate installed with the real helm (hack/tools) on the local cluster, and removed.

``helm install`` into ``readygate-system`` with the locally built image (never pulled) and
``watchNamespace`` one fresh ``rg-e2e-ic-*`` namespace: the operator's pod becomes Ready, its
ServiceAccount may do exactly what tests/permissions.py says (``kubectl auth can-i --list``, as
tests/e2e/test_in_cluster.py asks of the kustomize install), and a ReadinessCheck there reaches
``Passed`` through it. Then ``helm uninstall`` with the check still present: the pre-delete hook
deletes it while the operator runs, the uninstall completes, the hook cleans up after itself, the
CRD stays (Helm never deletes crds/; the harness installed it for the session and helm left it
alone), and both namespaces then go at once — nothing is left Terminating.

``readygate-system`` and ``readygate-nodes`` are cluster-wide names: the test holds
``owned_readygate_system`` (incluster.py) like the in-cluster tests, and labels everything it
installs ``readygate.io/e2e=true`` (chart value ``extraLabels``) so that a killed run's leftovers
are removed by the next. What it saw (values, helm output, timings, operator log) is left in
out/e2e/helm/.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml

from ..tools import tool
from .conftest import (
    GROUP,
    IN_CLUSTER_NAMESPACE_PREFIX,
    OPERATOR_IMAGE,
    OUT,
    PLURAL,
    RESTRICTED_NAMESPACE,
    ROOT,
    VERSION,
    Cluster,
    condition,
    create_namespace,
    drop_namespace,
    is_final,
    wait_for,
    workload,
)
from .incluster import (
    OWNER_LABEL,
    SERVICE_ACCOUNT,
    SYSTEM_NAMESPACE,
    OperatorPod,
    owned_readygate_system,
)
from .test_in_cluster import (
    _assert_permissions,
    operator_image,  # noqa: F401 - the fixture builds the image
)

pytestmark = pytest.mark.e2e

CHART = ROOT / "charts" / "readygate"
RELEASE = "readygate"
CRD_NAME = "readinesschecks.readygate.io"
RESULTS = OUT / "helm"


@pytest.fixture
def owned(cluster: Cluster, operator_image: None) -> Iterator[None]:  # noqa: F811
    with owned_readygate_system(cluster):
        yield


class Helm:
    def __init__(self, cluster: Cluster, home: Path) -> None:
        self.bin = tool("helm")
        self.env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig),
                    "HELM_CONFIG_HOME": str(home / "config"),
                    "HELM_CACHE_HOME": str(home / "cache"), "HELM_DATA_HOME": str(home / "data")}
        self.transcript: list[str] = []

    def __call__(self, *args: str, timeout: float = 360) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([self.bin, *args], capture_output=True, text=True, env=self.env,
                              timeout=timeout)
        self.transcript.append(f"$ helm {' '.join(args)}\n[{proc.returncode}]\n{proc.stdout}"
                               f"{proc.stderr}")
        return proc

    def releases(self) -> list[str]:
        proc = self("list", "-n", SYSTEM_NAMESPACE, "-a", "-q")
        return proc.stdout.split() if proc.returncode == 0 else []


def _record(timings: dict[str, float]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "timings.json").write_text(
        json.dumps({k: round(v, 1) for k, v in timings.items()}, indent=2) + "\n")


def _exists(read: Any, *args: str) -> bool:
    try:
        read(*args)
    except kubernetes.client.ApiException as e:
        if e.status == 404:
            return False
        raise
    return True


def test_helm_install_serves_checks_and_uninstall_removes_them(
        cluster: Cluster, owned: None, tmp_path: Path) -> None:
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    helm = Helm(cluster, tmp_path / "helm")
    rbac = kubernetes.client.RbacAuthorizationV1Api(cluster.api)
    batch = kubernetes.client.BatchV1Api(cluster.api)
    watched = create_namespace(cluster, f"{IN_CLUSTER_NAMESPACE_PREFIX}{secrets.token_hex(4)}")
    # The release namespace, made here rather than by --create-namespace: restricted like
    # manifests/base/namespace.yaml (the operator's and the hook's pods must pass it), and
    # labelled as the e2e suite's own, so that owned_readygate_system removes it after a kill.
    cluster.core.create_namespace({"metadata": {"name": SYSTEM_NAMESPACE, "labels": {
        OWNER_LABEL: "true", **RESTRICTED_NAMESPACE}}})
    repository, tag = OPERATOR_IMAGE.rsplit(":", 1)
    values = {"image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
              "watchNamespace": watched, "extraLabels": {OWNER_LABEL: "true"},
              "uninstallHook": {"timeoutSeconds": 90}}
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "values.yaml").write_text(values_file.read_text())
    crd_before = cluster.kubectl("get", "crd", CRD_NAME, "-o",
                                 "jsonpath={.metadata.resourceVersion}").stdout
    operator = OperatorPod(cluster)
    installed = False
    try:
        proc = helm("install", RELEASE, str(CHART), "-n", SYSTEM_NAMESPACE, "-f",
                    str(values_file), "--timeout", "180s")
        installed = proc.returncode == 0
        assert installed, proc.stderr + proc.stdout
        pod = operator.wait_ready()
        timings["install_to_pod_ready"] = time.monotonic() - t0
        # the CRD of crds/ already existed (the harness's): helm skipped it, changed nothing
        assert cluster.kubectl("get", "crd", CRD_NAME, "-o",
                               "jsonpath={.metadata.resourceVersion}").stdout == crd_before
        spec = pod["spec"]
        assert spec["serviceAccountName"] == SERVICE_ACCOUNT
        (c,) = spec["containers"]
        assert (c["image"], c["imagePullPolicy"]) == (OPERATOR_IMAGE, "Never")
        assert c["args"] == ["run", "--namespace", watched, "--liveness",
                             "http://0.0.0.0:8080/healthz"]
        # what the chart grants, asked of the API server: exactly tests/permissions.py's
        _assert_permissions(cluster, "single-namespace", watched, RESULTS)

        t1 = time.monotonic()
        cluster.create_check(watched, "helm", {"target": workload(),
                                               "liveness": {"observeFor": "3s"}})
        obj = cluster.wait_check(watched, "helm", is_final, timeout=180, what="final",
                                 diagnostics=operator.diagnostics)
        timings["check_created_to_final"] = time.monotonic() - t1
        assert obj["status"]["phase"] == "Passed", obj["status"]
        ready = condition(obj, "Ready")
        assert ready is not None and ready["status"] == "True", obj["status"]
        # the finalizer that would hang an uninstall without the hook
        assert "readygate.io/finalizer" in obj["metadata"]["finalizers"], obj["metadata"]
        (RESULTS / "operator.log").write_text(operator.logs())

        # helm uninstall with the check still there: the pre-delete hook deletes it first
        t2 = time.monotonic()
        proc = helm("uninstall", RELEASE, "-n", SYSTEM_NAMESPACE, "--wait", "--timeout",
                    "300s")
        timings["uninstall"] = time.monotonic() - t2
        assert proc.returncode == 0, proc.stderr + proc.stdout
        installed = False
        assert timings["uninstall"] < 240, f"helm uninstall took {timings['uninstall']:.0f}s"
        checks = cluster.custom.list_namespaced_custom_object(GROUP, VERSION, watched, PLURAL)
        assert not checks["items"], [i["metadata"] for i in checks["items"]]
        assert RELEASE not in helm.releases()
        # the release's objects and the hook's (hook-succeeded) are gone; the CRD stays. helm
        # waited for the Deployment; its pod goes after it (garbage collector, grace period).
        wait_for("the operator's pod gone", 90, lambda: not operator.pods(terminating=True),
                 every=0.5)
        timings["uninstall_to_pod_gone"] = time.monotonic() - t2
        for read, args in (
                (cluster.apps.read_namespaced_deployment, ("readygate", SYSTEM_NAMESPACE)),
                (cluster.core.read_namespaced_service_account, ("readygate", SYSTEM_NAMESPACE)),
                (cluster.core.read_namespaced_service_account,
                 ("readygate-uninstall", SYSTEM_NAMESPACE)),
                (batch.read_namespaced_job, ("readygate-uninstall", SYSTEM_NAMESPACE)),
                (rbac.read_namespaced_role, ("readygate", watched)),
                (rbac.read_namespaced_role, ("readygate-uninstall", watched)),
                (rbac.read_namespaced_role_binding, ("readygate-uninstall", watched)),
                (rbac.read_namespaced_role, ("readygate-self", SYSTEM_NAMESPACE)),
                (rbac.read_cluster_role, ("readygate-nodes",)),
                (rbac.read_cluster_role_binding, ("readygate-nodes",))):
            assert not _exists(read, *args), f"{read.__name__}{args} still exists"
        assert cluster.kubectl("get", "crd", CRD_NAME, "-o",
                               "jsonpath={.metadata.resourceVersion}").stdout == crd_before

        # nothing holds a finalizer any more: both namespaces go at once
        t3 = time.monotonic()
        for ns in (watched, SYSTEM_NAMESPACE):
            cluster.core.delete_namespace(ns)
        for ns in (watched, SYSTEM_NAMESPACE):
            wait_for(f"namespace {ns} gone", 90,
                     lambda ns=ns: not _exists(cluster.core.read_namespace, ns), every=0.5)
        timings["namespaces_gone"] = time.monotonic() - t3
        timings["total"] = time.monotonic() - t0
    finally:
        with contextlib.suppress(Exception):
            (RESULTS / "helm.txt").write_text("\n".join(helm.transcript))
        if installed or RELEASE in helm.releases():
            # a failed run: take the release out (its hook deletes the checks), then whatever
            # is left goes with the namespaces (owned_readygate_system: readygate-system and
            # the labelled cluster-wide objects)
            helm("uninstall", RELEASE, "-n", SYSTEM_NAMESPACE, "--wait", "--timeout", "180s")
        drop_namespace(cluster, watched)
        _record(timings)
