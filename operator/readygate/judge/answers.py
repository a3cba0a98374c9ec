"""What the target answered, as the judges read it: a ``Sample`` (one timed probe: ok or not,
status or error) and an ``Answer`` (one request with its headers and a bounded body). Frozen
data; ``run.prober`` makes them, the modules of ``judge`` read them.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Sample:
    at: float  # seconds since the window (or the run) started
    ok: bool
    status: int | None = None
    error: str | None = None
    latency: float = 0.0
    via: str | None = None  # "pod NAME" when asked of one pod directly instead of the Service
    # the probe's time went to the operator's own delay (its event loop ran late), not to the
    # target: it says nothing about the target and is never counted against it
    overloaded: bool = False

    def describe(self, path: str) -> str:
        what = f"HTTP {self.status}" if self.status is not None else (self.error or "no answer")
        where = f" ({self.via})" if self.via else ""
        return f"t={self.at:.1f}s GET {path}{where} -> {what} in {self.latency * 1000:.0f}ms"


@dataclasses.dataclass(frozen=True)
class Answer:
    """What one request got back: a status with headers and a bounded body, or an error."""

    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""
    error: str | None = None
    latency: float = 0.0
    overloaded: bool = False  # see Sample.overloaded
    truncated: bool = False  # the body went on past the request's limit (the rest was not read)
    # the stack-trace line judge.security found in the body before dropping it ("": none)
    trace: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300
