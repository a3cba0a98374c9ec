"""The Argo CD health check, run by lua5.1 on real ReadinessCheck objects.

tests/gitops/argocd_test.go runs the same cases in gopher-lua, the interpreter Argo CD embeds;
this module keeps a second interpreter on them and the cases built with ``compute_status``.

Argo CD's own test layout drives the main table: manifests/gitops/argocd/health_test.yaml names
each object in testdata/ (captured from the real cluster) and the status and message Argo CD must
show. A periodic re-check (``schedule.every`` is at least a minute: too slow for the e2e run) is
built with the operator's own ``compute_status`` from the captured Passed object, and so is a
Conditional verdict with a known warning. The argocd-cm snippet must carry health.lua verbatim.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from readygate.api.results import CheckResult
from readygate.status.compute import RunView, compute_status

from ..statusview import checks_of
from .luahealth import ARGOCD, HEALTH_LUA, run_health, to_lua

CASES = yaml.safe_load((ARGOCD / "health_test.yaml").read_text())["tests"]
NOW = "2026-01-01T00:10:00Z"


def _object(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ARGOCD / "testdata" / f"{name}.yaml").read_text())
    return loaded


@pytest.mark.parametrize("case", CASES, ids=[c["inputPath"] for c in CASES])
def test_health_test_cases(case: dict[str, Any]) -> None:
    obj = yaml.safe_load((ARGOCD / case["inputPath"]).read_text())
    health = run_health(obj)
    assert (health.status, health.message) == (case["healthStatus"]["status"],
                                                case["healthStatus"]["message"])


def test_cases_cover_every_phase_and_health() -> None:
    seen: dict[str, set[str]] = {}
    for case in CASES:
        obj = yaml.safe_load((ARGOCD / case["inputPath"]).read_text())
        status = obj.get("status") or {}
        key = status.get("phase", "(no status)")
        if status and status.get("observedGeneration") != obj["metadata"]["generation"]:
            key = "(generation not observed)"
        if obj["metadata"].get("deletionTimestamp"):
            key = "(terminating)"
        seen.setdefault(key, set()).add(case["healthStatus"]["status"])
        if status.get("verdict") == "Conditional":
            seen.setdefault("(verdict Conditional)", set()).add(case["healthStatus"]["status"])
    assert seen == {
        "(verdict Conditional)": {"Healthy"},
        "(no status)": {"Progressing"}, "(generation not observed)": {"Progressing"},
        "(terminating)": {"Progressing"},
        "Deploying": {"Progressing"}, "Verifying": {"Progressing"}, "Passed": {"Healthy"},
        "Failed": {"Degraded"}, "Error": {"Degraded"}, "Inconclusive": {"Degraded"}}


def test_testdata_are_real_objects() -> None:
    names = {Path(c["inputPath"]).name for c in CASES}
    assert names == {p.name for p in (ARGOCD / "testdata").glob("*.yaml")}, "unused testdata"
    for name in names:
        obj = _object(Path(name).stem)
        assert (obj["apiVersion"], obj["kind"]) == ("readygate.io/v1alpha1", "ReadinessCheck")
        assert obj["metadata"]["uid"] and obj["metadata"]["resourceVersion"], name


def _rerun(passed: dict[str, Any], view: RunView) -> dict[str, Any]:
    obj = copy.deepcopy(passed)
    obj["status"] = compute_status(passed["status"], view, NOW)
    return obj


def test_conditional_verdict_is_healthy_and_names_the_warnings() -> None:
    passed = _object("passed")
    old = passed["status"]
    checks = {name: CheckResult(result="Passed", message=c["message"])
              for name, c in checks_of(old).items()}
    checks["load"] = CheckResult(result="Passed", message="250 requests at 50.0 req/s",
                                 warnings=("p95 612.0ms above 500ms",))
    gen = passed["metadata"]["generation"]
    obj = _rerun(passed, RunView(generation=gen, run=old["runs"], reason="NewGeneration",
                                 phase="Passed", started_at=old["runStartedAt"], checks=checks))
    assert obj["status"]["verdict"] == "Conditional"
    health = run_health(obj)
    assert health.status == "Healthy"
    assert health.message == "Conditional: passed with warnings: load: p95 612.0ms above 500ms"


def test_periodic_recheck_stays_healthy_then_degrades_on_failure() -> None:
    passed = _object("passed")
    old = passed["status"]
    gen, run = passed["metadata"]["generation"], old["runs"] + 1
    running = _rerun(passed, RunView(
        generation=gen, run=run, reason="Periodic", phase="Verifying", started_at=NOW,
        checks={"readiness": CheckResult(result="Running", message="probing /ready")}))
    assert running["status"]["phase"] == "Verifying"
    assert run_health(running).status == "Healthy"  # no flapping to Progressing
    failed = _rerun(running, RunView(
        generation=gen, run=run, reason="Periodic", phase="Failed", started_at=NOW,
        checks={"readiness": CheckResult(result="Failed", message="/ready answered 503")}))
    health = run_health(failed)
    assert health.status == "Degraded"
    assert "/ready answered 503" in health.message


def test_argocd_cm_carries_health_lua_verbatim() -> None:
    cm = yaml.safe_load((ARGOCD / "argocd-cm.yaml").read_text())
    assert (cm["kind"], cm["metadata"]["name"]) == ("ConfigMap", "argocd-cm")
    assert cm["data"] == {
        "resource.customizations.health.readygate.io_ReadinessCheck": HEALTH_LUA.read_text()}


def test_objects_reach_lua_intact(tmp_path: Path) -> None:
    """The converter keeps strings (quotes, newlines, UTF-8), numbers, booleans and lists."""
    script = tmp_path / "echo.lua"
    script.write_text('return {status = "Healthy", message = obj.s .. "|" .. tostring(obj.n)'
                      ' .. "|" .. tostring(obj.b) .. "|" .. #obj.l .. "|" .. obj.l[2].x}')
    text = 'a "quoted" \\ back\nslash\ttab \u00fc\u2713 \x01'
    health = run_health({"s": text, "n": 1.5, "b": False, "l": [{"x": "1"}, {"x": "2"}],
                         "skip": None}, script)
    assert health.message == f"{text}|1.5|false|2|2"
    assert to_lua({"a": [1, True, None]}) == '{["a"]={1,true,nil}}'


def test_the_sandbox_has_no_io_or_os(tmp_path: Path) -> None:
    script = tmp_path / "escape.lua"
    script.write_text('os.execute("true"); return {status = "Healthy", message = ""}')
    with pytest.raises(AssertionError, match="os"):
        run_health({}, script)
    script.write_text('require("os").execute("true"); return {status = "Healthy"}')
    with pytest.raises(AssertionError, match="execute"):
        run_health({}, script)
    script.write_text('return {status = string.upper("healthy")}')  # Argo CD opens no string
    with pytest.raises(AssertionError, match="string"):
        run_health({}, script)
