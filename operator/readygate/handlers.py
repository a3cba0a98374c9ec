"""kopf wiring, and nothing else: settings at start-up, one supervisor daemon per check.

Deliberate kopf settings (see docs/operator.md): our own finalizer name; kopf's progress and
diff-base kept in annotations with our prefix (never in ``status``, which only the writer owns);
watch timeouts so a silently dropped watch is re-established; standalone mode (one replica,
``Recreate`` strategy) instead of kopf peering. Handlers return nothing, so kopf writes nothing
into ``status`` on their behalf.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from readygate import schema
from readygate.kube import Kube, load_config
from readygate.loadrun import RateBudget, run_load_check
from readygate.prober import Prober
from readygate.runner import Runtime
from readygate.settings import from_env
from readygate.supervisor import Supervisor

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
    settings.peering.standalone = True
    load_config()
    config = from_env()
    memo.runtime = Runtime(settings=config, kube=Kube(), prober=Prober(),
                           rate_budget=RateBudget(config.max_total_rate),
                           load_runner=run_load_check)
    logger.info("readygate is ready; watching ReadinessChecks")


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime | None = getattr(memo, "runtime", None)
    if runtime is not None:
        await runtime.prober.aclose()
        runtime.kube.close()


@kopf.daemon(schema.GROUP, schema.VERSION, schema.PLURAL, cancellation_timeout=15.0)
async def supervise(body: kopf.Body, stopped: kopf.DaemonStopped, memo: kopf.Memo,
                    **_: Any) -> None:
    def event(kind: str, reason: str, message: str) -> None:
        kopf.event(body, type=kind, reason=reason, message=message)

    await Supervisor(memo.runtime, body, event).loop(stopped)
