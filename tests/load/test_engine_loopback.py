"""The load engine against real loopback servers (bench/loopback.py in a subprocess): the
numbers it reports must match what the servers saw and what the server schedule implies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from readygate.load import (
    CapExceeded,
    LoadPlan,
    RequestTemplate,
    Stage,
    Thresholds,
    judge,
    run_in_new_loop,
    run_load_subprocess,
    run_processes,
)

pytestmark = pytest.mark.load
Start = Callable[..., Any]  # the loopback fixture: starts a server (conftest.Server)


def test_open_model_counts_match_the_server(loopback: Start) -> None:
    s = loopback()
    r = run_in_new_loop(LoadPlan(s.url, rate=300, duration=2.0))
    stats = s.stats()
    assert r.requests == 600 == stats["requests"]
    assert r.errors == {}
    assert stats["connections"] <= 50
    assert judge(r, Thresholds(p99=0.5, max_error_rate=0.0, min_samples=600)).result == "Passed"


def test_closed_model_counts_match_the_server_and_reuse_connections(loopback: Start) -> None:
    s = loopback(delay=0.005)
    r = run_in_new_loop(LoadPlan(s.url, model="closed", users=5, duration=1.5))
    stats = s.stats()
    assert r.requests == stats["requests"] and r.requests > 5 * 100
    assert stats["connections"] == 5  # keep-alive: one connection per user, reused
    assert r.errors == {}
    p50 = r.histogram.percentile(0.5)
    assert p50 is not None and 0.005 <= p50 < 0.02


def test_error_rate_of_an_erroring_server(loopback: Start) -> None:
    s = loopback(error_every=20)  # exactly 5 % 500s
    r = run_in_new_loop(LoadPlan(s.url, rate=1000, duration=2.0))
    assert r.requests == s.stats()["requests"] == 2000
    assert r.errors == {"status:500": 100}
    assert r.error_rate == pytest.approx(0.05, abs=0.001)
    j = judge(r, Thresholds(max_error_rate=0.01))
    assert j.result == "Failed" and j.failures[0].threshold == "max_error_rate"


def test_open_model_p99_under_a_stall_is_near_the_truth(loopback: Start,
                                                        truth: ModuleType) -> None:
    s = loopback(delay=0.05, freeze_after=1.5, freeze_for=1.0)
    rate, duration = 200.0, 4.0
    r = run_in_new_loop(LoadPlan(s.url, rate=rate, duration=duration, connections=50))
    freeze = s.stats()["freeze"]
    assert freeze is not None
    intended = [r.started + k / rate for k in range(int(rate * duration))]
    lat = truth.stall_truth(intended, 0.05, freeze)
    want = truth.nearest_rank(lat, 0.99)
    got = r.latency.percentile(0.99)
    assert got is not None
    assert abs(got - want) / want <= 0.10, (got, want)
    assert r.requests == 800 and r.errors == {}


def test_closed_model_hides_a_stall_unless_corrected(loopback: Start,
                                                     truth: ModuleType) -> None:
    # 10 users x 20 ms service = the same offered load as an open model at 500 req/s
    s = loopback(delay=0.02, freeze_after=1.5, freeze_for=1.0)
    r = run_in_new_loop(LoadPlan(s.url, model="closed", users=10, duration=4.0))
    freeze = s.stats()["freeze"]
    intended = [r.started + k / 500.0 for k in range(2000)]
    want = truth.nearest_rank(truth.stall_truth(intended, 0.02, freeze), 0.99)
    raw = r.histogram.percentile(0.99)
    corrected = r.latency.percentile(0.99)
    assert raw is not None and corrected is not None
    assert raw < 0.5 * want  # the closed model alone hides the stall ...
    print(f"closed p99 raw {raw:.3f} corrected {corrected:.3f} truth {want:.3f}")
    assert abs(corrected - want) / want <= 0.15, (corrected, want)  # ... the correction shows it


def test_timeouts_are_counted_by_kind(loopback: Start) -> None:
    s = loopback(hang_path="/hang")
    plan = LoadPlan(s.url, rate=100, duration=1.0, timeout=0.3,
                    requests=(RequestTemplate(path="/hang"), RequestTemplate(path="/ok")))
    start = time.monotonic()
    r = run_in_new_loop(plan)
    assert time.monotonic() - start < 1.0 + 0.3 + 1.0
    assert r.errors == {"timeout": 50}
    assert r.requests == 100 == s.stats()["requests"]
    assert s.stats()["paths"] == {"/hang": 50, "/ok": 50}


def test_server_closing_connections_is_not_an_error(loopback: Start) -> None:
    s = loopback(close_every=7)
    r = run_in_new_loop(LoadPlan(s.url, model="closed", users=3, duration=1.0))
    assert r.errors == {} and r.requests == s.stats()["requests"]
    r = run_in_new_loop(LoadPlan(s.url, rate=200, duration=1.0))
    assert r.errors == {} and r.requests == 200


def test_refused_connections_are_counted_not_raised() -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    url = f"http://127.0.0.1:{port}"
    r = run_in_new_loop(LoadPlan(url, rate=50, duration=0.5))
    assert r.errors == {"connect": 25} and r.requests == 25
    assert judge(r, Thresholds(p99=1.0)).result == "Failed"
    r = run_in_new_loop(LoadPlan(url, model="closed", users=2, duration=0.5))
    assert set(r.errors) == {"connect"} and r.histogram.count == 0


def test_two_processes_split_the_rate_and_merge_exactly(loopback: Start) -> None:
    s = loopback()
    r = run_processes(LoadPlan(s.url, rate=400, duration=1.5), 2)
    assert r.shards == 2
    assert r.requests == 600 == s.stats()["requests"]
    assert r.target_rate == pytest.approx(400)
    assert sum(x.requests for x in r.timeline) == 600


def test_subprocess_runner_returns_the_result(loopback: Start) -> None:
    s = loopback()
    r = asyncio.run(run_load_subprocess(LoadPlan(s.url, rate=100, duration=1.0)))
    assert r.requests == 100 == s.stats()["requests"]


def test_subprocess_runner_is_cancellable_and_kills_the_child(loopback: Start) -> None:
    s = loopback()

    async def cancel_soon() -> None:
        task = asyncio.ensure_future(
            run_load_subprocess(LoadPlan(s.url, rate=100, duration=60.0), processes=2))
        await asyncio.sleep(3.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    start = time.monotonic()
    asyncio.run(cancel_soon())
    assert time.monotonic() - start < 10
    seen = s.stats()["requests"]
    time.sleep(1.0)
    assert s.stats()["requests"] == seen  # nothing sends any more: child and workers are gone


def test_subprocess_runner_is_bounded_in_time(loopback: Start) -> None:
    from readygate.load import WorkerError

    s = loopback()
    with pytest.raises(WorkerError):
        asyncio.run(run_load_subprocess(LoadPlan(s.url, rate=10, duration=30.0), timeout=2.0))


def test_closed_model_users_are_paced_to_the_plans_max_rate(loopback: Start) -> None:
    # 20 users back to back against a fast server would send thousands of req/s; the plan's
    # max_rate (what the operator reserves of its global cap) bounds them, in the engine
    s = loopback()
    plan = LoadPlan(s.url, model="closed", users=20, duration=2.0, max_rate=25.0)
    result = run_in_new_loop(plan)
    assert s.stats()["requests"] == result.requests
    assert 40 <= result.requests <= 25 * 2 + 2, result.requests  # the burst of one, then 25/s


def test_an_open_plan_above_its_max_rate_is_refused() -> None:
    with pytest.raises(CapExceeded, match="more than its max_rate"):
        LoadPlan("http://127.0.0.1:9", rate=50, duration=1, max_rate=30)
    with pytest.raises(CapExceeded):
        LoadPlan("http://127.0.0.1:9", rate=10, duration=4, max_rate=30,
                 stages=(Stage(2, 10), Stage(2, 40)))
