"""A real Prometheus for the e2e tests: Debian's /usr/bin/prometheus on loopback.

``start_prometheus`` writes a config that scrapes the out-of-cluster operator's metrics
endpoint every second under job ``readygate`` (the job name the ServiceMonitor gives it in a
cluster) and evaluates readygate's alert rules (the PrometheusRule's ``spec``) every second;
``launch`` starts Prometheus with any config (tests/e2e/test_servicemonitor.py runs a recent
Prometheus with the one the Prometheus Operator generates for the shipped ServiceMonitor) on a
free 127.0.0.1 port with its own temporary storage, and waits until it is ready and has
scraped job ``readygate`` once. ``Prometheus`` queries it over the HTTP API and ``stop`` ends it
by its PID; ``scraping`` wraps start and stop for a test module's fixture. Prometheus' log goes
to out/e2e/prometheus.log.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from ..monitoring.artifacts import JOB, write_rule_file
from .conftest import OUT, Operator

PROMETHEUS_BIN = Path(os.environ.get("READYGATE_PROMETHEUS", "/usr/bin/prometheus"))

Sample = dict[str, Any]  # one series of a query result: {"metric": {...}, "value"/"values"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def finite_values(series: list[Sample]) -> list[float]:
    """Every finite value of an instant or range query result."""
    out: list[float] = []
    for s in series:
        points = s["values"] if "values" in s else [s["value"]]
        out.extend(float(v) for _, v in points if math.isfinite(float(v)))
    return out


class Prometheus:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc = proc
        self.url = url  # http://127.0.0.1:PORT
        self.log = log
        self.started = time.time()
        self._http = httpx.Client(base_url=url, timeout=10, trust_env=False)

    def _get(self, path: str, params: Any) -> Any:
        response = self._http.get(path, params=params)
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise AssertionError(f"Prometheus {path} {params}: HTTP {response.status_code} "
                                 f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[Sample]:
        """An instant query now; a scalar result comes back as one series without labels."""
        data = self._get("/api/v1/query", {"query": expr})
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[Sample] = data["result"]
        return result

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Sample]:
        data = self._get("/api/v1/query_range",
                         {"query": expr, "start": start, "end": end, "step": step})
        result: list[Sample] = data["result"]
        return result

    def label_values(self, label: str, match: str) -> list[str]:
        """What Grafana's ``label_values(match, label)`` variable query lists."""
        values: list[str] = self._get(f"/api/v1/label/{label}/values", [("match[]", match)])
        return values

    def targets(self) -> dict[str, Any]:
        """/api/v1/targets: activeTargets (with discoveredLabels and labels), droppedTargets."""
        data: dict[str, Any] = self._get("/api/v1/targets", {})
        return data

    def wait_for(self, expr: str, ready: Callable[[list[Sample]], bool], *, timeout: float,
                 what: str) -> list[Sample]:
        deadline = time.monotonic() + timeout
        result: list[Sample] = []
        while time.monotonic() < deadline:
            result = self.query(expr)
            if ready(result):
                return result
            time.sleep(0.5)
        raise AssertionError(f"Prometheus: {what} not within {timeout:.0f}s; {expr} = {result}")

    def stop(self) -> None:
        self._http.close()
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def start_prometheus(metrics_url: str, directory: Path, log: Path) -> Prometheus:
    """Prometheus scraping ``metrics_url`` every second as job ``readygate`` (static target)."""
    target = urlsplit(metrics_url)
    rules = write_rule_file(directory)
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": JOB, "metrics_path": target.path or "/metrics",
                            "static_configs": [{"targets": [target.netloc]}]}],
    }
    return launch(config, directory, log)


def launch(config: dict[str, Any], directory: Path, log: Path, *,
           first_scrape: float = 30, binary: Path = PROMETHEUS_BIN) -> Prometheus:
    """Prometheus (Debian's, or ``binary``) with ``config`` (written to
    ``directory``/prometheus.yml), on a free loopback port with its own storage; returned once
    ready and once it has scraped job ``readygate`` successfully (within ``first_scrape``
    seconds: a scrape interval and then some)."""
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run hack/bootstrap (Debian package prometheus)",
                    pytrace=False)
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    out = log.open("wb")
    proc = subprocess.Popen(
        [str(binary), f"--config.file={config_file}",
         f"--storage.tsdb.path={directory / 'data'}", "--storage.tsdb.retention.time=1h",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=info"],
        stdout=out, stderr=subprocess.STDOUT, cwd=directory)
    out.close()
    prometheus = Prometheus(proc, url, log)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"prometheus exited with {proc.returncode}:\n{_tail(log)}", pytrace=False)
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/-/ready", timeout=1, trust_env=False).status_code == 200:
                break
        if time.monotonic() > deadline:
            prometheus.stop()
            pytest.fail(f"prometheus did not become ready:\n{_tail(log)}", pytrace=False)
        time.sleep(0.2)
    try:
        prometheus.wait_for(f'up{{job="{JOB}"}} == 1', bool, timeout=first_scrape,
                            what="a successful scrape of the operator")
    except AssertionError as e:
        targets = prometheus.targets()
        prometheus.stop()
        raise AssertionError(f"{e}\ntargets: {targets}\n{_tail(log)}") from None
    return prometheus


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def scraping(operator: Operator, directory: Path) -> Iterator[Prometheus]:
    """A Prometheus scraping ``operator`` for the duration of the ``with`` block.

    A test module makes it its ``prometheus`` fixture (see tests/e2e/test_monitoring.py).
    """
    OUT.mkdir(parents=True, exist_ok=True)
    instance = start_prometheus(operator.metrics, directory, OUT / "prometheus.log")
    try:
        yield instance
    finally:
        instance.stop()
