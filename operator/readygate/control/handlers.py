"""kopf wiring, and nothing else: settings at start-up, one supervisor daemon per check.

Deliberate kopf settings (see docs/operator.md): our own finalizer name; kopf's progress and
diff-base kept in annotations with our prefix (never in ``status``, which only the writer owns);
watch timeouts so a silently dropped watch is re-established; standalone mode (one replica,
``Recreate`` strategy) instead of kopf peering. Handlers return nothing, so kopf writes nothing
into ``status`` on their behalf.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from typing import Any

import kopf

from readygate.api import schema
from readygate.api.parse import SpecError, parse_spec
from readygate.api.settings import Settings, from_env
from readygate.control.supervisor import Supervisor
from readygate.judge.targets import TargetError
from readygate.kube.client import Kube, KubeError, load_config
from readygate.kube.selectors import SelectorError
from readygate.kube.watchcache import WatchCache
from readygate.load.pacer import Pacer
from readygate.run.context import Runtime
from readygate.run.gatekeeper import release, target_selector
from readygate.run.lag import LagMonitor
from readygate.run.loadrunner import run_load_check
from readygate.run.prober import Prober
from readygate.run.ratebudget import RateBudget
from readygate.status.metrics import Metrics

PREFIX = schema.GROUP


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger,
                    **_: Any) -> None:
    settings.persistence.finalizer = f"{PREFIX}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PREFIX, key="last-handled-configuration")
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.networking.request_timeout = 60
    settings.posting.level = logging.INFO
    # httpx logs every request at INFO: at 1,000 checks that is hundreds of lines a second of
    # the operator's own probes (the probes' outcomes are in status); warnings still show
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings.peering.standalone = True
    # Exact namespaces (or the whole cluster): no run-time discovery of namespaces and CRDs,
    # so the operator needs no list/watch on them (see docs/operator.md).
    settings.scanning.disabled = not getattr(memo, "scan", True)
    load_config()
    metrics = Metrics()
    config = from_env()
    kube = Kube(workers=config.kube_workers, on_request=metrics.api_request)
    config = await _with_worker_image(config, kube, logger)
    lag = LagMonitor()
    memo.lag_task = asyncio.get_running_loop().create_task(lag.run(), name="event loop lag")
    metrics.load_rate_limit.set(config.load_rate)
    if config.metrics_port:
        metrics.serve(config.metrics_port)
    memo.runtime = Runtime(settings=config, kube=kube,
                           prober=Prober(pacer=Pacer(config.probe_rate, burst=10.0),
                                         lag=lag),
                           rate_budget=RateBudget(config.load_rate, cap=config.max_total_rate,
                                                  on_change=metrics.load_rate_in_use.set),
                           metrics=metrics,
                           cache=WatchCache(kube, on_relist=lambda resource: (
                               metrics.watch_relists.labels(resource).inc())),
                           load_runner=run_load_check,
                           run_slots=asyncio.Semaphore(config.max_concurrent_runs))
    logger.info("readygate is ready; watching ReadinessChecks (metrics on :%s)",
                config.metrics_port or "off")


async def _with_worker_image(config: Settings, kube: Kube, logger: kopf.Logger) -> Settings:
    """Load Job pods run the operator's own image: find it from our pod (downward API)."""
    pod, namespace = os.environ.get("POD_NAME"), os.environ.get("POD_NAMESPACE")
    if config.worker_image or not pod or not namespace:
        return config
    try:
        me = await kube.get_pod(namespace, pod)
    except KubeError as exc:
        logger.warning("cannot read my own pod %s/%s (%s); distributed load needs "
                       "READYGATE_WORKER_IMAGE", namespace, pod, exc)
        return config
    containers = (me.get("spec") or {}).get("containers") or []
    image = containers[0].get("image") if containers else None
    return dataclasses.replace(config, worker_image=image) if image else config


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    lag_task: asyncio.Task[None] | None = getattr(memo, "lag_task", None)
    if lag_task is not None:
        lag_task.cancel()
    runtime: Runtime | None = getattr(memo, "runtime", None)
    if runtime is not None:
        await runtime.prober.aclose()
        runtime.kube.close()


@kopf.on.delete(schema.GROUP, schema.VERSION, schema.PLURAL)
async def forget(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    """The check is going: release its pod readiness gates and drop its metric series (its
    children go by ownerReferences)."""
    runtime: Runtime = memo.runtime
    namespace, name = str(body.metadata.namespace), str(body.metadata.name)
    runtime.metrics.forget(namespace, name)
    runtime.prober.forget(namespace, name)
    try:
        spec = parse_spec(dict(body.spec or {}))
    except SpecError:
        return  # an invalid spec never had a gate verified
    if spec.gate is None:
        return
    ctype = spec.gate.pod_readiness_gate
    check = {"metadata": dict(body.metadata)}
    try:
        selector = await target_selector(runtime.kube, check, spec)
    except (TargetError, SelectorError) as exc:
        logger.info("readiness gate %s not released: %s", ctype, exc)
        return
    released = await release(runtime.kube, namespace, ctype, selector)
    logger.info("released the readiness gate %s of %d pod(s)", ctype, released)


@kopf.daemon(schema.GROUP, schema.VERSION, schema.PLURAL, cancellation_timeout=15.0)
async def supervise(body: kopf.Body, stopped: kopf.DaemonStopped, memo: kopf.Memo,
                    **_: Any) -> None:
    def event(kind: str, reason: str, message: str) -> None:
        kopf.event(body, type=kind, reason=reason, message=message)

    await Supervisor(memo.runtime, body, event).loop(stopped)
