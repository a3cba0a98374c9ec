"""The CLI, the Job-pod worker entry (python -m readygate.load --shard) and TLS, against
loopback servers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from readygate.load import LoadPlan, LoadResult, merge_results, run_in_new_loop
from readygate.load.cli import main
from readygate.load.workers import worker_command

pytestmark = pytest.mark.load
Start = Callable[..., Any]  # the loopback fixture: starts a server (conftest.Server)


@pytest.mark.parametrize("extra,code", [
    (["--p99", "2s", "--max-error-rate", "1%"], 0),
    (["--p50", "1us"], 1),
    (["--min-samples", "100000"], 3),  # Inconclusive: its own code, not a usage error's
])
def test_cli_exit_codes(loopback: Start, extra: list[str], code: int,
                        capsys: pytest.CaptureFixture[str]) -> None:
    s = loopback()
    assert main([f"{s.url}/x", "--rate", "100", "--duration", "1s", *extra]) == code
    out = capsys.readouterr().out
    assert "verdict" in out and "p99" in out
    assert s.stats()["paths"] == {"/x": 100}


def test_cli_short_flags_durations_and_usage_errors(loopback: Start,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    s = loopback()
    # -r/-d/-c/-t as wrk, hey and k6 users type them; 1m30s is a duration everywhere
    assert main([f"{s.url}/y", "-r", "40", "-d", "1s", "-c", "8", "-t", "2s"]) == 0
    assert s.stats()["paths"] == {"/y": 40}
    with pytest.raises(SystemExit) as usage:
        main([s.url, "-r", "10", "-d", "soon"])
    assert usage.value.code == 2
    assert main([s.url]) == 2  # no model: a usage error, nothing sent
    assert "give --rate" in capsys.readouterr().err
    from readygate.load.cli import parse_duration
    assert parse_duration("1m30s") == 90.0


def test_cli_defaults_are_the_crds() -> None:
    from readygate.api import schema
    from readygate.load.cli import DEFAULT_CONNECTIONS, DEFAULT_DURATION, DEFAULT_TIMEOUT
    from readygate.load.durations import parse_duration

    load = schema.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"][
        "spec"]["properties"]["load"]["properties"]
    assert load["connections"]["default"] == DEFAULT_CONNECTIONS
    assert parse_duration(load["timeout"]["default"]) == DEFAULT_TIMEOUT
    assert parse_duration(load["duration"]["default"]) == DEFAULT_DURATION


def test_cli_json_output_and_closed_model(loopback: Start,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    s = loopback(error_every=10)
    code = main(["load", s.url, "--users", "2", "--duration", "1s", "--output", "json",
                 "--max-error-rate", "5%", "--header", "X-Test: 1"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    assert doc["judgement"]["result"] == "Failed"
    assert doc["judgement"]["failures"][0]["threshold"] == "max_error_rate"
    r = LoadResult.from_dict(doc["result"])
    assert r.requests == s.stats()["requests"] and r.errors["status:500"] == r.requests // 10


def test_cli_progress_line_goes_to_stderr_only_when_asked(loopback: Start) -> None:
    s = loopback()
    cmd = worker_command("load", s.url, "--rate", "50", "--duration", "1.5s")
    quiet = subprocess.run(cmd, capture_output=True, timeout=60)
    loud = subprocess.run([*cmd, "--progress"], capture_output=True, timeout=60)
    assert quiet.returncode == loud.returncode == 0
    assert quiet.stderr == b"" and b"req/s" in loud.stderr and b"\r[" in loud.stderr
    assert b"verdict" in loud.stdout and b"\r" not in loud.stdout


def test_job_pod_workers_run_their_shards_and_merge_exactly(loopback: Start) -> None:
    s = loopback()
    plan = LoadPlan(s.url, rate=300, duration=1.0)
    results = []
    for i in range(3):
        out = subprocess.run(worker_command("--plan-json", json.dumps(plan.to_dict()),
                                            "--shard", f"{i}/3"),
                             capture_output=True, text=True, timeout=60, check=True)
        results.append(LoadResult.from_dict(json.loads(out.stdout.strip().splitlines()[-1])))
    assert [r.requests for r in results] == [100, 100, 100]
    merged = merge_results(results)
    assert merged.requests == 300 == s.stats()["requests"]
    assert merged.histogram.count == sum(r.histogram.count for r in results)


def test_worker_refuses_an_invalid_plan() -> None:
    out = subprocess.run(worker_command(), input='{"baseUrl": "ftp://x"}', capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and "PlanError" in out.stderr and out.stdout == ""


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed (hack/bootstrap installs it)")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    return d / "cert.pem", d / "key.pem"


def test_tls_verifies_by_default_with_an_insecure_opt_out(loopback: Start,
                                                         cert: tuple[Path, Path]) -> None:
    s = loopback(tls_cert=cert[0], tls_key=cert[1])
    r = run_in_new_loop(LoadPlan(s.url, rate=20, duration=0.5))
    assert r.errors == {"tls": 10}  # self-signed: refused by default
    r = run_in_new_loop(LoadPlan(s.url, rate=20, duration=0.5, insecure=True))
    assert r.errors == {} and r.requests == 10
    r = run_in_new_loop(LoadPlan(s.url, rate=20, duration=0.5, ca_file=str(cert[0])))
    assert r.errors == {} and r.requests == 10


def test_python_is_the_same_interpreter() -> None:
    assert worker_command()[0] == sys.executable
