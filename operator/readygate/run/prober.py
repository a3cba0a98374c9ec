"""HTTP probes with httpx: one GET, timed, turned into a ``probes.Sample``. Owns the client.

The client never follows redirects and never reads proxy settings from the environment
(``trust_env=False``): a probe goes exactly to the endpoint the target policy allowed. Like the
kubelet's probes, each probe opens a fresh connection (no keep-alive): a Service then spreads
probes over its pods, and no connection outlives the address it was made to.

``Prober.pinned`` connects a vetted host to the address the target policy checked, keeping the
host in the Host header and as the TLS name: the name is never resolved a second time, so a DNS
answer that changes after the check (DNS rebinding) cannot move a probe elsewhere.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from readygate.judge.answers import Answer, Sample

BODY_LIMIT = 65_536


class Prober:
    def __init__(self, client: httpx.AsyncClient | None = None, *,
                 pin: tuple[str, str] | None = None) -> None:
        self.client = client or httpx.AsyncClient(
            trust_env=False, follow_redirects=False,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=0),
            headers={"User-Agent": "readygate-probe"},
        )
        self.pin = pin  # (host, address): requests to host connect to address

    def pinned(self, host: str, address: str) -> Prober:
        """This prober (the same client) with ``host`` connected to ``address``."""
        return Prober(self.client, pin=(host.lower(), address))

    def _route(self, url: str, headers: Mapping[str, str] | None
               ) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
        target = httpx.URL(url)
        out = dict(headers or {})
        if self.pin is None or target.host.lower() != self.pin[0]:
            return target, out, {}
        out.setdefault("Host", target.netloc.decode("ascii"))
        extensions: dict[str, Any] = {}
        if target.scheme == "https":
            extensions["sni_hostname"] = target.host
        return target.copy_with(host=self.pin[1]), out, extensions

    async def aclose(self) -> None:
        await self.client.aclose()

    async def request(self, method: str, url: str, *, timeout: float,
                      headers: Mapping[str, str] | None = None, body: bytes | None = None,
                      limit: int = BODY_LIMIT) -> Answer:
        """One request; the answer keeps the headers and at most ``limit`` bytes of body."""
        started = time.monotonic()
        target, sent, extensions = self._route(url, headers)
        try:
            async with self.client.stream(method, target, headers=sent, content=body,
                                          timeout=timeout, extensions=extensions) as resp:
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.aiter_raw():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size >= limit:
                        break
                text = b"".join(chunks)[:limit].decode("utf-8", errors="replace")
                return Answer(status=resp.status_code, headers=tuple(resp.headers.items()),
                              body=text, latency=time.monotonic() - started)
        except httpx.TimeoutException:
            return Answer(error=f"timeout after {timeout:g}s",
                          latency=time.monotonic() - started)
        except httpx.HTTPError as exc:
            return Answer(error=type(exc).__name__, latency=time.monotonic() - started)

    async def answers(self, url: str, *, timeout: float) -> bool:
        """One GET: did ``url`` answer 2xx?"""
        return (await self.get(url, timeout=timeout, at=0.0)).ok

    async def get(self, url: str, *, timeout: float, at: float) -> Sample:
        started = time.monotonic()
        target, sent, extensions = self._route(url, None)
        try:
            resp = await self.client.get(target, headers=sent, timeout=timeout,
                                         extensions=extensions)
        except httpx.TimeoutException:
            return Sample(at, False, error=f"timeout after {timeout:g}s",
                          latency=time.monotonic() - started)
        except httpx.HTTPError as exc:
            return Sample(at, False, error=type(exc).__name__,
                          latency=time.monotonic() - started)
        latency = time.monotonic() - started
        return Sample(at, 200 <= resp.status_code < 300, status=resp.status_code, latency=latency)

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
