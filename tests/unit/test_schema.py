"""The CRD is generated from the spec types; the committed file must be exactly that output."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import yaml

from readygate.api import schema, spec
from readygate.api.fields import json_name, meta_of

ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = ROOT / "crds" / "readinesschecks.readygate.io.yaml"


def test_committed_crd_is_the_generated_one() -> None:
    committed = yaml.safe_load(CRD_FILE.read_text())
    assert committed == schema.crd(), (
        "crds/ drifted from operator/readygate/api/spec.py: run "
        "`readygate crd -o crds/readinesschecks.readygate.io.yaml`")


def _walk(cls: type, node: dict[str, Any], path: str) -> list[str]:
    """Every dataclass field has a schema property of the right type, and nothing more."""
    problems = []
    hints = typing.get_type_hints(cls)
    props = node["properties"]
    names = {json_name(f) for f in dataclasses.fields(cls)}
    if set(props) != names:
        problems.append(f"{path}: schema {sorted(props)} != code {sorted(names)}")
    for f in dataclasses.fields(cls):
        prop = props.get(json_name(f))
        if prop is None:
            continue
        here = f"{path}.{json_name(f)}"
        if not prop.get("description"):
            problems.append(f"{here}: no description")
        tp, _ = schema.unwrap_optional(hints[f.name])
        if dataclasses.is_dataclass(tp):
            problems += _walk(tp, prop, here)  # type: ignore[arg-type]
        elif typing.get_origin(tp) is tuple:
            item = typing.get_args(tp)[0]
            assert prop["type"] == "array", here
            if dataclasses.is_dataclass(item):
                problems += _walk(item, prop["items"], here + "[]")
        elif meta_of(f).duration or meta_of(f).percent:  # float in code, "30s"/"99.9%" in YAML
            assert prop["type"] == "string" and prop["pattern"], here
        else:
            expected = {str: "string", int: "integer", float: "number", bool: "boolean",
                        dict: "object"}[typing.get_origin(tp) or tp]
            if prop["type"] != expected:
                problems.append(f"{here}: schema {prop['type']} != code {expected}")
    return problems


def test_schema_and_spec_types_agree() -> None:
    root = schema.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert _walk(spec.CheckSpec, root["properties"]["spec"], "spec") == []


def test_crd_names_and_columns() -> None:
    crd = schema.crd()
    names = crd["spec"]["names"]
    assert names["shortNames"] == ["rgc"] and "rc" not in names["shortNames"]
    assert names["categories"] == ["readygate"]
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c.get("priority", 0) for c in version["additionalPrinterColumns"]}
    # kubectl get: NAME READY VERDICT SCORE AGE; -o wide adds the long ones
    assert columns == {"Ready": 0, "Verdict": 0, "Score": 0, "Age": 0, "Phase": 1, "P95ms": 1,
                       "Summary": 1}
    p95 = next(c for c in version["additionalPrinterColumns"] if c["name"] == "P95ms")
    assert p95["type"] == "integer" and p95["jsonPath"] == ".status.p95Ms"


def _undescribed(node: dict, path: str) -> list[str]:  # type: ignore[type-arg]
    out = []
    for name, sub in (node.get("properties") or {}).items():
        here = f"{path}.{name}"
        if not sub.get("description"):
            out.append(here)
        out.extend(_undescribed(sub, here))
    items = node.get("items")
    if isinstance(items, dict):
        out.extend(_undescribed(items, path + "[]"))
    return out


def test_every_status_and_spec_field_is_described() -> None:
    root = schema.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    assert _undescribed(root["status"], "status") == []
    assert _undescribed(root["spec"], "spec") == []


def test_status_checks_is_a_list_keyed_by_name() -> None:
    checks = schema.status_schema()["properties"]["checks"]
    assert checks["type"] == "array" and checks["x-kubernetes-list-type"] == "map"
    assert checks["x-kubernetes-list-map-keys"] == ["name"]
    assert checks["items"]["required"] == ["name", "result"]


def _spec_schema() -> dict:  # type: ignore[type-arg]
    return schema.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]


def test_exactly_one_target_is_a_cel_rule_with_a_message() -> None:
    target = _spec_schema()["properties"]["target"]
    assert "oneOf" not in target  # its message named no field: "must validate one and only one"
    (rule,) = target["x-kubernetes-validations"]
    assert "has(self.deploy)" in rule["rule"] and "has(self.url)" in rule["rule"]
    assert rule["message"] == "set exactly one of deploy, workloadRef, service or url"


def _rules(node: object) -> list[dict]:  # type: ignore[type-arg]
    found = []
    if isinstance(node, dict):
        found.extend(node.get("x-kubernetes-validations") or [])
        for value in node.values():
            found.extend(_rules(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_rules(value))
    return found


def test_every_cross_field_rule_of_the_code_has_a_cel_twin_with_a_message() -> None:
    rules = _rules(_spec_schema())
    assert all(r["message"] and r["rule"] for r in rules)
    text = " ".join(r["rule"] for r in rules)
    # the rules parse.py enforces across fields, each also enforced by the API server
    for needle in ("has(self.value) != has(self.valueFrom)", "self.model != 'open'",
                   "self.model != 'closed'", "self.start <= self.max", "self.warnOnly",
                   "{token}", "has(self.target.url)", "has(self.gate)", "lowerAscii",
                   "duration(self.resilience.after)", "self.expectStatus"):
        assert needle in text, needle


def test_duration_bounds_are_cel_rules() -> None:
    within = _spec_schema()["properties"]["readiness"]["properties"]["within"]
    (rule,) = within["x-kubernetes-validations"]
    assert rule == {"rule": "duration(self) >= duration('1s') && duration(self) <= "
                            "duration('1h')", "message": "must be at least 1s and at most 1h"}
    assert within["maxLength"] == 32


def test_bounds_in_schema_come_from_the_same_declaration() -> None:
    load = schema.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"][
        "spec"]["properties"]["load"]["properties"]
    assert load["rate"]["maximum"] == spec.MAX_RATE
    assert load["users"]["maximum"] == spec.MAX_USERS
    assert load["workers"]["maximum"] == spec.MAX_WORKERS
    assert load["model"]["enum"] == ["open", "closed"]
    assert load["duration"]["default"] == "30s"
