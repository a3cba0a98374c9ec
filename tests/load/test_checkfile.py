"""``readygate check -f check.yaml --url URL``: a ReadinessCheck's load outside any cluster,
judged by the operator's own parser and mapping, against loopback servers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from readygate.cli.main import main

pytestmark = pytest.mark.load


def write(tmp_path: Path, load: dict[str, Any], name: str = "api") -> Path:
    doc = {"apiVersion": "readygate.io/v1alpha1", "kind": "ReadinessCheck",
           "metadata": {"name": name},
           "spec": {"target": {"url": "http://ignored.example/"}, "load": load}}
    path = tmp_path / "check.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", *argv, "--output", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def test_a_passing_spec_exits_0_with_the_operators_measured_values(
        loopback: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = loopback()
    path = write(tmp_path, {"rate": 100, "duration": "1s", "requests": [{"path": "/api"}],
                            "thresholds": {"p99": "500ms", "maxErrorRate": 0.01,
                                           "minSamples": 90}})
    code, doc = run(capsys, "-f", str(path), "--url", s.url)
    assert code == 0
    check = doc["check"]
    assert check["result"] == "Passed"
    assert check["measured"]["requests"] == s.stats()["paths"]["/api"] == 100
    assert {"p95Ms", "rps", "errorRate", "targetRps"} <= set(check["measured"])


def test_a_broken_threshold_exits_1_and_a_warned_one_0(
        loopback: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = loopback(error_every=10)
    load = {"rate": 100, "duration": "1s", "thresholds": {"maxErrorRate": 0.01,
                                                           "minSamples": 50}}
    code, doc = run(capsys, "-f", str(write(tmp_path, load)), "--url", s.url)
    assert code == 1 and doc["check"]["result"] == "Failed"
    assert "error rate 10.00% > 1.00%" in doc["check"]["message"]
    load["warnOnly"] = ["maxErrorRate"]
    code, doc = run(capsys, "-f", str(write(tmp_path, load)), "--url", s.url)
    assert code == 0 and doc["check"]["result"] == "Passed"
    assert doc["check"]["warnings"] == ["error rate 10.00% > 1.00%"]


def test_an_invalid_spec_exits_2_naming_the_field(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, {"rate": -1})
    assert main(["check", "-f", str(path), "--url", "http://127.0.0.1:9"]) == 2
    assert "spec.load.rate: must be at least 0.1" in capsys.readouterr().err


def test_a_metadata_address_is_refused_before_any_request(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, {"rate": 1, "duration": "1s"})
    assert main(["check", "-f", str(path), "--url", "http://169.254.169.254/"]) == 2
    assert "metadata" in capsys.readouterr().err
