"""Running a check's load from the operator: never on the operator's own event loop.

``run_load_check`` resolves headers from Secrets (their values reach the load child on its stdin
or the Job pods through a Secret, never status, events or logs), reserves the plan's peak rate
from the operator-wide ``ratebudget.RateBudget``, runs the engine in a child process
(``readygate.load.run_load_subprocess``) or, for ``workers > 1``, in Kubernetes Jobs
(``loadjobs``), and judges the result with ``judge.load``. The operator's loop only awaits the
child or polls the Jobs, so its liveness endpoint and every other check keep being served while
load runs. It returns the ``CheckResult`` and the raw ``LoadResult`` (the resilience check reads
the errors of its recovery window from the latter's timeline).
"""

from __future__ import annotations

import base64
import dataclasses
import logging
from collections.abc import Iterable

from readygate.api.clock import utc_now
from readygate.api.headers import HeaderValueError, header_value
from readygate.api.results import CheckResult
from readygate.judge.load import check_result, plan_for, secret_refs
from readygate.judge.targets import Endpoint
from readygate.kube.client import KubeError
from readygate.load import LoadError, LoadPlan, judge, run_load_subprocess
from readygate.run.context import LoadOutcome, RunContext
from readygate.run.loadjobs import JobLoadError, JobSettings, run_load_jobs
from readygate.run.ratebudget import LoadRefused

log = logging.getLogger(__name__)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every Secret value (and its base64 form) replaced by ``***``."""
    for value in sorted({v for v in secrets if len(v) >= 4}, key=len, reverse=True):
        for form in (value, base64.b64encode(value.encode()).decode()):
            text = text.replace(form, "***")
    return text


def peak_rate(plan: LoadPlan) -> float:
    """The most req/s the plan can send: its ``max_rate``, which the engine enforces (an open
    schedule above it is refused, closed-model users are paced to it)."""
    if plan.max_rate is not None:
        return plan.max_rate
    if plan.stress is not None:
        return plan.stress.max_rate
    return float(max([plan.rate or 0.0] + [s.target for s in plan.stages]))


async def run_load_check(ctx: RunContext, endpoint: Endpoint) -> LoadOutcome:
    load = ctx.spec.load
    assert load is not None
    started = utc_now()

    values: dict[tuple[str, str], str] = {}

    def error(message: str) -> LoadOutcome:
        return LoadOutcome(CheckResult(result="Error", message=redact(message, values.values()),
                                       started_at=started, finished_at=utc_now()))

    for ref in secret_refs(load):
        try:
            values[(ref.name, ref.key)] = header_value(ref, await ctx.kube.secret_value(
                ctx.namespace, ref.name, ref.key))
        except KubeError as exc:
            return error(f"cannot read header value from Secret {ref.name} key {ref.key}: "
                         f"{exc}")
        except HeaderValueError as exc:
            return error(str(exc))
    settings = ctx.settings
    if load.workers > 1 and not settings.worker_image:
        return error("workers > 1 runs the load in Job pods from the operator's own image, "
                     "which is unknown here: set READYGATE_WORKER_IMAGE on the operator")
    try:
        plan = plan_for(load, endpoint.base_url, lambda r: values[(r.name, r.key)],
                        connect_to=endpoint.address)
        with ctx.rate_budget.reserve(peak_rate(plan)):
            if load.workers > 1:
                assert settings.worker_image is not None
                result = await run_load_jobs(
                    ctx.kube, ctx.check, ctx.run, plan, load.workers,
                    JobSettings(image=settings.worker_image,
                                pull_policy=settings.worker_pull_policy,
                                start_delay=settings.job_start_delay),
                    reader=ctx.cache)
            else:
                result = await run_load_subprocess(plan, processes=1)
    except LoadRefused as exc:
        return error(str(exc))
    except (LoadError, JobLoadError) as exc:
        detail = getattr(exc, "detail", "")
        if detail:
            log.warning("%s/%s: load failed: %s: %s", ctx.namespace, ctx.name, exc,
                        redact(detail, values.values()))
        return error(f"could not measure: {exc}" + (
            " (its error output is in the operator's log, with Secret values removed)"
            if detail else ""))
    check = check_result(result, judge(result, plan.thresholds), started_at=started,
                         finished_at=utc_now(), warn_only=load.warn_only)
    if load.workers > 1:
        check = dataclasses.replace(check, measured={**check.measured,
                                                     "workers": float(load.workers)})
    return LoadOutcome(check, result)
