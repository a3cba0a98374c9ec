"""Running a check's load from the operator: never on the operator's own event loop.

``run_load_check`` resolves headers from Secrets (their values go to the load child on its
stdin, never into status, events or logs), reserves the plan's peak rate from the operator-wide
``RateBudget``, runs the engine in a child process (``readygate.load.run_load_subprocess``), and
judges the result with ``loadcheck``. The operator's loop only awaits the child, so its liveness
endpoint and every other check keep being served while load runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING

from readygate.clock import utc_now
from readygate.kube import KubeError
from readygate.load import LoadError, LoadPlan, judge, run_load_subprocess
from readygate.loadcheck import check_result, plan_for, secret_refs
from readygate.results import CheckResult
from readygate.targets import Endpoint

if TYPE_CHECKING:
    from readygate.runner import CheckRunner


@dataclasses.dataclass
class RateBudget:
    """The operator's total outgoing load rate (req/s), shared by every running load check."""

    limit: float
    in_use: float = 0.0

    @contextlib.contextmanager
    def reserve(self, rate: float) -> Iterator[None]:
        if self.in_use + rate > self.limit:
            raise LoadRefused(
                f"the operator is already sending {self.in_use:g} req/s of its global cap "
                f"{self.limit:g} req/s (READYGATE_MAX_TOTAL_RATE); this check needs {rate:g}")
        self.in_use += rate
        try:
            yield
        finally:
            self.in_use -= rate


class LoadRefused(Exception):
    pass


def peak_rate(plan: LoadPlan) -> float:
    """The most req/s the plan can ask for (closed model: unknown, counted as one per user)."""
    if plan.stress is not None:
        return plan.stress.max_rate
    values = [plan.rate or plan.users or 0.0] + [s.target for s in plan.stages]
    return float(max(values))


async def run_load_check(runner: CheckRunner, endpoint: Endpoint) -> CheckResult:

    load = runner.spec.load
    assert load is not None
    started = utc_now()

    def error(message: str) -> CheckResult:
        return CheckResult(result="Error", message=message, started_at=started,
                           finished_at=utc_now())

    if load.workers > 1:
        return error("workers > 1 (load from Kubernetes Job pods) is not available in this "
                     "version; set workers: 1")
    values: dict[tuple[str, str], str] = {}
    for ref in secret_refs(load):
        try:
            values[(ref.name, ref.key)] = await runner.rt.kube.secret_value(
                runner.namespace, ref.name, ref.key)
        except KubeError as exc:
            return error(f"cannot read header value from Secret {ref.name} key {ref.key}: "
                         f"{exc}")
    try:
        plan = plan_for(load, endpoint.base_url, lambda r: values[(r.name, r.key)])
        with runner.rt.rate_budget.reserve(peak_rate(plan)):
            result = await run_load_subprocess(plan, processes=1)
    except LoadRefused as exc:
        return error(str(exc))
    except LoadError as exc:
        return error(f"could not measure: {exc}")
    return check_result(result, judge(result, plan.thresholds), started_at=started,
                        finished_at=utc_now())
