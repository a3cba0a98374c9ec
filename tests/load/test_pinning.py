"""A vetted url target's host is connected to the address that was vetted, never looked up
again (no DNS-rebinding window): the probes (``Prober.pinned``) and the load engine
(``LoadPlan.connect_to``) connect to the pinned address and still send the host as the Host
header and as the TLS name, against which the certificate is verified.

The host below does not resolve here: ``socket.getaddrinfo`` is patched to refuse it (and to
record the attempt), so no query leaves the machine, and a lookup would show as a failure.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from readygate.load import LoadPlan
from readygate.load.engine import run_load
from readygate.run.prober import Prober

pytestmark = pytest.mark.load
NAME = "svc.rebind.invalid"


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every attempt to resolve NAME (refused, as if its DNS answer had gone away)."""
    seen: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, (str, bytes)) and NAME in str(host):
            seen.append(str(host))
            raise socket.gaierror(socket.EAI_NONAME, "refused by the test")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return seen


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.hosts: list[str] = []
        self.sni: list[str | None] = []


class Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_GET(self) -> None:
        self.server.hosts.append(self.headers.get("Host", ""))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed (hack/bootstrap installs it)")
    d = tmp_path_factory.mktemp("pin-tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={NAME}", "-addext", f"subjectAltName=DNS:{NAME}",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    return d / "cert.pem", d / "key.pem"


def _serve(tls: tuple[Path, Path] | None) -> Iterator[Recorder]:
    server = Recorder()
    if tls is not None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(tls[0]), str(tls[1]))
        ctx.sni_callback = lambda sock, name, _: server.sni.append(name)  # type: ignore[assignment,misc,func-returns-value]
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def plain() -> Iterator[Recorder]:
    yield from _serve(None)


@pytest.fixture
def tls(cert: tuple[Path, Path]) -> Iterator[Recorder]:
    yield from _serve(cert)


def _port(server: Recorder) -> int:
    return int(server.server_address[1])


async def _probe(prober: Prober, url: str) -> bool:
    try:
        return (await prober.get(url, timeout=5, at=0.0)).ok
    finally:
        await prober.aclose()


def test_an_unpinned_probe_of_the_name_fails(lookups: list[str], plain: Recorder) -> None:
    ok = asyncio.run(_probe(Prober(), f"http://{NAME}:{_port(plain)}/ready"))
    assert not ok and lookups and plain.hosts == []


def test_a_pinned_probe_connects_to_the_vetted_address(lookups: list[str],
                                                       plain: Recorder) -> None:
    url = f"http://{NAME}:{_port(plain)}/ready"
    ok = asyncio.run(_probe(Prober().pinned(NAME, "127.0.0.1"), url))
    assert ok and lookups == []
    assert plain.hosts == [f"{NAME}:{_port(plain)}"]


def test_a_pinned_probe_refuses_every_other_host(lookups: list[str], plain: Recorder) -> None:
    # never a fall-back to resolving (or connecting to) a host the policy did not vet
    for url in (f"http://127.0.0.1:{_port(plain)}/ready", f"http://other.{NAME}/ready"):
        prober = Prober().pinned(NAME, "127.0.0.1")
        answer = asyncio.run(prober.request("GET", url, timeout=5))
        assert answer.status is None and answer.error and "refused" in answer.error
    assert plain.hosts == [] and lookups == []


def test_an_idna_host_stays_pinned(lookups: list[str], plain: Recorder) -> None:
    # httpx shows xn-- hosts decoded (bücher...); the pin compares the ASCII form it sends
    name = f"xn--bcher-kva.{NAME}"
    url = f"http://{name}:{_port(plain)}/ready"
    assert asyncio.run(_probe(Prober().pinned(name, "127.0.0.1"), url))
    answer = asyncio.run(Prober().pinned(name, "127.0.0.1").request("GET", url, timeout=5))
    assert answer.status == 200
    assert lookups == [] and plain.hosts == [f"{name}:{_port(plain)}"] * 2


def test_a_user_host_header_never_replaces_the_vetted_one(plain: Recorder) -> None:
    url = f"http://{NAME}:{_port(plain)}/ready"
    prober = Prober().pinned(NAME, "127.0.0.1")
    answer = asyncio.run(prober.request("GET", url, timeout=5,
                                        headers={"Host": "internal.admin", "X-A": "1"}))
    assert answer.status == 200 and plain.hosts == [f"{NAME}:{_port(plain)}"]


def test_a_pinned_https_probe_verifies_the_certificate_of_the_name(
        lookups: list[str], tls: Recorder, cert: tuple[Path, Path]) -> None:
    url = f"https://{NAME}:{_port(tls)}/ready"
    verified = Prober(httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(cert[0])),
                                        trust_env=False))
    assert asyncio.run(_probe(verified.pinned(NAME, "127.0.0.1"), url))
    assert tls.sni == [NAME] and tls.hosts == [f"{NAME}:{_port(tls)}"] and lookups == []
    # the same certificate does not pass for the address itself
    untrusting = Prober(httpx.AsyncClient(
        verify=ssl.create_default_context(cafile=str(cert[0])), trust_env=False))
    assert not asyncio.run(_probe(untrusting, f"https://127.0.0.1:{_port(tls)}/ready"))


def _load(plan: LoadPlan) -> Any:
    # asyncio's own loop: its lookups go through socket.getaddrinfo (uvloop's do not), so a
    # lookup of NAME would be seen and refused here rather than sent to a DNS server
    return asyncio.run(run_load(plan))


def test_the_load_engine_connects_to_the_vetted_address(lookups: list[str],
                                                        plain: Recorder) -> None:
    base = f"http://{NAME}:{_port(plain)}"
    refused = _load(LoadPlan(base, rate=20, duration=0.5))
    assert refused.requests == 10 and sum(refused.errors.values()) == 10 and lookups
    lookups.clear()
    result = _load(LoadPlan(base, rate=20, duration=0.5, connect_to="127.0.0.1"))
    assert result.requests == 10 and result.errors == {}, result.errors
    assert lookups == [] and set(plain.hosts) == {f"{NAME}:{_port(plain)}"}


def test_the_load_engine_verifies_tls_against_the_name(lookups: list[str], tls: Recorder,
                                                       cert: tuple[Path, Path]) -> None:
    base = f"https://{NAME}:{_port(tls)}"
    result = _load(LoadPlan(base, rate=20, duration=0.5, connect_to="127.0.0.1",
                            ca_file=str(cert[0])))
    assert result.requests == 10 and result.errors == {}, result.errors
    assert lookups == [] and set(tls.sni) == {NAME}


def test_connect_to_travels_with_the_plan() -> None:
    plan = LoadPlan(f"http://{NAME}", rate=1, duration=1, connect_to="10.96.0.10")
    assert LoadPlan.from_dict(plan.to_dict()).connect_to == "10.96.0.10"
