"""The Grafana-managed alert rules carry exactly the PrometheusRule's alerts.

prometheusrule.yaml is the single source of the alert expressions; the Grafana provisioning
file repeats them for a Grafana that evaluates alerts itself. These tests fail on any drift:
a missing or extra alert, a different expression, ``for``, label or annotation, and on a
Grafana rule that is wired wrong (condition, threshold, datasource uid).
"""

from __future__ import annotations

import dataclasses

from .artifacts import (
    GRAFANA_ALERTS,
    GRAFANA_DATASOURCES,
    Alert,
    grafana_rules,
    load_yaml,
    prometheus_rules,
)


def _by_name(alerts: list[Alert]) -> dict[str, Alert]:
    found = {a.name: a for a in alerts}
    assert len(found) == len(alerts), "alert names must be unique"
    return found


def drift(source: list[Alert], copy: list[Alert]) -> list[str]:
    """What differs between two alert sets, one line per difference (empty: no drift)."""
    a, b = _by_name(source), _by_name(copy)
    out = [f"{name}: only in the PrometheusRule" for name in sorted(a.keys() - b.keys())]
    out += [f"{name}: only in the Grafana rules" for name in sorted(b.keys() - a.keys())]
    for name in sorted(a.keys() & b.keys()):
        for field in dataclasses.fields(Alert):
            left, right = getattr(a[name], field.name), getattr(b[name], field.name)
            if left != right:
                out.append(f"{name}.{field.name}: {left!r} != {right!r}")
    return out


def test_grafana_rules_are_the_prometheus_rules() -> None:
    assert drift(prometheus_rules(), grafana_rules()) == []


def test_drift_is_detected() -> None:
    rules = prometheus_rules()
    changed = [dataclasses.replace(rules[0], expr=rules[0].expr + " > 2"), *rules[1:-1]]
    found = drift(rules, changed)
    assert f"{rules[0].name}.expr: {rules[0].expr!r} != {rules[0].expr + ' > 2'!r}" in found
    assert f"{rules[-1].name}: only in the PrometheusRule" in found


def test_grafana_rules_are_wired_to_the_provisioned_datasource() -> None:
    (datasource,) = load_yaml(GRAFANA_DATASOURCES)["datasources"]
    assert datasource["type"] == "prometheus"
    provisioning = load_yaml(GRAFANA_ALERTS)
    assert provisioning["apiVersion"] == 1
    uids = []
    for group in provisioning["groups"]:
        assert group["folder"] == "readygate" and group["interval"] == "1m"
        for rule in group["rules"]:
            uids.append(rule["uid"])
            assert len(rule["uid"]) <= 40, rule["uid"]
            by_ref = {d["refId"]: d for d in rule["data"]}
            condition = by_ref[rule["condition"]]
            assert condition["datasourceUid"] == "__expr__"
            model = condition["model"]
            assert model["type"] == "threshold"
            assert model["conditions"] == [{"evaluator": {"type": "gt", "params": [0]}}]
            query = by_ref[model["expression"]]
            assert query["datasourceUid"] == datasource["uid"], rule["title"]
            assert query["model"]["instant"] is True, rule["title"]
            # no data is no failing check, no errors, a running operator
            assert rule["noDataState"] == "OK" and rule["execErrState"] == "Error"
    assert len(uids) == len(set(uids))

