"""The e2e harness: the real local cluster, the operator as a real process, a namespace per test.

``cluster`` refuses any kubeconfig context it did not create (``readygate-local``) unless
``READYGATE_E2E_ALLOW_CONTEXT`` names it, so the suite can never touch a user's cluster by
accident; it fails — never skips — when no cluster is reachable. ``operator`` runs
``readygate run`` out of cluster against that API server. Everything the tests read comes from
the real API server.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import kubernetes
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("READYGATE_CLUSTER_STATE",
                            Path.home() / ".local/state/readygate/cluster"))
EXPECTED_CONTEXT = "readygate-local"
OUT = ROOT / "out" / "e2e"
GROUP, VERSION, PLURAL = "readygate.io", "v1alpha1", "readinesschecks"
WORKLOAD_IMAGE = "readygate.local/workload:dev"
OPERATOR_IMAGE = "readygate.local/operator:dev"
# The test workload with no USER in its image config (as most real images): it would run as root
ROOT_IMAGE = "readygate.local/workload-root:dev"
# Containers the tests run themselves get requests, like readygate's own deploy targets (a
# BestEffort pod is starved of CPU whenever the other scenarios keep both cores busy), and the
# restricted security context: every e2e namespace enforces the restricted Pod Security Standard.
RESTRICTED_CONTAINER = {
    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
    "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "seccompProfile": {"type": "RuntimeDefault"}},
}
# Every namespace the e2e suite makes enforces the restricted Pod Security Standard, as the
# operator's own namespace does: what readygate deploys (Deployments, load Jobs) must pass it.
RESTRICTED_NAMESPACE = {"pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/enforce-version": "latest"}
# Namespaces whose checks are served by an operator a test runs inside the cluster; the
# out-of-cluster operator of this harness never serves them.
IN_CLUSTER_NAMESPACE_PREFIX = "rg-e2e-ic-"
# Every namespace this pytest session creates starts with SESSION_PREFIX, and its operator
# serves only those: two sessions on one cluster never serve each other's checks.
SESSION = secrets.token_hex(2)
SESSION_PREFIX = f"rg-e2e-{SESSION}-"


ESTABLISHED = 'jsonpath={.status.conditions[?(@.type=="Established")].status}'


class Cluster:
    def __init__(self, kubeconfig: Path, context: str) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.api = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
        self.core = kubernetes.client.CoreV1Api(self.api)
        self.apps = kubernetes.client.AppsV1Api(self.api)
        self.custom = kubernetes.client.CustomObjectsApi(self.api)
        built = STATE / "bin" / "kubectl"
        self.kubectl_bin = str(built) if built.exists() else "kubectl"

    def kubectl(self, *args: str, check: bool = True, input: str | None = None,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [self.kubectl_bin, "--kubeconfig", str(self.kubeconfig), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, input=input, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed: {proc.stderr}{proc.stdout}")
        return proc

    # -- ReadinessChecks ---------------------------------------------------------------------

    def install_crd(self) -> None:
        """Apply the CRD and wait until the API server serves it. Not `kubectl wait
        --for=condition=Established`: read before the API server wrote any condition (right
        after the first apply on a fresh cluster) it fails at once with ".status.conditions
        accessor error: <nil>" instead of waiting."""
        self.kubectl("apply", "-f", str(ROOT / "crds" / "readinesschecks.readygate.io.yaml"))
        wait_for("the CRD Established", 60, lambda: self.kubectl(
            "get", "crd", "readinesschecks.readygate.io", "-o", ESTABLISHED,
            check=False).stdout.strip() == "True", every=0.2)

    def create_check(self, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ReadinessCheck",
                "metadata": {"name": name}, "spec": spec}
        result: dict[str, Any] = self.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, body)
        return result

    def get_check(self, namespace: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name)
        return result

    def patch_spec(self, namespace: str, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name,
                                                   {"spec": spec})

    def delete_check(self, namespace: str, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)

    def wait_check(self, namespace: str, name: str, predicate: Callable[[dict[str, Any]], bool],
                   *, timeout: float, what: str,
                   diagnostics: Callable[[], str] | None = None) -> dict[str, Any]:
        """Poll the check until ``predicate``; fail with its status and what the operator
        said (``diagnostics``, by default the session operator's log tail)."""
        deadline = time.monotonic() + timeout
        obj: dict[str, Any] = {}
        while time.monotonic() < deadline:
            obj = self.get_check(namespace, name)
            if predicate(obj):
                return obj
            time.sleep(0.25)
        said = diagnostics() if diagnostics is not None else operator_log_tail()
        raise AssertionError(f"{namespace}/{name}: not {what} within {timeout:.0f}s; status: "
                             f"{yaml.safe_dump(obj.get('status'))}\noperator:\n{said}")


OPERATOR_LOG = OUT / f"operator-{SESSION}.log"


def operator_log_tail(lines: int = 40) -> str:
    path = OPERATOR_LOG
    if not path.exists():
        return "(no operator log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def condition(obj: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return dict(c)
    return None


def checks_of_obj(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``status.checks`` of a ReadinessCheck as a mapping from name to entry."""
    return {str(c["name"]): c for c in (obj.get("status") or {}).get("checks") or []}


def is_final(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    return (status.get("observedGeneration") == obj["metadata"]["generation"]
            and status.get("phase") in ("Passed", "Failed", "Inconclusive", "Error"))


def workload(env: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """A deploy target running the test workload with these environment variables."""
    return {"deploy": {"image": WORKLOAD_IMAGE, "imagePullPolicy": "Never", "port": 8080,
                       "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
                       **extra}}


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    kubeconfig = Path(os.environ.get("READYGATE_E2E_KUBECONFIG") or STATE / "kubeconfig")
    if not kubeconfig.exists():
        pytest.fail(f"no cluster: {kubeconfig} does not exist. Run hack/local-cluster/up (the "
                    "test command hack/test does it for you).", pytrace=False)
    config = yaml.safe_load(kubeconfig.read_text())
    context = str(config.get("current-context"))
    allowed = {EXPECTED_CONTEXT, os.environ.get("READYGATE_E2E_ALLOW_CONTEXT", EXPECTED_CONTEXT)}
    if context not in allowed:
        pytest.fail(f"refusing kubeconfig context {context!r}: the e2e suite only runs against "
                    f"the cluster it created ({EXPECTED_CONTEXT!r}); set "
                    "READYGATE_E2E_ALLOW_CONTEXT to that context to allow it", pytrace=False)
    c = Cluster(kubeconfig, context)
    c.install_crd()
    return c


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Operator:
    """An operator process (``readygate run``) out of cluster, serving some namespaces."""

    def __init__(self, proc: subprocess.Popen[bytes], health: str, metrics: str,
                 log: Path) -> None:
        self.proc = proc
        self.health = health
        self.metrics = metrics  # http://127.0.0.1:PORT/metrics
        self.log = log

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def launch_operator(cluster: Cluster, namespaces: str, log: Path,
                    extra_env: dict[str, str] | None = None) -> Operator:
    """Start ``readygate run --namespace NAMESPACES`` and wait until its liveness answers."""
    OUT.mkdir(parents=True, exist_ok=True)
    port, metrics_port = _free_port(), _free_port()
    health = f"http://127.0.0.1:{port}/healthz"
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig),
           "READYGATE_URL_ALLOWLIST": "127.0.0.1/32,localhost", "READYGATE_POLL_INTERVAL": "0.5",
           "READYGATE_METRICS_PORT": str(metrics_port), "PYTHONUNBUFFERED": "1",
           # distributed load: Job pods run the operator's image (hack/local-cluster/images)
           "READYGATE_WORKER_IMAGE": OPERATOR_IMAGE, "READYGATE_WORKER_PULL_POLICY": "Never",
           "READYGATE_JOB_START_DELAY": "4", **(extra_env or {})}
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "readygate", "run", "--verbose",
                                 "--namespace", namespaces, "--liveness", health],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    op = Operator(proc, health, f"http://127.0.0.1:{metrics_port}/metrics", log)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"the operator exited with {proc.returncode}:\n{op.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(health, timeout=1, trust_env=False).status_code == 200:
                return op
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the operator did not become live:\n{op.log_tail()}")
        time.sleep(0.3)


@pytest.fixture(scope="session")
def operator(cluster: Cluster) -> Iterator[Operator]:
    OPERATOR_LOG.unlink(missing_ok=True)
    op = launch_operator(cluster, f"{SESSION_PREFIX}*", OPERATOR_LOG)
    yield op
    op.stop()


def create_namespace(cluster: Cluster, name: str) -> str:
    cluster.core.create_namespace({"metadata": {"name": name, "labels": {
        "readygate.io/e2e": "true", **RESTRICTED_NAMESPACE}}})
    return name


def drop_namespace(cluster: Cluster, name: str, timeout: float = 60) -> None:
    """Delete the checks first, while their operator is still there to release its
    finalizer; if it does not, remove the finalizers so the namespace is never left stuck."""
    with contextlib.suppress(kubernetes.client.ApiException):
        cluster.custom.delete_collection_namespaced_custom_object(GROUP, VERSION, name, PLURAL)
    deadline = time.monotonic() + timeout
    items: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        items = cluster.custom.list_namespaced_custom_object(GROUP, VERSION, name,
                                                             PLURAL).get("items") or []
        if not items:
            break
        time.sleep(0.3)
    for item in items:
        with contextlib.suppress(kubernetes.client.ApiException):
            cluster.custom.patch_namespaced_custom_object(
                GROUP, VERSION, name, PLURAL, item["metadata"]["name"],
                {"metadata": {"finalizers": []}})
    with contextlib.suppress(kubernetes.client.ApiException):
        cluster.core.delete_namespace(name)


def wait_for(what: str, timeout: float, fn: Callable[[], Any], every: float = 0.3) -> Any:
    """Poll ``fn`` until it returns something truthy; fail saying what did not happen."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not {what} within {timeout:.0f}s (last: {value!r})")


def _new_namespace(cluster: Cluster, hint: str) -> str:
    hint = hint.lower().replace("_", "-")[:30].strip("-")
    return create_namespace(cluster, f"{SESSION_PREFIX}{hint}-{secrets.token_hex(3)}")


@pytest.fixture
def namespace(request: pytest.FixtureRequest, cluster: Cluster) -> Iterator[str]:
    name = _new_namespace(cluster, request.node.name)
    yield name
    drop_namespace(cluster, name)


@pytest.fixture
def own_namespace(request: pytest.FixtureRequest, cluster: Cluster) -> Iterator[str]:
    """A namespace no session operator serves (rg-e2e-x<session>-...): for tests that run (and
    kill) operators of their own."""
    hint = request.node.name.lower().replace("_", "-")[5:30].strip("-")
    name = f"rg-e2e-x{SESSION}-{hint}-{secrets.token_hex(2)}"
    yield create_namespace(cluster, name)
    drop_namespace(cluster, name, timeout=5)


@pytest.fixture(scope="module")
def module_namespace(request: pytest.FixtureRequest, cluster: Cluster) -> Iterator[str]:
    name = _new_namespace(cluster, request.module.__name__.rsplit(".", 1)[-1].replace("test_", ""))
    yield name
    drop_namespace(cluster, name)


def host_volume_name(namespace: str) -> str:
    """The PersistentVolume (and its own StorageClass name) of ``namespace``'s volume workload."""
    return f"rg-e2e-{namespace}"[:63]


def host_volume(cluster: Cluster, namespace: str, host_dir: Path) -> None:
    """A hostPath PersistentVolume on the local node that only ``volume_workload``'s claim in
    ``namespace`` can bind (its StorageClass name is unique and names no real class)."""
    host_dir.mkdir(parents=True, exist_ok=True)
    host_dir.chmod(0o777)
    name = host_volume_name(namespace)
    cluster.core.create_persistent_volume({
        "metadata": {"name": name, "labels": {"readygate.io/e2e": "true"}},
        "spec": {"capacity": {"storage": "64Mi"}, "accessModes": ["ReadWriteOnce"],
                 "storageClassName": name, "persistentVolumeReclaimPolicy": "Retain",
                 "hostPath": {"path": str(host_dir), "type": "Directory"}}})


def volume_workload(cluster: Cluster, namespace: str) -> None:
    """Deployment + Service ``store`` keeping its items on the claim ``store``, which binds
    ``host_volume``'s PersistentVolume."""
    cluster.core.create_namespaced_persistent_volume_claim(namespace, {
        "metadata": {"name": "store"},
        "spec": {"storageClassName": host_volume_name(namespace),
                 "accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "64Mi"}}}})
    labels = {"app": "store"}
    cluster.apps.create_namespaced_deployment(namespace, {
        "metadata": {"name": "store"},
        "spec": {"replicas": 1, "strategy": {"type": "Recreate"},
                 "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {
                     "terminationGracePeriodSeconds": 2,
                     "volumes": [{"name": "data",
                                  "persistentVolumeClaim": {"claimName": "store"}}],
                     "containers": [{
                         "name": "store", "image": WORKLOAD_IMAGE, "imagePullPolicy": "Never",
                         # not BestEffort: starved of CPU while the other scenarios run
                         **RESTRICTED_CONTAINER,
                         "ports": [{"name": "http", "containerPort": 8080}],
                         "env": [{"name": "STATE_DIR", "value": "/data"}],
                         "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                         "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"},
                                            "periodSeconds": 1}}]}}}})
    cluster.core.create_namespaced_service(namespace, {
        "metadata": {"name": "store"},
        "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": "http"}]}})
