"""Pure scheduling: when each open-model request is due, how many closed-model users run at a
time, and how a plan is split into shards.

Stages follow k6's ramping-arrival-rate semantics: starting from a start value, each ``Stage``
changes the target (req/s for the open model, users for the closed model) linearly to its
``target`` over its ``duration``. The k-th request (k = 0, 1, ...) is due at the time t where
the integral of the rate from 0 to t reaches k; shard i of n takes the requests with
k = i (mod n), so the shards partition the schedule exactly. Nothing here does I/O or reads a
clock; ``engine.py`` turns these times into sends, ``plan.py`` supplies the stages.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = [
    "Segment",
    "arrival_times",
    "segments",
    "split_count",
    "target_at",
]


@dataclass(frozen=True)
class Segment:
    """The target moves linearly from ``start`` to ``end`` over [t0, t0 + duration)."""

    t0: float
    duration: float
    start: float
    end: float

    def count(self) -> float:
        """Requests due in this segment (the integral of the rate)."""
        return (self.start + self.end) / 2.0 * self.duration


def segments(start: float, stages: Sequence[tuple[float, float]], duration: float
             ) -> list[Segment]:
    """Segments for a plan: constant ``start`` for ``duration`` when there are no stages, else
    one linear segment per (duration, target) stage, each starting from the previous target."""
    if not stages:
        return [Segment(0.0, duration, start, start)] if duration > 0 else []
    out: list[Segment] = []
    t, value = 0.0, start
    for stage_duration, target in stages:
        if stage_duration > 0:
            out.append(Segment(t, stage_duration, value, target))
        t += stage_duration
        value = target
    return out


def target_at(segs: Sequence[Segment], t: float) -> float:
    """The target (rate or users) at time t; 0 outside the schedule."""
    for s in segs:
        if s.t0 <= t < s.t0 + s.duration:
            return s.start + (s.end - s.start) * (t - s.t0) / s.duration
    return 0.0


def arrival_times(segs: Sequence[Segment], shard: int = 0, shards: int = 1,
                  limit: int = 10**9) -> Iterator[float]:
    """Due times (seconds from the start) of the requests k = shard, shard+n, ... (n = shards),
    at most ``limit`` of them."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} not in 0..{shards - 1}")
    k = shard
    done = 0
    base = 0.0  # requests due before the current segment
    for s in segs:
        n = s.count()
        a = (s.end - s.start) / (2.0 * s.duration)  # N(dt) = base + start*dt + a*dt^2
        b = s.start
        while k < base + n - 1e-9 and done < limit:
            x = k - base
            disc = b * b + 4.0 * a * x
            denom = b + math.sqrt(max(disc, 0.0))
            dt = 2.0 * x / denom if denom > 0 else 0.0
            if dt >= s.duration:
                break
            yield s.t0 + dt
            k += shards
            done += 1
        base += n
        if done >= limit:
            return


def split_count(total: int, shard: int, shards: int) -> int:
    """Shard ``shard``'s share of ``total`` (users, connections): the shares add up to total."""
    return total // shards + (1 if shard < total % shards else 0)
