"""The one status writer: diff, skip no-ops, patch once, and tell the story in Events.

``StatusWriter.write`` takes the new status computed by ``status.compute_status``, diffs it
against what it last wrote (or what the resource carried when the writer was made), sends the
merge patch only when something changed, and posts an Event when the phase changes. Nothing
else in readygate patches a ReadinessCheck's status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from readygate.conditions import merge_patch
from readygate.kube import Kube

log = logging.getLogger(__name__)
EventSink = Callable[[str, str, str], None]  # (type, reason, message)

_WARNING_PHASES = frozenset({"Failed", "Error", "Inconclusive"})


class StatusWriter:
    def __init__(self, kube: Kube, namespace: str, name: str, current: Mapping[str, Any],
                 events: EventSink | None = None) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.current: dict[str, Any] = dict(current)
        self.events = events
        self.patches = 0

    async def write(self, new: Mapping[str, Any]) -> bool:
        """Patch the status to ``new``; False when it already was."""
        patch = merge_patch(self.current, new)
        if not patch:
            return False
        old_phase = self.current.get("phase")
        await self.kube.patch_check_status(self.namespace, self.name, {"status": patch})
        self.current = dict(new)
        self.patches += 1
        phase = new.get("phase")
        if phase != old_phase and self.events is not None:
            kind = "Warning" if phase in _WARNING_PHASES else "Normal"
            self.events(kind, str(phase), str(new.get("summary", ""))[:1000])
        log.info("%s/%s status: %s", self.namespace, self.name, new.get("summary"))
        return True
