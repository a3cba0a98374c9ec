"""No false verdict from the operator's own overload: a probe whose time went to the operator's
late event loop is retried, then reported as overload, and the judges never count it against
the target (run.lag, run.prober, judge.health)."""

from __future__ import annotations

import asyncio
import socket
import time

from readygate.api.parse import parse_spec
from readygate.judge.answers import Sample
from readygate.judge.health import judge_liveness, readiness_failed
from readygate.run.lag import LagMonitor
from readygate.run.prober import Prober

LIVENESS = parse_spec({"target": {"url": "http://a.example.com/"}}).liveness


def test_delayed_probes_are_not_failures_and_a_mostly_delayed_window_is_inconclusive() -> None:
    ok = [Sample(i, True, status=200) for i in range(8)]
    delayed = [Sample(8 + i, False, error="timeout", overloaded=True) for i in range(3)]
    judged = judge_liveness(ok + delayed, LIVENESS, restarts=0, started_at="a", finished_at="b")
    assert judged.result == "Passed", judged.message  # 3 delayed in a row: not 3 failures
    mostly = judge_liveness(ok[:2] + delayed, LIVENESS, restarts=0, started_at="a",
                            finished_at="b")
    assert mostly.result == "Inconclusive" and "overload" in mostly.message


def test_a_budget_that_ran_out_in_the_operators_overload_is_inconclusive() -> None:
    delayed = [Sample(i, False, error="timeout", overloaded=True) for i in range(6)]
    result = readiness_failed([Sample(0, False, status=503), *delayed], "/ready", 30,
                              started_at="a", finished_at="b", pods_ready="2/2")
    assert result.result == "Inconclusive" and "overloaded" in result.message
    honest = readiness_failed([Sample(i, False, status=503) for i in range(6)], "/ready", 30,
                              started_at="a", finished_at="b", pods_ready="0/1")
    assert honest.result == "Failed"


def test_the_lag_monitor_sees_a_blocked_loop() -> None:
    async def go() -> tuple[float, float]:
        lag = LagMonitor(interval=0.02)
        task = asyncio.create_task(lag.run())
        await asyncio.sleep(0.1)
        before = time.monotonic()
        time.sleep(0.3)  # noqa: ASYNC251 - the operator's loop, blocked on purpose
        await asyncio.sleep(0.1)
        task.cancel()
        return lag.max_since(before), lag.max_since(time.monotonic())

    seen, after = asyncio.run(go())
    assert seen >= 0.25 and after == 0.0


class _Late(LagMonitor):
    """A loop that ran ``late`` seconds behind whenever asked."""

    def __init__(self, late: float) -> None:
        super().__init__()
        self.late = late

    def max_since(self, since: float) -> float:
        return self.late


def test_a_probe_timed_out_by_the_operators_lag_is_retried_then_reported_as_overload() -> None:
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(16)  # accepts, never answers
    url = f"http://127.0.0.1:{hang.getsockname()[1]}/ready"

    async def probe(lag: LagMonitor) -> tuple[Sample, float]:
        prober = Prober(lag=lag)
        try:
            t0 = time.monotonic()
            sample = await prober.get(url, timeout=0.3, at=0.0)
            return sample, time.monotonic() - t0
        finally:
            await prober.aclose()

    try:
        late, took_late = asyncio.run(probe(_Late(1.0)))
        calm, took_calm = asyncio.run(probe(_Late(0.0)))
    finally:
        hang.close()
    assert late.overloaded and not late.ok and "overloaded" in (late.error or "")
    assert took_late >= 0.55  # tried twice
    assert not calm.overloaded and "timeout" in (calm.error or "") and took_calm < 0.55
