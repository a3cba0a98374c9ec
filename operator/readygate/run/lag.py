"""How late the operator's own event loop runs: the evidence that a slow probe was the
operator's delay, not the target's answer.

``LagMonitor.run`` sleeps ``interval`` again and again and records how much later than asked
it woke up; ``max_since(t)`` is the worst lag seen since monotonic time ``t``. The prober asks
it when a probe times out: a probe whose time was eaten by a saturated loop is retried, and
then reported as the operator's overload (never as the target's failure).
"""

from __future__ import annotations

import asyncio
import collections
import time


class LagMonitor:
    def __init__(self, interval: float = 0.1, keep: float = 600.0) -> None:
        self.interval = interval
        self.samples: collections.deque[tuple[float, float]] = collections.deque(
            maxlen=max(1, int(keep / interval)))
        self.worst = 0.0

    def record(self, at: float, lag: float) -> None:
        self.samples.append((at, lag))
        self.worst = max(self.worst, lag)

    def max_since(self, since: float) -> float:
        """The worst lag of the wake-ups after ``since`` (monotonic seconds)."""
        worst = 0.0
        for at, lag in reversed(self.samples):
            if at < since:
                break
            worst = max(worst, lag)
        return worst

    def current(self) -> float:
        return self.samples[-1][1] if self.samples else 0.0

    async def run(self) -> None:
        while True:
            asked = time.monotonic()
            await asyncio.sleep(self.interval)
            woke = time.monotonic()
            self.record(woke, max(0.0, woke - asked - self.interval))
