"""The engine's hot-path bookkeeping: one outcome at a time into per-second buckets.

Owns ``Recorder``: each response or timeout goes into the current second's sparse bucket
counts (the bucket layout of ``histogram.py``) and running count/sum/min/max; each error is
counted by kind. When a second ends its buckets are folded into the run's histogram and a coarse
copy is kept for the timeline (``result.Second``). ``engine.py`` calls it; ``finish`` hands the
histogram and the timeline to ``result.py``. Times are integer nanoseconds of perf_counter_ns.
"""

from __future__ import annotations

import math

from .histogram import COARSE, INV_LOG_GAMMA, Histogram
from .result import Second

__all__ = ["Recorder"]

NS = 1_000_000_000
_log = math.log


class Recorder:
    __slots__ = ("counts", "cur", "cur_err", "cur_n", "errors", "max_ns", "min_ns", "n",
                 "requests", "sec", "sec_end", "seconds", "start_ns", "sum_ns")

    def __init__(self, start_ns: int) -> None:
        self.start_ns = start_ns
        self.sec = 0
        self.sec_end = start_ns + NS
        self.cur: dict[int, int] = {}
        self.cur_n = 0  # outcomes this second
        self.cur_err = 0
        self.counts: dict[int, int] = {}
        self.n = 0  # latency samples
        self.sum_ns = 0
        self.min_ns = 1 << 62
        self.max_ns = 0
        self.requests = 0  # outcomes (responses + errors)
        self.errors: dict[str, int] = {}
        self.seconds: list[Second] = []

    def ok(self, now: int, lat: int) -> None:
        """A response with an expected status, ``lat`` ns after its start."""
        if now >= self.sec_end:
            self.roll(now)
        i = int(_log(lat) * INV_LOG_GAMMA) if lat > 1 else 0
        cur = self.cur
        cur[i] = cur.get(i, 0) + 1
        self.cur_n += 1
        self.sum_ns += lat
        if lat > self.max_ns:
            self.max_ns = lat
        if lat < self.min_ns:
            self.min_ns = lat

    def bad(self, now: int, lat: int, kind: str) -> None:
        """A response with an unexpected status, or a timeout: a latency and an error."""
        self.ok(now, max(lat, 0))
        self.cur_err += 1
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def fail(self, now: int, kind: str) -> None:
        """A failure without a latency (connect error, reset, dropped send)."""
        if now >= self.sec_end:
            self.roll(now)
        self.cur_n += 1
        self.cur_err += 1
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def roll(self, now: int) -> None:
        """Close the current second (and any empty ones up to ``now``)."""
        coarse: dict[int, int] = {}
        counts = self.counts
        for i, c in self.cur.items():
            counts[i] = counts.get(i, 0) + c
            j = i // COARSE
            coarse[j] = coarse.get(j, 0) + c
            self.n += c
        self.requests += self.cur_n
        self.seconds.append(Second(self.sec, self.cur_n, self.cur_err, coarse))
        self.cur = {}
        self.cur_n = self.cur_err = 0
        target = max((now - self.start_ns) // NS, self.sec + 1)
        for s in range(self.sec + 1, min(target, self.sec + 100_000)):
            self.seconds.append(Second(s, 0, 0, {}))
        self.sec = target
        self.sec_end = self.start_ns + (target + 1) * NS

    def finish(self, now: int) -> tuple[Histogram, tuple[Second, ...]]:
        if self.cur_n or self.cur:
            self.roll(now)
        # drop trailing empty seconds
        seconds = list(self.seconds)
        while seconds and seconds[-1].requests == 0:
            seconds.pop()
        h = Histogram(dict(self.counts), self.n, self.sum_ns,
                      self.min_ns if self.n else 0, self.max_ns)
        return h, tuple(seconds)

    def live(self) -> tuple[int, int]:
        """(outcomes, errors) so far, for progress lines."""
        return self.requests + self.cur_n, sum(self.errors.values())
