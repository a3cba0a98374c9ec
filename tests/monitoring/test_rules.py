"""The PrometheusRule under promtool (Debian's and a recent one), the ServiceMonitor against the
metrics Service, and the alerts' annotations and runbooks.

promtool reads plain rule files, so each test extracts the PrometheusRule's ``spec`` into a
temporary directory (``artifacts.write_rule_file``) next to a copy of rules.test.yaml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from readygate.status.metrics import Metrics

from .artifacts import (
    JOB,
    PROMETHEUS_RULE,
    ROOT,
    RULE_FILE_NAME,
    RULES_TEST,
    SERVICE_MONITOR,
    dashboard,
    load_yaml,
    metric_names,
    panel_queries,
    prometheus_rules,
    promtool,
    write_rule_file,
)
from .gotools import BUILD_TEST_TIMEOUT, recent_promtool


def _binary(which: str) -> Path | None:
    """Debian's promtool (None: on PATH) or a recent one built from the Go module proxy."""
    return recent_promtool() if which == "recent" else None


@pytest.mark.timeout(BUILD_TEST_TIMEOUT)
@pytest.mark.parametrize("which", ["debian", "recent"])
def test_promtool_check_rules_accepts_the_rules(tmp_path: Path, which: str) -> None:
    path = write_rule_file(tmp_path)
    proc = promtool("check", "rules", str(path), cwd=tmp_path, binary=_binary(which))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(prometheus_rules())} rules found" in proc.stdout


@pytest.mark.timeout(BUILD_TEST_TIMEOUT)
@pytest.mark.parametrize("which", ["debian", "recent"])
def test_promtool_unit_tests_pass(tmp_path: Path, which: str) -> None:
    write_rule_file(tmp_path)
    shutil.copy(RULES_TEST, tmp_path / RULES_TEST.name)
    proc = promtool("test", "rules", RULES_TEST.name, cwd=tmp_path, binary=_binary(which))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_promtool_unit_tests_catch_a_broken_alert(tmp_path: Path) -> None:
    """The unit tests have teeth: an alert on the wrong verdict fails them."""
    path = write_rule_file(tmp_path)
    path.write_text(path.read_text().replace('verdict="Failed"', 'verdict="Passed"'))
    shutil.copy(RULES_TEST, tmp_path / RULES_TEST.name)
    proc = promtool("test", "rules", RULES_TEST.name, cwd=tmp_path)
    assert proc.returncode != 0, proc.stdout
    assert "ReadyGateCheckFailed" in proc.stdout + proc.stderr


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    tests = load_yaml(RULES_TEST)
    assert tests["rule_files"] == [RULE_FILE_NAME]
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test") or []:
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {a.name for a in prometheus_rules()}
    assert names == firing, f"alerts never tested firing: {names - firing}"
    assert names == quiet, f"alerts never tested quiet: {names - quiet}"


def test_prometheusrule_is_complete() -> None:
    rule = load_yaml(PROMETHEUS_RULE)
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert rule["metadata"]["namespace"] == "readygate-system"
    alerts = prometheus_rules()
    assert len({a.name for a in alerts}) == len(alerts)
    assert {a.name for a in alerts} == {
        "ReadyGateCheckFailed", "ReadyGateCheckStalled", "ReadyGateVerdictFlapping",
        "ReadyGateOperatorDown", "ReadyGateReconcileErrors"}
    for alert in alerts:
        labels, annotations = dict(alert.labels), dict(alert.annotations)
        assert labels.get("severity") in ("warning", "critical"), alert
        assert annotations.get("summary") and annotations.get("description"), alert
        # Grafana renders `$value` differently; annotations stick to what both share
        assert "$value" not in "".join(annotations.values()), alert
    down = next(a for a in alerts if a.name == "ReadyGateOperatorDown")
    assert f'job="{JOB}"' in down.expr


def _exported_samples() -> set[str]:
    """Every series name the operator's registry can expose."""
    out: set[str] = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"),
                "gauge": ("",)}
    for family in Metrics().registry.collect():
        out.update(family.name + s for s in suffixes[family.type])
    return out


def test_alerts_and_dashboard_use_only_metrics_the_operator_exports() -> None:
    exported = _exported_samples()
    used = set().union(*(metric_names(a.expr) for a in prometheus_rules()),
                       *(metric_names(q.expr) for q in panel_queries(dashboard())))
    assert used, "no readygate metric found in the alerts and the dashboard"
    assert used <= exported, f"not exported by readygate.status.metrics: {sorted(used - exported)}"


def test_servicemonitor_selects_the_operator_metrics_service() -> None:
    monitor = load_yaml(SERVICE_MONITOR)
    assert (monitor["apiVersion"], monitor["kind"]) == ("monitoring.coreos.com/v1",
                                                        "ServiceMonitor")
    spec = monitor["spec"]
    services = [d for d in yaml.safe_load_all((ROOT / "manifests/base/service.yaml").read_text())
                if d and d.get("kind") == "Service"]
    assert len(services) == 1, "manifests/base/service.yaml: expected the metrics Service"
    service = services[0]
    labels = service["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert labels["app.kubernetes.io/name"] == "readygate"
    assert service["metadata"]["namespace"] in spec["namespaceSelector"]["matchNames"]
    assert spec["namespaceSelector"]["matchNames"] == ["readygate-system"]
    ports = {p.get("name") for p in service["spec"]["ports"]}
    assert [e["port"] for e in spec["endpoints"]] == ["metrics"]
    assert "metrics" in ports
    # the job name the alerts and the dashboard select on comes from the Service's label
    assert labels[spec["jobLabel"]] == JOB
    # the series keep their own `namespace` (the check's), not the target's: see
    # tests/e2e/test_servicemonitor.py for the Prometheus Operator's configuration of it
    assert [e.get("honorLabels") for e in spec["endpoints"]] == [True]


RUNBOOKS = ROOT / "docs" / "runbooks"
RUNBOOK_BASE = "https://github.com/readygate/readygate/blob/main/docs/runbooks/"


def test_every_alert_has_a_static_summary_and_a_runbook() -> None:
    index = (RUNBOOKS / "README.md").read_text()
    for alert in prometheus_rules():
        annotations = dict(alert.annotations)
        assert set(annotations) == {"summary", "description", "runbook_url"}, alert
        # static: one title for every check; the templated details are in the description
        assert "{{" not in annotations["summary"] and "$" not in annotations["summary"], alert
        assert annotations["runbook_url"] == f"{RUNBOOK_BASE}{alert.name}.md", alert
        page = RUNBOOKS / f"{alert.name}.md"
        assert page.exists(), f"{alert.name}: no runbook {page}"
        text = page.read_text()
        assert text.startswith(f"# {alert.name}\n"), page
        for section in ("## What it means", "## How to look", "## What to do"):
            assert f"\n{section}\n" in text, (page, section)
        look = text.split("## How to look", 1)[1].split("## What to do", 1)[0]
        assert "    kubectl " in look, f"{page}: no kubectl command to look with"
        assert f"({alert.name}.md)" in index, f"docs/runbooks/README.md does not list {alert.name}"
    assert {p.stem for p in RUNBOOKS.glob("*.md")} - {"README"} == \
        {a.name for a in prometheus_rules()}, "a runbook without an alert"
