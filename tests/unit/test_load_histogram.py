"""Histogram: relative error bound, exact merges, serialization, coordinated omission."""

from __future__ import annotations

import json
import math
import random

import pytest

from readygate.load import RELATIVE_ERROR, Histogram, ResultError
from readygate.load.histogram import bucket_of, value_of


def exact(values: list[int], q: float) -> int:
    s = sorted(values)
    return s[max(1, math.ceil(q * len(s))) - 1]


def log_uniform(rng: random.Random, n: int, lo: float = 1e3, hi: float = 1e11) -> list[int]:
    return [int(math.exp(rng.uniform(math.log(lo), math.log(hi)))) for _ in range(n)]


def test_relative_error_is_at_most_one_percent() -> None:
    assert RELATIVE_ERROR <= 0.01
    rng = random.Random(1)
    for ns in log_uniform(rng, 20000, 2, 1e13):
        rep = value_of(bucket_of(ns))
        assert abs(rep - ns) / ns <= RELATIVE_ERROR * (1 + 1e-9), ns


@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99, 0.999])
def test_percentiles_within_bound_of_exact(q: float) -> None:
    rng = random.Random(q)
    values = log_uniform(rng, 5000)
    h = Histogram()
    for v in values:
        h.record_ns(v)
    got = h.percentile(q)
    assert got is not None
    want = exact(values, q) / 1e9
    assert abs(got - want) / want <= RELATIVE_ERROR * (1 + 1e-9)


def test_max_mean_min_are_exact() -> None:
    values = [1_000, 2_000_000, 3_500_000_000]
    h = Histogram()
    for v in values:
        h.record_ns(v)
    assert h.max == 3.5 and h.min == 1e-6
    assert h.mean == pytest.approx(sum(values) / 3 / 1e9)
    assert h.percentile(1.0) == 3.5


def test_merge_of_serialized_parts_equals_histogram_of_all_samples() -> None:
    rng = random.Random(7)
    values = log_uniform(rng, 30000)
    whole = Histogram()
    for v in values:
        whole.record_ns(v)
    parts = [Histogram() for _ in range(3)]
    for i, v in enumerate(values):
        parts[i % 3].record_ns(v)
    wire = [json.loads(json.dumps(p.to_dict())) for p in parts]
    merged = Histogram.merged(Histogram.from_dict(w) for w in wire)
    assert merged == whole
    assert merged.summary() == whole.summary()


def test_serialized_size_is_a_few_kilobytes() -> None:
    rng = random.Random(3)
    h = Histogram()
    for v in log_uniform(rng, 100000, 1e5, 1e10):  # 100 us .. 10 s
        h.record_ns(v)
    size = len(json.dumps(h.to_dict()))
    assert size < 8000, size


def test_empty_histogram_has_no_percentiles() -> None:
    h = Histogram()
    assert h.percentile(0.99) is None and h.summary() == {} and h.mean is None
    assert Histogram.from_dict(h.to_dict()) == h


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(count=d["count"] + 1),
    lambda d: d.update(format=99),
    lambda d: d.update(buckets=[1]),
    lambda d: d.pop("sumNs"),
])
def test_invalid_documents_are_refused(mutate: object) -> None:
    h = Histogram()
    h.record(0.01)
    h.record(0.02)
    d = h.to_dict()
    mutate(d)  # type: ignore[operator]
    with pytest.raises(ResultError):
        Histogram.from_dict(d)


def hdr_corrected(values: list[int], e: int) -> list[int]:
    """HdrHistogram's recordValueWithExpectedInterval, on raw values."""
    out = []
    for v in values:
        out.append(v)
        missing = v - e
        while missing >= e:
            out.append(missing)
            missing -= e
    return out


def test_coordinated_omission_correction_matches_hdrhistogram() -> None:
    e = 50_000_000  # 50 ms
    values = [50_000_000] * 2000 + [1_050_000_000] * 10
    h = Histogram()
    for v in values:
        h.record_ns(v)
    c = h.corrected(e)
    want = hdr_corrected(values, e)
    assert c.count == len(want)
    for q in (0.5, 0.9, 0.99, 0.999):
        got = c.percentile(q)
        assert got is not None
        assert abs(got - exact(want, q) / 1e9) / (exact(want, q) / 1e9) <= 0.021
    assert c.max == h.max
    # the uncorrected histogram hides the stall at p99, the corrected one does not
    assert (h.percentile(0.99) or 0) < 0.06 < (c.percentile(0.99) or 0)


def test_correction_without_slow_values_changes_nothing() -> None:
    h = Histogram()
    for v in (10, 20, 30):
        h.record(v / 1000)
    assert h.corrected(100_000_000) == h
