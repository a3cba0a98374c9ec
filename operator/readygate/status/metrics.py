"""Every Prometheus metric the operator exports, in one place, with the registry injected.

Two kinds of series. Operator-wide ones count what the operator does: reconciles (turns of a
check's supervisor) with their duration and errors, check runs by check type and result, time
from the start of a run to its verdict, the load rate in use against the global cap, the
operator's own requests to the API server by verb, resource and code, the watch cache's relists,
and the process's own memory, CPU and file descriptors (``process_*``). Per
check ones carry the measured values of the latest verdict, labelled by ``namespace`` and
``name`` only (plus a bounded ``percentile`` or ``verdict``); ``forget`` removes them when the
check is deleted. No label ever holds a URL, a pod name or an error text. One more,
``readygate_build_info``, is 1 with the operator's version and Python's as labels.

The exposition passes ``promtool check metrics``: the latency percentiles a load check measured
are one gauge with a ``percentile`` label (p50 ... p999, the names of the load thresholds) and
not a ``quantile`` label, which Prometheus reserves for summaries (a summary would also promise
``_sum`` and ``_count`` of observations this process never saw); units end the name.

``series_of(status)`` is pure: it maps a ReadinessCheck's status to the per-check values, so
what is exported is decided (and unit-tested) apart from prometheus-client. ``Metrics.observe``
applies it; ``Metrics.transitions`` counts the check results and verdicts a status write
produced. The names, types and meaning of every series are listed in ``docs/metrics.md``.
"""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    start_http_server,
)

from readygate import __version__
from readygate.api.clock import parse_time
from readygate.api.names import FINAL_RESULTS, RESULTS, TERMINAL_PHASES, VERDICTS

CHECK_RESULTS = tuple(r for r in RESULTS if r in FINAL_RESULTS)
PERCENTILES = {"p50": "p50Ms", "p95": "p95Ms", "p99": "p99Ms", "p999": "p999Ms"}
RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
VERDICT_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)
WATCHED = ("pods", "deployments", "statefulsets", "jobs")  # what the watch cache watches

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def checks_by_name(status: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """``status.checks`` (a list keyed by name) as a mapping from name to entry."""
    return {str(c.get("name")): c for c in status.get("checks") or []
            if isinstance(c, Mapping)}


def _measured(status: Mapping[str, Any], check: str) -> Mapping[str, Any]:
    entry = checks_by_name(status).get(check) or {}
    return entry.get("measured") or {}


def series_of(status: Mapping[str, Any]) -> Series:
    """The per-check series (name, extra labels) -> value for a status; pure.

    Only a status that holds a verdict exports values; measured values come from the checks
    that measured them (``load``, ``resilience``, ``readiness``, ``stability``).
    """
    out: Series = {}
    verdict = status.get("verdict")
    if verdict not in VERDICTS:
        return out
    for v in VERDICTS:
        out[("readygate_check_verdict", (("verdict", v),))] = 1.0 if v == verdict else 0.0
    states = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    out[("readygate_check_ready", ())] = 1.0 if states.get("Ready") == "True" else 0.0
    out[("readygate_check_stalled", ())] = 1.0 if states.get("Stalled") == "True" else 0.0
    if isinstance(status.get("score"), (int, float)):
        out[("readygate_check_score", ())] = float(status["score"])
    when = parse_time(status.get("lastVerdictAt"))
    if when is not None:
        out[("readygate_check_last_verdict_timestamp_seconds", ())] = when
    load = _measured(status, "load")
    for percentile, key in PERCENTILES.items():
        if isinstance(load.get(key), (int, float)):
            out[("readygate_check_latency_seconds", (("percentile", percentile),))] = \
                float(load[key]) / 1000.0
    for name, key in (("readygate_check_requests_per_second", "rps"),
                      ("readygate_check_error_ratio", "errorRate"),
                      ("readygate_check_requests", "requests")):
        if isinstance(load.get(key), (int, float)):
            out[(name, ())] = float(load[key])
    recovery = _measured(status, "resilience").get("recoverySeconds")
    if isinstance(recovery, (int, float)):
        out[("readygate_check_recovery_seconds", ())] = float(recovery)
    ready_after = _measured(status, "readiness").get("secondsToReady")
    if isinstance(ready_after, (int, float)):
        out[("readygate_check_time_to_ready_seconds", ())] = float(ready_after)
    availability = _measured(status, "availability")
    if isinstance(availability.get("availability"), (int, float)):
        out[("readygate_check_availability_ratio", ())] = float(availability["availability"])
    consumed = availability.get("errorBudgetConsumedPercent")
    if isinstance(consumed, (int, float)):
        out[("readygate_check_error_budget_consumed_ratio", ())] = float(consumed) / 100.0
    downtime = _measured(status, "resilience").get("downtimeSeconds")
    if isinstance(downtime, (int, float)):
        out[("readygate_check_downtime_seconds", ())] = float(downtime)
    growth = _measured(status, "stability").get("memoryGrowthBytes")
    if isinstance(growth, (int, float)):
        out[("readygate_check_memory_growth_bytes", ())] = float(growth)
    return out


def finished_checks(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(check, result) of every check whose final result appeared in this write; pure."""
    out = []
    same_run = old.get("runs") == new.get("runs")
    old_checks = checks_by_name(old) if same_run else {}
    for name, entry in checks_by_name(new).items():
        result = entry.get("result")
        if result not in CHECK_RESULTS:
            continue
        before = (old_checks.get(name) or {}).get("result")
        if before != result:
            out.append((name, str(result)))
    return out


def verdict_reached(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """True when this write gave a run its verdict (and not when it only repeats one)."""
    if new.get("phase") not in TERMINAL_PHASES or not new.get("lastVerdictAt"):
        return False
    return bool(old.get("lastVerdictAt") != new.get("lastVerdictAt"))


class Metrics:
    """The operator's metrics on one registry (a fresh one per operator, or per test)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.reconciles = Counter(
            "readygate_reconciles", "Reconcile turns of ReadinessCheck supervisors.",
            registry=r)
        self.reconcile_errors = Counter(
            "readygate_reconcile_errors",
            "Reconcile turns or runs that failed on an operator-side error (retried).",
            registry=r)
        self.reconcile_duration = Histogram(
            "readygate_reconcile_duration_seconds", "Duration of one reconcile turn.",
            buckets=RECONCILE_BUCKETS, registry=r)
        self.check_runs = Counter(
            "readygate_check_runs", "Checks that reached a result, by check type and result.",
            ["check", "result"], registry=r)
        self.time_to_verdict = Histogram(
            "readygate_time_to_verdict_seconds",
            "Seconds from the start of a run to its verdict.", buckets=VERDICT_BUCKETS,
            registry=r)
        self.load_rate_in_use = Gauge(
            "readygate_load_rate_in_use_requests_per_second",
            "Outgoing load rate reserved by running load checks (against the global cap).",
            registry=r)
        self.load_rate_limit = Gauge(
            "readygate_load_rate_limit_requests_per_second",
            "The operator's global cap on outgoing load rate.", registry=r)
        self.build_info = Gauge(
            "readygate_build_info", "Always 1, labelled with the operator's and Python's versions.",
            ["version", "python"], registry=r)
        self.build_info.labels(__version__, platform.python_version()).set(1)
        self.api_requests = Counter(
            "readygate_api_requests",
            "Requests readygate's Kubernetes client sent to the API server, by verb, resource "
            "and HTTP status code (0: no answer); a watch counts once when it starts. kopf's "
            "own watch of ReadinessChecks and its event posts are not included.",
            ["verb", "resource", "code"], registry=r)
        self.watch_relists = Counter(
            "readygate_watch_relists",
            "Full lists the watch cache made again after its first (410 Gone, or a watch "
            "that kept failing), by resource.", ["resource"], registry=r)
        for resource in WATCHED:
            self.watch_relists.labels(resource)  # 0 from the start, for rate() and alerts
        ProcessCollector(registry=r)
        per = ["namespace", "name"]
        self.gauges: dict[str, Gauge] = {
            "readygate_check_verdict": Gauge(
                "readygate_check_verdict", "1 for the check's current verdict, 0 for the others.",
                [*per, "verdict"], registry=r),
            "readygate_check_ready": Gauge(
                "readygate_check_ready", "1 when the check's Ready condition is True.", per,
                registry=r),
            "readygate_check_stalled": Gauge(
                "readygate_check_stalled", "1 when the check's Stalled condition is True.", per,
                registry=r),
            "readygate_check_score": Gauge(
                "readygate_check_score", "The check's score, 0-100.", per, registry=r),
            "readygate_check_last_verdict_timestamp_seconds": Gauge(
                "readygate_check_last_verdict_timestamp_seconds",
                "Unix time of the check's latest verdict.", per, registry=r),
            "readygate_check_latency_seconds": Gauge(
                "readygate_check_latency_seconds",
                "Latency percentiles the load check measured (from the intended send time).",
                [*per, "percentile"], registry=r),
            "readygate_check_requests_per_second": Gauge(
                "readygate_check_requests_per_second",
                "Completed requests per second the load check measured.", per, registry=r),
            "readygate_check_error_ratio": Gauge(
                "readygate_check_error_ratio",
                "Fraction of failed requests the load check measured.", per, registry=r),
            "readygate_check_requests": Gauge(
                "readygate_check_requests", "Requests the load check sent.", per, registry=r),
            "readygate_check_recovery_seconds": Gauge(
                "readygate_check_recovery_seconds",
                "Seconds the workload took to recover after the resilience check deleted pods.",
                per, registry=r),
            "readygate_check_time_to_ready_seconds": Gauge(
                "readygate_check_time_to_ready_seconds",
                "Seconds from the start of the run until the target was ready.", per,
                registry=r),
            "readygate_check_availability_ratio": Gauge(
                "readygate_check_availability_ratio",
                "Fraction (0-1) of the load's requests that succeeded (the availability check).",
                per, registry=r),
            "readygate_check_error_budget_consumed_ratio": Gauge(
                "readygate_check_error_budget_consumed_ratio",
                "Share of the availability objective's error budget the load consumed (1: all "
                "of it; above 1: blown).", per, registry=r),
            "readygate_check_downtime_seconds": Gauge(
                "readygate_check_downtime_seconds",
                "Seconds without a successful request between the resilience check's pod "
                "deletion and the recovery.", per, registry=r),
            "readygate_check_memory_growth_bytes": Gauge(
                "readygate_check_memory_growth_bytes",
                "Container memory growth the stability check measured during load.", per,
                registry=r),
        }
        self._exported: dict[tuple[str, str], set[tuple[str, tuple[str, ...]]]] = {}

    def api_request(self, verb: str, resource: str, code: str) -> None:
        """One request of the Kubernetes client (``Kube(on_request=...)``)."""
        self.api_requests.labels(verb, resource, code).inc()

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:
        start_http_server(port, addr=addr, registry=self.registry)

    def observe(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """Export the per-check values of ``status``; series that no longer apply are removed."""
        key = (namespace, name)
        wanted = series_of(status)
        now: set[tuple[str, tuple[str, ...]]] = set()
        for (metric, extra), value in wanted.items():
            labels = (namespace, name, *(v for _, v in extra))
            self.gauges[metric].labels(*labels).set(value)
            now.add((metric, labels))
        for metric, labels in self._exported.get(key, set()) - now:
            self._remove(metric, labels)
        self._exported[key] = now

    def transitions(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        """Count the check results and the verdict that a status write produced."""
        for check, result in finished_checks(old, new):
            self.check_runs.labels(check, result).inc()
        if verdict_reached(old, new):
            started = parse_time(new.get("runStartedAt"))
            finished = parse_time(new.get("lastVerdictAt"))
            if started is not None and finished is not None and finished >= started:
                self.time_to_verdict.observe(finished - started)

    def forget(self, namespace: str, name: str) -> None:
        """Remove every per-check series of a deleted check."""
        for metric, labels in self._exported.pop((namespace, name), set()):
            self._remove(metric, labels)

    def _remove(self, metric: str, labels: tuple[str, ...]) -> None:
        with contextlib.suppress(KeyError):
            self.gauges[metric].remove(*labels)
