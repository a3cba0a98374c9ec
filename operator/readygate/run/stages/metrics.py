"""The metrics check: the target judged by its own numbers. Each pod's Prometheus page
(``metrics.path`` at the pod's IP, or the URL's own path for a url target) is scraped once
before the load, every ``scrapeEvery`` while it runs and once more ``settle`` after it; then
the PromQL rules are asked of the operator's Prometheus (``READYGATE_PROMETHEUS_URL``).

It wraps the load phase (``run.stages.load``), which it starts after the first scrape, the way
stability samples memory beside the load; without a load it scrapes for ``observeFor``. Pages
and answers are read by ``run.scrape`` and judged by ``judge.metrics``. A fault of the load
phase is re-raised once this check has its own result. With the result it adds its first growth
series to the run's charts (``judge.charts.with_metrics``, on the load phase's clock), through
the same record: the charts' one writer stays the runner's.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Coroutine
from typing import Any

from readygate.api.clock import utc_now
from readygate.api.metricexpr import Selector, placeholders_of, render
from readygate.api.promql import ReachError, confine
from readygate.api.results import CheckResult
from readygate.api.spec import MetricsCheck
from readygate.judge.charts import with_metrics
from readygate.judge.metrics import QueryAnswer, Scrape, judge_metrics, wanted_selectors
from readygate.judge.targets import Endpoint
from readygate.kube.podstate import live
from readygate.run import scrape as scraping
from readygate.run.context import RunContext

MAX_PODS = 32  # pods scraped (and asked about in {pod} queries), by name
CONCURRENCY = 4  # pages read (and queries asked) at once
NO_PROMETHEUS = ("the operator has no Prometheus configured (READYGATE_PROMETHEUS_URL); ask "
                 "the operator's admin to set it")


async def run_metrics(ctx: RunContext, endpoint: Endpoint,
                      inner: Coroutine[Any, Any, None] | None) -> None:
    spec = ctx.spec.metrics
    assert spec is not None
    started = utc_now()
    selectors = wanted_selectors(spec)
    scrapes: list[Scrape] = []
    t0, wall0 = time.monotonic(), time.time()  # the scrapes' zero, and on the wall clock

    async def scrape_round() -> None:
        if selectors:
            scrapes.extend(await _round(ctx, endpoint, spec, selectors, t0))

    try:
        await ctx.record("metrics", CheckResult(
            result="Running", started_at=started,
            message=f"scraping {spec.path} before the load" if inner is not None
            else f"scraping {spec.path} for {spec.observe_for:g}s"))
        await scrape_round()
    except BaseException:
        if inner is not None:
            inner.close()  # never started: the load phase does not run without its watcher
        raise
    fault: BaseException | None = None
    if inner is not None:
        task = asyncio.create_task(inner)
        try:
            while not task.done():
                await asyncio.wait([task], timeout=spec.scrape_every)
                if not task.done():
                    await scrape_round()
            fault = task.exception()
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
    elif selectors:
        while time.monotonic() - t0 < spec.observe_for:
            await asyncio.sleep(min(spec.scrape_every, spec.observe_for - (time.monotonic() - t0)))
            await scrape_round()
    if selectors:
        await asyncio.sleep(spec.settle)
        await scrape_round()
    answers = await _ask(ctx, endpoint, spec) if spec.promql else []
    result = judge_metrics(spec, scrapes, answers, started_at=started, finished_at=utc_now())
    # the growth series for the report, beside the load phase's charts (written by now)
    charts = with_metrics(ctx.charts(), spec, scrapes, wall0)
    await ctx.record("metrics", result, **({"charts": charts} if charts is not None else {}))
    if fault is not None:
        raise fault


def _sources(endpoint: Endpoint, spec: MetricsCheck,
             pods: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(source, URL) of every page to read: each pod's, or the target's own for a URL."""
    if not endpoint.pod_selector:
        return [("target", endpoint.url(spec.path))]
    where = endpoint if spec.port is None else dataclasses.replace(endpoint, pod_port=spec.port)
    out = []
    for pod in pods[:MAX_PODS]:
        url = where.pod_url(pod, spec.path)
        if url is not None:
            out.append((f"pod {pod['metadata']['name']}", url))
    return out


async def _pods(ctx: RunContext, endpoint: Endpoint) -> list[dict[str, Any]]:
    pods = live(await ctx.pods(endpoint))
    return sorted(pods, key=lambda p: str(p["metadata"]["name"]))


async def _round(ctx: RunContext, endpoint: Endpoint, spec: MetricsCheck,
                 selectors: tuple[Selector, ...], t0: float) -> list[Scrape]:
    """One page of every source, at most CONCURRENCY read at once."""
    sources = _sources(endpoint, spec, await _pods(ctx, endpoint))
    gate = asyncio.Semaphore(CONCURRENCY)
    at = time.monotonic() - t0

    async def one(source: str, url: str) -> Scrape:
        async with gate:
            return await scraping.scrape(ctx.prober, url, at=at, source=source,
                                         selectors=selectors, within=spec.timeout)

    return list(await asyncio.gather(*(one(s, u) for s, u in sources)))


async def _ask(ctx: RunContext, endpoint: Endpoint, spec: MetricsCheck) -> list[QueryAnswer]:
    """Every PromQL rule, rendered for this check (and once per pod for {pod})."""
    base = ctx.settings.prometheus_url
    if base is None:
        return [QueryAnswer(q.name, problem=NO_PROMETHEUS) for q in spec.promql]
    # the operator's own Prometheus: not the check's target, so not its pinned address
    prober = ctx.prober.unpinned()
    label = ctx.settings.prometheus_namespace_label
    values = {"namespace": ctx.namespace,
              "name": endpoint.workload[1] if endpoint.workload is not None else ctx.name}
    pods = [str(p["metadata"]["name"]) for p in (await _pods(ctx, endpoint))[:MAX_PODS]]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(rule: str, query: str, pod: str | None) -> QueryAnswer:
        try:
            rendered = render(query, {**values, **({"pod": pod} if pod else {})})
        except ValueError as exc:  # parse refuses these; kept as data all the same
            return QueryAnswer(rule, pod, problem=str(exc))
        if label is not None:
            try:
                rendered = confine(rendered, label, ctx.namespace)
            except ReachError as exc:
                return QueryAnswer(rule, pod, problem=f"refused: {exc}", refused=True)
        async with gate:
            return await scraping.query(prober, base, rendered, rule=rule, pod=pod,
                                        within=spec.timeout)

    calls = []
    for q in spec.promql:
        if "pod" not in placeholders_of(q.query):
            calls.append(one(q.name, q.query, None))
        elif not pods:
            calls.append(_none(q.name))
        else:
            calls.extend(one(q.name, q.query, pod) for pod in pods)
    return list(await asyncio.gather(*calls))


async def _none(rule: str) -> QueryAnswer:
    return QueryAnswer(rule, problem="no pod of the target to put in {pod}")
