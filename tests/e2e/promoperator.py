"""The Prometheus configuration the Prometheus Operator generates for readygate's ServiceMonitor.

No Prometheus Operator runs here (its images cannot be pulled); its configuration generator does.
``generate`` writes a Prometheus resource and ServiceMonitors to files and runs
tests/monitoring/promopcfg — a tiny Go program that imports the Prometheus Operator's
pkg/prometheus (promcfg.go: ``NewConfigGenerator``, ``GenerateServerConfiguration``, as
pkg/prometheus/server/operator.go calls them) at ``PROMETHEUS_OPERATOR_VERSION`` — and returns
the configuration as the Prometheus container reads it: with ``$(SHARD)`` and ``$(POD_NAME)``
expanded as the operator's prometheus-config-reloader does for shard 0 of Prometheus ``k8s``.
The tests run it with a Prometheus of ``PROMETHEUS_VERSION`` built from the Go module proxy
(``gotools.recent_prometheus``; Debian's is built without Kubernetes service discovery), and
the Prometheus resource names that version, as a user pinning their Prometheus would.

The one thing that differs from a Prometheus inside the cluster is how it reaches the API
server: not with its service account at kubernetes.default.svc, but with the Prometheus
resource's own ``spec.apiserverConfig`` (host and client certificate from the test cluster's
kubeconfig), which the generator turns into ``api_server`` and ``tls_config`` of each
``kubernetes_sd_configs`` entry. Everything else — discovery role, relabelling, honor_labels,
interval, path — is the generator's output for the shipped ServiceMonitor, unchanged.
"""

from __future__ import annotations

import base64
import copy
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from ..monitoring.gotools import PROMETHEUS_RELEASE, PROMOPCFG, promopcfg


def _required(module: str) -> str:
    """The version of ``module`` that tests/monitoring/promopcfg/go.mod requires."""
    for line in (PROMOPCFG / "go.mod").read_text().splitlines():
        words = line.split()
        if words[:1] == ["require"]:
            words = words[1:]
        if len(words) >= 2 and words[0] == module:
            return words[1]
    raise AssertionError(f"{module} is not required by {PROMOPCFG / 'go.mod'}")


PROMETHEUS_OPERATOR_VERSION = _required("github.com/prometheus-operator/prometheus-operator")
PROMETHEUS_NAME, PROMETHEUS_NAMESPACE = "k8s", "monitoring"  # kube-prometheus' names
# The Prometheus that runs the configuration (gotools.recent_prometheus: Debian's has no
# Kubernetes service discovery); the generator writes what this version reads
PROMETHEUS_VERSION = f"v{PROMETHEUS_RELEASE}"
# What the StatefulSet gives the config-reloader of the first pod of the first shard
RELOADER_ENV = {"SHARD": "0", "POD_NAME": f"prometheus-{PROMETHEUS_NAME}-0"}


def api_server(kubeconfig: Path, directory: Path) -> dict[str, Any]:
    """``spec.apiserverConfig`` for the kubeconfig's cluster: its server and client certificate
    (written to ``directory``)."""
    config = yaml.safe_load(kubeconfig.read_text())
    context = next(c["context"] for c in config["contexts"]
                   if c["name"] == config["current-context"])
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for key, data in (("caFile", cluster["certificate-authority-data"]),
                      ("certFile", user["client-certificate-data"]),
                      ("keyFile", user["client-key-data"])):
        path = directory / f"{key}.pem"
        path.write_bytes(base64.b64decode(data))
        path.chmod(0o600)
        files[key] = str(path)
    return {"host": cluster["server"], "tlsConfig": files}


def prometheus_resource(apiserver: dict[str, Any] | None, *,
                        version: str | None = PROMETHEUS_VERSION,
                        evaluation_interval: str = "5s") -> dict[str, Any]:
    """A Prometheus resource that selects every ServiceMonitor. ``scrapeInterval`` is the
    CRD's default, written out (the API server would fill it in); ``evaluationInterval`` is
    shorter than the default 30s so that the tests see alerts sooner (it changes no scrape)."""
    spec: dict[str, Any] = {"scrapeInterval": "30s", "evaluationInterval": evaluation_interval,
                            "serviceMonitorSelector": {}, "serviceMonitorNamespaceSelector": {}}
    if version is not None:
        spec["version"] = version
    if apiserver is not None:
        spec["apiserverConfig"] = apiserver
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
            "metadata": {"name": PROMETHEUS_NAME, "namespace": PROMETHEUS_NAMESPACE},
            "spec": spec}


def without_honor_labels(monitor: dict[str, Any]) -> dict[str, Any]:
    """The ServiceMonitor as it was before honorLabels: true (the field's default, false)."""
    out = copy.deepcopy(monitor)
    for endpoint in out["spec"]["endpoints"]:
        endpoint.pop("honorLabels", None)
    return out


def generate(prometheus: dict[str, Any], monitors: list[dict[str, Any]],
             directory: Path, *, envsubst: bool = True) -> dict[str, Any]:
    """The Prometheus Operator's configuration for ``prometheus`` and ``monitors``."""
    directory.mkdir(parents=True, exist_ok=True)
    files = [directory / "prometheus-resource.yaml"]
    files[0].write_text(yaml.safe_dump(prometheus, sort_keys=False))
    for i, monitor in enumerate(monitors):
        path = directory / f"servicemonitor-{i}.yaml"
        path.write_text(yaml.safe_dump(monitor, sort_keys=False))
        files.append(path)
    args = [str(promopcfg()), *(["-envsubst"] if envsubst else []), *map(str, files)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, **RELOADER_ENV})
    assert proc.returncode == 0, f"{PROMOPCFG.name}: {proc.stderr}"
    (directory / "generated.yaml").write_text(proc.stdout)
    generated: dict[str, Any] = yaml.safe_load(proc.stdout)
    return generated
