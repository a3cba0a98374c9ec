"""Scale benchmark: N ReadinessChecks at once against readygate installed in the local cluster.

Not a test: it prints numbers. For each size N (``--sizes``, default 50,200,1000) it applies N
checks at once (server-side apply from 16 threads) and measures:

- **time until every verdict**: from the first apply request until every check shows a final
  phase for its generation (``status.observedGeneration`` = ``metadata.generation``, phase
  Passed/Failed/Inconclusive/Error), listed every ``--poll`` s; also the median check (p50);
- **right verdicts**: every target in the mix is healthy, so right means ``status.verdict``
  Passed; the wrong ones are printed grouped by kind, verdict and summary;
- **operator RSS peak** over the whole size (apply, verdicts, idle window, deletion): every
  second the VmRSS of the operator container's processes, read from /proc (the local cluster's
  node is this machine; it is the number prometheus_client's process collector exports), and
  every 5 s ``process_resident_memory_bytes`` from the operator's /metrics ("metric" column);
- **API requests per second**, in total and per check, while running (first apply until every
  verdict) and while idle (a fixed ``--idle`` window, default 60 s, right after the last
  verdict, during which the benchmark asks the API server nothing), and requests per check
  over the running window (flat as N grows when requests follow what changes), from:
  - the operator's own ``readygate_api_requests_total{verb,resource,code}`` ("op" columns;
    its top entries are printed per window; kopf's own watch and posts are not in it);
  - **the API server's own counters for the operator** ("apiserver" columns):
    ``apiserver_request_total`` has no user or user-agent label, so the benchmark creates a
    FlowSchema ``rg-bench-operator`` (flowcontrol.apiserver.k8s.io/v1, matchingPrecedence
    8000, below the built-in ``service-accounts`` at 9000; priority level ``workload-low``, the
    one that account gets anyway) matching the operator's ServiceAccount (read from the
    rendered install: readygate-system/readygate), and reads
    ``apiserver_flowcontrol_dispatched_requests_total{flow_schema="rg-bench-operator"}`` from
    ``kubectl get --raw /metrics`` at each window's edges (everything the operator sends,
    kopf's included; a watch counts once, when it starts). Removed at the end.
  A figure whose metric the operator (or API server) does not export is printed "n/a", so the
  benchmark runs unchanged against operators with and without these metrics. Also printed per
  size: the operator's CPU (from /proc) and how busy the whole machine was in each window —
  other work on this 2-core machine (an e2e run) slows everything down — and the apply and
  deletion times. A size during which someone else changed the CRD (its storage then answers
  429 for a while) is flagged DISTURBED.

The targets: idle checks, gated or not, cost no periodic requests; 1,000 checks reach the right
verdicts with RSS < 300 MiB; a run's requests grow with what changes, not with time.

The mix (the node runs at most 110 pods, so no pod per check): deploy targets, 1 % of N but 2
to 10 (each its own 1-replica Deployment of the test workload, made by readygate); gated
workloadRefs, 10 % of N, each with its own pod readiness gate ``readygate.io/<check>``, at five
shared gated Deployments per namespace made for that size (whose pod declares the gates of
all its checks: 10 per pod at N=1000, so the pod is Ready only once all 10 checks verified
it); the rest plain workloadRefs at two shared healthy Deployments per namespace. Two
namespaces ``rg-bench-<hex>-0/1`` enforcing the restricted Pod Security Standard. Every
check: readiness (within 300 s), then liveness every 1 s for 3 s; no load, no schedule — once
passed they sit idle. After the idle window the checks are deleted (the operator releases
their finalizers and gates) and the benchmark waits until they are gone.

The operator is installed from manifests/overlays/local (1 CPU / 512Mi limits) by
tests/e2e/incluster.py's ``Install``, under its lock ``owned_readygate_system`` (an e2e
in-cluster test waits for the benchmark, up to 15 minutes, and the other way round), watching
only the benchmark's namespaces; it is restarted (scaled to 0, then 1) before each size, so
each size starts from a fresh process. The CRD is applied from crds/ as the e2e harness does.
The image is built from the working tree (``hack/local-cluster/images workload operator``);
``--ref REF`` builds the operator from a git ref instead (``git archive``, no checkout; tagged
``readygate.local/operator:bench``, removed at the end) for a before/after comparison while
the tree is changing; ``--no-build`` uses the images as they are. At the end, also on Ctrl-C
or SIGTERM, the checks, namespaces, FlowSchema and install are removed (rg-bench- namespaces
left by a killed run are removed by the next). Prints one table; ``--json PATH`` writes it
with every detail (requests by verb/resource/code per window, CPU, examples of wrong
verdicts, the git state and image ID).

    hack/local-cluster/up
    .venv/bin/python bench/scale.py [--sizes 50,200,1000] [--json out/bench/scale.json]
                                    [--ref HEAD | --no-build] [--idle 60]

On this machine a size of 50 takes ~1.5 min and 200 ~2.5 min (with the 60 s idle window),
plus ~30 s of set-up and removal and ~35-60 s of image build when operator/ changed; 1,000 took
more than 17 min with the operator of 29aa9b4 (before the watch cache), overloaded.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import httpx
import kubernetes
import urllib3
import yaml

import scalekit as kit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
STATE = Path(os.environ.get("READYGATE_CLUSTER_STATE",
                            Path.home() / ".local/state/readygate/cluster"))
CACHE = Path(os.environ.get("READYGATE_CACHE")
             or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "readygate")
CONTEXT = "readygate-local"  # the local cluster's context; any other is refused
SYSTEM_NAMESPACE = "readygate-system"
NAMESPACE_PREFIX = "rg-bench-"
REF_IMAGE = "readygate.local/operator:bench"
FIELD_MANAGER = "readygate-bench"
APPLY_THREADS = 16
TRANSIENT = (429, 500, 502, 503, 504)
REQUEST_TIMEOUT = 60  # seconds for any one API request of the benchmark
T = TypeVar("T")
TICK = os.sysconf("SC_CLK_TCK")
RSS_METRIC_EVERY = 5  # seconds between scrapes of the operator's process_resident_memory_bytes


def log(msg: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def as_dict(obj: object) -> dict[str, Any]:
    assert isinstance(obj, dict), type(obj)
    return obj


def wait_until(what: str, timeout: float, fn: Callable[[], Any], every: float = 1.0) -> Any:
    """Poll ``fn`` until it returns something truthy; TimeoutError saying what did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not {what} within {timeout:.0f}s")
        time.sleep(every)


def retrying(call: Callable[[], T], timeout: float = 60) -> T:
    """``call`` again while the API server answers 429/5xx or the connection fails (a CRD
    being updated by someone else answers 429 "storage is (re)initializing" for a while)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except kubernetes.client.ApiException as exc:
            if exc.status not in TRANSIENT or time.monotonic() > deadline:
                raise
        except (OSError, urllib3.exceptions.HTTPError):
            if time.monotonic() > deadline:
                raise
        time.sleep(1)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _patience(signum: int, frame: FrameType | None) -> None:
    log("still cleaning up (kill -9 stops it; the next run removes what is left)")


# -- the cluster -----------------------------------------------------------------------------------
class Cluster:
    """The local cluster: a kubernetes client (for the many small calls) and kubectl."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        config = yaml.safe_load(kubeconfig.read_text())
        context = str(config.get("current-context"))
        if context != CONTEXT:
            sys.exit(f"refusing kubeconfig context {context!r}: the benchmark runs only against "
                     f"the local cluster ({CONTEXT!r}, hack/local-cluster/up)")
        cfg = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), client_configuration=cfg)
        cfg.connection_pool_maxsize = APPLY_THREADS + 4
        self.api = kubernetes.client.ApiClient(cfg)
        self.core = kubernetes.client.CoreV1Api(self.api)
        self.custom = kubernetes.client.CustomObjectsApi(self.api)
        built = STATE / "bin" / "kubectl"
        self.kubectl_bin = str(built) if built.exists() else "kubectl"

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [self.kubectl_bin, "--kubeconfig", str(self.kubeconfig), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, input=input,
                              timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
        return proc

    def apply(self, objects: list[dict[str, Any]]) -> None:
        if objects:
            self.kubectl("apply", "--server-side", f"--field-manager={FIELD_MANAGER}",
                         "--force-conflicts", "-f", "-", input=yaml.safe_dump_all(objects))

    def plain(self, obj: object) -> dict[str, Any]:
        """A typed client's answer as plain JSON-like dicts."""
        return as_dict(self.api.sanitize_for_serialization(obj))  # type: ignore[no-untyped-call]

    def pods(self, namespace: str, selector: str = "") -> list[dict[str, Any]]:
        return list(self.plain(retrying(lambda: self.core.list_namespaced_pod(
            namespace, label_selector=selector, _request_timeout=REQUEST_TIMEOUT)))["items"])

    def checks(self, namespace: str) -> list[dict[str, Any]]:
        raw = retrying(lambda: self.custom.list_namespaced_custom_object(
            kit.GROUP, kit.VERSION, namespace, kit.PLURAL, _request_timeout=REQUEST_TIMEOUT))
        return list(as_dict(raw).get("items") or [])

    def apply_check(self, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        retrying(lambda: self.custom.patch_namespaced_custom_object(
            kit.GROUP, kit.VERSION, meta["namespace"], kit.PLURAL, meta["name"], body,
            field_manager=FIELD_MANAGER, force=True,
            _content_type="application/apply-patch+yaml", _request_timeout=REQUEST_TIMEOUT))

    def unfinalize(self, namespace: str, name: str) -> None:
        with contextlib.suppress(kubernetes.client.ApiException):  # 404: gone already
            retrying(lambda: self.custom.patch_namespaced_custom_object(
                kit.GROUP, kit.VERSION, namespace, kit.PLURAL, name,
                {"metadata": {"finalizers": []}}, _request_timeout=REQUEST_TIMEOUT))

    def raw_metrics(self) -> str | None:
        proc = self.kubectl("get", "--raw", "/metrics", timeout=60, check=False)
        return proc.stdout if proc.returncode == 0 else None


# -- the operator ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class OperatorPod:
    name: str
    uid: str
    ip: str
    port: int
    container_id: str
    image_id: str
    restarts: int


def operator_pod(raw: dict[str, Any]) -> OperatorPod:
    spec, status = raw["spec"], raw.get("status") or {}
    container = next(c for c in spec["containers"] if c["name"] == "operator")
    port = next((p["containerPort"] for p in container.get("ports") or []
                 if p.get("name") == "metrics"), 9090)
    cs: dict[str, Any] = next((c for c in status.get("containerStatuses") or []
                               if c["name"] == "operator"), {})
    return OperatorPod(name=raw["metadata"]["name"], uid=raw["metadata"]["uid"],
                       ip=status.get("podIP") or "", port=int(port),
                       container_id=str(cs.get("containerID") or "").split("://")[-1],
                       image_id=str(cs.get("imageID") or ""),
                       restarts=int(cs.get("restartCount") or 0))


class Scraper:
    """The operator's /metrics: at its pod IP (routable from the node, which is this machine),
    else through the API server's pod proxy."""

    def __init__(self, cluster: Cluster, pod: OperatorPod) -> None:
        self.cluster = cluster
        self.pod = pod
        self.direct = True

    def text(self) -> str | None:
        if self.direct and self.pod.ip:
            try:
                resp = httpx.get(f"http://{self.pod.ip}:{self.pod.port}/metrics", timeout=10,
                                 trust_env=False)
                resp.raise_for_status()
                return resp.text
            except httpx.HTTPError:
                pass
        proc = self.cluster.kubectl(
            "get", "--raw",
            f"/api/v1/namespaces/{SYSTEM_NAMESPACE}/pods/{self.pod.name}:{self.pod.port}"
            "/proxy/metrics", check=False, timeout=30)
        if proc.returncode != 0:
            return None
        if self.direct:  # the pod answers the API server's proxy but not this machine
            self.direct = False
            log("operator metrics not reachable at the pod IP; using the API server's proxy")
        return proc.stdout

    def figures(self) -> kit.OperatorFigures | None:
        text = self.text()
        return kit.operator_figures(text) if text is not None else None


def container_pids(container_id: str) -> list[int]:
    """Host PIDs of a container's processes (its ID is in their cgroup paths)."""
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "cgroup").read_text()
        except OSError:
            continue
        if container_id in text:
            out.append(int(entry.name))
    return out


def rss_of(pids: list[int]) -> int | None:
    total, seen = 0, False
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
                seen = True
    return total if seen else None


class RssSampler(threading.Thread):
    """The operator's RSS every second from /proc, and its process_resident_memory_bytes
    every RSS_METRIC_EVERY seconds; keeps the peaks."""

    def __init__(self, pod: OperatorPod, scraper: Scraper) -> None:
        super().__init__(name="rss sampler", daemon=True)
        self.pod = pod
        self.scraper = scraper
        self.stop_event = threading.Event()
        self.peak: int | None = None
        self.peak_metric: float | None = None
        self.samples = 0

    def run(self) -> None:
        pids: list[int] = []
        tick = 0
        while not self.stop_event.is_set():
            if self.pod.container_id and (not pids or tick % 5 == 0):
                pids = container_pids(self.pod.container_id)
            rss = rss_of(pids)
            if rss is not None:
                self.samples += 1
                self.peak = max(self.peak or 0, rss)
            if tick % RSS_METRIC_EVERY == 0:
                with contextlib.suppress(Exception):
                    figures = self.scraper.figures()
                    if figures is not None and figures.rss is not None:
                        self.peak_metric = max(self.peak_metric or 0.0, figures.rss)
            tick += 1
            self.stop_event.wait(1.0)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=30)


def cpu_seconds(pids: list[int]) -> float | None:
    """CPU time (user + system) the processes used so far."""
    total, seen = 0, False
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
        seen = True
    return total / TICK if seen else None


def machine_jiffies() -> tuple[int, int]:
    """(all, idle) CPU time of the machine from /proc/stat, in clock ticks."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values), values[3] + values[4]  # idle + iowait


def snapshot(cluster: Cluster, scraper: Scraper) -> kit.Snapshot:
    figures = scraper.figures()
    at = time.monotonic()
    cpu = cpu_seconds(container_pids(scraper.pod.container_id)) \
        if scraper.pod.container_id else None
    text = cluster.raw_metrics()
    dispatched = kit.flow_dispatched(text) if text is not None else None
    return kit.Snapshot(at, figures, dispatched, cpu, machine_jiffies())


# -- building the image ----------------------------------------------------------------------------
def run(cmd: list[str], timeout: float = 900, **kw: Any) -> None:
    proc = subprocess.run(cmd, timeout=timeout, check=False, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}")


def build_ref(ref: str) -> None:
    """The operator image of a git ref, as hack/local-cluster/images builds the working tree's
    (build_operator there), tagged REF_IMAGE; the work tree is not touched."""
    run([str(ROOT / "hack/local-cluster/images"), "base"])
    base = CACHE / "images" / "python-base.rootfs.tar"
    with tempfile.TemporaryDirectory(prefix="rg-bench-image-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "operator",
                                  "pyproject.toml", "README.md", "LICENSE"],
                                 capture_output=True, check=True, timeout=120).stdout
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True, timeout=120)
        log(f"{REF_IMAGE}: pip install of {ref} --target /opt/readygate/lib")
        pip = subprocess.run(["python3", "-m", "pip", "install", "--quiet",
                              "--disable-pip-version-check", "--no-warn-script-location",
                              "--target", f"{tmp}/lib", str(src)],
                             capture_output=True, text=True, timeout=900, check=False)
        if pip.returncode != 0:
            raise RuntimeError(f"pip install of {ref} failed:\n{pip.stderr[-3000:]}")
        config = {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                          "PYTHONUNBUFFERED=1", "PYTHONPATH=/opt/readygate/lib"],
                  "WorkingDir": "/", "Entrypoint": ["python3", "-m", "readygate"],
                  "Cmd": ["run"], "User": "10001:10001"}
        run(["python3", str(ROOT / "hack/local-cluster/mkimage.py"), "--out", f"{tmp}/op.tar",
             "--tag", REF_IMAGE, "--base", str(base), "--add", f"{tmp}/lib:opt/readygate/lib:0:0",
             "--config", json.dumps(config)], stdout=subprocess.DEVNULL)
        run(ctr("images", "import", f"{tmp}/op.tar"), stdout=subprocess.DEVNULL)


def ctr(*args: str) -> list[str]:
    return ["ctr", "--address", str(STATE / "containerd/containerd.sock"), "-n", "k8s.io", *args]


# -- the benchmark ---------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace, cluster: Cluster, e2e: Any,
                 e2e_cluster: Any) -> None:
        self.args = args
        self.cluster = cluster
        self.e2e = e2e  # tests/e2e/incluster.py, untyped
        self.e2e_cluster = e2e_cluster
        token = os.urandom(2).hex()
        self.namespaces = tuple(f"{NAMESPACE_PREFIX}{token}-{i}" for i in range(args.namespaces))
        self.mix = kit.Mix(self.namespaces, plain_workloads=args.workloads,
                           gated_workloads=args.gated_workloads, gated_share=args.gated_share,
                           deploy_share=args.deploy_share, max_deploy=args.max_deploy)
        self.install: Any = None
        self.workdir = Path(tempfile.mkdtemp(prefix="rg-bench-"))
        self.pod: OperatorPod | None = None

    # -- setting up and taking down -------------------------------------------------------------
    def remove_leftovers(self) -> None:
        """rg-bench- namespaces and the FlowSchema of an earlier run that was killed."""
        c = self.cluster
        c.kubectl("delete", "flowschema", kit.FLOW_SCHEMA, "--ignore-not-found")
        old = [ns for ns in c.kubectl("get", "namespaces", "-o", "name").stdout.split()
               if ns.removeprefix("namespace/").startswith(NAMESPACE_PREFIX)]
        for ns in (n.removeprefix("namespace/") for n in old):
            log(f"removing {ns}, left by an earlier run")
            for item in c.checks(ns):
                c.unfinalize(ns, item["metadata"]["name"])
            c.kubectl("delete", "namespace", ns, "--wait=false", "--ignore-not-found")
        if old:
            wait_until("old namespaces gone", 180, lambda: not any(
                c.kubectl("get", n, check=False).returncode == 0 for n in old), every=2)

    def set_up(self) -> None:
        c = self.cluster
        c.kubectl("apply", "-f", str(ROOT / "crds" / "readinesschecks.readygate.io.yaml"))
        c.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                  "crd/readinesschecks.readygate.io")
        objects = [kit.namespace(ns) for ns in self.namespaces]
        for ns in self.namespaces:
            for i in range(self.mix.plain_workloads):
                objects += [kit.workload(ns, f"web-{i}", "plain"), kit.service(ns, f"web-{i}")]
            objects += [kit.service(ns, f"gated-{i}") for i in range(self.mix.gated_workloads)]
        self.check_capacity()
        c.apply(objects)
        self.install = self.e2e.Install(self.e2e_cluster, "cluster-wide",
                                        ",".join(self.namespaces), self.workdir)
        deployment = self.install.deployment()
        pod_spec = deployment["spec"]["template"]["spec"]
        if self.args.ref:
            pod_spec["containers"][0]["image"] = REF_IMAGE
            self.install.file.write_text(yaml.safe_dump_all(self.install.objects,
                                                            sort_keys=False))
        # the account the operator's requests come as (manifests/base: readygate-system/readygate)
        account = (deployment["metadata"]["namespace"], pod_spec["serviceAccountName"])
        c.apply([kit.flow_schema(account)])
        wait_until("FlowSchema active", 30, self.flow_schema_active)
        self.install.apply()
        self.pod = operator_pod(self.install.wait_ready(timeout=180))
        for ns in self.namespaces:
            c.kubectl("wait", "--for=condition=Available", "deployment", "-n", ns,
                      "-l", f"{kit.BENCH_LABEL}=scale", "--timeout=180s", timeout=200)

    def check_capacity(self) -> None:
        c = self.cluster
        node = c.plain(c.core.list_node(_request_timeout=REQUEST_TIMEOUT))["items"][0]
        capacity = int(node["status"]["allocatable"]["pods"])
        used = sum(1 for p in c.plain(c.core.list_pod_for_all_namespaces(
            _request_timeout=REQUEST_TIMEOUT))["items"]
                   if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))
        shared = len(self.namespaces) * (self.mix.plain_workloads + self.mix.gated_workloads)
        free = capacity - used - shared - 1 - 5  # the operator, and room for others
        if free < self.mix.min_deploy:
            sys.exit(f"the node has room for {capacity - used} more pods; the benchmark needs "
                     f"{shared + 1 + self.mix.min_deploy}")
        if free < self.mix.max_deploy:
            log(f"only {free} pods free for deploy targets: at most {free} per size")
            self.mix = dataclasses.replace(self.mix, max_deploy=free)

    def flow_schema_active(self) -> bool:
        proc = self.cluster.kubectl("get", "flowschema", kit.FLOW_SCHEMA, "-o", "json")
        conditions = json.loads(proc.stdout).get("status", {}).get("conditions") or []
        return any(c.get("type") == "Dangling" and c.get("status") == "False"
                   for c in conditions)

    def delete_checks(self, timeout: float) -> tuple[float, int]:
        """Delete every benchmark check while the operator runs, wait until gone; returns the
        seconds it took and how many had their finalizer removed by force after ``timeout``."""
        c = self.cluster
        started = time.monotonic()
        for ns in self.namespaces:
            delete = functools.partial(
                c.custom.delete_collection_namespaced_custom_object, kit.GROUP, kit.VERSION,
                ns, kit.PLURAL, label_selector=f"{kit.BENCH_LABEL}=scale",
                _request_timeout=REQUEST_TIMEOUT)
            with contextlib.suppress(kubernetes.client.ApiException):
                retrying(delete)
        deadline = started + timeout
        left: list[tuple[str, str]] = []
        while True:
            left = [(ns, item["metadata"]["name"]) for ns in self.namespaces
                    for item in c.checks(ns)]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(1)
        for ns, name in left:
            c.unfinalize(ns, name)
        return time.monotonic() - started, len(left)

    def unfinalize_all(self) -> None:
        """No check of the benchmark may hold its namespace's deletion: their finalizers go."""
        for ns in self.namespaces:
            with contextlib.suppress(kubernetes.client.ApiException):
                for item in self.cluster.checks(ns):
                    self.cluster.unfinalize(ns, item["metadata"]["name"])

    def tear_down(self) -> None:
        c = self.cluster
        steps: list[tuple[str, Callable[[], object]]] = [
            ("delete the checks", lambda: self.delete_checks(120)),
            ("delete the namespaces", lambda: c.kubectl(
                "delete", "namespace", *self.namespaces, "--ignore-not-found", "--wait=false")),
            ("delete the FlowSchema", lambda: c.kubectl(
                "delete", "flowschema", kit.FLOW_SCHEMA, "--ignore-not-found")),
            ("release what is left", self.unfinalize_all),
            ("remove the operator", lambda: self.install and self.install.remove()),
            ("wait for the namespaces", lambda: wait_until("namespaces gone", 180, lambda: all(
                c.kubectl("get", "namespace", ns, check=False).returncode != 0
                for ns in self.namespaces), every=2)),
        ]
        if self.args.ref:
            steps.append(("remove the image", lambda: subprocess.run(
                ctr("images", "rm", REF_IMAGE), capture_output=True, timeout=60, check=False)))
        for what, step in steps:
            try:
                step()
            except Exception as exc:  # every step is tried; say which failed
                log(f"cleanup: could not {what}: {exc}")
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- one size ----------------------------------------------------------------------------------
    def restart_operator(self) -> OperatorPod:
        """A fresh operator process: scaled to 0 (never two at once), then to 1."""
        scale = ["scale", "deployment", "readygate", "-n", SYSTEM_NAMESPACE]
        self.cluster.kubectl(*scale, "--replicas=0")
        wait_until("the old operator pod gone", 90,
                   lambda: not self.install.pods(terminating=True))
        self.cluster.kubectl(*scale, "--replicas=1")
        return operator_pod(self.install.wait_ready(timeout=180))

    def crd_generation(self) -> str:
        return self.cluster.kubectl("get", "crd", f"{kit.PLURAL}.{kit.GROUP}", "-o",
                                    "jsonpath={.metadata.generation}", check=False).stdout

    def gated_workloads(self, checks: list[kit.Check]) -> list[dict[str, Any]]:
        return [kit.workload(ns, name, "gated", gates)
                for (ns, name), gates in sorted(kit.gated_workloads(checks).items())]

    def containers_ready(self, role: str, want: int) -> bool:
        ready = 0
        for ns in self.namespaces:
            for pod in self.cluster.pods(ns, f"{kit.ROLE_LABEL}={role}"):
                if pod["metadata"].get("deletionTimestamp"):
                    continue
                conds = {c["type"]: c["status"] for c in
                         (pod.get("status") or {}).get("conditions") or []}
                ready += conds.get("ContainersReady") == "True"
        return ready >= want

    def only_plain_pods_left(self) -> bool:
        return all(p["metadata"]["labels"].get(kit.ROLE_LABEL) == "plain"
                   for ns in self.namespaces for p in self.cluster.pods(ns))

    def size(self, n: int, first: bool) -> dict[str, Any]:
        c = self.cluster
        checks = kit.plan(n, self.mix)
        kinds = kit.counts(n, self.mix)
        mix = f"{kinds['deploy']}/{kinds['gated']}/{kinds['workload']}"
        log(f"N={n}: {mix} deploy/gated/workloadRef checks")
        if not first:
            self.pod = self.restart_operator()
        pod = self.pod
        assert pod is not None
        scraper = Scraper(c, pod)
        wait_until("operator metrics served", 60, scraper.text)
        gated = self.gated_workloads(checks)
        c.apply(gated)
        wait_until("gated workloads' containers ready", 180,
                   lambda: self.containers_ready("gated", len(gated)))
        time.sleep(self.args.settle)
        crd = self.crd_generation()
        sampler = RssSampler(pod, scraper)
        sampler.start()
        try:
            row = self.measure(n, checks, scraper, pod)
        finally:
            sampler.stop()
        for obj in gated:
            c.kubectl("delete", "deployment", "-n", obj["metadata"]["namespace"],
                      obj["metadata"]["name"], "--ignore-not-found", "--wait=false")
        wait_until("deploy targets and gated pods gone", 180, self.only_plain_pods_left)
        end = operator_pod(self.install.wait_ready(timeout=60))
        row.update({
            "n": n, "mix": mix, "kinds": kinds,
            "rss_peak_mib": None if sampler.peak is None else sampler.peak / 2**20,
            "rss_samples": sampler.samples,
            "rss_peak_metric_mib": None if sampler.peak_metric is None
            else sampler.peak_metric / 2**20,
            "operator_restarts": end.restarts if end.uid == pod.uid else "replaced",
            "image_id": pod.image_id,
            # someone else applied another CRD meanwhile (its storage re-initializes: 429s)
            "crd_changed": crd != self.crd_generation(),
        })
        return row

    def measure(self, n: int, checks: list[kit.Check], scraper: Scraper,
                pod: OperatorPod) -> dict[str, Any]:
        c = self.cluster
        bodies = [kit.check_body(check) for check in checks]
        before = snapshot(c, scraper)
        t0 = time.monotonic()
        pool = ThreadPoolExecutor(APPLY_THREADS, thread_name_prefix="apply")
        try:
            for future in [pool.submit(c.apply_check, b) for b in bodies]:
                future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        applied = time.monotonic() - t0
        log(f"N={n}: applied in {applied:.1f}s; waiting for every verdict")
        final: dict[tuple[str, str], float] = {}
        last: dict[tuple[str, str], dict[str, Any]] = {}
        deadline = t0 + self.args.verdict_timeout
        next_report = time.monotonic() + 30
        while len(final) < n and time.monotonic() < deadline:
            for ns in self.namespaces:
                for item in c.checks(ns):
                    key = (ns, item["metadata"]["name"])
                    last[key] = item
                    status = item.get("status") or {}
                    if (key not in final and status.get("phase") in kit.TERMINAL_PHASES
                            and status.get("observedGeneration")
                            == item["metadata"].get("generation")):
                        final[key] = time.monotonic() - t0
            if time.monotonic() > next_report:
                log(f"N={n}: {len(final)}/{n} verdicts after {time.monotonic() - t0:.0f}s")
                next_report += 30
            if len(final) < n:
                time.sleep(self.args.poll)
        all_final = time.monotonic() - t0 if len(final) == n else None
        running = snapshot(c, scraper)
        log(f"N={n}: " + (f"every verdict after {all_final:.1f}s" if all_final is not None
                          else f"only {len(final)}/{n} verdicts after "
                               f"{self.args.verdict_timeout:.0f}s") +
            f"; idle for {self.args.idle:.0f}s")
        time.sleep(self.args.idle)
        idle = snapshot(c, scraper)
        log(f"N={n}: deleting the checks")
        deleted_s, forced = self.delete_checks(self.args.delete_timeout)
        gone = snapshot(c, scraper)
        verdicts: dict[str, int] = {}
        wrong: list[dict[str, Any]] = []
        for check in checks:
            status = (last.get(check.key) or {}).get("status") or {}
            verdict = str(status.get("verdict") or status.get("phase") or "none")
            if check.key not in final:
                verdict = f"not final ({verdict})"
            verdicts[verdict] = verdicts.get(verdict, 0) + 1
            if verdict != "Passed":
                wrong.append({"check": f"{check.namespace}/{check.name}", "kind": check.kind,
                              "verdict": verdict, "summary": status.get("summary")})
        right = verdicts.get("Passed", 0)
        return {
            "right": f"{right}/{n}", "right_count": right, "verdicts": verdicts,
            "wrong_groups": kit.group_wrong(wrong), "wrong": wrong[:20],
            "apply_s": applied, "all_final_s": all_final,
            "p50_s": kit.percentile(list(final.values()), 0.5),
            "p95_s": kit.percentile(list(final.values()), 0.95),
            **kit.window(before, running, n, "running"),
            **kit.window(running, idle, n, "idle"),
            **kit.window(idle, gone, n, "deleting"),
            "deleting_forced": forced, "deleted_s": deleted_s,
            "operator_metrics_direct": scraper.direct,
        }


def meta(args: argparse.Namespace, cluster: Cluster) -> dict[str, Any]:
    def git(*a: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True,
                              timeout=30, check=False).stdout.strip()

    version = json.loads(cluster.kubectl("version", "-o", "json").stdout)
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git_head": git("rev-parse", "HEAD"),
        "image_from": f"git ref {args.ref}" if args.ref else
        "the images in containerd (--no-build)" if args.no_build else "the working tree",
        "dirty_operator_files": git("status", "--porcelain", "--", "operator",
                                    "pyproject.toml").splitlines(),
        "server_version": (version.get("serverVersion") or {}).get("gitVersion"),
        "cpus": os.cpu_count(),
        "idle_window_s": args.idle,
        "options": {k: v for k, v in vars(args).items() if k != "json"},
    }


def report(rows: list[dict[str, Any]], info: dict[str, Any], path: Path | None) -> None:
    print(kit.table(rows) if rows else "(no size finished)")
    for row in rows:
        print(f"N={row['n']} " + "; ".join(
            f"while {what}: operator CPU {kit.cell(row.get(f'op_cpu_share_{what}'), '.0%')} "
            f"of a core, machine {kit.cell(row.get(f'machine_busy_{what}'), '.0%')} busy"
            for what in ("running", "idle")) +
            f"; applying took {row['apply_s']:.1f}s, deleting {row['deleted_s']:.1f}s with "
            f"{kit.cell(row.get('as_requests_deleting'), '.0f')} apiserver requests")
        for what in ("running", "idle"):
            top = row.get(f"op_top_{what}") or []
            if top:
                print(f"N={row['n']} operator requests while {what}: " +
                      ", ".join(f"{k} {v:.0f}" for k, v in top))
        if row.get("crd_changed"):
            print(f"N={row['n']}: DISTURBED: the CRD was changed by someone else meanwhile")
        for count, what in (row.get("wrong_groups") or [])[:8]:
            print(f"N={row['n']} wrong: {count} x {what}")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"meta": info, "rows": rows}, indent=2, default=str) + "\n")
        print(f"written to {path}")


@contextlib.contextmanager
def owned(e2e: Any, cluster: Cluster) -> Iterator[Any]:
    """readygate-system and its cluster-wide names, under tests/e2e's lock (an e2e in-cluster
    test or another benchmark waits), with what a killed earlier holder left removed; yields
    tests/e2e's Cluster, which its Install takes."""
    import pytest  # tests/e2e reports its refusals with pytest.fail

    theirs = e2e.Cluster(cluster.kubeconfig, CONTEXT)
    try:
        with e2e.owned_readygate_system(theirs):
            yield theirs
    except pytest.fail.Exception as exc:
        sys.exit(f"readygate-system: {exc}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="50,200,1000", help="comma-separated N (default %(default)s)")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--idle", type=float, default=60.0, help="idle window, s (default 60)")
    p.add_argument("--poll", type=float, default=1.0, help="verdict polling period, s")
    p.add_argument("--settle", type=float, default=5.0,
                   help="seconds between the operator's start and the apply (default 5)")
    p.add_argument("--verdict-timeout", type=float, default=1200.0,
                   help="give up waiting for verdicts after this long, s (default 1200)")
    p.add_argument("--delete-timeout", type=float, default=600.0,
                   help="give up waiting for deleted checks after this long, s (default 600)")
    p.add_argument("--namespaces", type=int, default=2)
    p.add_argument("--workloads", type=int, default=2,
                   help="shared plain Deployments per namespace (default 2)")
    p.add_argument("--gated-workloads", type=int, default=5,
                   help="shared gated Deployments per namespace (default 5)")
    p.add_argument("--gated-share", type=float, default=0.1)
    p.add_argument("--deploy-share", type=float, default=0.01)
    p.add_argument("--max-deploy", type=int, default=10)
    build = p.add_mutually_exclusive_group()
    build.add_argument("--no-build", action="store_true", help="use the images as they are")
    build.add_argument("--ref", help="build the operator image from this git ref")
    args = p.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if not args.sizes or min(args.sizes) < 1 or args.namespaces < 1 or args.workloads < 1:
        p.error("sizes, --namespaces and --workloads must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    kubeconfig = Path(os.environ.get("KUBECONFIG") or STATE / "kubeconfig")
    if not kubeconfig.exists():
        sys.exit(f"no cluster: {kubeconfig} does not exist (run hack/local-cluster/up)")
    cluster = Cluster(kubeconfig)
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    if args.ref:
        build_ref(args.ref)
        run([str(ROOT / "hack/local-cluster/images"), "workload"])
    elif not args.no_build:
        run([str(ROOT / "hack/local-cluster/images"), "workload", "operator"])
    e2e = importlib.import_module("tests.e2e.incluster")
    info = meta(args, cluster)
    rows: list[dict[str, Any]] = []
    failed = 0
    with owned(e2e, cluster) as e2e_cluster:
        bench = Bench(args, cluster, e2e, e2e_cluster)
        try:
            bench.remove_leftovers()
            bench.set_up()
            for i, n in enumerate(args.sizes):
                rows.append(bench.size(n, first=i == 0))
                log(f"N={n} done:\n{kit.table(rows)}")
        except KeyboardInterrupt:
            failed = 130
            log("interrupted: cleaning up")
        except Exception as exc:  # still clean up, and print what was measured
            failed = 1
            log(f"failed: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        finally:
            log("removing what the benchmark made")
            for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut it short
                signal.signal(sig, _patience)
            bench.tear_down()
    info["duration_s"] = time.monotonic() - started
    report(rows, info, args.json)
    log(f"took {info['duration_s']:.0f}s")
    return failed


if __name__ == "__main__":
    sys.exit(main())
