"""The one status writer: compute, diff, skip no-ops, patch once, and tell the story in Events.

``StatusWriter`` holds the latest ``status.RunView`` of the check's run and the latest summary of
its pod readiness gates. Each write computes the complete new status with
``status.compute_status`` from the status as last read, sends the merge patch only when
something changed, and posts an Event when the phase changes. The patch carries the
``resourceVersion`` the writer last saw, so a write that raced another writer (a second operator
replica, a user's ``kubectl patch``, kopf's own annotation patches) gets 409 Conflict instead of
silently mixing states: the writer then re-reads the object, recomputes from what is really
there, and tries again. Each write updates the check's Prometheus series (``metrics``). Nothing
else in readygate patches a ReadinessCheck's status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from readygate.api.clock import utc_now
from readygate.kube.client import Conflict, Kube
from readygate.status.compute import RunView, compute_status
from readygate.status.conditions import merge_patch
from readygate.status.metrics import Metrics

log = logging.getLogger(__name__)
EventSink = Callable[[str, str, str], None]  # (type, reason, message)

_WARNING_PHASES = frozenset({"Failed", "Error", "Inconclusive"})
MAX_CONFLICTS = 8


class StatusWriter:
    def __init__(self, kube: Kube, namespace: str, name: str, current: Mapping[str, Any],
                 events: EventSink | None = None, metrics: Metrics | None = None,
                 resource_version: str | None = None) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.current: dict[str, Any] = dict(current)
        self.resource_version = resource_version
        self.events = events
        self.metrics = metrics
        self.view: RunView | None = None
        self.gate: dict[str, Any] | None = None
        self.patches = 0
        self.conflicts = 0

    def _compose(self, old: Mapping[str, Any]) -> dict[str, Any]:
        if self.view is not None:
            return compute_status(old, self.view, utc_now(), gate=self.gate)
        new = dict(old)  # no run yet in this process: only the gate section changes
        if self.gate is not None:
            new["gate"] = self.gate
        return new

    async def write_view(self, view: RunView) -> bool:
        """Record the run's latest view and write the status it gives; False if unchanged."""
        self.view = view
        return await self._write()

    async def write_gate(self, gate: dict[str, Any] | None) -> bool:
        """Record the readiness-gate summary and write it; False if unchanged."""
        self.gate = gate
        return await self._write()

    async def rewrite(self) -> bool:
        """Write again what the last view and gate give (after ``current`` was re-read)."""
        return await self._write()

    async def _write(self) -> bool:
        for _ in range(MAX_CONFLICTS):
            old = self.current
            new = self._compose(old)
            patch = merge_patch(old, new)
            if not patch:
                return False
            body: dict[str, Any] = {"status": patch}
            if self.resource_version:
                body["metadata"] = {"resourceVersion": self.resource_version}
            try:
                obj = await self.kube.patch_check_status(self.namespace, self.name, body)
            except Conflict:
                self.conflicts += 1
                fresh = await self.kube.get_check(self.namespace, self.name)
                self.current = dict(fresh.get("status") or {})
                self.resource_version = str(fresh["metadata"]["resourceVersion"])
                log.debug("%s/%s: status write conflicted (409); recomputing from the stored "
                          "status", self.namespace, self.name)
                continue
            self.resource_version = str((obj.get("metadata") or {}).get("resourceVersion")
                                        or "") or None
            self.current = new
            self.patches += 1
            self._after(old, new)
            return True
        raise Conflict(f"status of {self.namespace}/{self.name}: {MAX_CONFLICTS} conflicting "
                       "writes in a row", 409)

    def _after(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        if self.metrics is not None:
            self.metrics.transitions(old, new)
            self.metrics.observe(self.namespace, self.name, new)
        phase = new.get("phase")
        if phase != old.get("phase") and self.events is not None:
            kind = "Warning" if phase in _WARNING_PHASES else "Normal"
            self.events(kind, str(phase), str(new.get("summary", ""))[:1000])
        if phase != old.get("phase") or new.get("summary") != old.get("summary"):
            log.info("%s/%s status: %s", self.namespace, self.name, new.get("summary"))
