"""A hostile target cannot make a probe read without bound, last past its timeout, or take the
connections another tenant's probes need (run.prober). Loopback servers only."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest

from readygate.judge.answers import Answer
from readygate.load.pacer import Pacer
from readygate.run.context import RunContext
from readygate.run.prober import CHECK_CONNECTIONS, TARGET_CONNECTIONS, Prober
from readygate.run.stages.resilience import MAX_IN_FLIGHT, Traffic
from readygate.run.stages.security import gather_limited


class Server:
    """A raw TCP server on loopback whose per-connection behaviour a test chooses."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            if self.behaviour == "huge":
                size = 256 * 2**20
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
                chunk = b"x" * 2**20
                for _ in range(256):
                    if self.stop.is_set():
                        break
                    conn.sendall(chunk)
            elif self.behaviour == "trickle":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                for _ in range(1000):
                    if self.stop.is_set():
                        break
                    conn.sendall(b"x")
                    time.sleep(0.3)
            elif self.behaviour == "hang":
                self.stop.wait(30)
            elif self.behaviour == "fat":  # all a probe may keep: 64 KiB of body, 90 headers
                body = b"e" * 65_000
                pad = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"v" * 900) for i in range(90))
                conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\n" + pad
                             + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    s = Server(request.param)
    yield s
    s.close()


def _rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("server", ["huge"], indirect=True)
def test_a_256_mib_body_is_not_read(server: Server) -> None:
    async def go() -> tuple[int | None, int, int | None]:
        prober = Prober()
        try:
            answer = await prober.request("GET", f"http://127.0.0.1:{server.port}/ready",
                                          timeout=10)
            sample = await prober.get(f"http://127.0.0.1:{server.port}/ready", timeout=10,
                                      at=0.0)
            return answer.status, len(answer.body), sample.status
        finally:
            await prober.aclose()

    before = _rss_mib()
    status, kept, probed = asyncio.run(go())
    assert status == 200 and probed == 200
    assert kept <= 65_536
    assert _rss_mib() - before < 64, "the prober read far more than its body limit"


@pytest.mark.parametrize("server", ["trickle"], indirect=True)
def test_a_trickling_body_cannot_outlast_the_timeout(server: Server) -> None:
    async def go() -> tuple[float, str | None]:
        prober = Prober()
        try:
            t0 = time.monotonic()
            answer = await prober.request("GET", f"http://127.0.0.1:{server.port}/", timeout=1)
            return time.monotonic() - t0, answer.error
        finally:
            await prober.aclose()

    took, error = asyncio.run(go())
    assert error is not None and "timeout" in error
    assert took < 2.0, f"a 1 s probe lasted {took:.1f}s"


def test_one_checks_slow_target_does_not_starve_another_check() -> None:
    slow, fast = Server("hang"), Server("ok")

    async def go() -> tuple[float, int | None, int]:
        base = Prober()
        hostile = base.for_check("team-a", "slow")
        other = base.for_check("team-b", "fast")
        try:
            flood = [asyncio.create_task(hostile.request(
                "GET", f"http://127.0.0.1:{slow.port}/", timeout=5)) for _ in range(200)]
            await asyncio.sleep(0.5)
            t0 = time.monotonic()
            answer = await other.request("GET", f"http://127.0.0.1:{fast.port}/", timeout=2)
            took = time.monotonic() - t0
            in_flight = slow.accepted
            for task in flood:
                task.cancel()
            await asyncio.gather(*flood, return_exceptions=True)
            return took, answer.status, in_flight
        finally:
            await base.aclose()

    try:
        took, status, in_flight = asyncio.run(go())
    finally:
        slow.close()
        fast.close()
    assert status == 200 and took < 1.0
    assert in_flight <= CHECK_CONNECTIONS  # the hostile check held its share, no more


def test_every_probe_passes_the_operator_wide_pacer() -> None:
    ok = Server("ok")

    async def go() -> float:
        prober = Prober(pacer=Pacer(20.0))
        try:
            t0 = time.monotonic()
            await asyncio.gather(*(prober.get(f"http://127.0.0.1:{ok.port}/", timeout=2,
                                              at=0.0) for _ in range(21)))
            return time.monotonic() - t0
        finally:
            await prober.aclose()

    try:
        took = asyncio.run(go())
    finally:
        ok.close()
    assert took >= 0.95  # 21 probes at 20/s: the last one waits a second for its turn


class Counting(Server):
    """Answers 200 after ``delay`` seconds; counts connections being served at once."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.now = self.most = 0
        super().__init__("counting")

    def _serve(self, conn: socket.socket) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            conn.recv(65536)
            time.sleep(self.delay)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        finally:
            with self.lock:
                self.now -= 1
            conn.close()


def test_a_crowd_of_checks_probing_one_destination_is_capped_and_queueing_is_not_timed(
        ) -> None:
    """40 checks probe one Service at once: at most TARGET_CONNECTIONS reach it together, and a
    probe that waited its turn longer than its own timeout still passes (its timeout starts
    when it is sent), so readygate's own crowd never becomes a target's failure."""
    server = Counting(delay=0.2)
    prober = Prober()

    async def main() -> list[bool]:
        checks = [prober.for_check(f"team-{i % 4}", f"check-{i}") for i in range(40)]
        samples = await asyncio.gather(*(
            c.get(f"http://127.0.0.1:{server.port}/ready", timeout=0.5, at=0.0) for c in checks))
        await prober.aclose()
        return [s.ok for s in samples]

    try:
        started = time.monotonic()
        ok = asyncio.run(main())
        took = time.monotonic() - started
    finally:
        server.close()
    assert all(ok)  # 40 x 0.2 s / 8 = 1 s of queueing, each probe's 0.5 s timeout untouched
    assert server.most == TARGET_CONNECTIONS
    assert took >= 40 * 0.2 / TARGET_CONNECTIONS - 0.1
    assert prober.shares.users == {}  # nothing held after the probes


@pytest.mark.parametrize("server", ["fat"], indirect=True)
def test_a_security_check_keeps_what_it_judges_not_every_answer(server: Server) -> None:
    """32 paths x 500 samples of the largest answers a probe reads would be gigabytes kept
    until judging; the security stage keeps each answer's essentials (judge.security)."""
    calls = [(f"/p{i % 32}", f"http://127.0.0.1:{server.port}/p{i % 32}") for i in range(1500)]

    async def go() -> list[tuple[str, Answer]]:
        prober = Prober()
        try:
            ctx = cast(RunContext, SimpleNamespace(prober=prober))
            return await gather_limited(ctx, calls)
        finally:
            await prober.aclose()

    before = _rss_mib()
    got = asyncio.run(go())
    grown = _rss_mib() - before
    assert len(got) == 1500 and all(a.status == 500 for _, a in got)
    # the whole answers were ~150 KiB each (225 MiB for these 1,500): a few MiB are kept
    assert grown < 48, f"RSS grew {grown:.0f} MiB"
    assert sum(len(a.body) + sum(len(v) for _, v in a.headers) for _, a in got) == 0


@contextlib.asynccontextmanager
async def _running(traffic: Traffic, prober: Prober) -> AsyncIterator[None]:
    """The resilience check's own traffic while the block runs; then it and the prober end."""
    task = asyncio.create_task(traffic.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await prober.aclose()


@pytest.mark.parametrize("server", ["hang"], indirect=True)
def test_resilience_traffic_to_a_silent_target_stays_bounded(server: Server) -> None:
    """At probeRate 100 against a target that accepts and never answers, the resilience
    check's own traffic keeps at most MAX_IN_FLIGHT requests waiting; the other ticks send
    nothing (a task per tick for an hour was ~700,000 waiting tasks)."""
    waiting = [0, 0]  # now, peak

    async def go() -> tuple[int, int, int]:
        prober = Prober()

        async def get(url: str, **kw: Any) -> Any:
            waiting[0] += 1
            waiting[1] = max(waiting[1], waiting[0])
            try:
                return await prober.get(url, **kw)
            finally:
                waiting[0] -= 1

        traffic = Traffic(cast(RunContext, SimpleNamespace(prober=SimpleNamespace(get=get))),
                          f"http://127.0.0.1:{server.port}/ready", 100.0)
        async with _running(traffic, prober):
            await asyncio.sleep(1.5)
        return waiting[1], traffic.skipped, len(list(traffic.samples))

    peak, skipped, samples = asyncio.run(go())
    assert peak <= MAX_IN_FLIGHT, peak
    assert skipped >= 100, skipped
    assert samples == 0  # nothing answered within the probe timeout of 2 s


@pytest.mark.parametrize("server", ["ok"], indirect=True)
def test_resilience_traffic_keeps_only_what_answers_after_the_deletion(server: Server) -> None:
    async def go() -> tuple[list[tuple[float, bool]], float]:
        prober = Prober()
        traffic = Traffic(cast(RunContext, SimpleNamespace(prober=prober)),
                          f"http://127.0.0.1:{server.port}/ready", 50.0)
        async with _running(traffic, prober):
            await asyncio.sleep(0.5)
            traffic.mark()
            marked = time.time()
            await asyncio.sleep(0.5)
        return list(traffic.samples), marked

    samples, marked = asyncio.run(go())
    assert len(samples) >= 10 and all(ok for _, ok in samples)
    assert all(t >= marked - 0.01 for t, _ in samples)
