"""One shared, watch-based view of the objects readygate reads again and again.

Runs, the crash watch, the gatekeeper and the load Jobs' wait used to LIST their pods (and GET
their Deployment) every poll; a gated check did so for as long as it existed. Here each
(resource, namespace) a check lives in is listed once and then watched: events with bookmarks,
resumed from the last resourceVersion after a drop, listed again after ``410 Gone``. Reads are
served from memory, selected exactly as the API server would select them
(``selectors.matches``), and a reader can wait for the next change in its namespace instead of
sleeping a poll period: a crash is seen when the kubelet reports it.

What is kept is trimmed (``trim``): no ``managedFields``, no last-applied annotation, no pod
volumes or container environment — nothing readygate reads, and the bulk of a pod's bytes.
Objects handed out are the cache's own: readers must not change them.

A namespace's watches run while a ReadinessCheck there holds them (``hold``/``release``, one
per supervisor) and stop ``IDLE_GRACE`` seconds after the last one is released. A watch that
cannot start (the operator lacks list/watch there) leaves reads to the API, as before, with
a warning: slower, never wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from readygate.kube.client import Gone, Kube, KubeError, Refused
from readygate.kube.selectors import SelectorError, from_map, matches

log = logging.getLogger(__name__)
Obj = dict[str, Any]
RESOURCES = ("pods", "deployments", "statefulsets", "jobs")
SYNC_TIMEOUT = 10.0  # seconds a read waits for a new watch's first list before asking the API
IDLE_GRACE = 60.0  # seconds a namespace's watches outlive the last check there
WATCH_SECONDS = 290  # the server ends each watch after this; it resumes from its version
MAX_BACKOFF = 30.0
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


class Reader(Protocol):
    """The reads the cache serves, spelled as ``Kube`` spells them: code that reads pods or
    workloads takes either (the cache in the operator, ``Kube`` where nothing is watched)."""

    async def list_pods(self, namespace: str,
                        selector: str | Mapping[str, str]) -> list[Obj]: ...

    async def list_all_pods(self, namespace: str) -> list[Obj]: ...

    async def get_deployment(self, namespace: str, name: str) -> Obj: ...

    async def get_statefulset(self, namespace: str, name: str) -> Obj: ...

    async def list_jobs(self, namespace: str, selector: Mapping[str, str]) -> list[Obj]: ...


def trim(resource: str, obj: Obj) -> Obj:
    """What the cache keeps of an object (in place, and returned)."""
    meta = obj.get("metadata") or {}
    meta.pop("managedFields", None)
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
    if resource == "pods":
        spec = obj.get("spec") or {}
        spec.pop("volumes", None)
        for group in ("containers", "initContainers", "ephemeralContainers"):
            for container in spec.get(group) or []:
                for key in ("env", "envFrom", "volumeMounts"):
                    container.pop(key, None)
    return obj


class Store:
    """One resource of one namespace: its objects by name and the version they are at."""

    def __init__(self, resource: str, namespace: str) -> None:
        self.resource = resource
        self.namespace = namespace
        self.items: dict[str, Obj] = {}
        self.version = ""
        self.synced = asyncio.Event()
        self.failed: str | None = None  # why the watch cannot run (reads go to the API)
        self.task: asyncio.Task[None] | None = None
        self.lists = 0  # a second one is a relist

    def replace(self, items: list[Obj], version: str) -> bool:
        fresh = {o["metadata"]["name"]: trim(self.resource, o) for o in items}
        changed = fresh.keys() != self.items.keys() or any(
            (o.get("metadata") or {}).get("resourceVersion") !=
            (self.items[n].get("metadata") or {}).get("resourceVersion")
            for n, o in fresh.items())
        self.items = fresh
        self.version = version
        return changed

    def apply(self, event: Mapping[str, Any]) -> bool:
        """One watch event; True when an object changed (not for a bookmark)."""
        kind, obj = event.get("type"), event.get("object") or {}
        meta = obj.get("metadata") or {}
        version = meta.get("resourceVersion")
        if version:
            self.version = str(version)
        if kind == "BOOKMARK":
            return False
        name = meta.get("name")
        if not name:
            return False
        if kind == "DELETED":
            return self.items.pop(name, None) is not None
        if kind in ("ADDED", "MODIFIED"):
            self.items[name] = trim(self.resource, dict(obj))
            return True
        return False


class Namespace:
    """The stores of one namespace and the change signal its readers wait on."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.stores: dict[str, Store] = {}
        self.holders = 0
        self.changes = 0  # counts every change of any store here
        self.signal = asyncio.Event()
        self.stop_at: float | None = None

    def changed(self) -> None:
        self.changes += 1
        self.signal.set()
        self.signal = asyncio.Event()


class WatchCache:
    def __init__(self, kube: Kube, *, sync_timeout: float = SYNC_TIMEOUT,
                 idle_grace: float = IDLE_GRACE, watch_seconds: int = WATCH_SECONDS,
                 on_relist: Callable[[str], None] | None = None) -> None:
        self.kube = kube
        self.sync_timeout = sync_timeout
        self.idle_grace = idle_grace
        self.watch_seconds = watch_seconds
        self.on_relist = on_relist or (lambda resource: None)
        self.namespaces: dict[str, Namespace] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False

    # -- who needs a namespace watched ---------------------------------------------------------
    def hold(self, namespace: str) -> None:
        ns = self._namespace(namespace)
        ns.holders += 1
        ns.stop_at = None

    def release(self, namespace: str) -> None:
        ns = self.namespaces.get(namespace)
        if ns is None:
            return
        ns.holders = max(0, ns.holders - 1)
        if ns.holders == 0:
            ns.stop_at = time.monotonic() + self.idle_grace
            if self._reaper is None or self._reaper.done():
                self._reaper = asyncio.create_task(self._reap(), name="watch cache reaper")

    async def _reap(self) -> None:
        while any(ns.stop_at is not None for ns in self.namespaces.values()):
            now = time.monotonic()
            for name, ns in list(self.namespaces.items()):
                if ns.stop_at is not None and now >= ns.stop_at and ns.holders == 0:
                    del self.namespaces[name]
                    await _stop(ns)
            await asyncio.sleep(min(1.0, self.idle_grace))

    async def close(self) -> None:
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
        for ns in list(self.namespaces.values()):
            await _stop(ns)
        self.namespaces.clear()

    def watching(self) -> dict[str, tuple[str, ...]]:
        """The namespaces watched and which resources in each (for metrics and tests)."""
        return {n: tuple(sorted(s for s, st in ns.stores.items() if st.failed is None))
                for n, ns in self.namespaces.items()}

    # -- reads ---------------------------------------------------------------------------------
    async def list_pods(self, namespace: str, selector: str | Mapping[str, str]) -> list[Obj]:
        """The pods a label selector selects (as ``Kube.list_pods``: never every pod)."""
        query = selector if isinstance(selector, str) else from_map(selector)
        if not query:
            raise SelectorError("the selector is empty: it would select every pod")
        store = await self._store("pods", namespace)
        if store is None:
            return await self.kube.list_pods(namespace, query)
        return [p for p in store.items.values()
                if matches(query, (p.get("metadata") or {}).get("labels"))]

    async def list_all_pods(self, namespace: str) -> list[Obj]:
        store = await self._store("pods", namespace)
        if store is None:
            return await self.kube.list_all_pods(namespace)
        return list(store.items.values())

    async def get_deployment(self, namespace: str, name: str) -> Obj:
        return await self._get("deployments", namespace, name, self.kube.get_deployment)

    async def get_statefulset(self, namespace: str, name: str) -> Obj:
        return await self._get("statefulsets", namespace, name, self.kube.get_statefulset)

    async def list_jobs(self, namespace: str, selector: Mapping[str, str]) -> list[Obj]:
        query = from_map(selector)
        store = await self._store("jobs", namespace)
        if store is None:
            return await self.kube.list_jobs(namespace, selector)
        return [j for j in store.items.values()
                if matches(query, (j.get("metadata") or {}).get("labels"))]

    async def _get(self, resource: str, namespace: str, name: str,
                   direct: Callable[[str, str], Any]) -> Obj:
        store = await self._store(resource, namespace)
        if store is None:
            result: Obj = await direct(namespace, name)
            return result
        obj = store.items.get(name)
        if obj is None:
            # not seen yet: created a moment ago (the watch shows it soon), or not there at all;
            # the API answers (one request per miss: a missing target fails its run anyway)
            found: Obj = await direct(namespace, name)
            return found
        return obj

    # -- waiting for a change ------------------------------------------------------------------
    def mark(self, namespace: str) -> int:
        """How many changes the namespace has seen: hand it to ``wait`` after a read."""
        return self._namespace(namespace).changes

    async def wait(self, namespace: str, since: int, seconds: float) -> bool:
        """Until something in the namespace changed after ``since`` (True) or ``seconds``
        passed (False). Without a working watch there, it just sleeps."""
        ns = self._namespace(namespace)
        if ns.changes != since:
            return True
        if not any(s.failed is None and s.synced.is_set() for s in ns.stores.values()):
            await asyncio.sleep(max(0.0, seconds))
            return False
        try:
            await asyncio.wait_for(ns.signal.wait(), max(0.0, seconds))
        except TimeoutError:
            return False
        return True

    # -- the watches ---------------------------------------------------------------------------
    def _namespace(self, namespace: str) -> Namespace:
        ns = self.namespaces.get(namespace)
        if ns is None:
            ns = self.namespaces[namespace] = Namespace(namespace)
        return ns

    async def _store(self, resource: str, namespace: str) -> Store | None:
        """The synced store, started on first use; None when reads must go to the API."""
        if self._closed:
            return None
        ns = self._namespace(namespace)
        store = ns.stores.get(resource)
        if store is None:
            store = ns.stores[resource] = Store(resource, namespace)
            store.task = asyncio.create_task(self._run(ns, store),
                                             name=f"watch {resource} {namespace}")
        if store.failed is not None:
            return None
        if not store.synced.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(store.synced.wait(), self.sync_timeout)
        return store if store.synced.is_set() and store.failed is None else None

    def _selector(self, resource: str) -> str | None:
        # Jobs: only readygate's own load shards; everything else: what any target may be
        return "app.kubernetes.io/managed-by=readygate" if resource == "jobs" else None

    async def _run(self, ns: Namespace, store: Store) -> None:
        failures = 0
        selector = self._selector(store.resource)
        while True:
            try:
                if not store.version:
                    items, version = await self.kube.list_objects(
                        store.resource, ns.name, label_selector=selector)
                    store.lists += 1
                    if store.lists > 1:
                        self.on_relist(store.resource)
                    if store.replace(items, version) or not store.synced.is_set():
                        ns.changed()
                    store.synced.set()
                began, events = time.monotonic(), 0
                async for event in self.kube.watch(store.resource, ns.name, store.version,
                                                   label_selector=selector,
                                                   timeout_seconds=self.watch_seconds):
                    failures, events = 0, events + 1
                    if store.apply(event):
                        ns.changed()
                if not events and time.monotonic() - began < 1.0:
                    await asyncio.sleep(1.0)  # a server that ends every watch at once
            except asyncio.CancelledError:
                raise
            except Gone as exc:
                log.info("watch of %s in %s: %s; listing again", store.resource, ns.name, exc)
                store.version = ""
            except Refused as exc:
                if not store.synced.is_set():
                    # no list/watch here (an older RBAC): the readers ask the API themselves
                    store.failed = str(exc)
                    store.synced.set()
                    log.warning("cannot watch %s in namespace %s (%s): readygate reads them "
                                "from the API on every look instead; grant list and watch "
                                "(see docs/operator.md, RBAC)", store.resource, ns.name, exc)
                    return
                failures += 1
                await asyncio.sleep(min(MAX_BACKOFF, 2.0 ** failures))
            except (KubeError, ValueError) as exc:
                failures += 1
                if failures >= 3:
                    store.version = ""  # a version the server keeps refusing: list again
                delay = min(MAX_BACKOFF, 2.0 ** failures)
                log.info("watch of %s in %s failed (%s); again in %.0fs", store.resource,
                         ns.name, exc, delay)
                await asyncio.sleep(delay)


async def _stop(ns: Namespace) -> None:
    tasks = [s.task for s in ns.stores.values() if s.task is not None]
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
