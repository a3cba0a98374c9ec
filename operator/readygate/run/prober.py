"""HTTP probes with httpx: timed requests turned into ``judge.answers`` values. Owns the client,
and is the only module that imports httpx.

The client never follows redirects and never reads proxy settings from the environment
(``trust_env=False``): a probe goes exactly to the endpoint the target policy allowed. Like the
kubelet's probes, each probe opens a fresh connection (no keep-alive): a Service then spreads
probes over its pods, and no connection outlives the address it was made to.

Every probe is bounded, whatever the target does:
- bytes: the body is streamed and at most ``BODY_LIMIT`` bytes are kept (the rest is never read;
  ``Answer.truncated`` says there was more) — a caller asks for more with ``limit``, as the
  metrics check does for a Prometheus page (``run.scrape``);
- time: one deadline covers the whole request — connect, headers and body — so a target that
  trickles a byte at a time cannot keep a probe alive past its ``timeout``;
- connections: each check gets its own share (``CHECK_CONNECTIONS``, ``for_check``), each
  namespace a larger one (``NAMESPACE_CONNECTIONS``), so one tenant's slow target cannot take
  the connections another tenant's probes need; the time spent waiting for a share is not
  counted against the target;
- rate: every probe of the operator passes one shared ``Pacer`` (its share of
  ``READYGATE_MAX_TOTAL_RATE``).

``Prober.pinned`` connects a vetted host to the address the target policy checked, keeping the
host in the Host header and as the TLS name. A pinned prober refuses any other host: the name is
never resolved a second time, so a DNS answer that changes after the check (DNS rebinding)
cannot move a probe elsewhere. Hosts are compared in their ASCII (IDNA) form.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import httpx

from readygate.judge.answers import Answer, Sample
from readygate.load.pacer import Pacer
from readygate.run.lag import LagMonitor

BODY_LIMIT = 65_536
CHECK_CONNECTIONS = 16  # probes of one check in flight at once
NAMESPACE_CONNECTIONS = 48  # probes of one namespace's checks in flight at once
# probes in flight at once to one destination (address and port), from every check: 1,000
# checks of one Service must not become readygate's own load on it. Waiting for a slot is not
# part of a probe's time: its timeout starts when it is sent.
TARGET_CONNECTIONS = 8
TARGETS_KEPT = 4096  # idle destination slots are dropped beyond this many


class Refused(Exception):
    """A probe that would leave the vetted address: never sent."""


@dataclasses.dataclass
class _Shares:
    """The connection shares of the whole operator, by namespace and by check."""

    namespaces: dict[str, asyncio.Semaphore] = dataclasses.field(default_factory=dict)
    checks: dict[tuple[str, str], asyncio.Semaphore] = dataclasses.field(default_factory=dict)
    targets: dict[str, asyncio.Semaphore] = dataclasses.field(default_factory=dict)
    users: dict[str, int] = dataclasses.field(default_factory=dict)  # probes holding/awaiting

    @contextlib.asynccontextmanager
    async def target(self, destination: str) -> AsyncIterator[None]:
        slot = self.targets.get(destination)
        if slot is None:
            if len(self.targets) >= TARGETS_KEPT:  # forget destinations nobody probes now
                self.targets = {k: v for k, v in self.targets.items() if self.users.get(k)}
            slot = self.targets[destination] = asyncio.Semaphore(TARGET_CONNECTIONS)
        self.users[destination] = self.users.get(destination, 0) + 1
        try:
            async with slot:
                yield
        finally:
            left = self.users[destination] - 1
            if left:
                self.users[destination] = left
            else:
                del self.users[destination]

    def of(self, namespace: str, name: str) -> tuple[asyncio.Semaphore, asyncio.Semaphore]:
        ns = self.namespaces.setdefault(namespace, asyncio.Semaphore(NAMESPACE_CONNECTIONS))
        check = self.checks.setdefault((namespace, name), asyncio.Semaphore(CHECK_CONNECTIONS))
        return ns, check

    def forget(self, namespace: str, name: str) -> None:
        self.checks.pop((namespace, name), None)


class Prober:
    def __init__(self, client: httpx.AsyncClient | None = None, *,
                 pin: tuple[str, str] | None = None, pacer: Pacer | None = None,
                 shares: _Shares | None = None,
                 slots: tuple[asyncio.Semaphore, ...] = (),
                 lag: LagMonitor | None = None) -> None:
        self.client = client or httpx.AsyncClient(
            trust_env=False, follow_redirects=False,
            # readygate bounds connections itself, per check and per namespace (see above)
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
            headers={"User-Agent": "readygate-probe"},
        )
        self.pin = pin  # (ASCII host, address): requests to host connect to address
        self.pacer = pacer
        self.shares = shares if shares is not None else _Shares()
        self.slots = slots
        self.lag = lag

    def _with(self, **changes: Any) -> Prober:
        values: dict[str, Any] = {"pin": self.pin, "pacer": self.pacer, "shares": self.shares,
                                  "slots": self.slots, "lag": self.lag, **changes}
        return Prober(self.client, **values)

    def pinned(self, host: str, address: str) -> Prober:
        """This prober (the same client and shares) with ``host`` connected to ``address``
        and every other host refused."""
        return self._with(pin=(_ascii(host), address))

    def unpinned(self) -> Prober:
        """This prober (the same client, shares and rate) without a pin: for the destinations
        the operator itself is configured with (its Prometheus), never a check's target."""
        return self._with(pin=None)

    def for_check(self, namespace: str, name: str) -> Prober:
        """This prober, limited to the connection shares of one check and its namespace."""
        return self._with(slots=self.shares.of(namespace, name))

    def forget(self, namespace: str, name: str) -> None:
        self.shares.forget(namespace, name)

    def _route(self, url: str, headers: Mapping[str, str] | None
               ) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
        target = httpx.URL(url)
        out = {k: v for k, v in (headers or {}).items() if k.lower() != "host"}
        if self.pin is None:
            return target, out, {}
        host = target.raw_host.decode("ascii").lower()
        if host != self.pin[0]:
            raise Refused(f"{host} is not the vetted host {self.pin[0]}")
        out["Host"] = target.netloc.decode("ascii")
        extensions: dict[str, Any] = {}
        if target.scheme == "https":
            extensions["sni_hostname"] = host
        return target.copy_with(host=self.pin[1]), out, extensions

    def _destination(self, url: str) -> str:
        """Where a probe of ``url`` connects: the pinned address, else the URL's host, and
        the port."""
        try:
            target = httpx.URL(url)
            host = self.pin[1] if self.pin is not None else target.host
            return f"{host}:{target.port or (443 if target.scheme == 'https' else 80)}"
        except (httpx.InvalidURL, ValueError, UnicodeError):
            return url[:200]

    async def aclose(self) -> None:
        await self.client.aclose()

    @contextlib.asynccontextmanager
    async def _slot(self, destination: str) -> AsyncIterator[None]:
        """This check's share of connections, the destination's, then the operator's rate."""
        async with contextlib.AsyncExitStack() as stack:
            for slot in self.slots:
                await stack.enter_async_context(slot)
            await stack.enter_async_context(self.shares.target(destination))
            if self.pacer is not None:
                await self.pacer.wait()
            yield

    async def request(self, method: str, url: str, *, timeout: float,
                      headers: Mapping[str, str] | None = None, body: bytes | None = None,
                      limit: int = BODY_LIMIT) -> Answer:
        """One request; the answer keeps the headers and at most ``limit`` bytes of body.

        A request that failed while the operator's own event loop ran late by half its timeout
        or more is tried once more; failing so again, it is reported as the operator's
        overload (``Answer.overloaded``), not as the target's failure."""
        answer = await self._request(method, url, timeout, headers, body, limit)
        if self._lag_during(answer) < timeout / 2:
            return answer
        answer = await self._request(method, url, timeout, headers, body, limit)
        lag = self._lag_during(answer)
        if lag < timeout / 2:
            return answer
        return dataclasses.replace(answer, overloaded=True, error=(
            f"{answer.error}; the operator's event loop ran {lag:.1f}s late (overloaded), so "
            "this says nothing about the target"))

    def _lag_during(self, answer: Answer) -> float:
        """How late the event loop ran while a failed request was under way (0: it answered,
        or no lag is measured)."""
        if answer.status is not None or self.lag is None:
            return 0.0
        return self.lag.max_since(time.monotonic() - answer.latency - 0.05)

    async def _request(self, method: str, url: str, timeout: float,
                       headers: Mapping[str, str] | None, body: bytes | None,
                       limit: int) -> Answer:
        async with self._slot(self._destination(url)):
            started = time.monotonic()
            try:
                status, got, raw, more = await asyncio.wait_for(
                    self._exchange(method, url, headers, body, timeout, limit), timeout)
            except (TimeoutError, httpx.TimeoutException):
                return Answer(error=f"timeout after {timeout:g}s",
                              latency=time.monotonic() - started)
            except Refused as exc:
                return Answer(error=f"refused: {exc}", latency=0.0)
            except (httpx.HTTPError, httpx.InvalidURL, ValueError, UnicodeError) as exc:
                return Answer(error=type(exc).__name__, latency=time.monotonic() - started)
            return Answer(status=status, headers=got,
                          body=raw[:limit].decode("utf-8", errors="replace"),
                          latency=time.monotonic() - started, truncated=more)

    async def _exchange(self, method: str, url: str, headers: Mapping[str, str] | None,
                        body: bytes | None, timeout: float, limit: int,
                        ) -> tuple[int, tuple[tuple[str, str], ...], bytes, bool]:
        target, sent, extensions = self._route(url, headers)
        async with self.client.stream(method, target, headers=sent, content=body,
                                      timeout=timeout, extensions=extensions) as resp:
            chunks: list[bytes] = []
            size = 0
            if limit > 0:
                async for chunk in resp.aiter_raw():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > limit:  # a byte more than kept: there was more
                        break
            headers_got = tuple((k, v[:1024]) for k, v in list(resp.headers.items())[:100])
            return resp.status_code, headers_got, b"".join(chunks), size > limit

    async def answers(self, url: str, *, timeout: float) -> bool:
        """One GET: did ``url`` answer 2xx?"""
        return (await self.get(url, timeout=timeout, at=0.0)).ok

    async def get(self, url: str, *, timeout: float, at: float) -> Sample:
        """One GET probe (its body is not kept; at most a little of it is read)."""
        answer = await self.request("GET", url, timeout=timeout, limit=0)
        if answer.status is None:
            return Sample(at, False, error=answer.error, latency=answer.latency,
                          overloaded=answer.overloaded)
        return Sample(at, answer.ok, status=answer.status, latency=answer.latency)

    async def window(self, url: str, *, period: float, timeout: float, duration: float,
                     look: Callable[[], Awaitable[bool]] | None = None,
                     look_every: float = 2.0) -> list[Sample]:
        """GET ``url`` every ``period`` for ``duration``, each sample timed from the window's
        start (the liveness window of a check, and of a gated pod). ``look``, when given, is
        awaited at most every ``look_every`` seconds; its True ends the window early."""
        samples: list[Sample] = []
        start = time.monotonic()
        looked = start
        while time.monotonic() - start < duration:
            tick = time.monotonic()
            samples.append(await self.get(url, timeout=timeout, at=tick - start))
            if look is not None and tick - looked >= look_every:
                looked = tick
                if await look():
                    break
            await asyncio.sleep(max(0.0, period - (time.monotonic() - tick)))
        return samples


def _ascii(host: str) -> str:
    """A host name (or IP literal) in its lower-case ASCII (IDNA) form, as httpx sends it."""
    host = host.strip("[]")
    if ":" in host or host.isascii():
        return host.lower()
    return httpx.URL(f"http://{host}/").raw_host.decode("ascii").lower()
