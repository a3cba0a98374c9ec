"""The load engine: the open model (constant or ramping arrival rate, latency from the intended
send time) and the closed model (N users back to back, coordinated-omission corrected after the
fact), driving channels of a ``Transport`` on the current event loop.

Owns ``run_load`` and the two drivers. Open model: requests fall due on the schedule of
``schedule.py``; a due request waits in a queue when every connection (at most
``plan.connections``) is busy, and is *dropped* (counted as an error) if it cannot be sent
within ``plan.timeout`` of its due time; a send more than ``LATE_NS`` after its due time is
counted as late. Closed model: each user owns one connection and sends again as soon as a
response arrives; the user count follows the stages. Both enforce per-request timeouts with a
sweeper, count every failure by kind (never raise on a target fault) and stop by themselves:
the schedule is bounded, and draining lasts at most one timeout. Neighbours: ``client.py`` (the
default transport), ``recorder.py`` (bookkeeping), ``stress.py`` (stepped runs), ``workers.py``
(processes). Imports neither kopf nor kubernetes.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any

from .errors import ConnectError
from .pacer import Pacer
from .plan import LoadPlan
from .recorder import NS, Recorder
from .result import LoadResult
from .schedule import arrival_times, split_count, target_at
from .stress import Stepping
from .transport import Channel, Transport

__all__ = ["LATE_NS", "Progress", "run_load"]

LATE_NS = 10_000_000  # a send 10 ms after its due time is late
MAX_PENDING = 200_000  # open model: due requests queued beyond this are dropped at once
RECONNECT_BACKOFF = 0.05  # closed model: pause after a failed connect
MAX_START_WAIT = 120.0  # never wait longer than this for plan.start_at


@dataclass(frozen=True)
class Progress:
    elapsed: float
    duration: float
    requests: int
    errors: int
    in_flight: int


ProgressCallback = Callable[[Progress], None]


def _template_sequence(weights: list[int]) -> list[int]:
    """Smooth weighted round-robin order (nginx's), one full cycle."""
    current = [0] * len(weights)
    total = sum(weights)
    seq = []
    for _ in range(total):
        for i, w in enumerate(weights):
            current[i] += w
        best = max(range(len(weights)), key=lambda i: current[i])
        current[best] -= total
        seq.append(best)
    return seq


class _Run:
    """State shared by both models; the Listener of every channel."""

    def __init__(self, plan: LoadPlan, transport: Transport) -> None:
        self.plan = plan
        self.transport = transport
        self.shard, self.shards = plan.shard
        self.timeout_ns = int(plan.timeout * NS)
        self.tick = min(0.1, max(0.005, plan.timeout / 10))
        self.ok_status = [frozenset(s for lo, hi in t.expect_status for s in range(lo, hi + 1))
                          for t in plan.requests]
        self.seq = _template_sequence([t.weight for t in plan.requests])
        self.nseq = len(self.seq)
        self.k = self.shard  # interleave template choice across shards
        self.channels: set[Channel] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.inflight = 0
        self.late = 0
        self.stopping = False
        self.t0 = 0
        self.wall0 = 0.0
        self.rec = Recorder(0)
        self.status_kind: dict[int, str] = {}

    # -- shared helpers ------------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _next_index(self) -> int:
        k = self.k
        self.k = k + self.shards
        return self.seq[k % self.nseq]

    def _kind(self, status: int) -> str:
        kind = self.status_kind.get(status)
        if kind is None:
            kind = self.status_kind[status] = f"status:{status}"
        return kind

    def _record_response(self, ch: Channel, status: int, now: int) -> None:
        ch.busy = False
        self.inflight -= 1
        if status in self.ok_status[ch.index]:
            self.rec.ok(now, now - ch.t_start)
        else:
            self.rec.bad(now, now - ch.t_start, self._kind(status))

    def _retire(self, ch: Channel) -> None:
        if not ch.closed:
            ch.abort()
        self.channels.discard(ch)

    async def _sweep(self) -> None:
        """Time out requests in flight longer than plan.timeout (from their actual send)."""
        while True:
            await asyncio.sleep(self.tick)
            now = perf_counter_ns()
            limit = now - self.timeout_ns
            for ch in [c for c in self.channels if c.busy and c.t_sent < limit]:
                ch.busy = False
                self.inflight -= 1
                self._retire(ch)
                self.rec.bad(now, now - ch.t_start, "timeout")
                self._after_loss(ch, error=True)
            self._on_tick(now)

    def _after_loss(self, ch: Channel, error: bool) -> None:
        raise NotImplementedError

    def _on_tick(self, now: int) -> None:
        pass

    def on_lost(self, ch: Channel, kind: str) -> None:
        self.channels.discard(ch)
        ch.closed = True
        if ch.busy:
            ch.busy = False
            self.inflight -= 1
            self.rec.fail(perf_counter_ns(), kind)
            self._after_loss(ch, error=True)
        else:
            self._after_loss(ch, error=False)

    async def _wait_start(self) -> None:
        if self.plan.start_at is not None:
            delay = min(self.plan.start_at - time.time(), MAX_START_WAIT)
            if delay > 0:
                await asyncio.sleep(delay)

    async def _drain(self) -> None:
        deadline = perf_counter_ns() + self.timeout_ns + int(2 * self.tick * NS)
        while self._busy() and perf_counter_ns() < deadline:  # noqa: ASYNC110 - bounded
            await asyncio.sleep(min(self.tick, 0.01))

    def _busy(self) -> bool:
        return self.inflight > 0

    def _finish(self, model: str, duration_planned: float) -> LoadResult:
        now = perf_counter_ns()
        for ch in list(self.channels):
            if ch.busy:
                ch.busy = False
                self.inflight -= 1
                self.rec.bad(now, now - ch.t_start, "timeout")
            self._retire(ch)
        for task in self.tasks:
            task.cancel()
        self.transport.close()
        hist, timeline = self.rec.finish(now)
        elapsed = max((now - self.t0) / NS, duration_planned)
        corrected = None
        if model == "closed" and hist.count:
            interval = self.plan.expected_interval
            e_ns = int(interval * NS) if interval else int((hist.percentile(0.5) or 0) * NS)
            corrected = hist.corrected(e_ns)
        return LoadResult(
            model=model, duration=elapsed, requests=self.rec.requests,
            errors=dict(self.rec.errors), late=self.late, histogram=hist, corrected=corrected,
            timeline=timeline, target_rate=self._target_rate(), users=self._users(), shards=1,
            started=self.wall0)

    def _target_rate(self) -> float | None:
        return None

    def _users(self) -> int | None:
        return None

    def progress(self) -> Progress:
        req, err = self.rec.live()
        return Progress((perf_counter_ns() - self.t0) / NS, self.plan.total_duration, req, err,
                        self.inflight)


class _OpenRun(_Run):
    def __init__(self, plan: LoadPlan, transport: Transport) -> None:
        super().__init__(plan, transport)
        self.max_conn = max(1, split_count(plan.connections, self.shard, self.shards))
        self.pending: deque[int] = deque()
        self.idle: list[Channel] = []
        self.connecting = 0

    async def run(self) -> LoadResult:
        await self._wait_start()
        segs = self.plan.segments()
        self.t0 = t0 = perf_counter_ns()
        self.wall0 = time.time()
        self.rec = Recorder(t0)
        self._spawn(self._sweep())
        end = t0 + int(self.plan.total_duration * NS)
        for t in arrival_times(segs, self.shard, self.shards):
            due = t0 + int(t * NS)
            wait = due - perf_counter_ns()
            if wait > 500_000:
                await asyncio.sleep(wait / NS)
            if due >= end:
                break
            pending = self.pending
            if len(pending) >= MAX_PENDING:
                self.rec.fail(perf_counter_ns(), "dropped")
                continue
            pending.append(due)
            self._pump()
        await self._drain()
        self.stopping = True
        now = perf_counter_ns()
        while self.pending:
            self.pending.popleft()
            self.rec.fail(now, "dropped")
        return self._finish("open", self.plan.total_duration)

    def _busy(self) -> bool:
        return self.inflight > 0 or bool(self.pending)

    def _send(self, ch: Channel, due: int) -> None:
        now = perf_counter_ns()
        if now - due > LATE_NS:
            self.late += 1
        ch.t_start = due
        ch.t_sent = now
        ch.busy = True
        self.inflight += 1
        ch.send(self._next_index())

    def _pump(self) -> None:
        pending, idle = self.pending, self.idle
        while pending and idle:
            ch = idle.pop()
            if not ch.closed:
                self._send(ch, pending.popleft())
        if pending and not self.stopping:
            room = self.max_conn - len(self.channels) - self.connecting
            for _ in range(min(room, len(pending) - self.connecting)):
                self.connecting += 1
                self._spawn(self._connect())

    async def _connect(self) -> None:
        try:
            ch = await self.transport.connect(self)
        except ConnectError as exc:
            self.connecting -= 1
            if self.pending:
                self.pending.popleft()
                self.rec.fail(perf_counter_ns(), exc.kind)
            return
        self.connecting -= 1
        if self.stopping:
            ch.abort()
            return
        self.channels.add(ch)
        self.idle.append(ch)
        self._pump()

    def on_response(self, ch: Channel, status: int, keep_alive: bool) -> None:
        now = perf_counter_ns()
        self._record_response(ch, status, now)
        if not keep_alive:
            self._retire(ch)
            self._pump()
        elif self.pending:
            self._send(ch, self.pending.popleft())
        else:
            self.idle.append(ch)

    def _after_loss(self, ch: Channel, error: bool) -> None:
        self._pump()

    def _on_tick(self, now: int) -> None:
        limit = now - self.timeout_ns
        pending = self.pending
        while pending and pending[0] < limit:
            pending.popleft()
            self.rec.fail(now, "dropped")
        self._pump()

    def _target_rate(self) -> float | None:
        segs = self.plan.segments()
        total = sum(s.count() for s in segs)
        duration = self.plan.total_duration
        return total / duration / self.shards if duration else None


class _ClosedRun(_Run):
    def __init__(self, plan: LoadPlan, transport: Transport) -> None:
        super().__init__(plan, transport)
        self.desired = 0
        self.running = 0
        # users send back to back: without a pacer their rate is whatever the target allows
        self.pacer = (Pacer(plan.max_rate / self.shards, burst=max(1.0, plan.max_rate / 100))
                      if plan.max_rate is not None else None)

    async def run(self) -> LoadResult:
        await self._wait_start()
        segs = self.plan.segments()
        self.t0 = t0 = perf_counter_ns()
        self.wall0 = time.time()
        self.rec = Recorder(t0)
        self._spawn(self._sweep())
        total = self.plan.total_duration
        end = t0 + int(total * NS)
        while True:
            now = perf_counter_ns()
            if now >= end:
                break
            users = round(target_at(segs, (now - t0) / NS))
            self._set_users(split_count(users, self.shard, self.shards))
            await asyncio.sleep(min(0.1, (end - now) / NS))
        self.stopping = True
        self.desired = 0
        await self._drain()
        return self._finish("closed", total)

    def _set_users(self, n: int) -> None:
        self.desired = n
        for u in range(self.running, n):
            self._spawn(self._user(u, 0.0))
        self.running = n

    async def _user(self, u: int, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        while not self.stopping and u < self.desired:
            try:
                ch = await self.transport.connect(self)
            except ConnectError as exc:
                self.rec.fail(perf_counter_ns(), exc.kind)
                await asyncio.sleep(RECONNECT_BACKOFF)
                continue
            if self.stopping or u >= self.desired:
                ch.abort()
                return
            ch.user = u
            self.channels.add(ch)
            self._paced_send(ch)
            return

    def _send(self, ch: Channel) -> None:
        if ch.closed or self.stopping or ch.user >= self.desired:
            if not ch.closed:
                self._retire(ch)
            return
        ch.t_start = ch.t_sent = perf_counter_ns()
        ch.busy = True
        self.inflight += 1
        ch.send(self._next_index())

    def _paced_send(self, ch: Channel) -> None:
        """Send now, or when the pacer gives this user its turn (the wait is not latency)."""
        delay = self.pacer.take(perf_counter_ns()) if self.pacer is not None else 0
        if delay <= 0:
            self._send(ch)
        else:
            asyncio.get_running_loop().call_later(delay / NS, self._send, ch)

    def on_response(self, ch: Channel, status: int, keep_alive: bool) -> None:
        now = perf_counter_ns()
        self._record_response(ch, status, now)
        if self.stopping or ch.user >= self.desired:
            self._retire(ch)
        elif not keep_alive:
            self._retire(ch)
            self._spawn(self._user(ch.user, 0.0))
        else:
            self._paced_send(ch)

    def _after_loss(self, ch: Channel, error: bool) -> None:
        if not self.stopping and 0 <= ch.user < self.desired:
            self._spawn(self._user(ch.user, RECONNECT_BACKOFF if error else 0.0))

    def _users(self) -> int | None:
        peak = max([s.start for s in self.plan.segments()] +
                   [s.end for s in self.plan.segments()], default=0.0)
        return split_count(round(peak), self.shard, self.shards)


async def _report(run: _Run, callback: ProgressCallback, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        callback(run.progress())


async def run_load(plan: LoadPlan, transport: Transport | None = None, *,
                   on_progress: ProgressCallback | None = None,
                   progress_every: float = 1.0) -> LoadResult:
    """Run ``plan`` (its shard ``plan.shard``) on the current event loop and return the result.

    ``transport`` defaults to the HTTP client of ``client.py``; pass a ``FakeTransport`` in
    tests. A stress plan runs its steps one after another (see ``stress.py``).
    """
    if plan.stress is not None:
        return await _run_stress(plan, transport, on_progress=on_progress)
    if transport is None:
        from .client import HttpTransport

        transport = HttpTransport(plan.base_url, plan.requests, insecure=plan.insecure,
                                  ca_file=plan.ca_file, connect_timeout=plan.timeout,
                                  connect_to=plan.connect_to)
    run: _Run = _OpenRun(plan, transport) if plan.model == "open" else _ClosedRun(plan, transport)
    reporter = None
    if on_progress is not None:
        reporter = asyncio.ensure_future(_report(run, on_progress, progress_every))
    try:
        return await run.run()  # type: ignore[attr-defined, no-any-return]
    finally:
        if reporter is not None:
            reporter.cancel()
        for task in list(run.tasks):
            task.cancel()
        for ch in list(run.channels):
            run._retire(ch)


async def _run_stress(plan: LoadPlan, transport: Transport | None, *,
                      on_progress: ProgressCallback | None = None) -> LoadResult:
    """A stress plan in this process: one constant-rate step after another (``stress``)."""
    stepping = Stepping(plan)
    for rate, step in stepping.plans():
        if not stepping.record(rate, await run_load(step, transport, on_progress=on_progress)):
            break
    return stepping.combined()
