"""The load engine's public surface: exported names, no kopf/kubernetes imports, CLI parsing."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

import readygate.load as load
from readygate.load.cli import _parser, build_plan, parse_duration, parse_rate_fraction

EXPECTED = {
    "MAX_CONNECTIONS", "MAX_DURATION", "MAX_PROCESSES", "MAX_RATE", "MAX_TIMEOUT", "MAX_USERS",
    "RELATIVE_ERROR", "CapExceeded", "Channel", "ConnectError", "Failure", "Histogram",
    "Judgement", "Listener", "LoadError", "LoadPlan", "LoadResult", "PlanError", "Progress",
    "RequestTemplate", "ResultError", "Second", "Stage", "StressPlan", "StressReport",
    "StressStep", "Thresholds", "Transport", "WorkerError", "judge", "merge_results",
    "run_in_new_loop", "run_load", "run_load_subprocess", "run_processes", "spike_stages",
    "worker_command",
}


def test_exported_names_are_locked() -> None:
    assert set(load.__all__) == EXPECTED
    for name in load.__all__:
        assert hasattr(load, name)


def test_importing_every_module_pulls_in_neither_kopf_nor_kubernetes() -> None:
    code = (
        "import sys, pkgutil, importlib, readygate.load as L\n"
        "for m in pkgutil.iter_modules(L.__path__):\n"
        "    importlib.import_module('readygate.load.' + m.name)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('kopf', 'kubernetes')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_exception_tree() -> None:
    assert issubclass(load.CapExceeded, load.PlanError)
    assert issubclass(load.PlanError, ValueError) and issubclass(load.PlanError, load.LoadError)
    for exc in (load.ResultError, load.WorkerError, load.ConnectError):
        assert issubclass(exc, load.LoadError)


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("2m", 120), ("200ms", 0.2),
                                          ("1.5", 1.5), ("1h", 3600), ("250us", 0.00025)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "10 parsecs", "-1s"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(text)


def test_parse_rate_fraction() -> None:
    assert parse_rate_fraction("1%") == pytest.approx(0.01)
    assert parse_rate_fraction("0.05") == pytest.approx(0.05)


def test_build_plan_from_arguments() -> None:
    args = _parser().parse_args([
        "https://127.0.0.1:8443/api/x?q=1", "--rate", "100", "--duration", "2m",
        "--header", "Authorization: Bearer t", "--method", "post", "--body", "{}",
        "--expect-status", "2xx,404", "--p95", "200ms", "--max-error-rate", "1%",
        "--insecure", "--stage", "10s:200"])
    plan = build_plan(args)
    assert plan.base_url == "https://127.0.0.1:8443" and plan.model == "open"
    (t,) = plan.requests
    assert (t.method, t.path, t.body) == ("POST", "/api/x?q=1", b"{}")
    assert t.headers == (("Authorization", "Bearer t"),)
    assert t.expect_status == ((200, 299), (404, 404))
    assert plan.thresholds.p95 == pytest.approx(0.2)
    assert plan.thresholds.max_error_rate == pytest.approx(0.01)
    assert plan.insecure and plan.duration == 120 and plan.stages == (load.Stage(10, 200),)
    closed = build_plan(_parser().parse_args(["http://127.0.0.1:1/", "--users", "3"]))
    assert closed.model == "closed" and closed.users == 3


def test_cli_errors_exit_2_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    from readygate.load.cli import main

    assert main(["http://127.0.0.1:1/"]) == 2  # neither --rate nor --users
    assert main(["http://127.0.0.1:1/", "--rate", "1e9"]) == 2  # over the cap
    err = capsys.readouterr().err
    assert "CapExceeded" in err and "Traceback" not in err
