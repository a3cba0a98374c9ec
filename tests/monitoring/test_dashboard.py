"""The Grafana dashboard JSON and its provisioning files, without a Grafana.

Structure (stable uid, variables, every panel with a datasource and queries), and every query,
rendered as Grafana would render it, checked as PromQL by promtool (as recording rules). That the
queries return data is for the e2e test against a real Prometheus (tests/e2e/test_monitoring.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from .artifacts import (
    DASHBOARD,
    GRAFANA_DASHBOARD_PROVIDERS,
    dashboard,
    load_yaml,
    metric_names,
    panel_queries,
    panels,
    promtool,
    render,
    variables,
)

DS = {"type": "prometheus", "uid": "${datasource}"}
# per-check series: queries on them must honour the namespace and check selections
PER_CHECK = re.compile(r"readygate_check_(?!runs_total)")
SAMPLE_VALUES = {"namespace": "(shop|payments)", "check": "(orders|cart)",
                 "__rate_interval": "2m", "__interval": "30s", "__range": "6h",
                 "datasource": "readygate-prometheus"}


def test_uid_title_and_time_settings() -> None:
    dash = dashboard()
    assert dash["uid"] == "readygate-checks"
    assert "readygate" in dash["title"]
    assert isinstance(dash["schemaVersion"], int) and dash["schemaVersion"] >= 36
    assert "id" not in dash, "a provisioned dashboard must not carry a database id"
    assert DASHBOARD.read_text().endswith("}\n")


def test_variables_come_from_label_values() -> None:
    found = variables(dashboard())
    assert list(found) == ["datasource", "namespace", "check"]
    assert found["datasource"]["type"] == "datasource"
    assert found["datasource"]["query"] == "prometheus"
    namespace, check = found["namespace"], found["check"]
    assert namespace["definition"] == "label_values(readygate_check_verdict, namespace)"
    assert check["definition"] == \
        'label_values(readygate_check_verdict{namespace=~"$namespace"}, name)'
    for var in (namespace, check):
        assert var["type"] == "query"
        assert var["datasource"] == DS
        assert var["query"]["query"] == var["definition"]
        assert var["multi"] and var["includeAll"]
        assert var["refresh"] == 2  # on time range change: new checks show up


def test_every_panel_has_a_datasource_and_queries() -> None:
    dash = dashboard()
    all_panels = panels(dash)
    assert len(all_panels) >= 15
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in all_panels:
        where = panel["title"]
        assert panel["datasource"] == DS, where
        assert panel.get("description"), where
        assert panel["targets"], where
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), where
        for target in panel["targets"]:
            assert target["datasource"] == DS, where
            assert target["expr"].strip(), where
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, where


def test_per_check_panels_follow_the_namespace_and_check_variables() -> None:
    for query in panel_queries(dashboard()):
        if PER_CHECK.search(query.expr):
            assert 'namespace=~"$namespace"' in query.expr, query
            assert 'name=~"$check"' in query.expr, query


def test_the_dashboard_shows_each_measured_value() -> None:
    used = set().union(*(metric_names(q.expr) for q in panel_queries(dashboard())))
    for metric in ("readygate_check_verdict", "readygate_check_score",
                   "readygate_check_ready", "readygate_check_stalled",
                   "readygate_check_latency_seconds", "readygate_check_requests_per_second",
                   "readygate_check_error_ratio", "readygate_check_time_to_ready_seconds",
                   "readygate_check_recovery_seconds", "readygate_check_memory_growth_bytes",
                   "readygate_check_last_verdict_timestamp_seconds",
                   "readygate_check_runs_total", "readygate_reconciles_total",
                   "readygate_reconcile_errors_total",
                   "readygate_time_to_verdict_seconds_bucket"):
        assert metric in used, metric


def test_every_query_renders_to_valid_promql(tmp_path: Path) -> None:
    queries = panel_queries(dashboard())
    rules: list[dict[str, Any]] = []
    for i, query in enumerate(queries):
        rendered = render(query.expr, SAMPLE_VALUES)
        assert "$" not in rendered, query
        rules.append({"record": f"readygate:dashboard_query:{i}", "expr": rendered})
    path = tmp_path / "queries.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    proc = promtool("check", "rules", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(rules)} rules found" in proc.stdout


def test_render_refuses_unknown_variables() -> None:
    with pytest.raises(KeyError):
        render('up{job="$job"}', SAMPLE_VALUES)
    assert render("rate(x[$__rate_interval]) * ${namespace}", SAMPLE_VALUES) == \
        "rate(x[2m]) * (shop|payments)"


def test_dashboard_provider_loads_files_into_the_readygate_folder() -> None:
    providers = load_yaml(GRAFANA_DASHBOARD_PROVIDERS)
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["folder"] == "readygate"
    assert provider["options"]["path"].startswith("/")
