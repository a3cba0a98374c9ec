"""A ``url`` target on the operator's allow-list, checked end to end: readiness, liveness and a
load, all sent to the address the target policy vetted, with the URL's host as Host header.

The session operator runs on this host with ``READYGATE_URL_ALLOWLIST=127.0.0.1/32,localhost``;
the service is a small HTTP server in this test on loopback, where ``localhost`` resolves.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..statusview import checks_of
from .conftest import ROOT, Cluster, Operator, condition, is_final

ADDRESS = socket.getaddrinfo("localhost", 0, type=socket.SOCK_STREAM)[0]


class Service(ThreadingHTTPServer):
    daemon_threads = True
    address_family = ADDRESS[0]

    def __init__(self) -> None:
        super().__init__((ADDRESS[4][0], 0), Handler)
        self.seen: list[tuple[str, str]] = []  # (path, Host header)
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    server: Service
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # the http.server API
        with self.server.lock:
            self.server.seen.append((self.path, self.headers.get("Host", "")))
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def service() -> Iterator[Service]:
    server = Service()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_url_target_on_the_allow_list_is_checked(cluster: Cluster, namespace: str,
                                                   operator: Operator,
                                                   service: Service) -> None:
    port = int(service.server_address[1])
    url = f"http://localhost:{port}/svc"
    cluster.create_check(namespace, "external", {
        "target": {"url": url},
        "liveness": {"period": "500ms", "observeFor": "2s"},
        "load": {"rate": 40, "duration": "3s", "thresholds": {"p95": "200ms",
                                                              "maxErrorRate": 0.01}}})
    obj = cluster.wait_check(namespace, "external", is_final, timeout=90, what="final")
    status = obj["status"]
    assert status["phase"] == "Passed", status
    assert condition(obj, "Ready")["status"] == "True"
    assert status["target"] == f"URL {url} ({ADDRESS[4][0]})"
    assert [checks_of(status)[c]["result"] for c in ("readiness", "liveness", "load")] == \
        ["Passed"] * 3
    load = checks_of(status)["load"]["measured"]
    assert load["requests"] == 120 and load["errors"] == 0
    with service.lock:
        seen = list(service.seen)
    paths = {p for p, _ in seen}
    # the url's path is the prefix of every path the check asks for
    assert {"/svc/ready", "/svc/health", "/svc/"} <= paths, paths
    assert sum(1 for p, _ in seen if p == "/svc/") >= 120
    assert {h for _, h in seen} == {f"localhost:{port}"}



def test_readygate_check_outside_the_cluster_gives_the_operators_verdict_and_score(
        cluster: Cluster, namespace: str, operator: Operator, service: Service,
        tmp_path: Path) -> None:
    """The same spec and URL, once by the operator, once by ``readygate check -f --url`` from a
    CI job's point of view: the same verdict, score and results, check by check."""
    port = int(service.server_address[1])
    url = f"http://localhost:{port}/svc"
    spec = {"target": {"url": url},
            "liveness": {"period": "500ms", "observeFor": "2s"},
            "security": {},
            "load": {"rate": 40, "duration": "3s",
                     "thresholds": {"p95": "200ms", "maxErrorRate": 0.01}}}
    cluster.create_check(namespace, "same", spec)
    obj = cluster.wait_check(namespace, "same", is_final, timeout=90, what="final")
    in_cluster = obj["status"]
    path = tmp_path / "check.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "readygate.io/v1alpha1",
                                    "kind": "ReadinessCheck", "metadata": {"name": "same"},
                                    "spec": spec}))
    junit, report = tmp_path / "junit.xml", tmp_path / "report.html"
    proc = subprocess.run([sys.executable, "-m", "readygate", "check", "-f", str(path),
                           "--url", url, "-o", "json", "--junit", str(junit),
                           "--report", str(report)],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "operator")})
    assert proc.returncode == 0, proc.stderr
    outside = json.loads(proc.stdout)["status"]
    # the test server sends no security headers: the security check warns, both ways
    assert outside["verdict"] == in_cluster["verdict"] == "Conditional", (outside, in_cluster)
    assert checks_of(outside)["security"]["warnings"] == \
        checks_of(in_cluster)["security"]["warnings"]
    assert outside["score"] == in_cluster["score"]
    assert {n: c["result"] for n, c in checks_of(outside).items()} == \
        {n: c["result"] for n, c in checks_of(in_cluster).items()}
    assert checks_of(outside)["load"]["measured"]["requests"] == \
        checks_of(in_cluster)["load"]["measured"]["requests"] == 120
    cases = ET.parse(junit).getroot().findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == [c["name"] for c in outside["checks"]]
    assert "<svg" in report.read_text() or "Passed" in report.read_text()
