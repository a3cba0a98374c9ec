"""The lean HTTP/1.1 client on the load path: asyncio.Protocol + httptools' C parser.

Owns ``HttpTransport`` (pre-built request bytes per template, TCP or TLS connections, verify on
by default) and ``HttpChannel`` (one keep-alive connection, one request in flight). The hot
path per request is one ``transport.write`` of pre-built bytes and one parser callback
(``on_message_complete``) that hands the status to the engine; bodies are never copied. It
implements the seam in ``transport.py``; the engine (``engine.py``) drives it. Runs on whatever
loop is current (uvloop when the engine installs it).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httptools

from .errors import ConnectError
from .plan import RequestTemplate
from .transport import Channel, Listener

__all__ = ["HttpChannel", "HttpTransport", "build_request", "ssl_context"]

USER_AGENT = "readygate-load/0.1"


def build_request(t: RequestTemplate, host_header: str) -> bytes:
    """The exact bytes sent for a template (HTTP/1.1, keep-alive, Content-Length)."""
    names = {k.lower() for k, _ in t.headers}
    lines = [f"{t.method} {t.path} HTTP/1.1"]
    if "host" not in names:
        lines.append(f"Host: {host_header}")
    if "user-agent" not in names:
        lines.append(f"User-Agent: {USER_AGENT}")
    lines.extend(f"{k}: {v}" for k, v in t.headers)
    body = t.body or b""
    if t.body is not None or t.method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def ssl_context(insecure: bool = False, ca_file: str | None = None) -> ssl.SSLContext:
    """Verifying client context by default; ``insecure`` turns verification off."""
    ctx = ssl.create_default_context(cafile=ca_file)
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class HttpChannel(asyncio.Protocol, Channel):
    """One connection speaking HTTP/1.1 with a single request in flight."""

    def __init__(self, listener: Listener, payloads: Sequence[bytes],
                 head: Sequence[bool]) -> None:
        Channel.__init__(self)
        self.listener = listener
        self.payloads = payloads
        self.head = head
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport subclasses
        self.parser = httptools.HttpResponseParser(self)

    # asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if not self.closed:
                self.abort()
                self.listener.on_lost(self, "protocol")

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            self.listener.on_lost(self, "reset" if self.busy else "closed")

    # httptools callbacks ------------------------------------------------------------------------
    def on_headers_complete(self) -> None:
        if self.head[self.index] and not self.closed:
            # a HEAD response has no body whatever Content-Length says: finish it here and give
            # the parser a fresh start for the next response on this connection.
            status = self.parser.get_status_code()
            keep = self.parser.should_keep_alive()
            self.parser = httptools.HttpResponseParser(self)
            self.listener.on_response(self, status, keep)

    def on_message_complete(self) -> None:
        if not self.closed:
            self.listener.on_response(self, self.parser.get_status_code(),
                                      self.parser.should_keep_alive())

    # Channel ------------------------------------------------------------------------------------
    def send(self, index: int) -> None:
        self.index = index
        self.transport.write(self.payloads[index])

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class _FastChannel(HttpChannel):
    """HttpChannel without the HEAD check (one Python call less per response)."""

    on_headers_complete = None  # type: ignore[assignment]


class HttpTransport:
    """Opens HttpChannels to ``base_url``; pre-builds the request bytes of every template."""

    def __init__(self, base_url: str, templates: Sequence[RequestTemplate], *,
                 insecure: bool = False, ca_file: str | None = None,
                 connect_timeout: float = 10.0, connect_to: str | None = None) -> None:
        url = urlsplit(base_url)
        self.host = url.hostname or "127.0.0.1"
        # where connections go; the URL's host stays the Host header and the TLS name
        self.address = connect_to or self.host
        self.tls = url.scheme == "https"
        self.port = url.port or (443 if self.tls else 80)
        default_port = (url.port is None) or (self.port == (443 if self.tls else 80))
        host = f"[{self.host}]" if ":" in self.host else self.host
        host_header = host if default_port else f"{host}:{self.port}"
        prefix = url.path.rstrip("/")
        self.payloads = [build_request(_prefixed(t, prefix), host_header) for t in templates]
        self.head = [t.method == "HEAD" for t in templates]
        self.channel_class = HttpChannel if any(self.head) else _FastChannel
        self.ssl = ssl_context(insecure, ca_file) if self.tls else None
        self.connect_timeout = connect_timeout

    async def connect(self, listener: Listener) -> Channel:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, proto = await loop.create_connection(
                    lambda: self.channel_class(listener, self.payloads, self.head),
                    self.address, self.port, ssl=self.ssl,
                    server_hostname=self.host if self.ssl else None)
        except TimeoutError as exc:
            raise ConnectError("timeout",
                               f"connect to {self.address}:{self.port} timed out") from exc
        except ssl.SSLError as exc:
            raise ConnectError("tls", f"TLS handshake with {self.host}: {exc}") from exc
        except OSError as exc:
            raise ConnectError("connect",
                               f"connect to {self.address}:{self.port}: {exc}") from exc
        return proto

    def close(self) -> None:
        pass


def _prefixed(t: RequestTemplate, prefix: str) -> RequestTemplate:
    if not prefix:
        return t
    from dataclasses import replace

    return replace(t, path=prefix + t.path)
