"""``readygate check -f check.yaml --url URL``: a whole ReadinessCheck outside any cluster —
the operator's own run (readiness, liveness, load) against loopback servers, its exit codes, JSON
and JUnit outputs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from readygate.cli.main import main

pytestmark = pytest.mark.load


FAST = {"readiness": {"within": "5s", "period": "200ms", "timeout": "1s"},
        "liveness": {"observeFor": "1s", "period": "200ms", "timeout": "1s"}}


def write(tmp_path: Path, load: dict[str, Any] | None, name: str = "api",
          **extra: Any) -> Path:
    spec: dict[str, Any] = {"target": {"url": "http://ignored.example/"}, **FAST, **extra}
    if load is not None:
        spec["load"] = load
    doc = {"apiVersion": "readygate.io/v1alpha1", "kind": "ReadinessCheck",
           "metadata": {"name": name}, "spec": spec}
    path = tmp_path / "check.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", *argv, "--output", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def checks(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in doc["status"]["checks"]}


def test_a_passing_spec_exits_0_with_the_operators_checks_and_measured_values(
        loopback: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = loopback()
    path = write(tmp_path, {"rate": 100, "duration": "1s", "requests": [{"path": "/api"}],
                            "thresholds": {"p99": "500ms", "maxErrorRate": 0.01,
                                           "minSamples": 90}})
    junit = tmp_path / "junit.xml"
    code, doc = run(capsys, "-f", str(path), "--url", s.url, "--junit", str(junit))
    assert code == 0, doc
    assert doc["verdict"] == "Passed" and doc["score"] == doc["status"]["score"]
    by_name = checks(doc)
    assert [c["name"] for c in doc["status"]["checks"]] == ["readiness", "liveness", "load"]
    assert all(c["result"] == "Passed" for c in by_name.values()), by_name
    load = by_name["load"]
    assert load["measured"]["requests"] == s.stats()["paths"]["/api"] == 100
    assert {"p95Ms", "rps", "errorRate", "targetRps"} <= set(load["measured"])
    assert doc["status"]["target"].startswith(f"URL {s.url}")
    # JUnit: one case per check, none failed, the verdict as a property
    root = ET.parse(junit).getroot()
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == ["readiness", "liveness", "load"]
    assert root.get("tests") == "3" and root.get("failures") == "0" and root.get("errors") == "0"
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["verdict"] == "Passed"


def test_a_broken_threshold_exits_1_and_a_warned_one_0(
        loopback: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = loopback(error_every=10)
    load = {"rate": 100, "duration": "1s", "requests": [{"path": "/api"}],
            "thresholds": {"maxErrorRate": 0.01, "minSamples": 50}}
    quiet = {"liveness": {"enabled": False},
             "readiness": {"within": "5s", "period": "100ms", "timeout": "1s"}}
    junit = tmp_path / "junit.xml"
    code, doc = run(capsys, "-f", str(write(tmp_path, load, **quiet)), "--url", s.url,
                    "--junit", str(junit))
    assert code == 1 and doc["verdict"] == "Failed"
    assert "error rate 10.00% > 1.00%" in checks(doc)["load"]["message"]
    (failure,) = ET.parse(junit).getroot().iter("failure")
    assert failure.get("type") == "Failed" and "error rate" in (failure.get("message") or "")
    load["warnOnly"] = ["maxErrorRate"]
    code, doc = run(capsys, "-f", str(write(tmp_path, load, **quiet)), "--url", s.url)
    assert code == 0 and checks(doc)["load"]["result"] == "Passed"
    assert checks(doc)["load"]["warnings"] == ["error rate 10.00% > 1.00%"]


def test_too_few_samples_exit_3_and_an_unreachable_url_fails_readiness_with_1(
        loopback: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = loopback()
    load = {"rate": 10, "duration": "1s", "thresholds": {"minSamples": 1000}}
    code, doc = run(capsys, "-f", str(write(tmp_path, load)), "--url", s.url)
    assert code == 3 and doc["verdict"] == "Inconclusive", doc
    spec = {"readiness": {"within": "1s", "period": "200ms", "timeout": "200ms"}}
    code, doc = run(capsys, "-f", str(write(tmp_path, None, **spec)), "--url",
                    "http://127.0.0.1:9")
    assert code == 1 and checks(doc)["readiness"]["result"] == "Failed"
    assert checks(doc)["liveness"]["result"] == "Skipped"


def test_what_needs_a_cluster_is_listed_as_not_run(
        loopback: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = loopback()
    spec = {"target": {"deploy": {"image": "shop/api:1", "port": 8080}},
            "resilience": {"killPods": 1}}
    path = tmp_path / "check.yaml"
    path.write_text(yaml.safe_dump({"kind": "ReadinessCheck", "metadata": {"name": "api"},
                                    "spec": {**FAST, **spec}}))
    code, doc = run(capsys, "-f", str(path), "--url", s.url)
    assert code == 0, doc
    assert doc["notRun"] == ["resilience: resilience deletes pods"]
    assert "resilience" not in checks(doc) and "deploy" not in checks(doc)
    code = main(["check", "-f", str(path), "--url", s.url])
    assert code == 0
    assert "not run      resilience: resilience deletes pods (needs a cluster)" in \
        capsys.readouterr().out


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
