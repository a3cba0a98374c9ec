"""The shipped ServiceMonitor, as the Prometheus Operator makes it a scrape, on the real cluster.

readygate is installed in the cluster from manifests/overlays/local (incluster.py: its pod, its
``readygate-metrics`` Service in readygate-system) and told to watch one fresh ``rg-e2e-ic-*``
namespace, where three checks run: ``measured`` (load, stability, resilience: Passed),
``crashing`` (dies at import: Failed) and ``broken`` (a workloadRef to nothing: Error).

Two Prometheus (a recent release built from the Go module proxy: Debian's has no Kubernetes
service discovery) scrape it with exactly the configuration the Prometheus Operator generates
(promoperator.py runs the operator's own generator on our objects): one for
manifests/monitoring/servicemonitor.yaml as shipped (``honorLabels: true``), one for the same
ServiceMonitor without it (as it was). Both discover the operator through the API server
(``kubernetes_sd_configs``, role endpoints) and relabel it as the operator says (job, namespace,
service, pod, container, endpoint), and both evaluate readygate's alert rules. The tests assert
that with honorLabels the per-check series, the alerts and every dashboard query carry the
check's own namespace — and that without it they carry readygate-system, the check's namespace
pushed into ``exported_namespace``. They also run ``promtool check metrics`` (Debian's and a
recent one) on /metrics of the operator's pod. What the tests generated and saw is left in
out/e2e/servicemonitor/.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from ..monitoring.artifacts import (
    JOB,
    SERVICE_MONITOR,
    dashboard,
    load_yaml,
    panel_queries,
    prometheus_rules,
    promtool,
    render,
    variables,
    write_rule_file,
)
from ..monitoring.gotools import BUILD_TEST_TIMEOUT, recent_prometheus, recent_promtool
from .conftest import (
    IN_CLUSTER_NAMESPACE_PREFIX,
    OUT,
    ROOT,
    Cluster,
    create_namespace,
    drop_namespace,
    is_final,
    workload,
)
from .incluster import SYSTEM_NAMESPACE, Install, owned_readygate_system
from .prometheus import Prometheus, finite_values, launch
from .promoperator import (
    PROMETHEUS_OPERATOR_VERSION,
    api_server,
    generate,
    prometheus_resource,
    without_honor_labels,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(BUILD_TEST_TIMEOUT)]

RESULTS = OUT / "servicemonitor"
CHECKS: dict[str, dict[str, Any]] = {
    "measured": {"target": workload({}, replicas=2), "liveness": {"observeFor": "3s"},
                 "load": {"rate": 20, "duration": "10s", "thresholds": {"minSamples": 150}},
                 "stability": {"sampleEvery": "2s"},
                 "resilience": {"killPods": 1, "after": "2s", "maxRecovery": "60s"}},
    "crashing": {"target": workload({"MODE": "crash-import"}), "readiness": {"within": "60s"}},
    "broken": {"target": {"workloadRef": {"name": "nope"}}},
}
VERDICTS = {"measured": "Passed", "crashing": "Failed", "broken": "Error"}
# What the Prometheus Operator's relabelling puts on every target of a ServiceMonitor endpoint
TARGET_LABELS = {"job", "instance", "namespace", "service", "pod", "container", "endpoint"}
SCRAPE_WAIT = 100.0  # the ServiceMonitor's 30s interval, service discovery, and slack
# per-check series (not readygate_check_runs_total, which is operator-wide)
PER_CHECK_PREFIX = "readygate_check_"


@dataclasses.dataclass
class Generated:
    honored: dict[str, Any]  # for the shipped ServiceMonitor
    unhonored: dict[str, Any]  # for the same without honorLabels
    default_version: dict[str, Any]  # shipped ServiceMonitor, the operator's default Prometheus
    debian_version: dict[str, Any]  # shipped ServiceMonitor, Prometheus 2.42 (Debian's)
    apiserver: dict[str, Any]
    raw: str  # the honored configuration before the config-reloader's substitution


@dataclasses.dataclass
class Scenario:
    namespace: str
    pod: dict[str, Any]  # the operator's pod
    honored: Prometheus
    unhonored: Prometheus
    started: float


@pytest.fixture(scope="module")
def generated(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Generated:
    RESULTS.mkdir(parents=True, exist_ok=True)
    directory = tmp_path_factory.mktemp("promoperator")
    apiserver = api_server(cluster.kubeconfig, directory / "apiserver")
    monitor = load_yaml(SERVICE_MONITOR)
    resource = prometheus_resource(apiserver)
    honored = generate(resource, [monitor], directory / "honored")
    unhonored = generate(resource, [without_honor_labels(monitor)], directory / "unhonored")
    default_version = generate(prometheus_resource(apiserver, version=None), [monitor],
                               directory / "default-version")
    debian_version = generate(prometheus_resource(apiserver, version="v2.42.0"), [monitor],
                              directory / "debian-version")
    raw_dir = directory / "raw"
    generate(resource, [monitor], raw_dir, envsubst=False)
    for name, config in (("honored", honored), ("unhonored", unhonored),
                         ("default-version", default_version),
                         ("debian-version", debian_version)):
        (RESULTS / f"generated-{name}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return Generated(honored, unhonored, default_version, debian_version, apiserver,
                     (raw_dir / "generated.yaml").read_text())


@pytest.fixture(scope="module")
def operator_image() -> None:
    proc = subprocess.run([str(ROOT / "hack" / "local-cluster" / "images"), "operator"],
                          capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        pytest.fail(f"hack/local-cluster/images operator failed:\n{proc.stderr[-4000:]}",
                    pytrace=False)


def _config(generated: dict[str, Any], directory: Path) -> dict[str, Any]:
    """The generated configuration with readygate's rules, as a rule ConfigMap would add them
    (the Prometheus resource selects no PrometheusRule, so the generator wrote no rule_files)."""
    assert "rule_files" not in generated, generated.get("rule_files")
    directory.mkdir(parents=True, exist_ok=True)
    return {**generated, "rule_files": [str(write_rule_file(directory))]}


@pytest.fixture(scope="module")
def prometheus_binary() -> Path:
    """Built (the first time: minutes) before readygate-system is taken."""
    return recent_prometheus()


@pytest.fixture(scope="module")
def scenario(cluster: Cluster, generated: Generated, operator_image: None,
             prometheus_binary: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    workdir = tmp_path_factory.mktemp("servicemonitor")
    recent_promtool()  # for the last test; built before readygate-system is taken, too
    with owned_readygate_system(cluster):
        ns = create_namespace(cluster, f"{IN_CLUSTER_NAMESPACE_PREFIX}{secrets.token_hex(4)}")
        install: Install | None = None
        try:
            install = Install(cluster, "cluster-wide", ns, workdir / "install")
            install.apply()
            pod = install.wait_ready()
            with contextlib.ExitStack() as stack:
                yield _run(cluster, generated, install, pod, ns, workdir, stack,
                           prometheus_binary)
        finally:
            drop_namespace(cluster, ns)  # while the operator is there to release the checks
            if install is not None:
                with contextlib.suppress(Exception):
                    (RESULTS / "operator.log").write_text(install.logs())
                install.remove()


def _run(cluster: Cluster, generated: Generated, install: Install, pod: dict[str, Any],
         ns: str, workdir: Path, stack: contextlib.ExitStack, binary: Path) -> Scenario:
    # Both Prometheus start before the checks, so that the counters and histograms grow between
    # their scrapes (the rate() panels) and every check's series appear while they watch.
    honored = launch(_config(generated.honored, workdir / "honored"), workdir / "honored",
                     RESULTS / "prometheus-honored.log", first_scrape=SCRAPE_WAIT,
                     binary=binary)
    stack.callback(honored.stop)
    unhonored = launch(_config(generated.unhonored, workdir / "unhonored"),
                       workdir / "unhonored", RESULTS / "prometheus-unhonored.log",
                       first_scrape=SCRAPE_WAIT, binary=binary)
    stack.callback(unhonored.stop)
    stack.callback(_record, honored, unhonored)
    started = time.time()
    for name, spec in CHECKS.items():
        cluster.create_check(ns, name, spec)
    final = {name: cluster.wait_check(ns, name, is_final, timeout=240, what="final",
                                      diagnostics=install.diagnostics)
             for name in CHECKS}
    got = {name: obj["status"].get("verdict") for name, obj in final.items()}
    assert got == VERDICTS, {n: o["status"].get("summary") for n, o in final.items()}
    # every check's verdict scraped by both (the unhonored one has the check's namespace in
    # exported_namespace), then one more scrape, so rates and changes cover the whole run
    for prometheus, label in ((honored, "namespace"), (unhonored, "exported_namespace")):
        prometheus.wait_for(f'count(readygate_check_verdict{{{label}="{ns}"}} == 1)',
                            lambda r: bool(r) and r[0]["value"][1] == str(len(CHECKS)),
                            timeout=SCRAPE_WAIT, what="the verdict of every check")
    for prometheus in (honored, unhonored):
        scrapes = prometheus.query(f'count_over_time(up{{job="{JOB}"}}[1h])')
        have = int(scrapes[0]["value"][1])
        prometheus.wait_for(f'count_over_time(up{{job="{JOB}"}}[1h]) > {have}', bool,
                            timeout=SCRAPE_WAIT, what="one more scrape")
    return Scenario(ns, pod, honored, unhonored, started)


def _record(honored: Prometheus, unhonored: Prometheus) -> None:
    with contextlib.suppress(Exception):
        for name, prometheus in (("honored", honored), ("unhonored", unhonored)):
            (RESULTS / f"targets-{name}.json").write_text(
                json.dumps(prometheus.targets(), indent=2) + "\n")
            (RESULTS / f"verdicts-{name}.json").write_text(
                json.dumps(prometheus.query("readygate_check_verdict == 1"), indent=2) + "\n")


# -- the generated configuration -------------------------------------------------------------
def _only_job(config: dict[str, Any]) -> dict[str, Any]:
    (job,) = config["scrape_configs"]
    assert isinstance(job, dict)
    return job


def test_the_generated_scrape_config(generated: Generated, tmp_path: Path) -> None:
    """What the Prometheus Operator makes of the shipped ServiceMonitor."""
    job = _only_job(generated.honored)
    assert job["job_name"] == "serviceMonitor/readygate-system/readygate/0"
    assert job["honor_labels"] is True
    assert job["kubernetes_sd_configs"] == [{
        "role": "endpoints", "namespaces": {"names": [SYSTEM_NAMESPACE]},
        "api_server": generated.apiserver["host"],
        "tls_config": {"ca_file": generated.apiserver["tlsConfig"]["caFile"],
                       "cert_file": generated.apiserver["tlsConfig"]["certFile"],
                       "key_file": generated.apiserver["tlsConfig"]["keyFile"]}}]
    assert (job["scrape_interval"], job["scrape_timeout"], job["metrics_path"]) == \
        ("30s", "10s", "/metrics")
    relabel = job["relabel_configs"]
    by_target = {r.get("target_label"): r for r in relabel if "target_label" in r}
    assert by_target["namespace"]["source_labels"] == ["__meta_kubernetes_namespace"]
    assert by_target["job"]["source_labels"] == \
        ["__meta_kubernetes_service_label_app_kubernetes_io_name"]
    assert by_target["endpoint"]["replacement"] == "metrics"
    # the config-reloader's substitution: shard 0 keeps its targets
    assert "$(SHARD);|.+;.+" in generated.raw and "$(" not in yaml.safe_dump(generated.honored)
    # Without honorLabels the only difference is honor_labels itself ...
    unhonored = _only_job(generated.unhonored)
    assert unhonored["honor_labels"] is False
    assert job == {**unhonored, "honor_labels": True}
    # ... and the Prometheus version (the operator's default, Debian's 2.42) changes nothing of
    # the discovery and the relabelling
    for other in (generated.default_version, generated.debian_version):
        found = _only_job(other)
        assert found["relabel_configs"] == relabel
        assert found["honor_labels"] is True
        assert found["kubernetes_sd_configs"] == job["kubernetes_sd_configs"]
    # promtool of the same release accepts it as a whole
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(_config(generated.honored, tmp_path), sort_keys=False))
    proc = promtool("check", "config", str(path), cwd=tmp_path, binary=recent_promtool())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (RESULTS / "README.txt").write_text(
        f"Generated by tests/monitoring/promopcfg (prometheus-operator "
        f"{PROMETHEUS_OPERATOR_VERSION}, pkg/prometheus/promcfg.go) for "
        f"manifests/monitoring/servicemonitor.yaml; see tests/e2e/test_servicemonitor.py.\n")


# -- the scrape ------------------------------------------------------------------------------
def test_the_operator_is_discovered_and_relabelled(scenario: Scenario) -> None:
    pod = scenario.pod
    want = {"job": JOB, "namespace": SYSTEM_NAMESPACE, "service": "readygate-metrics",
            "pod": pod["metadata"]["name"], "container": "operator", "endpoint": "metrics",
            "instance": f"{pod['status']['podIP']}:9090"}
    for prometheus in (scenario.honored, scenario.unhonored):
        active = prometheus.targets()["activeTargets"]
        assert [t["labels"] for t in active] == [want], active
        assert active[0]["health"] == "up", active
        (up,) = prometheus.query(f'up{{job="{JOB}"}}')
        assert up["metric"] == {"__name__": "up", **want} and up["value"][1] == "1"


def test_with_honor_labels_the_series_carry_the_checks_namespace(scenario: Scenario) -> None:
    ns, prometheus = scenario.namespace, scenario.honored
    verdicts = prometheus.query("readygate_check_verdict == 1")
    assert {(s["metric"]["namespace"], s["metric"]["name"], s["metric"]["verdict"])
            for s in verdicts} == {(ns, name, verdict) for name, verdict in VERDICTS.items()}
    for s in verdicts:
        # the scrape's own labels are still there; only `namespace` is the check's
        assert s["metric"]["job"] == JOB and s["metric"]["service"] == "readygate-metrics"
        assert s["metric"]["pod"] == scenario.pod["metadata"]["name"]
    assert prometheus.query('{exported_namespace!=""}') == []
    assert prometheus.label_values("namespace", "readygate_check_verdict") == [ns]
    # every per-check series is the check's; operator-wide ones keep the target's namespace
    per_check = prometheus.query(f'{{__name__=~"{PER_CHECK_PREFIX}.+", '
                                 f'__name__!~"readygate_check_runs_.+"}}')
    assert per_check and {s["metric"]["namespace"] for s in per_check} == {ns}
    for metric in ("readygate_reconciles_total", "readygate_build_info",
                   "readygate_check_runs_total"):
        result = prometheus.query(metric)
        assert result and {s["metric"]["namespace"] for s in result} == {SYSTEM_NAMESPACE}, \
            (metric, result)


def test_without_honor_labels_the_namespace_is_the_targets(scenario: Scenario) -> None:
    """The failing variant: what the ServiceMonitor did before honorLabels: true."""
    ns, prometheus = scenario.namespace, scenario.unhonored
    verdicts = prometheus.query("readygate_check_verdict == 1")
    assert {(s["metric"]["namespace"], s["metric"]["exported_namespace"], s["metric"]["name"])
            for s in verdicts} == {(SYSTEM_NAMESPACE, ns, name) for name in VERDICTS}
    assert prometheus.query(f'readygate_check_verdict{{namespace="{ns}"}}') == []
    assert prometheus.label_values("namespace", "readygate_check_verdict") == [SYSTEM_NAMESPACE]


def _alerts(prometheus: Prometheus, alert: str,
            want: set[tuple[str, ...]], *labels: str) -> None:
    """Wait until Prometheus' own evaluation of ``alert`` is active (pending: its ``for`` has
    not passed, or firing) for exactly ``want``, the values of ``labels``."""
    def active(result: list[dict[str, Any]]) -> bool:
        return {tuple(s["metric"].get(k, "") for k in labels) for s in result} == want
    prometheus.wait_for(f'ALERTS{{alertname="{alert}", alertstate=~"pending|firing"}}', active,
                        timeout=60, what=f"{alert} active for {want}")


def test_alerts_name_the_checks_namespace(scenario: Scenario) -> None:
    ns = scenario.namespace
    exprs = {a.name: a.expr for a in prometheus_rules()}
    # the expressions, queried now
    failed = scenario.honored.query(exprs["ReadyGateCheckFailed"])
    assert [(s["metric"]["namespace"], s["metric"]["name"]) for s in failed] == \
        [(ns, "crashing")]
    stalled = scenario.honored.query(exprs["ReadyGateCheckStalled"])
    assert [(s["metric"]["namespace"], s["metric"]["name"]) for s in stalled] == [(ns, "broken")]
    assert scenario.honored.query(exprs["ReadyGateOperatorDown"]) == []
    # the rules, as Prometheus evaluates them: with honorLabels the check's namespace; without,
    # readygate-system (and the check's in exported_namespace, which no annotation uses)
    for alert, name in (("ReadyGateCheckFailed", "crashing"),
                        ("ReadyGateCheckStalled", "broken")):
        _alerts(scenario.honored, alert, {(ns, name, "")},
                "namespace", "name", "exported_namespace")
        _alerts(scenario.unhonored, alert, {(SYSTEM_NAMESPACE, name, ns)},
                "namespace", "name", "exported_namespace")


def _dashboard_results(prometheus: Prometheus, ns: str,
                       started: float) -> dict[str, list[dict[str, Any]]]:
    dash = dashboard()
    end = time.time()
    values = {"namespace": f"({ns})", "check": "(" + "|".join(sorted(CHECKS)) + ")",
              "__rate_interval": "5m", "__interval": "15s",
              "__range": f"{int(end - started) + 1}s"}
    out = {}
    for query in panel_queries(dash):
        expr = render(query.expr, values)
        key = f"{query.panel} [{query.ref}]: {expr}"
        out[key] = (prometheus.query(expr) if query.instant
                    else prometheus.query_range(expr, started - 60, end, 15))
    return out


def test_every_dashboard_query_returns_the_checks_namespace(scenario: Scenario) -> None:
    ns = scenario.namespace
    variable = variables(dashboard())["namespace"]["definition"]
    assert variable == "label_values(readygate_check_verdict, namespace)"
    assert scenario.honored.label_values("namespace", "readygate_check_verdict") == [ns]
    results = _dashboard_results(scenario.honored, ns, scenario.started)
    empty = [key for key, result in results.items() if not finite_values(result)]
    assert not empty, "dashboard queries without data:\n" + "\n".join(empty)
    for key, result in results.items():
        if PER_CHECK_PREFIX in key and "readygate_check_runs_total" not in key:
            assert {s["metric"].get("namespace", ns) for s in result} == {ns}, (key, result)
    # Without honorLabels, the check's namespace selects nothing on any per-check panel
    unhonored = _dashboard_results(scenario.unhonored, ns, scenario.started)
    per_check = {key: result for key, result in unhonored.items()
                 if PER_CHECK_PREFIX in key and "readygate_check_runs_total" not in key}
    assert per_check and all(not finite_values(r) for r in per_check.values()), per_check


def test_the_operators_metrics_pass_promtool_check_metrics(scenario: Scenario) -> None:
    text = httpx.get(f"http://{scenario.pod['status']['podIP']}:9090/metrics", timeout=5,
                     trust_env=False).text
    assert f'namespace="{scenario.namespace}"' in text and "readygate_build_info{" in text
    (RESULTS / "metrics.txt").write_text(text)
    for binary in (None, recent_promtool()):
        proc = promtool("check", "metrics", cwd=ROOT, input=text, binary=binary)
        assert (proc.returncode, proc.stdout + proc.stderr) == (0, ""), (binary, proc)
    # no label readygate exports collides with a target label but `namespace`: honorLabels
    # changes nothing else
    exported = {label for family in text_string_to_metric_families(text)
                for sample in family.samples for label in sample.labels}
    assert exported & TARGET_LABELS == {"namespace"}, exported
