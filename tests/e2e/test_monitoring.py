"""Observability and GitOps health on the real cluster, with a real Prometheus scraping.

Five checks run together: ``loaded`` (the healthy workload with a short open-model load:
Passed), ``crashing`` (dies at import: Failed), ``broken`` (a workloadRef to a Deployment that
does not exist: Error), ``starved`` (too few samples for its threshold: Inconclusive) and
``resilient`` (a pod deleted under load, memory sampled, a warn-only threshold breached:
Conditional). Debian's Prometheus (tests/e2e/prometheus.py) scrapes the out-of-cluster operator
every second with readygate's alert rules loaded. The tests then assert what a user of the
shipped artifacts sees: the measured values in Prometheus, data behind every dashboard query,
the alert expressions naming the right checks, a /metrics that ``promtool check metrics``
(Debian's and a recent one) finds clean, the documented wait script, the monitoring
kustomization, series gone after a delete, and the Argo CD health of objects as the API server
returned them (captured objects are written to out/e2e/argocd-testdata/;
manifests/gitops/argocd/testdata/ is made by tests/gitops/capture.py).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from readygate import __version__

from ..monitoring.artifacts import (
    DASHBOARD,
    GRAFANA_ALERTS,
    JOB,
    MONITORING,
    ROOT,
    dashboard,
    panel_queries,
    prometheus_rules,
    promtool,
    render,
    variables,
)
from ..monitoring.gotools import BUILD_TEST_TIMEOUT, recent_promtool
from ..monitoring.luahealth import run_health
from ..statusview import checks_of
from .conftest import OUT, Cluster, Operator, condition, is_final, workload
from .prometheus import Prometheus, finite_values, scraping

# Latency bounds are generous: the machine may be shared with other e2e sessions, and latency
# is not what these tests judge (tests/load does).
SPECS: dict[str, dict[str, Any]] = {
    "loaded": {"target": workload(), "liveness": {"period": "500ms", "observeFor": "3s"},
               "load": {"model": "open", "rate": 50, "duration": "5s",
                        "thresholds": {"p95": "3s", "minSamples": 50}}},
    "crashing": {"target": workload({"MODE": "crash-import"}), "readiness": {"within": "60s"}},
    "broken": {"target": {"workloadRef": {"name": "nope"}}},
    "starved": {"target": workload(), "liveness": {"enabled": False},
                "load": {"model": "open", "rate": 5, "duration": "2s",
                         "thresholds": {"minSamples": 1000}}},
    # one of two pods deleted 2s into the load, memory sampled every second; a warn-only
    # median latency bound nothing meets makes the verdict Conditional (passed with warnings)
    "resilient": {"target": workload(replicas=2), "liveness": {"enabled": False},
                  "load": {"model": "open", "rate": 20, "duration": "10s",
                           "thresholds": {"p50": "0.001ms", "minSamples": 50},
                           "warnOnly": ["p50"]},
                  "resilience": {"killPods": 1, "after": "2s", "maxRecovery": "60s"},
                  "stability": {"sampleEvery": "1s"}},
}
VERDICTS = {"loaded": "Passed", "crashing": "Failed", "broken": "Error",
            "starved": "Inconclusive", "resilient": "Conditional"}
CAPTURED = OUT / "argocd-testdata"


@dataclasses.dataclass
class Scenario:
    namespace: str
    final: dict[str, dict[str, Any]]
    created: dict[str, Any]  # "loaded" as the create call returned it: no status yet
    running: dict[str, dict[str, Any]]  # "loaded" while its run was in this phase
    started: float  # unix time before the checks were created


def _capture(name: str, obj: dict[str, Any]) -> None:
    """Keep a real object for the Argo CD testdata, without server-side bookkeeping."""
    CAPTURED.mkdir(parents=True, exist_ok=True)
    obj = {**obj, "metadata": {k: v for k, v in obj["metadata"].items()
                               if k not in ("managedFields", "annotations")}}
    (CAPTURED / f"{name}.yaml").write_text(yaml.safe_dump(obj, sort_keys=False))


@pytest.fixture(scope="module")
def prometheus(operator: Operator,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    with scraping(operator, tmp_path_factory.mktemp("prometheus")) as instance:
        yield instance


@pytest.fixture(scope="module")
def scenario(cluster: Cluster, operator: Operator, module_namespace: str,
             prometheus: Prometheus) -> Scenario:
    ns = module_namespace
    started = time.time()
    created = {name: cluster.create_check(ns, name, spec) for name, spec in SPECS.items()}
    running: dict[str, dict[str, Any]] = {}
    final: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 180
    while len(final) < len(SPECS) and time.monotonic() < deadline:
        for name in SPECS:
            if name in final:
                continue
            obj = cluster.get_check(ns, name)
            phase = (obj.get("status") or {}).get("phase")
            reconciling = condition(obj, "Reconciling")
            if (name == "loaded" and phase in ("Deploying", "Verifying") and phase not in running
                    and reconciling is not None and reconciling["status"] == "True"):
                running[phase] = obj
            if is_final(obj):
                final[name] = obj
        time.sleep(0.2)
    for name in SPECS:  # fails with the status and the operator log of a check that hangs
        final[name] = cluster.wait_check(ns, name, is_final, timeout=1, what="final")
    got = {name: final[name]["status"].get("verdict") for name in SPECS}
    assert got == VERDICTS, {n: final[n]["status"].get("summary") for n in SPECS}
    # every check's series scraped (the operator exports them once the verdict is written)
    prometheus.wait_for(f'readygate_check_verdict{{namespace="{ns}"}} == 1',
                        lambda r: len(r) == len(SPECS), timeout=30,
                        what="the verdict of every check")
    _capture("created", created["loaded"])
    for phase, obj in running.items():
        _capture(phase.lower(), obj)
    for name, obj in final.items():
        _capture(name, obj)
    return Scenario(ns, final, created["loaded"], running, started)


def _one(prometheus: Prometheus, expr: str) -> float:
    result = prometheus.query(expr)
    assert len(result) == 1, f"{expr}: {result}"
    return float(result[0]["value"][1])


def _by(result: list[dict[str, Any]], label: str) -> dict[str, float]:
    return {s["metric"].get(label, ""): float(s["value"][1]) for s in result}


def _timestamp(text: str) -> float:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.UTC).timestamp()


def test_prometheus_has_the_values_of_the_checks(scenario: Scenario,
                                                 prometheus: Prometheus) -> None:
    ns = scenario.namespace
    sel = f'namespace="{ns}", name="loaded"'
    status = scenario.final["loaded"]["status"]
    load = checks_of(status)["load"]["measured"]
    assert _one(prometheus, f"readygate_check_score{{{sel}}}") == status["score"]
    assert _by(prometheus.query(f"readygate_check_verdict{{{sel}}}"), "verdict") == {
        "Passed": 1, "Conditional": 0, "Failed": 0, "Inconclusive": 0, "Error": 0}
    assert _one(prometheus, f"readygate_check_ready{{{sel}}}") == 1
    assert _one(prometheus, f"readygate_check_stalled{{{sel}}}") == 0
    latency = _by(prometheus.query(f"readygate_check_latency_seconds{{{sel}}}"), "percentile")
    assert set(latency) == {"p50", "p95", "p99", "p999"}
    for percentile in latency:
        assert latency[percentile] == pytest.approx(load[f"{percentile}Ms"] / 1000,
                                                    rel=1e-9), percentile
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["p999"]
    assert _one(prometheus, f"readygate_check_requests_per_second{{{sel}}}") == \
        pytest.approx(load["rps"], rel=1e-9)
    assert load["rps"] > 0
    assert _one(prometheus, f"readygate_check_error_ratio{{{sel}}}") == load["errorRate"] == 0
    assert _one(prometheus, f"readygate_check_requests{{{sel}}}") == load["requests"] >= 50
    assert _one(prometheus, f"readygate_check_time_to_ready_seconds{{{sel}}}") == pytest.approx(
        checks_of(status)["readiness"]["measured"]["secondsToReady"], rel=1e-9)
    assert _one(prometheus, f"readygate_check_last_verdict_timestamp_seconds{{{sel}}}") == \
        _timestamp(status["lastVerdictAt"])

    crashing = f'namespace="{ns}", name="crashing"'
    assert _by(prometheus.query(f"readygate_check_verdict{{{crashing}}} == 1"), "verdict") == \
        {"Failed": 1}
    assert _one(prometheus, f"readygate_check_ready{{{crashing}}}") == 0
    assert _one(prometheus, f"readygate_check_stalled{{{crashing}}}") == 1
    assert _one(prometheus, f"readygate_check_score{{{crashing}}}") == \
        scenario.final["crashing"]["status"]["score"]
    assert prometheus.query(f"readygate_check_latency_seconds{{{crashing}}}") == []
    for name in ("broken", "starved", "resilient"):
        verdicts = _by(prometheus.query(
            f'readygate_check_verdict{{namespace="{ns}", name="{name}"}} == 1'), "verdict")
        assert verdicts == {VERDICTS[name]: 1}

    resilient = f'namespace="{ns}", name="resilient"'
    checks = checks_of(scenario.final["resilient"]["status"])
    assert _one(prometheus, f"readygate_check_ready{{{resilient}}}") == 1  # Conditional is Ready
    assert _one(prometheus, f"readygate_check_recovery_seconds{{{resilient}}}") == \
        pytest.approx(checks["resilience"]["measured"]["recoverySeconds"], rel=1e-9)
    assert 0 < checks["resilience"]["measured"]["recoverySeconds"] < 60
    assert _one(prometheus, f"readygate_check_memory_growth_bytes{{{resilient}}}") == \
        pytest.approx(checks["stability"]["measured"]["memoryGrowthBytes"], rel=1e-9)
    assert prometheus.query(f"readygate_check_recovery_seconds{{{sel}}}") == []  # not measured

    runs = prometheus.query("readygate_check_runs_total")
    counted = {(s["metric"]["check"], s["metric"]["result"]) for s in runs}
    assert {("load", "Passed"), ("load", "Inconclusive"), ("readiness", "Failed"),
            ("resilience", "Passed"), ("stability", "Passed")} <= counted
    assert _one(prometheus, "readygate_time_to_verdict_seconds_count") >= len(SPECS)
    assert _one(prometheus, "readygate_reconciles_total") > 0


@pytest.mark.timeout(BUILD_TEST_TIMEOUT)
def test_live_metrics_pass_promtool_check_metrics(scenario: Scenario, operator: Operator,
                                                  prometheus: Prometheus) -> None:
    """/metrics of the running operator, with all five checks' series, is lint-clean for
    Debian's promtool and a recent one; and Prometheus has readygate_build_info."""
    text = httpx.get(operator.metrics, timeout=5, trust_env=False).text
    assert f'namespace="{scenario.namespace}"' in text and "percentile=" in text
    for binary in (None, recent_promtool()):
        proc = promtool("check", "metrics", cwd=ROOT, input=text, binary=binary)
        assert (proc.returncode, proc.stdout + proc.stderr) == (0, ""), (binary, proc)
    info = prometheus.query(f'readygate_build_info{{job="{JOB}"}}')
    assert [(s["metric"]["version"], s["value"][1]) for s in info] == [(__version__, "1")]


def test_every_dashboard_query_returns_data(scenario: Scenario, prometheus: Prometheus) -> None:
    ns = scenario.namespace
    dash = dashboard()
    found = variables(dash)
    # the variables, as Grafana's label_values() asks Prometheus for them
    assert ns in prometheus.label_values("namespace", "readygate_check_verdict")
    check_match = found["check"]["definition"].removeprefix("label_values(").rsplit(",", 1)[0]
    checks = prometheus.label_values("name", render(check_match, {"namespace": ns}))
    assert sorted(checks) == sorted(SPECS)
    end = time.time()
    values = {"namespace": f"({ns})", "check": "(" + "|".join(sorted(SPECS)) + ")",
              "__rate_interval": "5m", "__interval": "2s",
              "__range": f"{int(end - scenario.started) + 1}s"}
    empty = []
    for query in panel_queries(dash):
        expr = render(query.expr, values)
        if query.instant:
            result = prometheus.query(expr)
        else:
            result = prometheus.query_range(expr, scenario.started, end, 2)
        if not finite_values(result):
            empty.append(f"{query.panel} [{query.ref}]: {expr} -> {result}")
    assert not empty, "dashboard queries without data:\n" + "\n".join(empty)


def test_alert_expressions_run_and_name_the_right_checks(scenario: Scenario,
                                                         prometheus: Prometheus) -> None:
    ns = scenario.namespace
    alerts = {a.name: a for a in prometheus_rules()}
    results = {name: prometheus.query(a.expr) for name, a in alerts.items()}  # all parse, run

    def checks_in_ns(name: str) -> dict[str, str]:
        return {s["metric"]["name"]: s["metric"].get("verdict", "")
                for s in results[name] if s["metric"].get("namespace") == ns}

    assert checks_in_ns("ReadyGateCheckFailed") == {"crashing": "Failed"}
    assert checks_in_ns("ReadyGateCheckStalled") == {"broken": "Error",
                                                     "starved": "Inconclusive"}
    assert checks_in_ns("ReadyGateVerdictFlapping") == {}
    assert results["ReadyGateOperatorDown"] == []  # the operator is up
    assert all(float(s["value"][1]) > 3 for s in results["ReadyGateReconcileErrors"])
    # Prometheus itself evaluates the loaded rules: the alerts are pending (or firing) for
    # exactly the failing and stalled checks
    _wait_alerts(prometheus, ns, "ReadyGateCheckFailed", {"crashing"})
    _wait_alerts(prometheus, ns, "ReadyGateCheckStalled", {"broken", "starved"})
    # the Grafana-managed copies use the same PromQL (tests/monitoring checks that), against a
    # datasource named by uid; nothing Prometheus-specific is left in them
    assert 'job="' + JOB + '"' in GRAFANA_ALERTS.read_text()


def _wait_alerts(prometheus: Prometheus, ns: str, alert: str, names: set[str]) -> None:
    active = prometheus.wait_for(f'ALERTS{{alertname="{alert}", namespace="{ns}"}}',
                                 lambda r: {s["metric"]["name"] for s in r} == names,
                                 timeout=15, what=f"{alert} active for {names}")
    assert {s["metric"]["alertstate"] for s in active} <= {"pending", "firing"}


def _message(obj: dict[str, Any], ctype: str) -> str:
    cond = condition(obj, ctype)
    assert cond is not None, f"no {ctype} condition in {obj.get('status')}"
    return str(cond["message"])


def test_argocd_health_of_real_objects(scenario: Scenario, cluster: Cluster) -> None:
    final = scenario.final
    assert run_health(scenario.created).status == "Progressing"
    assert set(scenario.running) == {"Deploying", "Verifying"}, "no running object captured"
    for phase, obj in scenario.running.items():
        health = run_health(obj)
        assert health.status == "Progressing", (phase, health)
        assert health.message == _message(obj, "Reconciling")
    healthy = run_health(final["loaded"])
    assert healthy.status == "Healthy"
    assert healthy.message == _message(final["loaded"], "Ready")
    conditional = run_health(final["resilient"])
    assert conditional.status == "Healthy"
    warnings = final["resilient"]["status"]["warnings"]
    assert warnings and all(w.startswith("load: ") for w in warnings)
    assert conditional.message == "Conditional: passed with warnings: " + "; ".join(warnings)
    crashed = run_health(final["crashing"])
    assert crashed.status == "Degraded"
    assert crashed.message == _message(final["crashing"], "Stalled")
    assert crashed.message.startswith("CrashLoopBackOff: ")
    for name in ("broken", "starved"):
        health = run_health(final[name])
        assert health.status == "Degraded", (name, health)
        assert health.message == _message(final[name], "Stalled")
    # A new generation the operator has not observed yet: the object the patch call returns
    patched = cluster.custom.patch_namespaced_custom_object(
        "readygate.io", "v1alpha1", scenario.namespace, "readinesschecks", "broken",
        {"spec": {"target": {"workloadRef": {"name": "nope-either"}}}})
    assert isinstance(patched, dict)
    assert patched["metadata"]["generation"] == 2
    assert patched["status"]["observedGeneration"] == 1
    assert condition(patched, "Stalled") is not None  # stale, from generation 1
    _capture("generation-not-observed", patched)
    health = run_health(patched)
    assert health.status == "Progressing"
    assert health.message == "Waiting for readygate to observe generation 2"


def _doc_script() -> str:
    """The wait-for-verdict script of docs/gating.md, as a user would copy it."""
    text = (ROOT / "docs" / "gating.md").read_text()
    after = text.split("<!-- tests/e2e/test_monitoring.py runs this block", 1)[1]
    return after.split("```sh\n", 1)[1].split("```", 1)[0]


def test_the_documented_wait_script_gates_on_the_verdict(scenario: Scenario,
                                                         cluster: Cluster) -> None:
    script = _doc_script()
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "NS": scenario.namespace,
           "TIMEOUT": "60",
           "PATH": f"{Path(cluster.kubectl_bin).parent}{os.pathsep}{os.environ['PATH']}"}
    passed = subprocess.run(["bash", "-c", script], env={**env, "CHECK": "loaded"},
                            capture_output=True, text=True, timeout=90, check=False)
    assert (passed.returncode, passed.stdout) == (0, "loaded passed\n"), passed.stderr
    warned = subprocess.run(["bash", "-c", script], env={**env, "CHECK": "resilient"},
                            capture_output=True, text=True, timeout=90, check=False)
    assert (warned.returncode, warned.stdout) == (0, "resilient passed\n"), warned.stderr
    failed = subprocess.run(["bash", "-c", script], env={**env, "CHECK": "crashing"},
                            capture_output=True, text=True, timeout=90, check=False)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert failed.stdout == scenario.final["crashing"]["status"]["summary"] + "\n"


def test_kustomize_builds_the_monitoring_install(cluster: Cluster) -> None:
    built = [d for d in yaml.safe_load_all(
        cluster.kubectl("kustomize", str(MONITORING)).stdout) if d]
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in built)
    assert kinds == [("ConfigMap", "readygate-grafana-alerts"),
                     ("ConfigMap", "readygate-grafana-dashboard"),
                     ("PrometheusRule", "readygate"), ("ServiceMonitor", "readygate")]
    assert {d["metadata"]["namespace"] for d in built} == {"readygate-system"}
    maps = {d["metadata"]["name"]: d for d in built if d["kind"] == "ConfigMap"}
    dash = maps["readygate-grafana-dashboard"]
    assert dash["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dash["data"] == {DASHBOARD.name: DASHBOARD.read_text()}
    alerts = maps["readygate-grafana-alerts"]
    assert alerts["metadata"]["labels"]["grafana_alert"] == "1"
    assert alerts["data"] == {GRAFANA_ALERTS.name: GRAFANA_ALERTS.read_text()}


def test_a_deleted_checks_series_disappear(scenario: Scenario, cluster: Cluster,
                                           operator: Operator, prometheus: Prometheus) -> None:
    ns = scenario.namespace

    def lines() -> list[str]:
        text = httpx.get(operator.metrics, timeout=5, trust_env=False).text
        return [line for line in text.splitlines()
                if f'namespace="{ns}"' in line and 'name="loaded"' in line]

    before = lines()
    assert any(line.startswith("readygate_check_latency_seconds{") for line in before), before
    assert len(before) >= 14  # verdict x5, ready, stalled, score, timestamp, latency x4, ...
    cluster.delete_check(ns, "loaded")
    deadline = time.monotonic() + 30
    while lines() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert lines() == [], "series of the deleted check are still exported"
    # ... and Prometheus marks them stale at its next scrape
    prometheus.wait_for(f'{{__name__=~"readygate_check_.+", namespace="{ns}", name="loaded"}}',
                        lambda r: r == [], timeout=15, what="the deleted check's series gone")
    # the other checks keep theirs ("broken" may be re-running its new generation)
    others = prometheus.query(f'readygate_check_verdict{{namespace="{ns}"}} == 1')
    assert {"crashing", "starved", "resilient"} <= {s["metric"]["name"] for s in others}
