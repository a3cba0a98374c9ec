"""Fixtures for the load-engine tier: loopback servers in subprocesses (bench/loopback.py).

Every server binds 127.0.0.1 only, stops by itself after its lifetime, and is killed at the end
of the test. ``loopback(**options)`` starts one and returns a ``Server`` with its base URL and a
``stats()`` call (server-side counts and the measured freeze window).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK_PY = ROOT / "bench" / "loopback.py"


def load_loopback_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rg_bench_loopback", LOOPBACK_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Server:
    def __init__(self, proc: subprocess.Popen[str], port: int, tls: bool) -> None:
        self.proc = proc
        self.port = port
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"

    def stats(self) -> dict[str, Any]:
        # stats are always fetched over plain HTTP only when the server is not TLS
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/__stats", timeout=5) as r:
            data: dict[str, Any] = json.loads(r.read())
        return data


def start_server(**options: Any) -> Server:
    args = [sys.executable, str(LOOPBACK_PY), "--lifetime", str(options.pop("lifetime", 60))]
    tls = "tls_cert" in options
    for k, v in options.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"loopback server did not start: {line!r}")
    return Server(proc, int(line.split()[1]), tls)


@pytest.fixture
def loopback() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(**options: Any) -> Server:
        s = start_server(**options)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.proc.kill()
        s.proc.wait()


@pytest.fixture(scope="session")
def truth() -> ModuleType:
    return load_loopback_module()
