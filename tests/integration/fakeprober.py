"""A scripted stand-in for ``readygate.run.prober.Prober``: no network, no real waiting.

``FakeProber`` has every public method of ``Prober`` (``get``, ``request``, ``answers``,
``window``, ``pinned``, ``unpinned``, ``for_check``, ``forget``, ``aclose``) with the same
signature (checked by ``test_fakes.py``), and answers from a script: ``on(pattern,
*replies)`` with a glob over the full URL (``*/ready``, ``http://10.244.*``). Replies are used
in order, the last one repeats; a reply may also be a function of the request (``ready_pods``
answers like a Service: only while a Ready pod is behind it). Unscripted URLs are refused
(``ConnectError``), as a closed port would be.

``window`` keeps the real one's contract (a sample every ``period`` for ``duration``, each timed
from the window's start, ``look`` at most every ``look_every`` seconds, True ends it) on a
simulated clock: its samples are taken ``tick`` seconds apart in real time (a few ms), so a
liveness window of seconds takes milliseconds. Every request is logged in ``calls`` with the
check it was made for (``for_check``) and the pin it went through; like the real one, a pinned
prober refuses any host but the vetted one (``refused: ...``), without sending anything.
"""

# ruff: noqa: ASYNC109 - the timeouts are part of the Prober interface this file mirrors

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from readygate.judge.answers import Answer, Sample
from readygate.kube.podstate import live, pod_ready
from readygate.run.prober import BODY_LIMIT

from .fakekube import FakeKube, Selector


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
    check: tuple[str, str] | None = None  # (namespace, name) of for_check
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None


class _Script:
    """The replies by URL pattern, shared by a prober and its pinned copies."""

    def __init__(self, default: Reply) -> None:
        self.routes: list[tuple[str, list[Reply | Responder]]] = []
        self.default = default
        self.calls: list[ProbeCall] = []
        self.windows: list[tuple[str, float, float]] = []  # (url, period, duration)
        self.shares: set[tuple[str, str]] = set()  # checks given a share (for_check)
        self.forgotten: list[tuple[str, str]] = []
        self.closed = False

    def reply(self, method: str, url: str) -> Reply:
        for pattern, replies in reversed(self.routes):  # the latest script wins
            if fnmatch.fnmatchcase(url, pattern):
                step = replies.pop(0) if len(replies) > 1 else replies[0]
                return step(method, url) if callable(step) else step
        return self.default


class FakeProber:
    def __init__(self, default: Reply | None = None, *, tick: float = 0.002,
                 _script: _Script | None = None, _pin: tuple[str, str] | None = None,
                 _check: tuple[str, str] | None = None) -> None:
        self.script = _script or _Script(default or refused())
        self.tick = tick  # real seconds between two samples of a window
        self.pin = _pin
        self.check = _check

    def _with(self, **changes: Any) -> FakeProber:
        values: dict[str, Any] = {"_pin": self.pin, "_check": self.check, **changes}
        return FakeProber(tick=self.tick, _script=self.script, **values)

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
        return self._with(_pin=(host.strip("[]").lower(), address))

    def unpinned(self) -> FakeProber:
        return self._with(_pin=None)

    def for_check(self, namespace: str, name: str) -> FakeProber:
        self.script.shares.add((namespace, name))
        return self._with(_check=(namespace, name))

    def forget(self, namespace: str, name: str) -> None:
        self.script.shares.discard((namespace, name))
        self.script.forgotten.append((namespace, name))

    async def aclose(self) -> None:
        self.script.closed = True

    async def _answer(self, method: str, url: str, timeout: float,
                      headers: Mapping[str, str] | None = None,
                      body: bytes | None = None) -> tuple[Reply, float]:
        if self.script.closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        started = time.monotonic()
        if self.pin is not None:
            host = (urlsplit(url).hostname or "").lower()
            if host != self.pin[0]:  # never sent
                return Reply(status=None, error=f"refused: {host} is not the vetted host "
                                                f"{self.pin[0]}"), 0.0
        self.script.calls.append(ProbeCall(method, url, started, self.pin, self.check,
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
        raw = reply.body.encode()
        return Answer(status=reply.status, headers=reply.headers,
                      body=raw[:limit].decode("utf-8", errors="replace"),
                      latency=latency, truncated=len(raw) > limit)

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
        period = max(period, 1e-3)
        looked = 0.0
        for i in range(math.ceil(duration / period - 1e-9)):
            clock = i * period  # simulated seconds since the window started
            samples.append(await self.get(url, timeout=timeout, at=clock))
            if look is not None and clock - looked >= look_every:
                looked = clock
                if await look():
                    break
            await asyncio.sleep(self.tick)
        return samples


def ready_pods(kube: FakeKube, namespace: str, selector: Selector,
               reply: Reply | None = None) -> Responder:
    """A Service in front of pods: ``reply`` (200) while one of them is Ready, else refused."""
    def respond(method: str, url: str) -> Reply:
        pods = live(kube.select("Pod", namespace, selector))
        return (reply or ok()) if any(pod_ready(p) for p in pods) else refused()
    return respond
