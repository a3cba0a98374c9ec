"""The operator's exposition passes ``promtool check metrics``, old and new.

A registry with every family populated (a check with each measured value, a finished run, a
reconcile) is rendered as Prometheus' text format — what ``/metrics`` serves — and checked by
Debian's promtool (Prometheus 2.42) and by a recent promtool built from the Go module proxy
(``gotools.recent_promtool``). The checks have teeth: the metric this module used to export
(a gauge with a ``quantile`` label) fails them. The e2e suite runs the same check on the live
endpoint of the operator (tests/e2e/test_monitoring.py, tests/e2e/test_servicemonitor.py).
"""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import readygate
from readygate.status.metrics import Metrics

from .artifacts import promtool
from .gotools import BUILD_TEST_TIMEOUT, recent_promtool

STATUS: dict[str, Any] = {
    "phase": "Passed", "verdict": "Passed", "score": 90, "runs": 1,
    "runStartedAt": "2026-01-01T00:00:00Z", "lastVerdictAt": "2026-01-01T00:00:30Z",
    "conditions": [{"type": "Ready", "status": "True"}],
    "checks": [
        {"name": "readiness", "result": "Passed", "measured": {"secondsToReady": 2.5}},
        {"name": "load", "result": "Passed",
         "measured": {"p50Ms": 1.0, "p95Ms": 12.0, "p99Ms": 20.0, "p999Ms": 31.0, "rps": 99.5,
                      "errorRate": 0.01, "requests": 1000}},
        {"name": "availability", "result": "Passed",
         "measured": {"availability": 0.9995, "errorBudgetConsumedPercent": 50.0}},
        {"name": "resilience", "result": "Passed",
         "measured": {"recoverySeconds": 4.0, "downtimeSeconds": 2}},
        {"name": "stability", "result": "Passed", "measured": {"memoryGrowthBytes": 1024}},
    ],
}


def exposition() -> str:
    """Every family the operator registers, each with samples, as /metrics serves it."""
    m = Metrics(CollectorRegistry())
    m.observe("shop", "orders", STATUS)
    m.transitions({"runs": 1, "phase": "Verifying"}, STATUS)
    m.reconciles.inc()
    m.reconcile_errors.inc()
    m.reconcile_duration.observe(0.02)
    m.load_rate_in_use.set(100)
    m.load_rate_limit.set(2000)
    m.api_request("list", "pods", "200")
    m.api_request("watch", "pods", "200")
    m.api_request("patch", "readinesschecks/status", "409")
    return generate_latest(m.registry).decode()


def _debian(text: str) -> subprocess.CompletedProcess[str]:
    return promtool("check", "metrics", cwd=Path.cwd(), input=text)


def _recent(text: str) -> subprocess.CompletedProcess[str]:
    return promtool("check", "metrics", cwd=Path.cwd(), input=text, binary=recent_promtool())


PROMTOOLS: dict[str, Callable[[str], subprocess.CompletedProcess[str]]] = {
    "debian": _debian, "recent": _recent}


def test_the_exposition_has_every_family_with_samples() -> None:
    text = exposition()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    registered = {f.name for f in Metrics(CollectorRegistry()).registry.collect()}
    assert registered <= set(families)
    assert all(families[name].samples for name in registered), "a family without samples"


@pytest.mark.timeout(BUILD_TEST_TIMEOUT)
@pytest.mark.parametrize("which", sorted(PROMTOOLS))
def test_promtool_check_metrics_is_clean(which: str) -> None:
    proc = PROMTOOLS[which](exposition())
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", ""), proc


@pytest.mark.timeout(BUILD_TEST_TIMEOUT)
@pytest.mark.parametrize("which", sorted(PROMTOOLS))
def test_promtool_check_metrics_rejects_a_quantile_on_a_gauge(which: str) -> None:
    """What readygate_check_latency_seconds used to be: the check has teeth."""
    registry = CollectorRegistry()
    Gauge("readygate_check_latency_seconds", "Latency.", ["namespace", "name", "quantile"],
          registry=registry).labels("shop", "orders", "0.95").set(0.012)
    proc = PROMTOOLS[which](generate_latest(registry).decode())
    assert proc.returncode != 0, proc
    assert 'non-summary metrics should not have "quantile" label' in proc.stdout + proc.stderr


def test_latency_percentiles_and_time_to_ready() -> None:
    families = {f.name: f for f in text_string_to_metric_families(exposition())}
    latency = {s.labels["percentile"]: s.value
               for s in families["readygate_check_latency_seconds"].samples}
    assert latency == {"p50": 0.001, "p95": 0.012, "p99": 0.02, "p999": 0.031}
    (ready,) = families["readygate_check_time_to_ready_seconds"].samples
    assert ready.value == 2.5 and ready.labels == {"namespace": "shop", "name": "orders"}
    assert "readygate_check_seconds_to_ready" not in families


def test_no_label_collides_with_a_target_label_but_namespace() -> None:
    """The ServiceMonitor's honorLabels: true lets scraped labels win over the labels the
    Prometheus Operator puts on its targets; only `namespace` (the check's) may collide."""
    target_labels = {"job", "instance", "namespace", "service", "pod", "container", "endpoint",
                     "node"}
    exported = {label for family in text_string_to_metric_families(exposition())
                for sample in family.samples for label in sample.labels}
    assert exported & target_labels == {"namespace"}


def test_build_info() -> None:
    families = {f.name: f for f in text_string_to_metric_families(exposition())}
    info = families["readygate_build_info"]
    assert info.type == "gauge"
    (sample,) = info.samples
    assert sample.labels == {"version": readygate.__version__,
                             "python": platform.python_version()}
    assert sample.value == 1
