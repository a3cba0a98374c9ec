"""Uninstall with checks present completes (last in the session: it removes the CRD, and puts
it back for whatever runs after). hack/uninstall deletes the checks while the operator still
runs, then the install; nothing is left Terminating."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import (
    IN_CLUSTER_NAMESPACE_PREFIX,
    ROOT,
    Cluster,
    create_namespace,
    drop_namespace,
    is_final,
    workload,
)
from .incluster import SYSTEM_NAMESPACE, Install, owned_readygate_system
from .test_in_cluster import operator_image  # noqa: F401 - the fixture builds the image

CRD = ROOT / "crds" / "readinesschecks.readygate.io.yaml"


@pytest.fixture
def owned_install(cluster: Cluster, operator_image: None) -> Iterator[None]:  # noqa: F811
    with owned_readygate_system(cluster):
        yield


def test_uninstall_with_checks_present_completes(cluster: Cluster, owned_install: None,
                                                 tmp_path: Path) -> None:
    watched = create_namespace(cluster, f"{IN_CLUSTER_NAMESPACE_PREFIX}{secrets.token_hex(4)}")
    install = Install(cluster, "cluster-wide", watched, tmp_path)
    try:
        install.apply()
        install.wait_ready()
        cluster.create_check(watched, "plain", {"target": workload(),
                                                "liveness": {"enabled": False}})
        cluster.create_check(watched, "gated", {"target": workload(),
                                                "liveness": {"enabled": False},
                                                "gate": {"podReadinessGate": "readygate.io/x"}})
        for name in ("plain", "gated"):
            obj = cluster.wait_check(watched, name, is_final, timeout=180, what="final")
            assert obj["metadata"].get("finalizers"), obj["metadata"]  # what used to hang
        # the whole install, the CRD included, as `kubectl delete -k manifests/` would see it
        everything = tmp_path / "everything.yaml"
        everything.write_text(CRD.read_text() + "\n---\n" + install.file.read_text())
        env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig),
               "KUBECTL": cluster.kubectl_bin}
        t0 = time.monotonic()
        proc = subprocess.run([str(ROOT / "hack" / "uninstall"), "-f", str(everything)],
                              capture_output=True, text=True, env=env, timeout=300)
        took = time.monotonic() - t0
        assert proc.returncode == 0, proc.stderr
        assert "every ReadinessCheck is gone" in proc.stderr, proc.stderr
        assert took < 240, f"uninstall took {took:.0f}s"
        crd = cluster.kubectl("get", "crd", "readinesschecks.readygate.io", check=False)
        assert crd.returncode != 0 and "NotFound" in crd.stderr, crd.stdout
        ns = cluster.kubectl("get", "namespace", SYSTEM_NAMESPACE, check=False)
        assert ns.returncode != 0, ns.stdout
    finally:
        cluster.install_crd()
        drop_namespace(cluster, watched)
        if cluster.kubectl("get", "namespace", SYSTEM_NAMESPACE, check=False).returncode == 0:
            install.remove()
