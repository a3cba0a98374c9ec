"""Capture real ReadinessCheck objects, in every state a GitOps tool reads, from the local cluster.

Run it on the cluster hack/local-cluster/up made (context ``readygate-local``; another context is
refused unless READYGATE_E2E_ALLOW_CONTEXT names it):

    .venv/bin/python tests/gitops/capture.py [--out DIR]

It applies the CRD, creates its own namespace ``rg-gitops-<random>`` (Pod Security ``restricted``),
runs ``readygate run`` out of cluster serving only that namespace, and stops and restarts it to
catch the states a running operator leaves behind in a moment:

1. the operator stopped: the checks are created; ``loaded`` as the API server stores it before
   any status (``no-status``);
2. the operator started: every write of ``loaded`` is watched, the first one
   (``first-write``, already phase Deploying, so there is no separate ``deploying``) and the
   first of each later running phase (``verifying``), then every check's verdict (``passed``,
   ``conditional``, ``failed-*``, ``error-*``, ``inconclusive-*``);
3. the operator stopped: the specs of ``loaded`` (passed) and ``broken`` (Error) are patched, a
   new generation no operator has seen (``generation-not-observed*``);
4. the operator started: the first write for that generation (``new-generation-running``) and
   its verdict;
5. the operator stopped: ``loaded`` deleted, held by the operator's finalizer (``terminating``);
6. the operator started again to release the finalizers; the namespace is deleted.

Each object is written as the API server returns it (``kubectl get -o yaml``; the running
states from a watch, which sees every write), minus ``managedFields`` and ``annotations``
(kopf's bookkeeping); ``uid`` and ``resourceVersion`` stay, as the mark of an object that came
from an API server. The default output is manifests/gitops/argocd/testdata/, read by
health_test.yaml there and by the Go tests in tests/gitops/. It is replaced only when every
state was caught and every verdict says what it should (staged in out/gitops/ until then, with
the operator's log). Update the messages in health_test.yaml after a capture. Only the
namespace this script creates is touched (and the CRD applied, as the e2e suite does), so it
can run beside an e2e session on the same cluster.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
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
import yaml

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("READYGATE_CLUSTER_STATE",
                            Path.home() / ".local/state/readygate/cluster"))
EXPECTED_CONTEXT = "readygate-local"
DEFAULT_OUT = ROOT / "manifests" / "gitops" / "argocd" / "testdata"
LOGS = ROOT / "out" / "gitops"
GROUP, VERSION, PLURAL = "readygate.io", "v1alpha1", "readinesschecks"
WORKLOAD_IMAGE = "readygate.local/workload:dev"
OPERATOR_IMAGE = "readygate.local/operator:dev"
FINAL = ("Passed", "Failed", "Inconclusive", "Error")


def workload(env: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"deploy": {"image": WORKLOAD_IMAGE, "imagePullPolicy": "Never", "port": 8080,
                       "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
                       **extra}}


# name -> (spec, file of its verdict). Latency bounds are generous: judging latency is not the
# point, and the machine may be shared with an e2e session.
CHECKS: dict[str, tuple[dict[str, Any], str]] = {
    "loaded": ({"target": workload(), "liveness": {"period": "500ms", "observeFor": "3s"},
                "load": {"model": "open", "rate": 50, "duration": "5s",
                         "thresholds": {"p95": "3s", "minSamples": 50}}}, "passed"),
    # a warn-only median latency bound nothing meets: passed with warnings
    "warned": ({"target": workload(), "liveness": {"enabled": False},
                "load": {"model": "open", "rate": 20, "duration": "5s",
                         "thresholds": {"p50": "0.001ms", "minSamples": 50},
                         "warnOnly": ["p50"]}}, "conditional"),
    "crashing": ({"target": workload({"MODE": "crash-import"}), "readiness": {"within": "60s"}},
                 "failed-crash-at-import"),
    "never-ready": ({"target": workload({"MODE": "never-ready"}),
                     "readiness": {"within": "20s"}}, "failed-never-ready"),
    "missing-image": ({"target": {"deploy": {"image": "readygate.local/no-such-image:1",
                                             "imagePullPolicy": "Never", "port": 8080}},
                       "readiness": {"within": "90s"}}, "failed-missing-image"),
    "flapping": ({"target": workload({"LIVENESS_FLAP_PERIOD": "2"}),
                  "liveness": {"period": "500ms", "observeFor": "12s", "failureThreshold": 10,
                               "maxFlaps": 1}}, "failed-flapping-liveness"),
    "broken": ({"target": {"workloadRef": {"kind": "Deployment", "name": "nope"}}},
               "error-missing-deployment"),
    "starved": ({"target": workload(), "liveness": {"enabled": False},
                 "load": {"model": "open", "rate": 5, "duration": "2s",
                          "thresholds": {"minSamples": 1000}}}, "inconclusive-too-few-samples"),
}
VERDICTS = {"loaded": "Passed", "warned": "Conditional", "crashing": "Failed",
            "never-ready": "Failed", "missing-image": "Failed", "flapping": "Failed",
            "broken": "Error", "starved": "Inconclusive"}
# what each verdict's summary must say, so a capture on a starved machine (a crash not diagnosed
# in time, a probe that never connected) is refused instead of stored under a misleading name
SUMMARIES = {"loaded": "load ok", "warned": "passed with warnings: load: p50",
             "crashing": "CrashLoopBackOff", "never-ready": "HTTP 503",
             "missing-image": "ErrImageNeverPull", "flapping": "flapping",
             "broken": "Deployment nope not found", "starved": "minSamples is 1000"}


def say(text: str) -> None:
    print(f"capture: {text}", file=sys.stderr, flush=True)


def condition(obj: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return dict(c)
    return None


def is_final(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    return (status.get("observedGeneration") == obj["metadata"]["generation"]
            and status.get("phase") in FINAL)


def reconciling(obj: dict[str, Any]) -> bool:
    c = condition(obj, "Reconciling")
    return c is not None and c.get("status") == "True"


class Cluster:
    def __init__(self, kubeconfig: Path) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        context = str(config.get("current-context"))
        allowed = {EXPECTED_CONTEXT, os.environ.get("READYGATE_E2E_ALLOW_CONTEXT",
                                                    EXPECTED_CONTEXT)}
        if context not in allowed:
            raise SystemExit(f"refusing kubeconfig context {context!r}: only {EXPECTED_CONTEXT!r}"
                             " (or READYGATE_E2E_ALLOW_CONTEXT)")
        self.kubeconfig = kubeconfig
        self.api = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
        self.core = kubernetes.client.CoreV1Api(self.api)
        self.custom = kubernetes.client.CustomObjectsApi(self.api)
        built = STATE / "bin" / "kubectl"
        self.kubectl_bin = str(built) if built.exists() else "kubectl"

    def kubectl(self, *args: str) -> str:
        proc = subprocess.run([self.kubectl_bin, "--kubeconfig", str(self.kubeconfig), *args],
                              capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {proc.stderr}{proc.stdout}")
        return proc.stdout

    def get(self, ns: str, name: str) -> dict[str, Any]:
        """The object exactly as ``kubectl get -o yaml`` shows it."""
        loaded: dict[str, Any] = yaml.safe_load(
            self.kubectl("-n", ns, "get", f"{PLURAL}.{GROUP}", name, "-o", "yaml"))
        return loaded

    def create(self, ns: str, name: str, spec: dict[str, Any]) -> None:
        self.custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "ReadinessCheck",
            "metadata": {"name": name}, "spec": spec})

    def patch_spec(self, ns: str, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name,
                                                   {"spec": spec})

    def delete(self, ns: str, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)

    def items(self, ns: str) -> list[dict[str, Any]]:
        listed = self.custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)
        return list(listed.get("items") or [])

    def version(self, ns: str) -> str:
        """The list's resourceVersion: watching from it misses no later write."""
        listed = self.custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)
        return str(listed["metadata"]["resourceVersion"])

    def watch(self, ns: str, version: str, timeout: float) -> Iterator[dict[str, Any]]:
        """Every version of every check in ``ns`` written after ``version``, until ``timeout``
        seconds have passed or the caller stops iterating."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            w = kubernetes.watch.Watch()
            for event in w.stream(self.custom.list_namespaced_custom_object, GROUP, VERSION, ns,
                                  PLURAL, resource_version=version, allow_watch_bookmarks=False,
                                  timeout_seconds=max(1, int(deadline - time.monotonic()))):
                obj = event["object"]
                version = obj["metadata"]["resourceVersion"]
                if event["type"] in ("ADDED", "MODIFIED"):
                    yield obj
                if time.monotonic() >= deadline:
                    w.stop()
                    break


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Operator:
    """``readygate run`` out of cluster for one namespace, started and stopped at will."""

    def __init__(self, cluster: Cluster, namespace: str, log: Path) -> None:
        self.cluster, self.namespace, self.log = cluster, namespace, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        port = _free_port()
        health = f"http://127.0.0.1:{port}/healthz"
        env = {**os.environ, "KUBECONFIG": str(self.cluster.kubeconfig),
               "READYGATE_URL_ALLOWLIST": "127.0.0.1/32,localhost",
               "READYGATE_POLL_INTERVAL": "0.5", "READYGATE_METRICS_PORT": str(_free_port()),
               "PYTHONUNBUFFERED": "1", "READYGATE_WORKER_IMAGE": OPERATOR_IMAGE,
               "READYGATE_WORKER_PULL_POLICY": "Never", "READYGATE_JOB_START_DELAY": "4"}
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "python"), "-m", "readygate", "run", "--verbose",
                 "--namespace", self.namespace, "--liveness", health],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the operator exited with {self.proc.returncode}: {self.log}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(health, timeout=1, trust_env=False).status_code == 200:
                    say(f"operator started (pid {self.proc.pid})")
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the operator did not become live: {self.log}")
            time.sleep(0.3)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        say(f"operator stopped (pid {proc.pid}, exit {proc.returncode})")


def strip(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj["metadata"].items() if k not in ("managedFields", "annotations")}
    return {**obj, "metadata": meta}


class Writer:
    """Stages the objects in ``staging``; ``publish`` copies them to ``out`` once all are in."""

    def __init__(self, staging: Path, out: Path) -> None:
        self.staging, self.out = staging, out
        self.written: list[str] = []
        staging.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str, obj: dict[str, Any]) -> None:
        (self.staging / f"{name}.yaml").write_text(
            yaml.safe_dump(strip(obj), sort_keys=False, width=100))
        self.written.append(name)
        status = obj.get("status") or {}
        say(f"{name}: generation {obj['metadata']['generation']}, observed "
            f"{status.get('observedGeneration')}, phase {status.get('phase')}")

    def publish(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        for name in self.written:
            shutil.copyfile(self.staging / f"{name}.yaml", self.out / f"{name}.yaml")
        say(f"wrote {len(self.written)} objects to {self.out}: {', '.join(self.written)}")


def wait_until(what: str, timeout: float, fn: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.3)
    raise RuntimeError(f"not {what} within {timeout:.0f}s")


def capture(cluster: Cluster, ns: str, op: Operator, write: Writer) -> None:
    # 1. created while no operator runs: the API server's object, no status at all
    for name, (spec, _) in CHECKS.items():
        cluster.create(ns, name, spec)
    write("no-status", cluster.get(ns, "loaded"))

    # 2. the operator's writes, watched: the first, the running phases, every verdict
    since = cluster.version(ns)
    op.start()
    seen: set[str] = set()
    finals: set[str] = set()
    for obj in cluster.watch(ns, since, timeout=240):
        name = obj["metadata"]["name"]
        status = obj.get("status") or {}
        if name == "loaded" and status:
            phase = str(status.get("phase"))
            if "first-write" not in seen:
                seen.add("first-write")
                write("first-write", obj)
                if phase == "Deploying":  # the first write is the Deploying one: not twice
                    seen.add(phase)
            elif phase in ("Deploying", "Verifying") and phase not in seen and reconciling(obj):
                seen.add(phase)
                write(phase.lower(), obj)
        if is_final(obj):
            finals.add(name)
        if finals == set(CHECKS):
            break
    missing = {"first-write", "Deploying", "Verifying"} - seen
    if finals != set(CHECKS) or missing:
        raise RuntimeError(f"no verdict for {set(CHECKS) - finals} or no {missing} in time")
    for name, (_, file) in CHECKS.items():
        obj = cluster.get(ns, name)
        got, summary = obj["status"].get("verdict"), str(obj["status"].get("summary"))
        if got != VERDICTS[name] or SUMMARIES[name] not in summary:
            raise RuntimeError(f"{name}: verdict {got} ({summary}), not {VERDICTS[name]} with "
                               f"{SUMMARIES[name]!r}: is the machine too busy?")
        write(file, obj)

    # 3. a new generation nobody has observed: the last verdict's conditions still stand
    op.stop()
    cluster.patch_spec(ns, "loaded", {"liveness": {"observeFor": "4s"}})
    cluster.patch_spec(ns, "broken", {"target": {"workloadRef": {"name": "nope-either"}}})
    write("generation-not-observed", cluster.get(ns, "loaded"))
    write("generation-not-observed-after-error", cluster.get(ns, "broken"))

    # 4. the operator's first write for generation 2, then its verdict
    since = cluster.version(ns)
    op.start()
    running = None
    for obj in cluster.watch(ns, since, timeout=180):
        if obj["metadata"]["name"] != "loaded":
            continue
        status = obj.get("status") or {}
        if running is None and status.get("observedGeneration") == 2:
            running = obj
            write("new-generation-running", obj)
        if is_final(obj):
            break
    loaded = cluster.get(ns, "loaded")
    if running is None or not is_final(loaded) or loaded["status"]["phase"] != "Passed":
        raise RuntimeError(f"generation 2 of loaded: {loaded.get('status')}")

    # 5. deleted while no operator runs: the finalizer holds the passed object
    op.stop()
    cluster.delete(ns, "loaded")
    def terminating() -> dict[str, Any] | None:
        obj = cluster.get(ns, "loaded")
        return obj if obj["metadata"].get("deletionTimestamp") else None

    write("terminating", wait_until("terminating", 30, terminating))


def drop(cluster: Cluster, ns: str, op: Operator) -> None:
    """Delete the checks with the operator running (it releases its finalizer), then the
    namespace; finalizers left over after a minute are removed so nothing is left stuck."""
    with contextlib.suppress(Exception):
        if op.proc is None:
            op.start()
    with contextlib.suppress(kubernetes.client.ApiException):
        cluster.custom.delete_collection_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)
    deadline = time.monotonic() + 60
    while cluster.items(ns) and time.monotonic() < deadline:
        time.sleep(0.5)
    for item in cluster.items(ns):
        with contextlib.suppress(kubernetes.client.ApiException):
            cluster.custom.patch_namespaced_custom_object(
                GROUP, VERSION, ns, PLURAL, item["metadata"]["name"],
                {"metadata": {"finalizers": []}})
    op.stop()
    cluster.core.delete_namespace(ns)

    def gone() -> bool:
        try:
            cluster.core.read_namespace(ns)
        except kubernetes.client.ApiException as exc:
            return exc.status == 404
        return False

    try:
        wait_until("deleted", 120, gone)
        say(f"namespace {ns} deleted")
    except RuntimeError:
        say(f"namespace {ns} is still terminating (its pods take a while); it goes on its own")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--kubeconfig", type=Path,
                        default=Path(os.environ.get("READYGATE_E2E_KUBECONFIG")
                                     or STATE / "kubeconfig"))
    args = parser.parse_args()
    cluster = Cluster(args.kubeconfig)
    cluster.kubectl("apply", "-f", str(ROOT / "crds" / "readinesschecks.readygate.io.yaml"))
    # not `kubectl wait --for=condition=Established`: it fails at once on a CRD without any
    # condition yet (a fresh cluster, right after the first apply)
    for _ in range(300):
        if cluster.kubectl("get", "crd", f"{PLURAL}.{GROUP}", "-o", 'jsonpath={.status.conditions'
                           '[?(@.type=="Established")].status}').strip() == "True":
            break
        time.sleep(0.2)
    else:
        raise SystemExit(f"crd/{PLURAL}.{GROUP} not Established after 60s")
    ns = f"rg-gitops-{secrets.token_hex(3)}"
    cluster.core.create_namespace({"metadata": {"name": ns, "labels": {
        "pod-security.kubernetes.io/enforce": "restricted"}}})
    say(f"namespace {ns}")
    op = Operator(cluster, ns, LOGS / f"operator-{ns}.log")
    write = Writer(LOGS / f"capture-{ns}", args.out)
    try:
        capture(cluster, ns, op, write)
    finally:
        drop(cluster, ns, op)
    write.publish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
