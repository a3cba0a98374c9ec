"""What a stage of a run may use, and nothing more: ``RunContext``.

A stage (``run.stages.*``) gets the check's spec and names, the I/O seams (``kube``,
``prober``), the operator's settings, a way to ``record`` a check's result or ``update`` the
run's diagnosis (the runner hands both to the one status writer), read the checks' results and
the run's charts so far, the shared watch ``cache`` and ``pods(endpoint)`` read from it. It
never sees the runner, the writer or another stage. ``Runtime`` is what every run of the
operator shares; the runner makes one ``RunContext`` per run from it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from readygate.api.report import Charts
from readygate.api.results import CheckResult
from readygate.api.settings import Settings
from readygate.api.spec import CheckSpec
from readygate.judge.targets import Endpoint
from readygate.kube.client import Kube
from readygate.kube.watchcache import WatchCache
from readygate.load import LoadResult
from readygate.run.prober import Prober
from readygate.run.ratebudget import RateBudget
from readygate.status.metrics import Metrics

LoadRunner = Callable[["RunContext", Endpoint], Coroutine[Any, Any, "LoadOutcome"]]


@dataclasses.dataclass(frozen=True)
class LoadOutcome:
    check: CheckResult
    result: LoadResult | None = None  # None when nothing could be measured


Record = Callable[..., Awaitable[None]]  # (name, result, **other RunView changes)
Update = Callable[..., Awaitable[None]]  # (**RunView changes)


@dataclasses.dataclass
class Runtime:
    """What every run shares: settings and the I/O seams."""

    settings: Settings
    kube: Kube
    prober: Prober
    rate_budget: RateBudget
    metrics: Metrics
    cache: WatchCache  # what runs read pods, workloads and load Jobs from
    load_runner: LoadRunner | None = None
    # runs in progress at once (READYGATE_MAX_CONCURRENT_RUNS); None: no cap
    run_slots: asyncio.Semaphore | None = None


class RunContext:
    def __init__(self, runtime: Runtime, check: Mapping[str, Any], spec: CheckSpec, *,
                 run: int, record: Record, update: Update,
                 results: Callable[[], Mapping[str, CheckResult]],
                 charts: Callable[[], Charts | None] = lambda: None) -> None:
        meta = check["metadata"]
        self.check = check  # a snapshot of metadata and spec, for owner references
        self.spec = spec
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.run = run
        self.kube = runtime.kube
        self.cache = runtime.cache
        # this check's share of the probes' connections; pinned to a url target's vetted
        # address by the runner
        self.prober = runtime.prober.for_check(self.namespace, self.name)
        self.settings = runtime.settings
        self.rate_budget = runtime.rate_budget
        self.load_runner = runtime.load_runner
        self._record = record
        self._update = update
        self._results = results
        self._charts = charts
        self.started = time.monotonic()

    async def record(self, name: str, result: CheckResult, **changes: Any) -> None:
        """Set check ``name``'s result (and any other field of the run's view) and persist."""
        await self._record(name, result, **changes)

    async def update(self, **changes: Any) -> None:
        """Change fields of the run's view other than a check (``diagnosis``) and persist."""
        await self._update(**changes)

    def result(self, name: str) -> CheckResult | None:
        return self._results().get(name)

    def charts(self) -> Charts | None:
        """The run's charts so far (the load phase's, once it has ended)."""
        return self._charts()

    def planned(self, name: str) -> bool:
        return name in self._results()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    async def pods(self, endpoint: Endpoint) -> list[dict[str, Any]]:
        """The pods behind the endpoint (none for a URL or a selectorless Service)."""
        if not endpoint.pod_selector:
            return []
        return await self.cache.list_pods(self.namespace, endpoint.pod_selector)
