"""readygate installed in the cluster from manifests/, for e2e tests: render, own, apply, remove.

An install is rendered by the cluster's own kubectl (``kubectl kustomize``, current kustomize; it
must print no warning) from a temporary overlay over a shipped one —
``manifests/overlays/single-namespace`` or ``manifests/overlays/local`` (the default cluster-wide
install) — with the locally built image (never pulled) and the operator's ``--namespace`` set to
one ``rg-e2e-ic-*`` namespace, which the harness's out-of-cluster operator leaves alone
(``IN_CLUSTER_NAMESPACE_PREFIX``).

``readygate-system`` and the ClusterRoles/ClusterRoleBindings are cluster-wide names, so a test
holding an install owns them for as long as it runs: ``owned_readygate_system`` takes a file
lock beside the cluster's state (every test that installs readygate in the cluster must take
it), removes what a killed earlier run left (every object an install creates carries
``readygate.io/e2e=true``), and refuses — rather than deletes — an install it did not make. The
CRD is never applied or removed here: the harness installs it from ``crds/`` for the session.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml

from .conftest import (
    GROUP,
    IN_CLUSTER_NAMESPACE_PREFIX,
    OPERATOR_IMAGE,
    PLURAL,
    ROOT,
    STATE,
    VERSION,
    Cluster,
)

SYSTEM_NAMESPACE = "readygate-system"
SERVICE_ACCOUNT = "readygate"
SERVICE_ACCOUNT_USER = f"system:serviceaccount:{SYSTEM_NAMESPACE}:{SERVICE_ACCOUNT}"
OWNER_LABEL = "readygate.io/e2e"
POD_SELECTOR = "app.kubernetes.io/name=readygate,app.kubernetes.io/component=operator"
SHIPPED_IMAGE = "ghcr.io/readygate/operator"  # manifests/base/deployment.yaml
LIVENESS = "http://0.0.0.0:8080/healthz"
LOCK = STATE / "locks" / "readygate-system.lock"
MANIFESTS = ROOT / "manifests"
KINDS = ("single-namespace", "cluster-wide")
# Cluster-scoped objects an install creates (kind, name), besides the namespace.
CLUSTER_OBJECTS = (("clusterrole", "readygate"), ("clusterrolebinding", "readygate"),
                   ("clusterrole", "readygate-nodes"), ("clusterrolebinding", "readygate-nodes"))
# Pod states that will not get better by waiting.
HOPELESS = {"ErrImageNeverPull", "ImagePullBackOff", "ErrImagePull", "InvalidImageName",
            "CreateContainerConfigError", "CreateContainerError", "RunContainerError"}


def _gone(cluster: Cluster, *args: str) -> bool:
    proc = cluster.kubectl("get", *args, "-o", "name", check=False)
    return proc.returncode != 0 and "NotFound" in proc.stderr


def _wait_gone(cluster: Cluster, *args: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not _gone(cluster, *args):
        if time.monotonic() > deadline:
            raise AssertionError(f"{' '.join(args)} still exists after {timeout:.0f}s")
        time.sleep(0.5)


def _remove_leftovers(cluster: Cluster) -> None:
    """Remove what an earlier, killed run left; fail on anything this suite did not create."""
    # Watched namespaces of a killed run: their checks' finalizers have no operator any more.
    for ns in cluster.core.list_namespace(label_selector=f"{OWNER_LABEL}=true").items:
        name = ns.metadata.name
        if not name.startswith(IN_CLUSTER_NAMESPACE_PREFIX):
            continue
        checks = cluster.custom.list_namespaced_custom_object(GROUP, VERSION, name, PLURAL)
        for item in checks.get("items") or []:
            with contextlib.suppress(kubernetes.client.ApiException):
                cluster.custom.patch_namespaced_custom_object(
                    GROUP, VERSION, name, PLURAL, item["metadata"]["name"],
                    {"metadata": {"finalizers": []}})
        if ns.status.phase != "Terminating":
            with contextlib.suppress(kubernetes.client.ApiException):
                cluster.core.delete_namespace(name)
    for kind, name in (("namespace", SYSTEM_NAMESPACE), *CLUSTER_OBJECTS):
        proc = cluster.kubectl("get", kind, name, "-o", "yaml", check=False)
        if proc.returncode != 0:
            continue
        obj = yaml.safe_load(proc.stdout)
        labels = obj["metadata"].get("labels") or {}
        terminating = (obj.get("status") or {}).get("phase") == "Terminating"
        if labels.get(OWNER_LABEL) != "true" and not terminating:
            pytest.fail(f"{kind}/{name} exists and was not created by the e2e suite (is "
                        "readygate installed in this cluster?); remove it to run the in-cluster "
                        "tests", pytrace=False)
        if kind == "namespace" and not terminating:
            # let the operator go first, so that nothing it does races the namespace's deletion
            cluster.kubectl("scale", "deployment", "-n", name, "-l", OWNER_LABEL,
                            "--replicas=0", check=False)
            cluster.kubectl("wait", "pod", "-n", name, "-l", POD_SELECTOR, "--for=delete",
                            "--timeout=60s", check=False)
        cluster.kubectl("delete", kind, name, "--ignore-not-found", "--wait=false")
        _wait_gone(cluster, kind, name)


@contextlib.contextmanager
def owned_readygate_system(cluster: Cluster, timeout: float = 900) -> Iterator[None]:
    """Hold readygate-system and readygate's cluster-wide names for the duration."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("a") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{LOCK} held by another test run for {timeout:.0f}s",
                                pytrace=False)
                time.sleep(1)
        try:
            _remove_leftovers(cluster)
            yield
        finally:
            try:
                _remove_leftovers(cluster)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


class OperatorPod:
    """The operator's pod in readygate-system, however it was installed (manifests/ or Helm)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def pods(self, *, terminating: bool = False) -> list[dict[str, Any]]:
        pods = self.cluster.core.list_namespaced_pod(SYSTEM_NAMESPACE,
                                                     label_selector=POD_SELECTOR)
        items: list[dict[str, Any]] = self.cluster.api.sanitize_for_serialization(pods)["items"]
        return [p for p in items if terminating or not p["metadata"].get("deletionTimestamp")]

    def logs(self, tail: int | None = None) -> str:
        # with a selector kubectl shows 10 lines unless told otherwise
        args = ["logs", "-n", SYSTEM_NAMESPACE, "-l", POD_SELECTOR, "--all-containers",
                f"--tail={-1 if tail is None else tail}"]
        proc = self.cluster.kubectl(*args, check=False)
        return proc.stdout + proc.stderr

    def diagnostics(self) -> str:
        pods = self.cluster.kubectl("get", "pods", "-n", SYSTEM_NAMESPACE, "-o", "wide",
                                    check=False).stdout
        events = self.cluster.kubectl("get", "events", "-n", SYSTEM_NAMESPACE,
                                      "--sort-by=.lastTimestamp", check=False).stdout
        return (f"pods:\n{pods}\nevents:\n{events[-3000:]}\n"
                f"operator log (tail):\n{self.logs(tail=60)}")

    def wait_ready(self, timeout: float = 180) -> dict[str, Any]:
        """The operator's pod once Ready; fails at once on a state waiting will not fix."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for pod in self.pods():
                status = pod.get("status") or {}
                conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
                if conditions.get("Ready") == "True":
                    return pod
                for cs in status.get("containerStatuses") or []:
                    waiting = (cs.get("state") or {}).get("waiting") or {}
                    if waiting.get("reason") in HOPELESS or cs.get("restartCount", 0) >= 3:
                        raise AssertionError(f"the operator pod will not start: {cs}\n"
                                             f"{self.diagnostics()}")
            time.sleep(0.5)
        raise AssertionError(f"the operator pod was not Ready within {timeout:.0f}s\n"
                             f"{self.diagnostics()}")


class Install(OperatorPod):
    """One rendered install of readygate: what it contains, and how to put it in and take it out."""

    def __init__(self, cluster: Cluster, kind: str, watched: str, workdir: Path) -> None:
        assert kind in KINDS, kind
        super().__init__(cluster)
        self.kind = kind
        self.watched = watched
        self.workdir = workdir
        self.objects = self._render()
        self.file = workdir / "install.yaml"
        self.file.write_text(yaml.safe_dump_all(self.objects, sort_keys=False))

    # -- rendering ---------------------------------------------------------------------------------
    def _overlay(self) -> Path:
        d = self.workdir / "overlay"
        d.mkdir(parents=True, exist_ok=True)
        kustomization: dict[str, Any] = {}
        patches: list[dict[str, Any]] = []
        container: dict[str, Any] = {
            "name": "operator",
            # Set here for both kinds: the shipped single-namespace overlay copies the Role's
            # namespace into --namespace with `replacements`, which apply inside that
            # kustomization only — moving the Role from this overlay does not reach the args.
            "args": ["run", "--namespace", self.watched, "--liveness", LIVENESS]}
        if self.kind == "single-namespace":
            base = MANIFESTS / "overlays" / "single-namespace"
            shipped = yaml.safe_load((base / "watched" / "kustomization.yaml").read_text())
            default_ns = shipped["namespace"]
            new_name, new_tag = OPERATOR_IMAGE.rsplit(":", 1)
            kustomization["images"] = [{"name": SHIPPED_IMAGE, "newName": new_name,
                                        "newTag": new_tag}]
            # The watched namespace is set in one place in the shipped overlay; move it here.
            (d / "watched.yaml").write_text(yaml.safe_dump(
                [{"op": "replace", "path": "/metadata/namespace", "value": self.watched}]))
            patches += [
                {"path": "watched.yaml",
                 "target": {"group": "rbac.authorization.k8s.io", "version": "v1", "kind": k,
                            "name": "readygate", "namespace": default_ns}}
                for k in ("Role", "RoleBinding")]
            container["imagePullPolicy"] = "Never"
        else:
            base = MANIFESTS / "overlays" / "local"  # the local image, never pulled, already
        (d / "deployment.yaml").write_text(yaml.safe_dump({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "readygate", "namespace": SYSTEM_NAMESPACE},
            "spec": {"template": {"spec": {"containers": [container]}}}}))
        patches.append({"path": "deployment.yaml"})
        # another kustomization may be anywhere, given relative to the overlay (only files
        # must be inside it)
        kustomization["resources"] = [os.path.relpath(base, d)]
        kustomization["patches"] = patches
        (d / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
        return d

    def _render(self) -> list[dict[str, Any]]:
        proc = self.cluster.kubectl("kustomize", str(self._overlay()))
        # kustomize warns on stderr (deprecated fields, ...); the overlay uses none
        assert not proc.stderr.strip(), f"kubectl kustomize warned: {proc.stderr}"
        out = proc.stdout
        objects = []
        for obj in yaml.safe_load_all(out):
            if not obj:
                continue
            if obj["kind"] == "CustomResourceDefinition":
                # the harness installs crds/ for the session; re-applying the copy could only
                # revert a newer CRD under other tests' feet (the unit tests keep them equal)
                continue
            obj["metadata"].setdefault("labels", {})[OWNER_LABEL] = "true"
            objects.append(obj)
        return objects

    def deployment(self) -> dict[str, Any]:
        return next(o for o in self.objects if o["kind"] == "Deployment")

    # -- acting ----------------------------------------------------------------------------------
    def apply(self) -> None:
        self.cluster.kubectl("apply", "-f", str(self.file))

    def remove(self) -> None:
        """Take out everything the install created, the operator first; wait until it is gone."""
        # Scaled to zero, the pod goes in seconds; deleted, it would wait for the garbage
        # collector to get to its ReplicaSet.
        with contextlib.suppress(kubernetes.client.ApiException):
            self.cluster.apps.patch_namespaced_deployment_scale(
                "readygate", SYSTEM_NAMESPACE, {"spec": {"replicas": 0}})
        deadline = time.monotonic() + 60
        while self.pods(terminating=True) and time.monotonic() < deadline:
            time.sleep(0.5)
        self.cluster.kubectl("delete", "-f", str(self.file), "--ignore-not-found",
                             "--wait=false", timeout=120)
        _wait_gone(self.cluster, "namespace", SYSTEM_NAMESPACE)
