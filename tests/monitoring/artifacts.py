"""Reads the shipped monitoring artifacts (manifests/monitoring/) for the tests.

``prometheus_rules`` and ``grafana_rules`` give the alerts of the PrometheusRule and of the
Grafana provisioning file in one comparable shape (``Alert``); ``write_rule_file`` extracts the
PrometheusRule's ``spec`` as the plain rule file promtool and Prometheus read. ``panel_queries``
lists every query of the dashboard and ``render`` substitutes Grafana's variables the way
Grafana does before it sends a query. ``metric_names`` finds the readygate metrics a PromQL
expression uses; ``promtool`` runs Debian's promtool (or another, such as the recent one
``gotools.recent_promtool`` builds). Shared by the unit tests
(tests/monitoring) and the e2e test that runs all of it against a real Prometheus
(tests/e2e/test_monitoring.py).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "manifests" / "monitoring"
PROMETHEUS_RULE = MONITORING / "prometheusrule.yaml"
RULES_TEST = MONITORING / "rules.test.yaml"
SERVICE_MONITOR = MONITORING / "servicemonitor.yaml"
GRAFANA = MONITORING / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "readygate-checks.json"
GRAFANA_ALERTS = GRAFANA / "alerting" / "readygate.yaml"
GRAFANA_DATASOURCES = GRAFANA / "provisioning" / "datasources" / "readygate.yaml"
GRAFANA_DASHBOARD_PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "readygate.yaml"
RULE_FILE_NAME = "readygate.rules.yaml"  # what rules.test.yaml's rule_files names
JOB = "readygate"  # the scrape job of the operator (ServiceMonitor jobLabel, e2e Prometheus)


@dataclasses.dataclass(frozen=True)
class Alert:
    name: str
    group: str
    expr: str
    for_: str
    labels: tuple[tuple[str, str], ...]
    annotations: tuple[tuple[str, str], ...]


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _normal(expr: str) -> str:
    return " ".join(expr.split())


def prometheus_rules() -> list[Alert]:
    spec = load_yaml(PROMETHEUS_RULE)["spec"]
    return [Alert(name=r["alert"], group=g["name"], expr=_normal(r["expr"]),
                  for_=str(r.get("for", "0s")),
                  labels=tuple(sorted((r.get("labels") or {}).items())),
                  annotations=tuple(sorted((r.get("annotations") or {}).items())))
            for g in spec["groups"] for r in g["rules"]]


def grafana_rules() -> list[Alert]:
    """The Grafana-managed rules: the expression is that of the query the condition reads."""
    out = []
    for group in load_yaml(GRAFANA_ALERTS)["groups"]:
        for rule in group["rules"]:
            by_ref = {d["refId"]: d for d in rule["data"]}
            threshold = by_ref[rule["condition"]]["model"]
            query = by_ref[threshold["expression"]]
            out.append(Alert(name=rule["title"], group=group["name"],
                             expr=_normal(query["model"]["expr"]),
                             for_=str(rule.get("for", "0s")),
                             labels=tuple(sorted((rule.get("labels") or {}).items())),
                             annotations=tuple(sorted((rule.get("annotations") or {}).items()))))
    return out


def write_rule_file(directory: Path) -> Path:
    """The PrometheusRule's spec as a plain Prometheus rule file in ``directory``."""
    path = directory / RULE_FILE_NAME
    path.write_text(yaml.safe_dump(load_yaml(PROMETHEUS_RULE)["spec"], sort_keys=False))
    return path


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels(dash: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included, rows themselves excluded."""
    out: list[dict[str, Any]] = []
    for panel in dash["panels"]:
        if panel.get("type") == "row":
            out.extend(panel.get("panels") or [])
        else:
            out.append(panel)
    return out


@dataclasses.dataclass(frozen=True)
class Query:
    panel: str
    ref: str
    expr: str
    instant: bool


def panel_queries(dash: dict[str, Any]) -> list[Query]:
    return [Query(panel=p["title"], ref=t["refId"], expr=t["expr"],
                  instant=bool(t.get("instant")) and not t.get("range"))
            for p in panels(dash) for t in p["targets"]]


def variables(dash: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dash["templating"]["list"]}


_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def render(expr: str, values: dict[str, str]) -> str:
    """``expr`` with ``$name`` / ``${name}`` / ``${name:fmt}`` replaced from ``values``.

    The values are what Grafana would substitute: a regex alternation ``(a|b)`` for a
    multi-value variable used with ``=~``, a duration for ``$__rate_interval``. An unknown
    variable is an error, so a query can never reach Prometheus half-rendered.
    """
    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no value for ${name} in {expr!r}")
        return values[name]
    return _VARIABLE.sub(one, expr)


_METRIC = re.compile(r"\b(readygate_[a-z0-9_]+)")


def metric_names(expr: str) -> set[str]:
    return set(_METRIC.findall(expr))


def promtool(*args: str, cwd: Path, input: str | None = None,
             binary: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Debian's promtool (or ``binary``, e.g. ``gotools.recent_promtool()``) with ``args``."""
    found = str(binary) if binary is not None else shutil.which("promtool")
    assert found is not None, "promtool is not installed: run hack/bootstrap (Debian prometheus)"
    return subprocess.run([found, *args], cwd=cwd, input=input, capture_output=True, text=True,
                          timeout=120, check=False)
