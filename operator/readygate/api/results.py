"""What a run found: one ``CheckResult`` per check, and the ``Diagnosis`` of a workload that will
not start. Frozen data shared by the pure deciders (``judge``) and turned
into status by ``status.compute``. No I/O, no Kubernetes types.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from readygate.api.names import FINAL_RESULTS, Result

# Status stays small however long a check lives and whatever a target answers: every text and
# list written into it is bounded (the writer and the history bound the rest). A status of
# every check at these bounds is well under etcd's request size limit (tests/unit/test_status).
MESSAGE_CHARS = 1_000
EVIDENCE_ITEMS = 20
EVIDENCE_CHARS = 300
WARNING_ITEMS = 10
MEASURED_ITEMS = 64
LOG_TAIL_ITEMS = 30


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


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
        out: dict[str, Any] = {"result": self.result,
                               "message": clip(self.message, MESSAGE_CHARS)}
        if self.started_at:
            out["startedAt"] = self.started_at
        if self.finished_at:
            out["finishedAt"] = self.finished_at
        if self.measured:
            out["measured"] = {k: round(v, 6) for k, v in
                               list(self.measured.items())[:MEASURED_ITEMS]}
        if self.evidence:
            out["evidence"] = [clip(e, EVIDENCE_CHARS) for e in self.evidence[:EVIDENCE_ITEMS]]
        if self.warnings:
            out["warnings"] = [clip(w, EVIDENCE_CHARS) for w in self.warnings[:WARNING_ITEMS]]
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
            "reason": clip(self.reason, 100), "message": clip(self.message, MESSAGE_CHARS),
            "pod": self.pod,
            "restartCount": self.restart_count, "detectedAt": detected_at,
        }
        if self.container:
            out["container"] = self.container
        if self.exit_code is not None:
            out["exitCode"] = self.exit_code
        if self.crashed_at:
            out["crashedAt"] = self.crashed_at
        if self.log_tail:
            out["logTail"] = [clip(line, EVIDENCE_CHARS)
                              for line in self.log_tail[-LOG_TAIL_ITEMS:]]
        return out
