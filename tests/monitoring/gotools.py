"""Go programs the monitoring tests build from the Go module proxy, cached under ~/.cache.

- ``recent_promtool()``: promtool of a recent Prometheus release (``go install
  github.com/prometheus/prometheus/cmd/promtool@PROMETHEUS_MODULE_VERSION``), so that the
  exposition and the rules are checked by today's lint rules as well as by Debian's promtool
  (``artifacts.promtool``, Prometheus 2.42).
- ``recent_prometheus()``: the Prometheus server of the same release, for the scrape through
  Kubernetes service discovery (tests/e2e/test_servicemonitor.py): Debian's Prometheus is
  built without it (its promtool says ``field kubernetes_sd_configs not found``).
- ``promopcfg()``: tests/monitoring/promopcfg, a tiny program that imports the Prometheus
  Operator's config generator (pkg/prometheus, promcfg.go) and prints the Prometheus
  configuration the operator generates for a Prometheus resource and our ServiceMonitor
  (tests/e2e/test_servicemonitor.py scrapes the in-cluster operator with it).

Each is built once per version (a stamp next to the binary names what it was built from) into
``$READYGATE_GO_TOOLS`` (default ``~/.cache/readygate/monitoring``), with the module and build
caches there too; a file lock per tool keeps two test sessions from building it at once. The
first build takes minutes (hence ``BUILD_TIMEOUT``; tests that need a build raise pytest's
timeout). Without a ``go`` binary the caller skips; a build that fails fails the test with
Go's output.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .artifacts import ROOT

CACHE = Path(os.environ.get("READYGATE_GO_TOOLS",
                            Path.home() / ".cache" / "readygate" / "monitoring"))
# Prometheus 3.x is released as Go module versions v0.3MM.P (3.16.0 -> v0.316.0).
PROMETHEUS_MODULE = "github.com/prometheus/prometheus"
PROMETHEUS_MODULE_VERSION = "v0.316.0"
PROMETHEUS_RELEASE = "3.16.0"
PROMOPCFG = ROOT / "tests" / "monitoring" / "promopcfg"
BUILD_TIMEOUT = 1800.0
# pytest-timeout for a test whose fixtures may build a tool for the first time
BUILD_TEST_TIMEOUT = int(BUILD_TIMEOUT) + 600


def go_binary() -> str | None:
    found = shutil.which("go")
    if found:
        return found
    default = Path("/usr/local/go/bin/go")
    return str(default) if default.exists() else None


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "GOMODCACHE": str(CACHE / "mod"), "GOCACHE": str(CACHE / "build"),
            "GOFLAGS": "-buildvcs=false", "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", **extra}


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{name}.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _build(name: str, stamp: str, command: list[str], cwd: Path, out: Path,
           **env: str) -> Path:
    go = go_binary()
    if go is None:
        pytest.skip(f"no go toolchain: cannot build {name}")
    stamp_file = out.with_name(out.name + ".stamp")
    with _locked(name):
        if out.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
            return out
        out.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([go, *command], cwd=cwd, env=_env(**env), capture_output=True,
                              text=True, timeout=BUILD_TIMEOUT, check=False)
        if proc.returncode != 0 or not out.exists():
            pytest.fail(f"building {name} failed (go {' '.join(command)}):\n"
                        f"{(proc.stdout + proc.stderr)[-4000:]}", pytrace=False)
        stamp_file.write_text(stamp)
    return out


def _prometheus_command(command: str) -> Path:
    """``go install`` of ``cmd/<command>`` of Prometheus ``PROMETHEUS_RELEASE``."""
    bindir = CACHE / "bin" / f"prometheus-{PROMETHEUS_RELEASE}"
    CACHE.mkdir(parents=True, exist_ok=True)
    return _build(command, PROMETHEUS_MODULE_VERSION,
                  ["install", f"{PROMETHEUS_MODULE}/cmd/{command}@{PROMETHEUS_MODULE_VERSION}"],
                  CACHE, bindir / command, GOBIN=str(bindir))


def recent_promtool() -> Path:
    """promtool of Prometheus ``PROMETHEUS_RELEASE``."""
    return _prometheus_command("promtool")


def recent_prometheus() -> Path:
    """The Prometheus server of ``PROMETHEUS_RELEASE`` (API only: its web UI's assets are not
    part of the Go module)."""
    return _prometheus_command("prometheus")


def promopcfg() -> Path:
    """tests/monitoring/promopcfg built; rebuilt when its sources or go.sum change."""
    digest = hashlib.sha256()
    for path in sorted(PROMOPCFG.iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    out = CACHE / "bin" / "promopcfg"
    return _build("promopcfg", digest.hexdigest(),
                  ["build", "-mod=readonly", "-o", str(out), "."], PROMOPCFG, out)
