"""The metrics check on the real cluster: the service judged by its own numbers.

``test_a_leak_fails_with_its_growth_and_a_steady_service_passes``: the test workload with
``LEAK_FDS=1`` (a descriptor opened per request, never closed) and the same workload without it
run the same load; readygate scrapes each pod's /metrics at its IP before, during and after
it. The leak fails ``metrics`` with the measured growth of ``process_open_fds``, and its report
(out/e2e/report-metrics-leaky.html) charts the descriptors on the load's clock; the steady one
passes. A third check asks PromQL of an operator that has no Prometheus: Inconclusive, saying so.

``test_promql_against_a_real_prometheus``: Debian's Prometheus (tests/e2e/prometheus.py) scrapes
a workload pod in a namespace of its own; an operator of this test, given that Prometheus
(``READYGATE_PROMETHEUS_URL``), judges PromQL rules on the real series: one passes, one fails
with the value, one whose query matches nothing is Inconclusive ("no data"). The same pod is
also scraped as another tenant's (``namespace="kube-system"``): a query that names no namespace
sees only the check's own series, and one that names the other namespace is refused (the
metrics check ends Error, saying what to write).
The measured figures are written to out/e2e/metrics-check.txt.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from readygate.report import render_html

from ..monitoring.artifacts import JOB
from .conftest import (
    OUT,
    RESTRICTED_CONTAINER,
    SESSION,
    WORKLOAD_IMAGE,
    Cluster,
    Operator,
    checks_of_obj,
    is_final,
    launch_operator,
    wait_for,
    workload,
)
from .prometheus import Prometheus, launch

REPORT = OUT / "metrics-check.txt"
FDS = "process_open_fds"
LOAD = {"model": "open", "rate": 20, "duration": "12s",
        "thresholds": {"p95": "3s", "minSamples": 50}}
METRICS = {
    "scrapeEvery": "2s", "settle": "3s",
    "growth": [{"series": FDS, "max": 20}],
    "rules": [{"name": "error-ratio", "expr": "workload_injected_errors_total / "
               "workload_work_requests_total", "op": "<=", "value": 0.01,
               "sample": "increase"}],
}
NO_LIVENESS = {"liveness": {"enabled": False}}


def _note(line: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with REPORT.open("a") as f:
        f.write(line + "\n")
    print(line)


NEIGHBOUR = "kube-system"


def _final(cluster: Cluster, namespace: str, names: list[str], timeout: float,
           diagnostics: Any = None) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    out = {}
    for name in names:
        out[name] = cluster.wait_check(namespace, name, is_final,
                                       timeout=max(1.0, deadline - time.monotonic()),
                                       what="final", diagnostics=diagnostics)
    return out


def test_a_leak_fails_with_its_growth_and_a_steady_service_passes(
        cluster: Cluster, operator: Operator, namespace: str) -> None:
    specs = {
        "leaky": {"target": workload({"LEAK_FDS": "1"}), **NO_LIVENESS, "load": LOAD,
                  "metrics": METRICS},
        "steady": {"target": workload(), **NO_LIVENESS, "load": LOAD, "metrics": METRICS},
        # the session's operator has no READYGATE_PROMETHEUS_URL
        "no-prometheus": {"target": workload(), **NO_LIVENESS, "metrics": {"promql": [
            {"name": "up", "query": 'up{namespace="{namespace}"}', "op": "==", "value": 1}]}},
    }
    for name, spec in specs.items():
        cluster.create_check(namespace, name, spec)
    final = _final(cluster, namespace, list(specs), timeout=300)

    leaky = checks_of_obj(final["leaky"])["metrics"]
    assert leaky["result"] == "Failed", leaky
    assert leaky["message"].startswith(f"{FDS} grew by "), leaky["message"]
    assert "bound max 20" in leaky["message"]
    grown = leaky["measured"][f"growth:{FDS}"]
    # 20 req/s for 12 s, one descriptor each: about 240 (the load's own requests may fall short)
    assert grown >= 150, leaky
    assert checks_of_obj(final["leaky"])["load"]["result"] == "Passed"
    assert final["leaky"]["status"]["phase"] == "Failed"
    # the report charts the descriptors the check scraped, beside the load, on its clock
    charts = final["leaky"]["status"]["charts"]
    assert {"load", "metrics"} <= set(charts), charts.keys()
    scraped = charts["metrics"]
    fds = [v for v in scraped["series"][0]["values"] if v is not None]
    assert scraped["series"][0]["name"] == FDS and fds[-1] - fds[0] >= 150, scraped
    assert scraped["t"][0] <= 0 < scraped["t"][-1] and len(scraped["t"]) <= 60
    page = render_html(final["leaky"])
    (OUT / "report-metrics-leaky.html").write_text(page, encoding="utf-8")
    assert 'data-chart="metric-1"' in page and "Open file descriptors of pod " in page
    assert "first scrape + max 20" in page

    steady = checks_of_obj(final["steady"])["metrics"]
    assert steady["result"] == "Passed", steady
    assert steady["measured"][f"growth:{FDS}"] <= 20
    assert steady["measured"]["rule:error-ratio"] == 0
    assert steady["measured"]["scrapes"] >= 5  # before, every 2 s during 12 s, after
    assert final["steady"]["status"]["phase"] == "Passed"

    none = checks_of_obj(final["no-prometheus"])["metrics"]
    assert none["result"] == "Inconclusive"
    assert "the operator has no Prometheus configured (READYGATE_PROMETHEUS_URL)" in (
        none["message"])

    _note(f"[{time.strftime('%F %T')}] leaky: {leaky['message']} "
          f"(measured {leaky['measured']})")
    _note(f"[{time.strftime('%F %T')}] steady: {steady['message']} "
          f"(measured {steady['measured']})")


# -- PromQL against a real Prometheus -----------------------------------------------------------

def _steady_workload(cluster: Cluster, namespace: str) -> dict[str, Any]:
    """Deployment + Service ``steady`` (the test workload, untouched): its Ready pod."""
    labels = {"app": "steady"}
    cluster.apps.create_namespaced_deployment(namespace, {
        "metadata": {"name": "steady"},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {
                     "terminationGracePeriodSeconds": 2,
                     "containers": [{
                         "name": "app", "image": WORKLOAD_IMAGE, "imagePullPolicy": "Never",
                         **RESTRICTED_CONTAINER,
                         "ports": [{"name": "http", "containerPort": 8080}],
                         "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"},
                                            "periodSeconds": 1}}]}}}})
    cluster.core.create_namespaced_service(namespace, {
        "metadata": {"name": "steady"},
        "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": "http"}]}})

    def ready_pod() -> dict[str, Any] | None:
        for pod in cluster.core.list_namespaced_pod(namespace, label_selector="app=steady").items:
            conditions = {c.type: c.status for c in pod.status.conditions or []}
            if conditions.get("Ready") == "True" and pod.status.pod_ip:
                return {"name": pod.metadata.name, "ip": pod.status.pod_ip}
        return None

    pod: dict[str, Any] = wait_for("the steady workload Ready", 120, ready_pod, every=0.5)
    return pod


@pytest.fixture
def real_prometheus(cluster: Cluster, operator: Operator, own_namespace: str,
                    tmp_path: Path) -> Iterator[tuple[Prometheus, dict[str, Any]]]:
    """A Prometheus scraping the steady workload's pod every second (and, as every e2e
    Prometheus, the session's operator as job readygate)."""
    pod = _steady_workload(cluster, own_namespace)
    operator_target = operator.metrics.split("/")[2]
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {"job_name": JOB, "static_configs": [{"targets": [operator_target]}]},
            {"job_name": "workload", "static_configs": [{
                "targets": [f"{pod['ip']}:8080"],
                "labels": {"namespace": own_namespace, "pod": pod["name"]}}]},
            # the same pod as another tenant's series: what a check must not read
            {"job_name": "neighbour", "static_configs": [{
                "targets": [f"{pod['ip']}:8080"],
                "labels": {"namespace": NEIGHBOUR, "pod": "neighbour-0"}}]},
        ],
    }
    prometheus = launch(config, tmp_path / "prometheus", OUT / f"prometheus-metrics-{SESSION}.log")
    try:
        prometheus.wait_for(f'{FDS}{{job="workload",namespace="{own_namespace}"}}', bool,
                            timeout=30, what="a scrape of the steady workload")
        prometheus.wait_for(f'{FDS}{{job="neighbour"}}', bool, timeout=30,
                            what="a scrape of the neighbour's series")
        yield prometheus, pod
    finally:
        prometheus.stop()


def test_promql_against_a_real_prometheus(
        cluster: Cluster, own_namespace: str,
        real_prometheus: tuple[Prometheus, dict[str, Any]]) -> None:
    prometheus, pod = real_prometheus
    ns = own_namespace
    log = OUT / f"operator-metrics-{SESSION}.log"
    log.unlink(missing_ok=True)
    op = launch_operator(cluster, ns, log,
                         extra_env={"READYGATE_PROMETHEUS_URL": prometheus.url + "/"})
    try:
        fds = f'max({FDS}{{namespace="{{namespace}}",pod=~"{{name}}-.*"}})'
        target = {"target": {"workloadRef": {"name": "steady"}}, **NO_LIVENESS}
        specs = {
            "real-pass": {**target, "metrics": {"promql": [
                {"name": "open-fds", "query": fds, "op": "<", "value": 1000},
                {"name": "per-pod", "query": f'{FDS}{{namespace="{{namespace}}",'
                                              'pod="{pod}"}', "op": ">", "value": 0}]}},
            "real-fail": {**target, "metrics": {"promql": [
                {"name": "open-fds", "query": fds, "op": "<", "value": 1}]}},
            "no-data": {**target, "metrics": {"promql": [
                {"name": "nothing", "query": f'{FDS}{{namespace="{{namespace}}",'
                                             'pod="no-such-pod"}', "op": "<", "value": 1000}]}},
            # no namespace written: the operator adds the check's, so one series, not two
            "confined": {**target, "metrics": {"promql": [
                {"name": "series", "query": f"count({FDS})", "op": "==", "value": 1},
                {"name": "jobs", "query": 'count(up{job=~".+"})', "op": "==", "value": 1}]}},
            # another tenant's namespace named: refused, nothing sent
            "neighbours": {**target, "metrics": {"promql": [
                {"name": "theirs", "query": f'max({FDS}{{namespace="{NEIGHBOUR}"}})',
                 "op": "<", "value": 1e6}]}},
        }
        for name, spec in specs.items():
            cluster.create_check(ns, name, spec)
        final = _final(cluster, ns, list(specs), timeout=120, diagnostics=op.log_tail)
        real = prometheus.query(f'max({FDS}{{namespace="{ns}"}})')
        actual = float(real[0]["value"][1])

        passed = checks_of_obj(final["real-pass"])["metrics"]
        assert passed["result"] == "Passed", passed
        assert 0 < passed["measured"]["promql:open-fds"] < 1000
        assert abs(passed["measured"]["promql:open-fds"] - actual) <= 5
        assert passed["measured"]["promql:per-pod"] > 0
        assert any(f"for pod {pod['name']}" in e for e in passed["evidence"]), passed

        failed = checks_of_obj(final["real-fail"])["metrics"]
        assert failed["result"] == "Failed", failed
        assert failed["message"].startswith("promql open-fds (< 1): 1 of 1 series break it: {} ")
        assert final["real-fail"]["status"]["phase"] == "Failed"

        nodata = checks_of_obj(final["no-data"])["metrics"]
        assert nodata["result"] == "Inconclusive", nodata
        assert nodata["message"] == ("promql nothing (< 1000): no data (the query returned no "
                                     "series)")
        assert final["no-data"]["status"]["phase"] == "Inconclusive"

        # Prometheus holds the pod's series twice (workload, neighbour) and the operator's own;
        # the check saw only its namespace's
        assert prometheus.query(f'{FDS}{{namespace="{NEIGHBOUR}"}}')
        assert len(prometheus.query(FDS)) >= 2 and len(prometheus.query("up")) >= 2
        confined = checks_of_obj(final["confined"])["metrics"]
        assert confined["result"] == "Passed", confined
        assert confined["measured"]["promql:series"] == 1
        assert confined["measured"]["promql:jobs"] == 1
        assert final["neighbours"]["status"]["phase"] == "Error", final["neighbours"]["status"]
        refused = checks_of_obj(final["neighbours"])["metrics"]
        assert refused["result"] == "Error", refused
        assert refused["message"] == (
            f'promql theirs (< 1e+06): refused: {FDS} matches namespace="{NEIGHBOUR}": a check '
            f"reads only the series of its own namespace ({ns}); write "
            'namespace="{namespace}" or leave namespace out (readygate adds it)')
        _note(f"[{time.strftime('%F %T')}] promql: {FDS} of {pod['name']} in Prometheus "
              f"{actual:g}; real-pass {passed['measured']}; real-fail: {failed['message']}; "
              f"no-data: {nodata['message']}; confined (Prometheus holds "
              f"{len(prometheus.query(FDS))} {FDS} series): {confined['measured']}; "
              f"neighbours: {refused['message']}")
    finally:
        op.stop()
