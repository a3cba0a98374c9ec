"""A scripted stand-in for ``readygate.run.prober.Prober``: no network, no real waiting.

``FakeProber`` has the methods the operator calls on a prober (``get``, ``request``,
``answers``, ``window``, ``pinned``, ``aclose``) with the same signatures, and answers from a
script: ``on(pattern, *replies)`` with a glob over the full URL (``*/ready``,
``http://10.244.*``). Replies are used in order, the last one repeats; a reply may also be a
function of the request (``ready_pods`` answers like a Service: only while a Ready pod is
behind it). Unscripted URLs are refused (``ConnectError``), as a closed port would be.

``window`` keeps the real one's contract (a sample every ``period`` for ``duration``, each timed
from the window's start, ``look`` at most every ``look_every`` seconds, True ends it) on a
simulated clock: its samples are taken ``tick`` seconds apart in real time (a few ms), so a
liveness window of seconds takes milliseconds. Every request is logged in ``calls``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from readygate.judge.answers import Answer, Sample
from readygate.kube.podstate import live, pod_ready
from readygate.run.prober import BODY_LIMIT

from .fakekube import FakeKube


@dataclasses.dataclass(frozen=True)
class Reply:
    """One scripted answer: a status (with headers and body), or a transport error (the name
    of the httpx exception, as the real prober reports it). ``latency`` is slept for real, so
    keep it tiny; above the request's timeout it becomes the prober's timeout error."""

    status: int | None = 200
    error: str | None = None
    latency: float = 0.0
    body: str = ""
    headers: tuple[tuple[str, str], ...] = ()


Responder = Callable[[str, str], Reply]  # (method, url) -> the reply


def ok(body: str = "ok", **kw: Any) -> Reply:
    return Reply(status=200, body=body, **kw)


def status(code: int, body: str = "", **kw: Any) -> Reply:
    return Reply(status=code, body=body, **kw)


def refused() -> Reply:
    return Reply(status=None, error="ConnectError")


def slow(latency: float, code: int = 200) -> Reply:
    return Reply(status=code, latency=latency)


@dataclasses.dataclass(frozen=True)
class ProbeCall:
    method: str
    url: str
    at: float  # time.monotonic()
    pin: tuple[str, str] | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None


class _Script:
    """The replies by URL pattern, shared by a prober and its pinned copies."""

    def __init__(self, default: Reply) -> None:
        self.routes: list[tuple[str, list[Reply | Responder]]] = []
        self.default = default
        self.calls: list[ProbeCall] = []
        self.windows: list[tuple[str, float, float]] = []  # (url, period, duration)
        self.closed = False

    def reply(self, method: str, url: str) -> Reply:
        for pattern, replies in reversed(self.routes):  # the latest script wins
            if fnmatch.fnmatchcase(url, pattern):
                step = replies.pop(0) if len(replies) > 1 else replies[0]
                return step(method, url) if callable(step) else step
        return self.default


class FakeProber:
    def __init__(self, default: Reply | None = None, *, tick: float = 0.002,
                 _script: _Script | None = None, _pin: tuple[str, str] | None = None) -> None:
        self.script = _script or _Script(default or refused())
        self.tick = tick  # real seconds between two samples of a window
        self.pin = _pin

    # -- test side
    def on(self, pattern: str, *replies: Reply | Responder) -> FakeProber:
        """Answer requests whose URL matches the glob ``pattern`` with ``replies`` in order
        (the last repeats). A later ``on`` for a matching pattern takes precedence."""
        if not replies:
            raise ValueError("on() needs at least one reply")
        self.script.routes.append((pattern, list(replies)))
        return self

    @property
    def calls(self) -> list[ProbeCall]:
        return self.script.calls

    @property
    def windows(self) -> list[tuple[str, float, float]]:
        return self.script.windows

    def urls(self, pattern: str = "*") -> list[str]:
        return [c.url for c in self.calls if fnmatch.fnmatchcase(c.url, pattern)]

    # -- the Prober interface
    def pinned(self, host: str, address: str) -> FakeProber:
        return FakeProber(tick=self.tick, _script=self.script, _pin=(host.lower(), address))

    async def aclose(self) -> None:
        self.script.closed = True

    async def _answer(self, method: str, url: str, timeout: float,
                      headers: Mapping[str, str] | None = None,
                      body: bytes | None = None) -> tuple[Reply, float]:
        if self.script.closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        started = time.monotonic()
        self.script.calls.append(ProbeCall(method, url, started, self.pin,
                                           tuple((headers or {}).items()), body))
        reply = self.script.reply(method, url)
        if reply.latency > timeout:
            await asyncio.sleep(timeout)
            return Reply(status=None, error=f"timeout after {timeout:g}s"), timeout
        await asyncio.sleep(reply.latency)
        return reply, reply.latency

    async def request(self, method: str, url: str, *, timeout: float,
                      headers: Mapping[str, str] | None = None, body: bytes | None = None,
                      limit: int = BODY_LIMIT) -> Answer:
        reply, latency = await self._answer(method, url, timeout, headers, body)
        if reply.status is None:
            return Answer(error=reply.error or "ConnectError", latency=latency)
        return Answer(status=reply.status, headers=reply.headers,
                      body=reply.body.encode()[:limit].decode("utf-8", errors="replace"),
                      latency=latency)

    async def answers(self, url: str, *, timeout: float) -> bool:
        return (await self.get(url, timeout=timeout, at=0.0)).ok

    async def get(self, url: str, *, timeout: float, at: float) -> Sample:
        reply, latency = await self._answer("GET", url, timeout)
        if reply.status is None:
            return Sample(at, False, error=reply.error or "ConnectError", latency=latency)
        return Sample(at, 200 <= reply.status < 300, status=reply.status, latency=latency)

    async def window(self, url: str, *, period: float, timeout: float, duration: float,
                     look: Callable[[], Awaitable[bool]] | None = None,
                     look_every: float = 2.0) -> list[Sample]:
        self.script.windows.append((url, period, duration))
        samples: list[Sample] = []
        clock = looked = 0.0  # simulated seconds since the window started
        while clock < duration:
            samples.append(await self.get(url, timeout=timeout, at=clock))
            if look is not None and clock - looked >= look_every:
                looked = clock
                if await look():
                    break
            clock += max(period, 1e-3)
            await asyncio.sleep(self.tick)
        return samples


def ready_pods(kube: FakeKube, namespace: str, selector: Mapping[str, str],
               reply: Reply | None = None) -> Responder:
    """A Service in front of pods: ``reply`` (200) while one of them is Ready, else refused."""
    wanted = dict(selector)

    def respond(method: str, url: str) -> Reply:
        pods = live(kube.list("Pod", namespace, wanted))
        return (reply or ok()) if any(pod_ready(p) for p in pods) else refused()
    return respond
