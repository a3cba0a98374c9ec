"""The metrics check on the fakes: a whole run (the real runner, stages, judge and status
writer) whose pods serve /metrics from a script and whose Prometheus is a scripted
/api/v1/query. It scrapes each pod at its IP before, during and after a (fake) load, asks
Prometheus through an unpinned prober with the check's names escaped, records a result even
when the load phase fails, and adds its growth series to the load's charts on the load's clock
through the one status writer."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any, cast
from urllib.parse import parse_qs

from readygate.api.parse import parse_spec
from readygate.api.results import CheckResult
from readygate.kube import manifests
from readygate.kube.client import Kube, Unavailable
from readygate.load import LoadResult, Second
from readygate.run.context import LoadOutcome, RunContext
from readygate.run.runner import CheckRunner
from readygate.status.compute import RunView
from readygate.status.writer import StatusWriter

from ..statusview import checks_of
from .fakekube import FakeController, FakeKube
from .fakeprober import FakeProber, Reply, ok, ready_pods, refused
from .harness import NS, deploy_spec, results, run, runtime

NAME = "orders"
WORKLOAD = manifests.workload_name(NAME)
SELECTOR = {manifests.LABEL_WORKLOAD: WORKLOAD}
PROMETHEUS = "http://prometheus.monitoring:9090"
FAST = {"liveness": {"enabled": False}}
TWO_PODS = {"target": {"deploy": {"image": "registry.example/orders:1", "replicas": 2}}}


def fds_page(leak: int) -> Any:
    """/metrics of a pod whose open descriptors grow by ``leak`` at each scrape."""
    counter = itertools.count()

    def respond(method: str, url: str) -> Reply:
        n = next(counter)
        return ok(f"# TYPE process_open_fds gauge\nprocess_open_fds {12 + leak * n}\n"
                  f'cache_total{{result="hit"}} {8 * n}\ncache_total{{result="miss"}} {2 * n}\n')
    return respond


def prometheus(value: float | None) -> Any:
    def respond(method: str, url: str) -> Reply:
        result = [] if value is None else [{"metric": {"pod": "x"}, "value": [1, str(value)]}]
        return ok(json.dumps({"status": "success",
                              "data": {"resultType": "vector", "result": result}}))
    return respond


async def fake_load(ctx: RunContext, endpoint: Any) -> LoadOutcome:
    await asyncio.sleep(1.3)
    return LoadOutcome(check=CheckResult(result="Passed", message="fake load"))


async def broken_load(ctx: RunContext, endpoint: Any) -> LoadOutcome:
    await asyncio.sleep(0.2)
    raise Unavailable("the API server went away")


async def execute(spec: dict[str, Any], *, leak: int = 0, load: Any = fake_load,
                  prom: float | None = 0.0, **settings: Any
                  ) -> tuple[RunView | None, FakeProber, dict[str, Any], BaseException | None]:
    kube, prober = FakeKube(), FakeProber()
    controller = FakeController(kube)
    controller.behave(NS, WORKLOAD, "ready")
    prober.on("http://10.96.*", ready_pods(kube, NS, SELECTOR))  # the Service
    prober.on("http://10.244.*/metrics", fds_page(leak))
    prober.on(f"{PROMETHEUS}/api/v1/query", prometheus(prom))
    check = kube.create_check(NS, NAME, {**deploy_spec(**FAST), **TWO_PODS, **spec})
    writer = StatusWriter(cast(Kube, kube), NS, NAME, {},
                          resource_version=check["metadata"]["resourceVersion"])
    rt = runtime(kube, prober, **settings)
    rt.load_runner = load
    runner = CheckRunner(rt, check, parse_spec(check["spec"]), writer, run=1,
                         reason="NewGeneration")
    view = fault = None
    async with controller.running():
        try:
            view = await runner.execute()
        except Unavailable as exc:
            fault = exc
    return view, prober, kube.check(NS, NAME).get("status") or {}, fault


LOAD = {"load": {"rate": 5, "duration": "1s", "thresholds": {"minSamples": 1}}}
METRICS = {"scrapeEvery": "1s", "settle": "0s",
           "growth": [{"series": "process_open_fds", "max": 20}],
           "rules": [{"name": "hit-ratio", "expr": 'cache_total{result="hit"} / cache_total',
                      "op": ">=", "value": 0.7, "sample": "increase"}],
           "promql": [{"name": "errors", "op": "<", "value": 0.01, "query":
                       'sum(rate(http_requests_total{namespace="{namespace}",'
                       'pod=~"{name}-.*",code=~"5.."}[1m]))'}]}


def test_a_leaking_pod_fails_with_its_growth_and_a_steady_one_passes() -> None:
    view, prober, st, _ = run(execute({**LOAD, "metrics": METRICS}, leak=50,
                                      prometheus_url=PROMETHEUS))
    assert view is not None and view.phase == "Failed"
    metrics = checks_of(st)["metrics"]
    assert metrics["result"] == "Failed"
    assert metrics["message"].startswith("process_open_fds grew by ")
    assert "bound max 20" in metrics["message"]
    assert metrics["measured"]["growth:process_open_fds"] >= 100  # at least 3 scrapes apart
    assert metrics["measured"]["pods"] == 2
    # each pod was scraped at its own IP and port, before, during and after the load
    scraped = prober.urls("*/metrics")
    assert all(u.startswith("http://10.244.") and u.endswith(":8080/metrics") for u in scraped)
    assert len(scraped) >= 6 and len(set(scraped)) == 2

    view, prober, st, _ = run(execute({**LOAD, "metrics": METRICS}, leak=0,
                                      prometheus_url=PROMETHEUS))
    assert view is not None and view.phase == "Passed", st
    assert results(st)["metrics"] == "Passed"
    measured = checks_of(st)["metrics"]["measured"]
    assert measured["growth:process_open_fds"] == 0
    assert measured["rule:hit-ratio"] == 0.8 and measured["promql:errors"] == 0.0
    # Prometheus was asked once, with the check's namespace and workload in the query
    (call,) = [c for c in prober.calls if c.url.startswith(PROMETHEUS)]
    assert call.method == "POST" and call.pin is None
    sent = parse_qs((call.body or b"").decode())["query"][0]
    # (and confined to it: the operator's matcher is added whatever the query says)
    assert sent == (f'sum(rate(http_requests_total{{namespace="{NS}",pod=~"{WORKLOAD}-.*",'
                    f'code=~"5..",namespace="{NS}"}}[1m]))')


def test_promql_with_no_data_or_no_prometheus_is_inconclusive() -> None:
    view, _, st, _ = run(execute({**LOAD, "metrics": METRICS}, prom=None,
                                 prometheus_url=PROMETHEUS))
    assert view is not None and view.phase == "Inconclusive"
    assert "no data (the query returned no series)" in checks_of(st)["metrics"]["message"]
    view, prober, st, _ = run(execute({**LOAD, "metrics": METRICS}))
    assert view is not None and view.phase == "Inconclusive"
    assert "the operator has no Prometheus configured" in checks_of(st)["metrics"]["message"]
    assert not prober.urls(f"{PROMETHEUS}/*")


def test_without_a_load_the_pods_are_scraped_for_observe_for() -> None:
    spec = {"metrics": {**METRICS, "observeFor": "2s", "promql": []}}
    view, prober, st, _ = run(execute(spec, leak=0))
    assert view is not None and view.phase == "Passed", st
    assert results(st) == {"deploy": "Passed", "readiness": "Passed", "metrics": "Passed"}
    assert checks_of(st)["metrics"]["measured"]["seconds"] >= 2


def test_pages_nobody_can_read_are_inconclusive_and_the_load_still_runs() -> None:
    spec = {**LOAD, "metrics": {**METRICS, "promql": []}}
    _, _, st, _ = run(_with_pages(spec, refused()))
    assert results(st)["load"] == "Passed"
    assert results(st)["metrics"] == "Inconclusive"
    assert "no page could be read: /metrics: ConnectError" in checks_of(st)["metrics"]["message"]
    _, _, st, _ = run(_with_pages(spec, Reply(status=404, body="not found")))
    assert results(st)["metrics"] == "Failed"
    assert "/metrics answered HTTP 404" in checks_of(st)["metrics"]["message"]
    _, _, st, _ = run(_with_pages(spec, ok("process_open_fds{ 12\n")))
    assert results(st)["metrics"] == "Failed"
    assert "the page does not parse" in checks_of(st)["metrics"]["message"]


async def _with_pages(spec: dict[str, Any], reply: Reply
                      ) -> tuple[RunView | None, FakeProber, dict[str, Any], BaseException | None]:
    kube, prober = FakeKube(), FakeProber()
    controller = FakeController(kube)
    controller.behave(NS, WORKLOAD, "ready")
    prober.on("http://10.96.*", ready_pods(kube, NS, SELECTOR))
    prober.on("http://10.244.*/metrics", reply)
    check = kube.create_check(NS, NAME, {**deploy_spec(**FAST), **spec})
    writer = StatusWriter(cast(Kube, kube), NS, NAME, {},
                          resource_version=check["metadata"]["resourceVersion"])
    rt = runtime(kube, prober)
    rt.load_runner = fake_load
    runner = CheckRunner(rt, check, parse_spec(check["spec"]), writer, run=1,
                         reason="NewGeneration")
    async with controller.running():
        view = await runner.execute()
    return view, prober, kube.check(NS, NAME).get("status") or {}, None


def test_a_load_phase_that_fails_is_reraised_after_metrics_has_its_result() -> None:
    _, _, st, fault = run(execute({**LOAD, "metrics": {**METRICS, "promql": []}},
                                  load=broken_load))
    assert isinstance(fault, Unavailable)  # the supervisor retries the run
    assert checks_of(st)["metrics"]["result"] in ("Passed", "Inconclusive")


async def timed_load(ctx: RunContext, endpoint: Any) -> LoadOutcome:
    """A load of 1.3 s with a per-second timeline and its wall-clock time zero."""
    started = time.time()
    await asyncio.sleep(1.3)
    timeline = (Second(0, 5, 0, {}), Second(1, 2, 0, {}))
    return LoadOutcome(check=CheckResult(result="Passed", message="fake load"),
                       result=LoadResult(model="open", duration=1.3, requests=7,
                                         timeline=timeline, started=started))


def test_the_growth_series_join_the_load_charts_on_its_clock_through_the_one_writer() -> None:
    metrics = {**METRICS, "promql": [], "settle": "0.5s",
               "growth": [{"series": "process_open_fds", "max": 20},
                          {"series": 'cache_total{result="hit"}', "max": 1000},
                          {"series": "cache_total", "max": 1000}]}  # a third: not charted
    view, _, st, _ = run(execute({**LOAD, "metrics": metrics}, leak=50, load=timed_load))
    assert view is not None and view.charts is not None and view.charts.load is not None
    charts = st["charts"]  # what the status writer patched (pruned by the CRD's schema)
    assert set(charts) == {"loadStartedAt", "load", "metrics"}
    m = charts["metrics"]
    assert m["of"].startswith(f"pod {WORKLOAD}-")  # both leak alike: either one
    assert [s["name"] for s in m["series"]] == ["process_open_fds", 'cache_total{result="hit"}']
    fds = m["series"][0]["values"]
    assert fds[0] == 12 and fds == sorted(fds) and fds[-1] >= 12 + 50 * 2
    # scraped before the load's time zero, during it and settle after its end
    t = m["t"]
    assert t[0] <= 0 < t[1] and 1.3 < t[-1] < 3.5 and len(t) == len(fds) >= 3


def test_promql_is_confined_to_the_checks_namespace() -> None:
    """A query without a namespace is sent with the check's; with another label configured, a
    matcher that names another namespace by it makes the check Error, and nothing is sent."""
    queries = {**METRICS, "growth": [], "rules": [], "promql": [
        {"name": "all-up", "op": ">", "value": -1, "query": "sum(up) / count(up{job!=\"x\"})"}]}
    view, prober, st, _ = run(execute({**LOAD, "metrics": queries}, prometheus_url=PROMETHEUS))
    assert view is not None and view.phase == "Passed", st
    (call,) = [c for c in prober.calls if c.url.startswith(PROMETHEUS)]
    sent = parse_qs((call.body or b"").decode())["query"][0]
    assert sent == f'sum(up{{namespace="{NS}"}}) / count(up{{job!="x",namespace="{NS}"}})'

    other = {**queries, "promql": [
        {"name": "neighbours", "op": ">", "value": -1, "query": 'up{k8s_ns="kube-system"}'}]}
    view, prober, st, _ = run(execute({**LOAD, "metrics": other}, prometheus_url=PROMETHEUS,
                                      prometheus_namespace_label="k8s_ns"))
    assert view is not None and view.phase == "Error", st
    metrics = checks_of(st)["metrics"]
    assert metrics["result"] == "Error"
    assert metrics["message"].startswith(
        'promql neighbours (> -1): refused: up matches k8s_ns="kube-system": a check reads '
        f"only the series of its own namespace ({NS})")
    assert not [c for c in prober.calls if c.url.startswith(PROMETHEUS)]

    view, prober, st, _ = run(execute({**LOAD, "metrics": other}, prometheus_url=PROMETHEUS,
                                      prometheus_namespace_label=None))
    assert view is not None and view.phase == "Passed", st  # the admin's choice: as written
    (call,) = [c for c in prober.calls if c.url.startswith(PROMETHEUS)]
    assert parse_qs((call.body or b"").decode())["query"][0] == 'up{k8s_ns="kube-system"}'
