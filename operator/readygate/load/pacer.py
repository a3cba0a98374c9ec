"""A rate limit that sends wait for: at most ``rate`` sends per second on average, with a burst
of ``burst`` sends (the generic cell rate algorithm: one "theoretical arrival time", no timer).

The engine paces a closed-model plan with it (``LoadPlan.max_rate``: users send back to back,
so their rate is otherwise whatever the target allows), and the operator's prober paces every
probe with one shared ``Pacer`` — so every request the operator sends counts against its
global cap. Pure bookkeeping on a nanosecond clock the caller passes in; ``wait`` sleeps.
"""

from __future__ import annotations

import asyncio
import math
from time import perf_counter_ns

NS = 1_000_000_000

__all__ = ["Pacer"]


class Pacer:
    def __init__(self, rate: float, burst: float = 1.0) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive number, got {rate!r}")
        self.rate = rate
        self.interval = NS / rate
        self.tolerance = max(0.0, burst - 1.0) * self.interval
        self.tat = 0.0  # when the next send is due if sends came exactly at the rate

    def take(self, now: int) -> int:
        """Reserve the next send: nanoseconds from ``now`` until it may go (0: now)."""
        send_at = max(float(now), self.tat - self.tolerance)
        self.tat = max(self.tat, send_at) + self.interval
        return int(send_at - now)

    async def wait(self) -> None:
        """Wait for a send's turn (on the running event loop)."""
        delay = self.take(perf_counter_ns())
        if delay > 0:
            await asyncio.sleep(delay / NS)
