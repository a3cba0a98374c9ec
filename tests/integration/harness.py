"""What the integration tests share: a Runtime over the fakes, fast specs, kopf's ``stopped``
flag and event sink, and waiting for a condition on the fake's store."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from readygate.api.settings import Settings
from readygate.kube.client import Kube
from readygate.kube.watchcache import WatchCache
from readygate.run.context import Runtime
from readygate.run.prober import Prober
from readygate.run.ratebudget import RateBudget
from readygate.status.metrics import Metrics

from ..statusview import checks_of
from .fakekube import RESOURCES, FakeKube
from .fakeprober import FakeProber

T = TypeVar("T")
NS = "shop"
IMAGE = "registry.example/orders:1"
# Short budgets and periods: a run takes a fraction of a second on the fakes.
FAST: dict[str, Any] = {
    "readiness": {"within": "3s", "period": "100ms", "timeout": "100ms"},
    "liveness": {"observeFor": "1s", "period": "100ms", "timeout": "100ms"},
}


def deploy_spec(**extra: Any) -> dict[str, Any]:
    return {"target": {"deploy": {"image": IMAGE, "port": 8080}}, **FAST, **extra}


def runtime(kube: FakeKube, prober: FakeProber, **settings: Any) -> Runtime:
    options: dict[str, Any] = {"poll_interval": 0.05, **settings}
    return Runtime(settings=Settings(**options), kube=cast(Kube, kube),
                   prober=cast(Prober, prober), rate_budget=RateBudget(1000.0),
                   metrics=Metrics(), cache=WatchCache(cast(Kube, kube)))


async def caught_up(cache: WatchCache, kube: FakeKube, within: float = 5.0) -> None:
    """Until the watch cache has seen every change the fake API holds (what a real watch shows
    a moment later): for tests that act and then look through the cache at once."""
    def done() -> bool:
        kube._sync_journal()
        for ns, space in cache.namespaces.items():
            for resource, store in space.stores.items():
                kind = next(k for k, r in RESOURCES.items() if r == resource)
                if not store.synced.is_set():
                    return False
                if any(v > int(store.version or 0) for v, k, n, _, _ in kube.journal
                       if k == kind and n == ns):
                    return False
        return True
    await wait_until("the watch cache to catch up", done, within)


def run(main: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
    """``asyncio.run`` with a bound: a test that hangs fails instead."""
    return asyncio.run(asyncio.wait_for(main, timeout))


async def wait_until(what: str, condition: Callable[[], bool], within: float = 5.0,
                     every: float = 0.01) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(every)


class Stopped:
    """kopf's ``DaemonStopped``: false until set; ``wait(timeout)`` returns early when set."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def __bool__(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()

    async def wait(self, seconds: float | None = None) -> Stopped:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        return self


class Events:
    """An ``EventSink`` that keeps the events a writer posted."""

    def __init__(self) -> None:
        self.posted: list[tuple[str, str, str]] = []

    def __call__(self, kind: str, reason: str, message: str) -> None:
        self.posted.append((kind, reason, message))

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.posted]


def condition(status: dict[str, Any], ctype: str) -> dict[str, Any]:
    found: dict[str, Any] | None = next(
        (c for c in status.get("conditions") or [] if c["type"] == ctype), None)
    assert found is not None, f"no {ctype} condition in {status.get('conditions')}"
    return found


def results(status: dict[str, Any]) -> dict[str, str]:
    return {name: entry["result"] for name, entry in checks_of(status).items()}
