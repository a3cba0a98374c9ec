"""Loopback HTTP/1.1 test servers for readygate's load-engine tests and benchmarks.

Run as a script (``python bench/loopback.py --delay 0.05 --freeze-after 2 --freeze-for 1``): it
binds 127.0.0.1 only (never another address), prints ``PORT <n>`` on stdout and serves until it
is killed or ``--lifetime`` seconds have passed. Behaviours: a fixed service ``--delay``, a 500
on every ``--error-every``-th request, ``Connection: close`` on every ``--close-every``-th
response, a path that never answers (``--hang-path``), one freeze of the whole process
(``--freeze-after`` seconds after the first request, for ``--freeze-for`` seconds: nothing is
read or answered meanwhile), TLS (``--tls-cert``/``--tls-key``). ``GET /__stats`` returns the
server-side counts and the measured freeze window (wall clock). ``stall_truth`` computes the
latencies an ideal open-model client would see against such a server. Imported by
``bench/stall.py`` and ``tests/load/conftest.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import ssl
import time
from collections.abc import Sequence
from typing import Any

import httptools


class _State:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.requests = 0
        self.paths: dict[str, int] = {}
        self.connections = 0
        self.freeze: list[float] | None = None
        self.first: float | None = None


class _Server(asyncio.Protocol):
    def __init__(self, state: _State) -> None:
        self.state = state
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.transport: Any = None
        self.counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_message_complete(self) -> None:
        st = self.state
        path = self.url.decode("latin-1").split("?", 1)[0]
        if path == "/__stats":
            body = json.dumps({"requests": st.requests, "paths": st.paths,
                               "connections": st.connections, "freeze": st.freeze}).encode()
            self._write(200, body, False)
            return
        st.requests += 1
        if not self.counted:  # connections that carried load (not just /__stats)
            self.counted = True
            st.connections += 1
        st.paths[path] = st.paths.get(path, 0) + 1
        a = st.args
        loop = asyncio.get_running_loop()
        if st.first is None:
            st.first = time.time()
            if a.freeze_after is not None:
                loop.call_later(a.freeze_after, _freeze, st)
        if a.hang_path and path == a.hang_path:
            return
        status = 500 if a.error_every and st.requests % a.error_every == 0 else 200
        close = bool(a.close_every) and st.requests % a.close_every == 0
        if a.delay > 0:
            loop.call_later(a.delay, self._write, status, b"ok", close)
        else:
            self._write(status, b"ok", close)

    def _write(self, status: int, body: bytes, close: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        reason = b"OK" if status == 200 else b"Internal Server Error"
        head = b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\n%s\r\n" % (
            status, reason, len(body), b"Connection: close\r\n" if close else b"")
        self.transport.write(head + body)
        if close:
            self.transport.close()


def _freeze(st: _State) -> None:
    start = time.time()
    time.sleep(st.args.freeze_for)  # blocks the whole loop: nothing is read or answered
    st.freeze = [start, time.time()]


def stall_truth(intended: Sequence[float], service: float, freeze: Sequence[float]
                ) -> list[float]:
    """Latencies an ideal client sending at ``intended`` times (wall clock) sees from a server
    that answers in ``service`` seconds and froze during [freeze[0], freeze[1])."""
    f0, f1 = freeze
    out = []
    for t in intended:
        if t + service < f0 or t >= f1:
            out.append(service)
        elif t < f0:  # arrived before the freeze, its answer was due during it
            out.append(f1 - t)
        else:  # arrived during the freeze: read when it ends, then served
            out.append(f1 + service - t)
    return out


def nearest_rank(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    return s[max(1, math.ceil(q * len(s))) - 1]


async def _serve(args: argparse.Namespace) -> None:
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        raise SystemExit("loopback.py binds loopback addresses only")
    ctx = None
    if args.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
    state = _State(args)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Server(state), args.host, args.port, ssl=ctx,
                                      backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    await asyncio.sleep(args.lifetime)
    server.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--error-every", type=int, default=0)
    p.add_argument("--close-every", type=int, default=0)
    p.add_argument("--hang-path")
    p.add_argument("--freeze-after", type=float)
    p.add_argument("--freeze-for", type=float, default=1.0)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--lifetime", type=float, default=300.0)
    args = p.parse_args(argv)
    try:
        import uvloop

        uvloop.run(_serve(args))
    except ImportError:
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
