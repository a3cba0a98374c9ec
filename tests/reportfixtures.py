"""ReadinessCheck objects for the report's tests, made the way the operator makes them: status
from ``status.compute.compute_status`` over real ``RunView``s, charts from ``judge.charts`` over a
load result with a per-second timeline, memory samples and a disruption. ``passed`` has a passed
run before it (the baseline), ``failed`` a crash diagnosis, ``hostile`` a status full of markup,
``leaking`` the metrics check's scrapes of a pod leaking file descriptors (``judge.charts.
with_metrics``, as the metrics stage adds them).
"""

from __future__ import annotations

import copy
import math
from typing import Any

from readygate.api.parse import parse_spec
from readygate.api.results import CheckResult, Diagnosis
from readygate.judge.charts import charts_of, with_metrics
from readygate.judge.metrics import Scrape
from readygate.judge.resilience import Disruption
from readygate.load import LoadResult, Second
from readygate.load.histogram import COARSE, bucket_of
from readygate.status.compute import RunView, compute_status

T0 = "2026-03-01T10:00:00Z"
T1 = "2026-03-01T10:02:00Z"
T2 = "2026-03-01T11:00:00Z"
T3 = "2026-03-01T11:02:00Z"
STARTED = 1_772_359_250.0  # the load's time zero (wall clock)
SPEC: dict[str, Any] = {
    "target": {"deploy": {"image": "registry.example/shop:1.4.2", "replicas": 2}},
    "liveness": {"period": "1s", "observeFor": "10s"},
    "readiness": {"within": "60s"},
    "load": {"rate": 100, "duration": "90s",
             "thresholds": {"p95": "250ms", "p99": "400ms", "maxErrorRate": 0.02,
                            "minSamples": 1000}},
    "stability": {"maxMemoryGrowth": "64Mi", "sampleEvery": "2s"},
    "resilience": {"killPods": 1, "after": "30s", "maxRecovery": "30s", "maxErrorRate": 0.2},
}


def _coarse(ms: float) -> int:
    return bucket_of(int(ms * 1e6)) // COARSE


def load_result(seconds: int = 90, rate: int = 100) -> LoadResult:
    """A load with a disruption from 30 s to 38 s: latency up, errors, throughput down."""
    timeline = []
    for t in range(seconds):
        hurt = 30 <= t < 38
        n = rate - (35 if hurt else 0)
        errors = 12 if hurt else (1 if t % 17 == 0 else 0)
        base = 40 + 8 * math.sin(t / 6)
        hist = {_coarse(base): n * 50 // 100, _coarse(base * 2.2): n * 45 // 100,
                _coarse(base * (9 if hurt else 3.5)): n - n * 95 // 100}
        timeline.append(Second(t, n, errors, hist))
    return LoadResult(model="open", duration=float(seconds),
                      requests=sum(s.requests for s in timeline),
                      errors={"status:503": sum(s.errors for s in timeline)},
                      timeline=tuple(timeline), target_rate=float(rate), started=STARTED)


def _checks(p95: float, error_rate: float) -> dict[str, CheckResult]:
    return {
        "deploy": CheckResult(result="Passed", message="2/2 pods Ready", started_at=T2,
                              finished_at=T2, measured={"secondsToPodsReady": 6.2,
                                                        "replicas": 2.0}),
        "readiness": CheckResult(result="Passed", message="/ready answered 200 after 7.1s",
                                 started_at=T2, finished_at=T2,
                                 measured={"secondsToReady": 7.1, "probes": 8.0}),
        "liveness": CheckResult(result="Passed", message="10 probes, no failure",
                                started_at=T2, finished_at=T2,
                                measured={"probes": 10.0, "failures": 0.0, "flaps": 0.0,
                                          "restarts": 0.0, "longestFailureRun": 0.0}),
        "load": CheckResult(result="Passed",
                            message=f"8,700 requests at 96.7 req/s, p95 {p95:.1f}ms",
                            started_at=T2, finished_at=T3,
                            measured={"p50Ms": 44.0, "p95Ms": p95, "p99Ms": p95 * 1.4,
                                      "requests": 8700.0, "errors": 8700 * error_rate,
                                      "errorRate": error_rate, "rps": 96.7,
                                      "targetRps": 100.0},
                            evidence=("errors status:503: 112",)),
        "stability": CheckResult(result="Passed", message="memory grew by at most 18.0Mi",
                                 started_at=T2, finished_at=T3,
                                 measured={"memoryGrowthBytes": 18 * 2**20, "restarts": 0.0,
                                           "samples": 45.0}),
        "resilience": CheckResult(result="Passed",
                                  message="recovered in 8.0s after deleting 1 pod(s)",
                                  started_at=T2, finished_at=T3,
                                  measured={"recoverySeconds": 8.0, "podsKilled": 1.0,
                                            "errorRateDuringRecovery": 0.15}),
    }


def _memory() -> list[tuple[float, dict[str, float]]]:
    return [(2.0 * i, {"shop-7d9f-abcde/app": 80e6 + 0.2e6 * i + (3e6 if i % 7 == 0 else 0),
                       "shop-7d9f-fghij/app": 82e6 + 0.1e6 * i}) for i in range(46)]


def _obj(status: dict[str, Any], name: str = "shop", spec: dict[str, Any] | None = None,
         ) -> dict[str, Any]:
    return {"apiVersion": "readygate.io/v1alpha1", "kind": "ReadinessCheck",
            "metadata": {"name": name, "namespace": "shop", "generation": 2},
            "spec": SPEC if spec is None else spec, "status": status}


def passed() -> dict[str, Any]:
    first = RunView(generation=1, run=1, reason="NewGeneration", phase="Passed",
                    started_at=T0, checks=_checks(p95=120.0, error_rate=0.0065),
                    target="10.96.0.12:8080")
    status = compute_status({}, first, T1)
    disruption = Disruption(killed=("shop-7d9f-abcde",), killed_at=STARTED + 30.2,
                            recovered_at=STARTED + 38.1, desired=2, ready_at_end=2,
                            answering_at_end=True)
    charts = charts_of(load_result(), _memory(), STARTED + 0.4, disruption)
    second = RunView(generation=2, run=2, reason="NewGeneration", phase="Passed",
                     started_at=T2, checks=_checks(p95=156.0, error_rate=0.013),
                     target="10.96.0.12:8080", charts=charts)
    status = compute_status(status, second, T3)
    return _obj(status)


def failed() -> dict[str, Any]:
    diagnosis = Diagnosis(
        reason="CrashLoopBackOff",
        message="container app exited with code 3: ModuleNotFoundError: No module named "
                "'autocoder'", pod="shop-5c4d-xk2p9", container="app", exit_code=3,
        restart_count=1, crashed_at=T2,
        log_tail=("Traceback (most recent call last):",
                  '  File "/app/main.py", line 4, in <module>',
                  "    import autocoder",
                  "ModuleNotFoundError: No module named 'autocoder'"))
    checks = {
        "deploy": CheckResult(result="Failed", message="0/2 pods Ready after 14s",
                              started_at=T2, finished_at=T3),
        "readiness": CheckResult(
            result="Failed", message="the workload does not start: CrashLoopBackOff: "
                                     "container app exited with code 3", started_at=T2,
            finished_at=T3, evidence=("pod shop-5c4d-xk2p9: CrashLoopBackOff",)),
        "liveness": CheckResult(result="Skipped", message="not run: the target did not "
                                                          "become ready and stay alive"),
        "load": CheckResult(result="Skipped", message="not run: the target did not become "
                                                      "ready and stay alive"),
        "stability": CheckResult(result="Skipped", message="not run: the target did not "
                                                           "become ready and stay alive"),
        "resilience": CheckResult(result="Skipped", message="not run: the target did not "
                                                            "become ready and stay alive"),
    }
    view = RunView(generation=1, run=1, reason="NewGeneration", phase="Failed", started_at=T2,
                   checks=checks, diagnosis=diagnosis, diagnosed_at=T2)
    return _obj(compute_status({}, view, T3), name="shop-broken")


HOSTILE = ('<script>alert(1)</script>"><img src=x onerror=alert(2)>]]></svg></style>'
           "| a | b |\n[link](javascript:alert(3)) ```` *bold* &amp; \x00\x1b[31m")


def hostile() -> dict[str, Any]:
    obj = passed()
    obj["metadata"]["name"] = "x" + HOSTILE
    status = obj["status"]
    status["summary"] = HOSTILE
    status["target"] = HOSTILE
    status["history"] = [HOSTILE]
    status["notChecked"] = [HOSTILE]
    status["verdict"] = HOSTILE
    status["charts"]["memory"]["of"] = HOSTILE
    status["diagnosis"] = {"reason": HOSTILE, "message": HOSTILE, "pod": HOSTILE,
                           "logTail": [HOSTILE, "```", "`````"], "exitCode": "<b>"}
    for check in status["checks"]:
        check["message"] = HOSTILE
        check["evidence"] = [HOSTILE]
        check["result"] = HOSTILE if check["name"] == "load" else check["result"]
        check.setdefault("measured", {})[HOSTILE] = 1.0
    status["checks"].append({"name": HOSTILE, "result": "Failed", "message": HOSTILE,
                             "measured": {"p95Ms": "NaN", "x": float("inf")}})
    status["baseline"]["checks"].append({"name": HOSTILE, "measured": {"p95Ms": 1.0}})
    status["scoreBreakdown"][HOSTILE] = 5
    return obj


METRICS_SPEC: dict[str, Any] = {
    "scrapeEvery": "2s", "settle": "3s",
    "growth": [{"series": "process_open_fds", "max": 20},
               {"series": "process_resident_memory_bytes", "maxPerMinute": 8_388_608},
               {"series": "db_pool_connections", "max": 0}],  # a third: not charted
}
SCRAPED_AT = STARTED - 0.6  # the first scrape, a moment before the load's time zero


def scrapes() -> list[Scrape]:
    """Two pods scraped every 2 s through the 90 s load and once 3 s after it: abcde leaks a
    descriptor per 0.4 s of load (and keeps them), fghij holds steady."""
    times = [2.0 * i for i in range(46)] + [94.6]
    out = []
    for at in times:
        during = max(0.0, min(at - 0.6, 90.0))
        out.append(Scrape(at, "pod shop-7d9f-abcde", {
            "process_open_fds": 14.0 + int(during / 0.4),
            "process_resident_memory_bytes": 60e6 + 0.05e6 * during}))
        out.append(Scrape(at, "pod shop-7d9f-fghij", {
            "process_open_fds": 14.0 + (1 if int(at) % 6 == 0 else 0),
            "process_resident_memory_bytes": 61e6}))
    return out


def leaking() -> dict[str, Any]:
    """A run whose metrics check failed: process_open_fds grew by 225 on abcde (bound max 20)."""
    spec = copy.deepcopy({**SPEC, "metrics": METRICS_SPEC})  # a test may change its copy
    metrics = parse_spec(spec).metrics
    assert metrics is not None
    disruption = Disruption(killed=("shop-7d9f-fghij",), killed_at=STARTED + 30.2,
                            recovered_at=STARTED + 38.1, desired=2, ready_at_end=2,
                            answering_at_end=True)
    charts = with_metrics(charts_of(load_result(), _memory(), STARTED + 0.4, disruption),
                          metrics, scrapes(), SCRAPED_AT)
    checks = {**_checks(p95=130.0, error_rate=0.01), "metrics": CheckResult(
        result="Failed", message="process_open_fds grew by 225 on pod shop-7d9f-abcde (14 -> "
                                 "239 in 95s, 142.8/min; bound max 20)",
        started_at=T2, finished_at=T3, measured={"growth:process_open_fds": 225.0,
                                                 "pods": 2.0, "scrapes": 94.0})}
    view = RunView(generation=1, run=1, reason="NewGeneration", phase="Failed", started_at=T2,
                   checks=checks, target="10.96.0.12:8080", charts=charts)
    return _obj(compute_status({}, view, T3), name="shop-leaky", spec=spec)
