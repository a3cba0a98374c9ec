"""A mergeable log-bucket latency histogram with a fixed relative error.

Owns the bucket layout (a DDSketch-style logarithmic mapping of integer nanoseconds), the
percentile query, the after-the-fact coordinated-omission correction for closed-model runs
(``corrected``, after HdrHistogram's recordValueWithExpectedInterval) and the compact JSON form.
Every histogram uses the same layout, so merging is an exact integer addition of bucket counts:
the merge of serialized histograms equals the histogram of all samples. Neighbours: the engine's
recorder (``recorder.py``) fills bucket counts on the hot path with ``bucket_of``; ``result.py``
carries histograms inside a ``LoadResult``; ``thresholds.py`` reads percentiles from them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ResultError

__all__ = [
    "COARSE",
    "GAMMA",
    "RELATIVE_ERROR",
    "Histogram",
    "bucket_of",
    "coarse_value_of",
    "value_of",
]

#: Bound on |reported - true| / true for every percentile (values >= 1 ns).
RELATIVE_ERROR = 0.0099
GAMMA = (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR)
INV_LOG_GAMMA = 1.0 / math.log(GAMMA)
#: The per-second timeline keeps coarser buckets (COARSE fine buckets each, ~5 % error).
COARSE = 5
FORMAT = 1
_NS = 1_000_000_000


def bucket_of(ns: int) -> int:
    """Bucket index of a value in integer nanoseconds: bucket i covers [GAMMA**i, GAMMA**(i+1))."""
    return int(math.log(ns) * INV_LOG_GAMMA) if ns > 1 else 0


def value_of(index: int) -> float:
    """Representative value (ns) of a bucket: within RELATIVE_ERROR of anything in it."""
    return 2.0 * GAMMA ** (index + 1) / (GAMMA + 1.0)


def coarse_value_of(index: int) -> float:
    """Representative value (ns) of a coarse (timeline) bucket."""
    g = GAMMA**COARSE
    return 2.0 * GAMMA ** (COARSE * index) * g / (g + 1.0)


def percentile_of(counts: Mapping[int, int], total: int, q: float, coarse: bool = False) -> float:
    """Nearest-rank percentile (ns) of sparse bucket counts; ``total`` must be > 0."""
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index in sorted(counts):
        seen += counts[index]
        if seen >= rank:
            return coarse_value_of(index) if coarse else value_of(index)
    return coarse_value_of(max(counts)) if coarse else value_of(max(counts))


@dataclass(eq=True)
class Histogram:
    """Latency counts in log buckets, plus the exact count, sum, min and max (nanoseconds)."""

    counts: dict[int, int] = field(default_factory=dict)
    count: int = 0
    sum_ns: int = 0
    min_ns: int = 0
    max_ns: int = 0

    # -- recording ---------------------------------------------------------------------------
    def record_ns(self, ns: int, n: int = 1) -> None:
        """Record ``n`` occurrences of a value given in integer nanoseconds."""
        ns = max(int(ns), 0)
        i = bucket_of(ns)
        self.counts[i] = self.counts.get(i, 0) + n
        if self.count == 0:
            self.min_ns = self.max_ns = ns
        else:
            self.min_ns = min(self.min_ns, ns)
            self.max_ns = max(self.max_ns, ns)
        self.count += n
        self.sum_ns += ns * n

    def record(self, seconds: float, n: int = 1) -> None:
        """Record a value given in seconds (rounded to the nanosecond)."""
        self.record_ns(round(seconds * _NS), n)

    def merge(self, other: Histogram) -> Histogram:
        """Add ``other`` into this histogram (exact) and return self."""
        if other.count == 0:
            return self
        for i, c in other.counts.items():
            self.counts[i] = self.counts.get(i, 0) + c
        if self.count == 0:
            self.min_ns, self.max_ns = other.min_ns, other.max_ns
        else:
            self.min_ns = min(self.min_ns, other.min_ns)
            self.max_ns = max(self.max_ns, other.max_ns)
        self.count += other.count
        self.sum_ns += other.sum_ns
        return self

    @classmethod
    def merged(cls, histograms: Iterable[Histogram]) -> Histogram:
        out = cls()
        for h in histograms:
            out.merge(h)
        return out

    def copy(self) -> Histogram:
        return Histogram(dict(self.counts), self.count, self.sum_ns, self.min_ns, self.max_ns)

    # -- queries -----------------------------------------------------------------------------
    def percentile(self, q: float) -> float | None:
        """The q-quantile (0 < q <= 1) in seconds by nearest rank, or None when empty."""
        if self.count == 0:
            return None
        if q >= 1.0:
            return self.max_ns / _NS
        v = percentile_of(self.counts, self.count, q)
        return min(max(v, self.min_ns), self.max_ns) / _NS

    @property
    def mean(self) -> float | None:
        return self.sum_ns / self.count / _NS if self.count else None

    @property
    def max(self) -> float | None:
        return self.max_ns / _NS if self.count else None

    @property
    def min(self) -> float | None:
        return self.min_ns / _NS if self.count else None

    def summary(self) -> dict[str, float]:
        """p50, p90, p95, p99, p999, max and mean in seconds (empty dict when no samples)."""
        if self.count == 0:
            return {}
        out = {
            name: float(self.percentile(q) or 0.0)
            for name, q in (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99),
                            ("p999", 0.999))
        }
        out["max"] = self.max_ns / _NS
        out["mean"] = self.sum_ns / self.count / _NS
        return out

    # -- coordinated omission ----------------------------------------------------------------
    def corrected(self, expected_interval_ns: int) -> Histogram:
        """A copy with HdrHistogram's after-the-fact coordinated-omission correction.

        For each recorded value v > E (the expected interval between a user's requests) the
        values v-E, v-2E, ... down to E are added, as if the requests that a stalled user did not
        send had been sent on time and waited. Worked per bucket, in closed form.
        """
        out = self.copy()
        e = int(expected_interval_ns)
        if e <= 0 or self.count == 0:
            return out
        for i, c in self.counts.items():
            v = min(max(round(value_of(i)), self.min_ns), self.max_ns)
            k_max = v // e - 1  # number of missing values: v-kE >= E for k = 1..k_max
            if k_max < 1:
                continue
            out.count += c * k_max
            out.sum_ns += c * (k_max * v - e * k_max * (k_max + 1) // 2)
            out.min_ns = min(out.min_ns, v - k_max * e)
            for j in range(bucket_of(v - k_max * e), bucket_of(v - e) + 1):
                lo, hi = GAMMA**j, GAMMA ** (j + 1)
                k_hi = min(k_max, math.floor((v - lo) / e))
                k_lo = max(1, math.floor((v - hi) / e) + 1)
                if k_hi >= k_lo:
                    out.counts[j] = out.counts.get(j, 0) + c * (k_hi - k_lo + 1)
        return out

    # -- serialization -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        keys = sorted(self.counts)
        return {
            "format": FORMAT,
            "relativeError": RELATIVE_ERROR,
            "count": self.count,
            "sumNs": self.sum_ns,
            "minNs": self.min_ns,
            "maxNs": self.max_ns,
            # sparse and delta-encoded: [first index, count, gap, count, gap, count, ...]
            "buckets": _encode(keys, self.counts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        try:
            if data.get("format") != FORMAT or data.get("relativeError") != RELATIVE_ERROR:
                raise ResultError(f"histogram layout mismatch: {data.get('format')!r}")
            counts = _decode(data["buckets"])
            h = cls(counts, int(data["count"]), int(data["sumNs"]), int(data["minNs"]),
                    int(data["maxNs"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultError(f"invalid histogram: {exc}") from exc
        if sum(counts.values()) != h.count:
            raise ResultError("invalid histogram: bucket counts do not add up to count")
        return h


def _encode(keys: list[int], counts: Mapping[int, int]) -> list[int]:
    out: list[int] = []
    prev = 0
    for k in keys:
        out.append(k - prev)
        out.append(counts[k])
        prev = k
    return out


def _decode(flat: list[int]) -> dict[int, int]:
    if len(flat) % 2:
        raise ValueError("odd bucket list")
    counts: dict[int, int] = {}
    index = 0
    for pos in range(0, len(flat), 2):
        index += int(flat[pos])
        c = int(flat[pos + 1])
        if c <= 0 or (pos and int(flat[pos]) <= 0):
            raise ValueError("bucket list not increasing or count not positive")
        counts[index] = c
    return counts
