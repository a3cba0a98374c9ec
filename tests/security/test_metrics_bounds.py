"""A hostile /metrics or Prometheus cannot make the metrics check read without bound, block
the event loop or crash the operator (run.scrape through the real prober). Loopback only."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from readygate.api.metricexpr import parse_selector
from readygate.judge.metrics import QueryAnswer, Scrape
from readygate.run.prober import Prober
from readygate.run.scrape import ANSWER_LIMIT, PAGE_LIMIT, query, scrape

from .test_prober_bounds import Server

FDS = (parse_selector("process_open_fds"),)


class Page:
    """An HTTP server on loopback answering every request with one fixed response."""

    def __init__(self, body: bytes, headers: str = "Content-Type: text/plain") -> None:
        self.response = (f"HTTP/1.1 200 OK\r\n{headers}\r\nContent-Length: {len(body)}\r\n"
                         "Connection: close\r\n\r\n").encode() + body
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                self.requests.append(_read_request(conn))
                conn.sendall(self.response)

    def close(self) -> None:
        self.sock.close()


def _read_request(conn: socket.socket) -> bytes:
    """Headers and body (by Content-Length): a body left unread would reset the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


@pytest.fixture
def page_server() -> Iterator[list[Page]]:
    made: list[Page] = []
    yield made
    for p in made:
        p.close()


def serve(made: list[Page], body: bytes, headers: str = "Content-Type: text/plain") -> Page:
    p = Page(body, headers)
    made.append(p)
    return p


async def _scrape(url: str) -> tuple[Scrape, float]:
    """The scrape, and the worst lag of the event loop meanwhile."""
    worst = 0.0
    stop = asyncio.Event()

    async def tick() -> None:
        nonlocal worst
        while not stop.is_set():
            t = time.monotonic()
            await asyncio.sleep(0.01)
            worst = max(worst, time.monotonic() - t - 0.01)

    ticker = asyncio.create_task(tick())
    prober = Prober()
    try:
        result = await scrape(prober, url + "/metrics", at=0.0, source="pod p", selectors=FDS,
                              within=10.0)
    finally:
        stop.set()
        await ticker
        await prober.aclose()
    return result, worst


def test_a_page_over_the_limit_is_not_read_past_it() -> None:
    server = Server("huge")  # 256 MiB
    try:
        began = time.monotonic()
        result, _ = asyncio.run(_scrape(f"http://127.0.0.1:{server.port}"))
        assert time.monotonic() - began < 10
    finally:
        server.close()
    assert result.problem == f"/metrics is larger than {PAGE_LIMIT // 2**20} MiB; readygate " \
                             "reads at most that"
    assert not result.fault  # not judged: Inconclusive, never a pass


def test_a_million_series_page_is_read_off_the_event_loop(page_server: list[Page]) -> None:
    lines = b"".join(b'noise{i="%d"} 1\n' % i for i in range(150_000))
    body = lines[:PAGE_LIMIT - 100] + b"\nprocess_open_fds 42\n"
    p = serve(page_server, body)
    result, lag = asyncio.run(_scrape(p.url))
    assert result.values == {"process_open_fds": 42.0} and result.problem is None
    assert lag < 0.5  # the parse ran in a thread
    sent = p.requests[0].decode()
    assert "accept-encoding: identity" in sent.lower()


@pytest.mark.parametrize(("body", "headers", "why", "fault"), [
    (b"process_open_fds{ 12\n" * 1000, "Content-Type: text/plain",
     "/metrics: the page does not parse", True),
    (gzip.compress(b"process_open_fds 1\n"), "Content-Encoding: gzip",
     "/metrics came gzip-encoded although readygate asked for identity", False),
    (b"\xff\xfe" * 1000 + b"\nprocess_open_fds 3\n", "Content-Type: text/plain", None, False),
])
def test_hostile_pages_are_data(page_server: list[Page], body: bytes, headers: str,
                                why: str | None, fault: bool) -> None:
    result, _ = asyncio.run(_scrape(serve(page_server, body, headers).url))
    if why is None:
        assert result.problem is None and result.values == {"process_open_fds": 3.0}
    else:
        assert result.problem is not None and result.problem.startswith(why)
        assert len(result.problem) <= 200 and result.fault is fault


def test_a_prometheus_answer_is_bounded_too(page_server: list[Page]) -> None:
    series = [{"metric": {"pod": f"p{i}"}, "value": [1, "1"]} for i in range(40_000)]
    huge = json.dumps({"status": "success", "data": {"resultType": "vector", "result": series}})
    assert len(huge) > ANSWER_LIMIT
    p = serve(page_server, huge.encode(), "Content-Type: application/json")

    async def ask() -> QueryAnswer:
        prober = Prober()
        try:
            return await query(prober, p.url, "up", rule="r", pod=None, within=5.0)
        finally:
            await prober.aclose()

    answer = asyncio.run(ask())
    assert answer.problem is not None and "aggregate the query" in answer.problem
    sent = p.requests[0].decode()
    assert sent.startswith("POST /api/v1/query ") and "query=up" in sent
