"""What a run found: one ``CheckResult`` per check, and the ``Diagnosis`` of a workload that will
not start. Frozen data shared by the pure deciders (``judge``) and turned
into status by ``status.compute``. No I/O, no Kubernetes types.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from readygate.api.names import FINAL_RESULTS, Result


@dataclasses.dataclass(frozen=True, kw_only=True)
class CheckResult:
    result: Result
    message: str
    started_at: str | None = None
    finished_at: str | None = None
    measured: dict[str, float] = dataclasses.field(default_factory=dict)
    evidence: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # a Passed check with warnings makes the verdict Conditional

    @property
    def final(self) -> bool:
        return self.result in FINAL_RESULTS

    def to_status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"result": self.result, "message": self.message}
        if self.started_at:
            out["startedAt"] = self.started_at
        if self.finished_at:
            out["finishedAt"] = self.finished_at
        if self.measured:
            out["measured"] = {k: round(v, 6) for k, v in self.measured.items()}
        if self.evidence:
            out["evidence"] = list(self.evidence[:50])
        if self.warnings:
            out["warnings"] = list(self.warnings[:20])
        return out


@dataclasses.dataclass(frozen=True, kw_only=True)
class Diagnosis:
    """Why the workload's pods do not start: the reason, and the log line that explains it."""

    reason: str
    message: str
    pod: str
    container: str | None = None
    exit_code: int | None = None
    restart_count: int = 0
    log_tail: tuple[str, ...] = ()
    terminal: bool = True
    crashed_at: str | None = None

    def to_status(self, detected_at: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "reason": self.reason, "message": self.message, "pod": self.pod,
            "restartCount": self.restart_count, "detectedAt": detected_at,
        }
        if self.container:
            out["container"] = self.container
        if self.exit_code is not None:
            out["exitCode"] = self.exit_code
        if self.crashed_at:
            out["crashedAt"] = self.crashed_at
        if self.log_tail:
            out["logTail"] = list(self.log_tail)
        return out
