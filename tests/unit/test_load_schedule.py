"""Scheduling: due times for constant and ramping stages, shard splitting, plan validation."""

from __future__ import annotations

import itertools
import math

import pytest

from readygate.load import (
    MAX_DURATION,
    MAX_RATE,
    MAX_USERS,
    CapExceeded,
    LoadPlan,
    PlanError,
    RequestTemplate,
    Stage,
    StressPlan,
    Thresholds,
)
from readygate.load.schedule import arrival_times, segments, split_count, target_at

URL = "http://127.0.0.1:8080"


def test_constant_rate_arrivals() -> None:
    times = list(arrival_times(segments(10.0, [], 2.0)))
    assert len(times) == 20
    assert times == pytest.approx([k / 10 for k in range(20)])


def test_linear_ramp_up_follows_the_integral_of_the_rate() -> None:
    # rate 0 -> 10 req/s over 10 s: N(t) = t^2 / 2, so request k is due at sqrt(2k)
    times = list(arrival_times(segments(0.0, [(10.0, 10.0)], 0.0)))
    assert len(times) == 50
    assert times == pytest.approx([math.sqrt(2 * k) for k in range(50)])


def test_ramp_down_and_multi_stage_counts() -> None:
    down = list(arrival_times(segments(10.0, [(10.0, 0.0)], 0.0)))
    assert len(down) == 50 and all(0 <= t < 10 for t in down)
    assert down == sorted(down)
    # k6 ramping-arrival-rate: 0->20 over 5 s (50), hold 20 for 5 s (100), 20->0 over 5 s (50)
    multi = list(arrival_times(segments(0.0, [(5, 20), (5, 20), (5, 0)], 0.0)))
    assert len(multi) == 200
    assert sum(1 for t in multi if 5 <= t < 10) == 100
    gaps = [b - a for a, b in itertools.pairwise(multi) if 5.5 < a < 9.5]
    assert gaps == pytest.approx([0.05] * len(gaps))


@pytest.mark.parametrize("shards", [1, 2, 3, 7])
def test_shards_partition_the_schedule_exactly(shards: int) -> None:
    segs = segments(5.0, [(4.0, 50.0), (2.0, 50.0)], 0.0)
    full = list(arrival_times(segs))
    parts = [list(arrival_times(segs, i, shards)) for i in range(shards)]
    assert sorted(t for p in parts for t in p) == pytest.approx(full)
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1


def test_arrivals_are_bounded() -> None:
    assert len(list(arrival_times(segments(1000.0, [], 100.0), limit=123))) == 123
    with pytest.raises(ValueError):
        list(arrival_times(segments(1.0, [], 1.0), 3, 2))


@pytest.mark.parametrize("total,shards", [(10, 3), (1, 4), (0, 2), (1000, 16)])
def test_split_count_adds_up(total: int, shards: int) -> None:
    shares = [split_count(total, i, shards) for i in range(shards)]
    assert sum(shares) == total and max(shares) - min(shares) <= 1


def test_target_at_interpolates() -> None:
    segs = segments(10.0, [(10.0, 20.0), (5.0, 20.0)], 0.0)
    assert target_at(segs, 0) == 10 and target_at(segs, 5) == 15 and target_at(segs, 12) == 20
    assert target_at(segs, 15.0) == 0


@pytest.mark.parametrize("kwargs,error", [
    ({"rate": MAX_RATE + 1}, CapExceeded),
    ({"rate": 10, "duration": MAX_DURATION + 1}, CapExceeded),
    ({"model": "closed", "users": MAX_USERS + 1}, CapExceeded),
    ({"rate": 10, "stages": (Stage(10, MAX_RATE * 2),)}, CapExceeded),
    ({"rate": 10, "timeout": 0}, CapExceeded),
    ({"rate": 10, "connections": 0}, CapExceeded),
    ({}, PlanError),
    ({"model": "closed", "users": 2, "rate": 3}, PlanError),
    ({"model": "sideways", "rate": 1}, PlanError),
    ({"rate": -1}, PlanError),
    ({"rate": 10, "requests": ()}, PlanError),
    ({"rate": 10, "shard": (2, 2)}, PlanError),
])
def test_invalid_or_over_cap_plans_are_refused(kwargs: dict[str, object],
                                               error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        LoadPlan(URL, **kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("url", ["ftp://x", "127.0.0.1:80", "http://", "http://h:99999"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(PlanError):
        LoadPlan(url, rate=1)


@pytest.mark.parametrize("kwargs", [
    {"method": "G ET"}, {"path": "x"}, {"path": "/a b"}, {"headers": (("X", "a\r\nb"),)},
    {"weight": 0}, {"expect_status": ((99, 200),)}, {"expect_status": ()},
])
def test_invalid_templates_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(PlanError):
        RequestTemplate(**kwargs)  # type: ignore[arg-type]


def test_plan_json_round_trip() -> None:
    plan = LoadPlan(
        URL, model="open", rate=5, duration=3, stages=(Stage(1, 10), Stage(2, 0)),
        requests=(RequestTemplate("POST", "/a", (("X-A", "1"),), b"\x00body", 3, ((200, 299),)),
                  RequestTemplate()),
        timeout=2.5, connections=7, insecure=True, expected_interval=0.1,
        thresholds=Thresholds(p99=0.2, max_error_rate=0.01, min_samples=10), shard=(1, 3))
    assert LoadPlan.from_dict(plan.to_dict()) == plan
    stress = LoadPlan(URL, stress=StressPlan(10, 10, 50, 2, Thresholds(p95=0.1)))
    assert LoadPlan.from_dict(stress.to_dict()) == stress
    assert stress.stress is not None and stress.stress.rates() == [10, 20, 30, 40, 50]
    assert stress.total_duration == 10


def test_stress_caps() -> None:
    with pytest.raises(CapExceeded):
        LoadPlan(URL, stress=StressPlan(10, 10, MAX_RATE * 2, 1, Thresholds()))
    with pytest.raises(CapExceeded):
        LoadPlan(URL, stress=StressPlan(10, 10, 1000, MAX_DURATION, Thresholds()))
    with pytest.raises(PlanError):
        LoadPlan(URL, model="closed", users=1, stress=StressPlan(1, 1, 2, 1, Thresholds()))


def test_a_shard_split_again_into_processes_keeps_its_exact_share() -> None:
    # a Job pod runs shard i of n; its P worker processes run shards i + j*n of n*P
    segs = segments(30.0, [(2.0, 90.0)], 0.0)
    n, p = 3, 2
    for i in range(n):
        pod = list(arrival_times(segs, i, n))
        procs = [t for j in range(p) for t in arrival_times(segs, i + j * n, n * p)]
        assert sorted(procs) == pod


def test_spike_stages_shape() -> None:
    from readygate.load import spike_stages

    stages = spike_stages(10, 100, warm=5, rise=1, hold=3, fall=1, after=5)
    assert [s.target for s in stages] == [10, 100, 100, 10, 10]
    plan = LoadPlan(URL, rate=10, stages=stages)
    assert plan.total_duration == 15
    n = len(list(arrival_times(plan.segments())))
    assert n == 10 * 5 + 55 + 300 + 55 + 50
