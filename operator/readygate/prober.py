"""HTTP probes with httpx: one GET, timed, turned into a ``probes.Sample``. Owns the client.

The client never follows redirects and never reads proxy settings from the environment
(``trust_env=False``): a probe goes exactly to the endpoint the target policy allowed. Like the
kubelet's probes, each probe opens a fresh connection (no keep-alive): a Service then spreads
probes over its pods, and no connection outlives the address it was made to.
"""

from __future__ import annotations

import time

import httpx

from readygate.probes import Sample


class Prober:
    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self.client = client or httpx.AsyncClient(
            trust_env=False, follow_redirects=False,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=0),
            headers={"User-Agent": "readygate-probe"},
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def get(self, url: str, *, timeout: float, at: float) -> Sample:
        started = time.monotonic()
        try:
            resp = await self.client.get(url, timeout=timeout)
        except httpx.TimeoutException:
            return Sample(at, False, error=f"timeout after {timeout:g}s",
                          latency=time.monotonic() - started)
        except httpx.HTTPError as exc:
            return Sample(at, False, error=type(exc).__name__,
                          latency=time.monotonic() - started)
        latency = time.monotonic() - started
        return Sample(at, 200 <= resp.status_code < 300, status=resp.status_code, latency=latency)
