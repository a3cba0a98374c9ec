"""The operator as a pod with its own ServiceAccount, installed from manifests/ (see incluster.py).

Both installs, one after the other: ``single-namespace`` (a Role in the watched namespace, the
ClusterRole readygate-nodes) and ``cluster-wide`` (the default ClusterRole, via
manifests/overlays/local), each told to watch one fresh ``rg-e2e-ic-*`` namespace. For each:
the pod becomes Ready under its own ServiceAccount and the restricted Pod Security Standard (uid
10001, read-only root filesystem — from the spec and from inside the container), its liveness
and metrics endpoints answer, a ReadinessCheck of the test workload reaches ``Passed`` with
``Ready=True``, the operator's log shows no request it was forbidden (but kopf's own CRD and
namespace observation, which readygate deliberately does not grant: docs/operator.md), and
``kubectl auth can-i --list`` as that ServiceAccount — in the watched namespace, in
readygate-system, and at cluster scope (``default``, where no Role binds it) — shows no ``*`` and
exactly the permissions of tests/permissions.py, nothing more, nothing less.

The image is rebuilt and imported first (``hack/local-cluster/images operator``). What the
tests saw (rendered install, can-i answers, operator log, timings) is left in out/e2e/in-cluster/.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .. import permissions
from ..permissions import Permission
from ..statusview import checks_of
from .conftest import (
    IN_CLUSTER_NAMESPACE_PREFIX,
    OPERATOR_IMAGE,
    OUT,
    ROOT,
    Cluster,
    condition,
    create_namespace,
    drop_namespace,
    is_final,
    workload,
)
from .incluster import (
    KINDS,
    SERVICE_ACCOUNT,
    SERVICE_ACCOUNT_USER,
    SYSTEM_NAMESPACE,
    Install,
    owned_readygate_system,
)

pytestmark = pytest.mark.e2e

RESULTS = OUT / "in-cluster"
# Same namespace, same groups (system:serviceaccounts, system:serviceaccounts:readygate-system,
# system:authenticated), no binding of its own: what every such account may do anyway
# (self-subject reviews, discovery and health URLs) is subtracted from the operator's answer.
BASELINE_USER = f"system:serviceaccount:{SYSTEM_NAMESPACE}:readygate-e2e-nobody"
# `kubectl auth can-i --list` rows: Resources, Non-Resource URLs, Resource Names, Verbs.
ROW = re.compile(r"^(?P<res>\S*)\s+\[(?P<urls>[^\]]*)\]\s+\[(?P<names>[^\]]*)\]\s+"
                 r"\[(?P<verbs>[^\]]*)\]\s*$")
# kopf's observation of CRDs (both installs) and of namespaces (single-namespace): refused on
# purpose, retried by kopf, then given up with a warning (docs/operator.md, "kopf settings").
KOPF_OBSERVATION = {
    "single-namespace": re.compile(r"customresourcedefinitions|GET https://\S+/api/v1/namespaces\b"),
    "cluster-wide": re.compile(r"customresourcedefinitions"),
}


@pytest.fixture(scope="module")
def operator_image() -> None:
    started = time.monotonic()
    proc = subprocess.run([str(ROOT / "hack" / "local-cluster" / "images"), "operator"],
                          capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        pytest.fail(f"hack/local-cluster/images operator failed:\n{proc.stderr[-4000:]}",
                    pytrace=False)
    _record("image", {"seconds": round(time.monotonic() - started, 1)})


@pytest.fixture(scope="module")
def owned(cluster: Cluster, operator_image: None) -> Iterator[None]:
    with owned_readygate_system(cluster):
        yield


def _record(key: str, value: Any) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "timings.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = value
    path.write_text(json.dumps(data, indent=2) + "\n")


# -- kubectl auth can-i --list ---------------------------------------------------------------------
def can_i(cluster: Cluster, user: str, namespace: str) -> tuple[str, set[Permission]]:
    """The raw answer, and the permissions in it: (apiGroup, resource, verb), or
    ("nonResourceURL", url, verb)."""
    out = cluster.kubectl("auth", "can-i", "--list", f"--as={user}", "-n", namespace).stdout
    lines = out.splitlines()
    assert lines and lines[0].split()[0] == "Resources", out
    perms: set[Permission] = set()
    for line in lines[1:]:
        m = ROW.match(line)
        assert m, f"unexpected can-i line {line!r}"
        verbs = m["verbs"].split()
        if m["res"]:
            head, _, sub = m["res"].partition("/")  # resource.group/subresource
            name, _, group = head.partition(".")
            resource = f"{name}/{sub}" if sub else name
            assert not m["names"], f"unexpected resourceNames: {line!r}"
            perms.update((group, resource, v) for v in verbs)
        else:
            perms.update(("nonResourceURL", url, v) for url in m["urls"].split() for v in verbs)
    return out, perms


def _wildcard_rows(text: str) -> list[str]:
    """Rows granting a resource or verb with a ``*`` (non-resource URL rows are discovery's)."""
    bad = []
    for line in text.splitlines()[1:]:
        m = ROW.match(line)
        if m and m["res"] and ("*" in m["res"] or "*" in m["verbs"] or "*" in m["names"]):
            bad.append(line)
    return bad


EXPECTED: dict[str, dict[str, set[Permission]]] = {
    # scope -> what the operator's account may do there beyond any service account
    "single-namespace": {
        "watched": permissions.ALL_NAMESPACED | permissions.CLUSTER,
        SYSTEM_NAMESPACE: permissions.CLUSTER | permissions.OWN_POD,
        "default": permissions.CLUSTER,
    },
    "cluster-wide": {
        "watched": permissions.CLUSTER_WIDE_INSTALL,
        SYSTEM_NAMESPACE: permissions.CLUSTER_WIDE_INSTALL,
        "default": permissions.CLUSTER_WIDE_INSTALL,
    },
}


# -- the test --------------------------------------------------------------------------------------
def _http_get(url: str) -> httpx.Response:
    # a pod address of the cluster this run created; no proxies
    return httpx.get(url, timeout=5, trust_env=False)


@pytest.mark.parametrize("kind", KINDS)
def test_operator_in_cluster(cluster: Cluster, owned: None, kind: str, tmp_path: Path) -> None:
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    watched = create_namespace(cluster,
                               f"{IN_CLUSTER_NAMESPACE_PREFIX}{secrets.token_hex(4)}")
    install: Install | None = None
    results = RESULTS / kind
    results.mkdir(parents=True, exist_ok=True)
    try:
        install = Install(cluster, kind, watched, tmp_path)
        (results / "install.yaml").write_text(install.file.read_text())
        args = install.deployment()["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args == ["run", "--namespace", watched, "--liveness",
                        "http://0.0.0.0:8080/healthz"], args

        install.apply()
        pod = install.wait_ready()
        timings["applied_to_pod_ready"] = time.monotonic() - t0
        _assert_pod(cluster, install, pod)

        t1 = time.monotonic()
        # Everything that needs a permission of the operator's own: load from Job pods of its
        # own image (jobs, secrets, pods/log, its own pod), memory from the kubelet
        # (nodes, nodes/stats), a pod deleted under load (pods delete).
        cluster.create_check(watched, "in-cluster", {
            "target": workload({}, replicas=2), "liveness": {"observeFor": "3s"},
            "load": {"rate": 20, "duration": "10s", "workers": 2,
                     "thresholds": {"minSamples": 150}},
            "stability": {"sampleEvery": "2s"},
            "resilience": {"killPods": 1, "after": "2s", "maxRecovery": "60s"}})
        obj = cluster.wait_check(watched, "in-cluster", is_final, timeout=240, what="final",
                                 diagnostics=install.diagnostics)
        timings["check_created_to_final"] = time.monotonic() - t1
        status = obj["status"]
        assert status["phase"] == "Passed", status
        ready = condition(obj, "Ready")
        assert ready is not None and ready["status"] == "True", status
        checks = checks_of(status)
        assert checks["load"]["measured"]["workers"] == 2
        assert 180 <= checks["load"]["measured"]["requests"] <= 205
        assert checks["stability"]["measured"]["samples"] >= 2
        assert checks["resilience"]["measured"]["recoverySeconds"] > 0

        _assert_permissions(cluster, kind, watched, results)

        log = install.logs()
        (results / "operator.log").write_text(log)
        refused = [line for line in log.splitlines()
                   if "forbidden" in line.lower()  # every 403 of the API server says so
                   and not KOPF_OBSERVATION[kind].search(line)]
        assert not refused, "the operator was refused something it needs:\n" + "\n".join(
            refused[:20])
        assert re.search(rf"{watched}\W+in-cluster", log), "this operator did not serve the check"
    finally:
        t2 = time.monotonic()
        drop_namespace(cluster, watched)
        timings["teardown_checks"] = time.monotonic() - t2
        if install is not None:
            with contextlib.suppress(Exception):
                (results / "operator.log").write_text(install.logs())
            install.remove()
        timings["teardown"] = time.monotonic() - t2
        timings["total"] = time.monotonic() - t0
        _record(kind, {k: round(v, 1) for k, v in timings.items()})


def _assert_pod(cluster: Cluster, install: Install, pod: dict[str, Any]) -> None:
    spec = pod["spec"]
    assert spec["serviceAccountName"] == SERVICE_ACCOUNT
    assert spec.get("automountServiceAccountToken") is True
    (container,) = spec["containers"]
    assert container["image"] == OPERATOR_IMAGE
    sc = {**(spec.get("securityContext") or {}), **(container.get("securityContext") or {})}
    assert sc.get("runAsUser") == 10001, sc
    assert sc.get("runAsNonRoot") is True, sc
    assert sc.get("readOnlyRootFilesystem") is True, sc
    assert sc.get("allowPrivilegeEscalation") is False, sc
    assert (sc.get("capabilities") or {}).get("drop") == ["ALL"], sc
    assert (sc.get("seccompProfile") or {}).get("type") == "RuntimeDefault", sc
    (cs,) = pod["status"]["containerStatuses"]
    assert cs["ready"] is True and cs["restartCount"] == 0, cs

    # From inside: the process's uid, and the root filesystem really refusing writes.
    probe = ("import os, tempfile\n"
             "try:\n    open('/rg-probe', 'w')\n    root = 'writable'\n"
             "except OSError as e:\n    root = os.strerror(e.errno)\n"
             "tempfile.NamedTemporaryFile(dir='/tmp').close()\n"
             "print(os.getuid(), os.getgid(), root, sep='|')\n")
    out = cluster.kubectl("exec", "-n", SYSTEM_NAMESPACE, pod["metadata"]["name"], "-c",
                          container["name"], "--", "python3", "-c", probe).stdout.strip()
    uid, gid, root = out.splitlines()[-1].split("|")
    assert (uid, gid) == ("10001", "10001"), out
    assert root == "Read-only file system", out

    # The liveness endpoint (kubelet probes made it Ready; ask it too) and the metrics.
    ip = pod["status"]["podIP"]
    health = _http_get(f"http://{ip}:8080/healthz")
    assert health.status_code == 200, health.text
    metrics = _http_get(f"http://{ip}:9090/metrics")
    assert metrics.status_code == 200 and "readygate_" in metrics.text, metrics.text[:500]
    # The metrics Service selects the pod, on the port named metrics.
    endpoints = cluster.core.read_namespaced_endpoints("readygate-metrics", SYSTEM_NAMESPACE)
    addresses = {a.ip for s in endpoints.subsets or [] for a in s.addresses or []}
    ports = {(p.name, p.port) for s in endpoints.subsets or [] for p in s.ports or []}
    assert addresses == {ip} and ports == {("metrics", 9090)}, endpoints


def _assert_permissions(cluster: Cluster, kind: str, watched: str, results: Path) -> None:
    granted_anywhere: set[Permission] = set()
    for scope, expected in EXPECTED[kind].items():
        namespace = watched if scope == "watched" else scope
        text, granted = can_i(cluster, SERVICE_ACCOUNT_USER, namespace)
        _, baseline = can_i(cluster, BASELINE_USER, namespace)
        (results / f"can-i-{scope}.txt").write_text(
            f"$ kubectl auth can-i --list --as={SERVICE_ACCOUNT_USER} -n {namespace}\n{text}")
        assert not _wildcard_rows(text), _wildcard_rows(text)
        own = granted - baseline
        assert not [p for p in own if p[0] == "nonResourceURL"], own
        assert not [p for p in own if "*" in "".join(p)], own
        assert own == expected, (
            f"{kind}, {scope} ({namespace}): more than expected: {sorted(own - expected)}; "
            f"missing: {sorted(expected - own)}\n{text}")
        granted_anywhere |= own
    want = (permissions.CLUSTER_WIDE_INSTALL if kind == "cluster-wide"
            else permissions.SINGLE_NAMESPACE_INSTALL)
    assert granted_anywhere == want, sorted(granted_anywhere ^ want)
