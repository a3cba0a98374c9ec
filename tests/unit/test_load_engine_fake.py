"""The engine against the in-memory transport (fake.py): counts, errors by kind, timeouts,
drops, weights, stages and stress, without sockets."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque

import pytest

from readygate.load import LoadPlan, RequestTemplate, Stage, StressPlan, Thresholds, run_load
from readygate.load.fake import FakeTransport, Outcome

URL = "http://127.0.0.1:9"


def run(plan: LoadPlan, transport: FakeTransport):  # type: ignore[no-untyped-def]
    return asyncio.run(run_load(plan, transport))


def test_open_model_sends_exactly_the_schedule() -> None:
    t = FakeTransport(lambda i: (200, 0.005))
    r = run(LoadPlan(URL, rate=200, duration=1.0), t)
    assert r.requests == t.sent == 200
    # none late on a quiet machine; a busy one may deschedule us for a few sends' worth
    assert r.errors == {} and r.late <= 20
    p50 = r.latency.percentile(0.5)
    assert p50 is not None and 0.0049 <= p50 <= 0.015
    assert r.target_rate == pytest.approx(200)
    assert sum(s.requests for s in r.timeline) == 200


def test_unexpected_statuses_are_errors_by_kind() -> None:
    n = 0

    def handler(i: int) -> Outcome:
        nonlocal n
        n += 1
        return (500 if n % 10 == 0 else 200, 0.001)

    r = run(LoadPlan(URL, rate=200, duration=1.0), FakeTransport(handler))
    assert r.errors == {"status:500": 20}
    assert r.error_rate == pytest.approx(0.1)
    assert r.histogram.count == 200  # error responses have latencies too


def test_timeouts_are_counted_and_the_run_stays_bounded() -> None:
    t = FakeTransport(lambda i: "hang")
    start = time.monotonic()
    r = run(LoadPlan(URL, rate=50, duration=0.5, timeout=0.2), t)
    assert time.monotonic() - start < 0.5 + 0.2 + 0.5
    assert r.errors == {"timeout": 25} and r.requests == 25
    assert (r.latency.percentile(0.5) or 0) >= 0.2  # a timeout's latency is honest


def test_resets_and_refused_connections_never_crash_the_run() -> None:
    r = run(LoadPlan(URL, rate=100, duration=0.3), FakeTransport(lambda i: "reset"))
    assert r.errors == {"reset": 30}
    r = run(LoadPlan(URL, rate=100, duration=0.3), FakeTransport(lambda i: (200, 0), "connect"))
    assert r.errors == {"connect": 30} and r.histogram.count == 0


def test_sends_that_cannot_go_out_within_the_timeout_are_dropped() -> None:
    t = FakeTransport(lambda i: (200, 0.4))
    r = run(LoadPlan(URL, rate=20, duration=1.0, connections=1, timeout=0.3), t)
    assert r.requests == 20
    assert r.dropped > 5 and r.late > 0
    assert r.errors.get("timeout", 0) + r.dropped + r.histogram.count >= 20


def test_latency_is_measured_from_the_intended_send_time() -> None:
    # one connection, 100 ms service, 20 req/s: the queue grows by 50 ms per request
    t = FakeTransport(lambda i: (200, 0.1))
    r = run(LoadPlan(URL, rate=20, duration=0.5, connections=1, timeout=5), t)
    assert r.requests == 10 and r.errors == {}
    assert (r.histogram.max or 0) >= 0.1 + 9 * 0.05 - 0.01


def test_closed_model_users_back_to_back() -> None:
    t = FakeTransport(lambda i: (200, 0.01))
    r = run(LoadPlan(URL, model="closed", users=4, duration=1.0), t)
    assert r.requests == t.sent
    assert 200 <= r.requests <= 400
    assert t.connects == 4 and r.users == 4
    assert r.corrected is not None


def test_closed_model_ramps_users() -> None:
    t = FakeTransport(lambda i: (200, 0.01))
    r = run(LoadPlan(URL, model="closed", users=0, stages=(Stage(1.0, 10),)), t)
    assert 3 <= t.connects <= 10
    assert r.requests == t.sent


def test_weights_interleave_templates_deterministically() -> None:
    seen: Counter[int] = Counter()

    def handler(i: int) -> Outcome:
        seen[i] += 1
        return (200, 0.0)

    plan = LoadPlan(URL, rate=400, duration=0.5,
                    requests=(RequestTemplate(path="/a", weight=3), RequestTemplate(path="/b")))
    run(plan, FakeTransport(handler))
    assert seen == {0: 150, 1: 50}


def test_stress_steps_until_the_thresholds_break() -> None:
    sends: deque[float] = deque()

    def handler(i: int) -> Outcome:  # fails when more than 125 req/s arrive
        now = time.monotonic()
        sends.append(now)
        while sends and sends[0] < now - 0.2:
            sends.popleft()
        return (500 if len(sends) > 25 else 200, 0.001)

    stress = StressPlan(50, 50, 250, 0.6, Thresholds(max_error_rate=0.05))
    r = run(LoadPlan(URL, stress=stress), FakeTransport(handler))
    assert r.stress is not None
    assert r.stress.knee == 100 and r.stress.broke_at == 150
    assert [s.verdict for s in r.stress.steps] == ["Passed", "Passed", "Failed"]
