"""Turning a resource's ``spec`` (plain YAML/JSON data) into ``spec.CheckSpec``, or saying why not.

Owns validation in code. The API server already enforces the generated schema, but the CLI reads
files directly and old servers skip some rules, so every bound declared in ``spec`` is checked
again here from the same metadata, followed by the rules a schema cannot say (which model needs
which field, stress bounds in order). Every problem is reported at once, each with the path of
the field and what to write instead, in a ``SpecError``. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from readygate.api.durations import format_duration, parse_duration
from readygate.api.fields import has_default, json_name, meta_of
from readygate.api.metricexpr import metrics_problems
from readygate.api.percent import format_percent, parse_percent
from readygate.api.quantity import parse_quantity
from readygate.api.schema import unwrap_optional
from readygate.api.spec import CheckSpec, EnvVar, Header, LoadCheck
from readygate.api.urls import split_url

T = TypeVar("T")
# Headers a spec may not set: readygate sends them from the vetted target and the body.
FORBIDDEN_HEADERS = {
    "host": "the target's host, as the target policy vetted it",
    "content-length": "from the body", "transfer-encoding": "from the body",
    "connection": "readygate manages connections", "upgrade": "readygate speaks HTTP/1.1",
}


class SpecError(ValueError):
    """The spec cannot be used; ``problems`` lists each reason with its field path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def parse_spec(data: Any) -> CheckSpec:
    """A validated ``CheckSpec`` from ``data`` (the resource's ``spec``)."""
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise SpecError(["spec: must be an object with at least a target"])
    result = _parse_object(CheckSpec, data, "spec", problems)
    if result is not None:
        _check_rules(result, problems)
    if problems or result is None:
        raise SpecError(problems or ["spec: invalid"])
    return result


def _type_name(tp: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        tp, "an object")


def _parse_object(cls: type[T], data: Any, path: str, problems: list[str]) -> T | None:
    if not isinstance(data, Mapping):
        problems.append(f"{path}: must be an object, got {_show(data)}")
        return None
    hints = typing.get_type_hints(cls)
    known = {json_name(f): f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in data:
        if key not in known:
            choices = ", ".join(sorted(known))
            problems.append(f"{path}.{key}: unknown field; known fields here: {choices}")
    values: dict[str, Any] = {}
    before = len(problems)
    for name, f in known.items():
        here = f"{path}.{name}"
        if name not in data or data[name] is None:
            if not has_default(f):
                problems.append(f"{here}: required")
            continue
        values[f.name] = _parse_value(f, hints[f.name], data[name], here, problems)
    if len(problems) > before:
        return None
    return cls(**values)


def _parse_value(f: dataclasses.Field[Any], tp: Any, raw: Any, path: str,
                 problems: list[str]) -> Any:
    meta = meta_of(f)
    tp, _ = unwrap_optional(tp)
    if meta.duration:
        try:
            value: Any = parse_duration(raw)
        except ValueError as exc:
            problems.append(f"{path}: {exc}")
            return None
        _check_bounds(value, meta.minimum, meta.maximum, path, problems, duration=True)
        return value
    if meta.percent:
        try:
            value = parse_percent(raw)
        except ValueError as exc:
            problems.append(f"{path}: {exc}")
            return None
        _check_bounds(value, meta.minimum, meta.maximum, path, problems, duration=False,
                      percent=True)
        return value
    value = _parse_typed(tp, raw, path, problems)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_bounds(value, meta.minimum, meta.maximum, path, problems, duration=False)
    if meta.enum is not None and value not in meta.enum:
        problems.append(f"{path}: {_show(raw)} is not one of {', '.join(meta.enum)}")
    if isinstance(value, str):
        if meta.max_length is not None and len(value) > meta.max_length:
            problems.append(f"{path}: longer than {meta.max_length} characters")
        elif meta.pattern is not None and not re.search(meta.pattern, value):
            problems.append(f"{path}: {_show(raw)} does not match {meta.pattern}")
    if isinstance(value, tuple):
        if meta.max_items is not None and len(value) > meta.max_items:
            problems.append(f"{path}: more than {meta.max_items} items")
        for i, item in enumerate(value):
            if meta.item_enum is not None and item not in meta.item_enum:
                problems.append(f"{path}[{i}]: {_show(item)} is not one of "
                                f"{', '.join(meta.item_enum)}")
            if (meta.item_pattern is not None and isinstance(item, str)
                    and not re.search(meta.item_pattern, item)):
                problems.append(f"{path}[{i}]: {_show(item)} does not match "
                                f"{meta.item_pattern}")
    return value


def _parse_typed(tp: Any, raw: Any, path: str, problems: list[str]) -> Any:
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _parse_object(tp, raw, path, problems)
    origin = typing.get_origin(tp)
    if origin is tuple:
        (item_tp, _) = typing.get_args(tp)
        if not isinstance(raw, list):
            problems.append(f"{path}: must be a list, got {_show(raw)}")
            return None
        items = [_parse_typed(item_tp, item, f"{path}[{i}]", problems)
                 for i, item in enumerate(raw)]
        return tuple(items)
    if origin is dict:
        (_, value_tp) = typing.get_args(tp)
        if not isinstance(raw, Mapping):
            problems.append(f"{path}: must be an object, got {_show(raw)}")
            return None
        return {str(k): _parse_typed(value_tp, v, f"{path}.{k}", problems)
                for k, v in raw.items()}
    if tp is float and isinstance(raw, float) and not math.isfinite(raw):
        problems.append(f"{path}: must be a finite number, got {_show(raw)}")
        return None
    ok = (
        (tp is bool and isinstance(raw, bool))
        or (tp is str and isinstance(raw, str))
        or (tp is int and isinstance(raw, int) and not isinstance(raw, bool))
        or (tp is float and isinstance(raw, (int, float)) and not isinstance(raw, bool))
    )
    if not ok:
        problems.append(f"{path}: must be {_type_name(tp)}, got {_show(raw)}")
        return None
    return float(raw) if tp is float else raw


def _check_bounds(value: float, low: float | None, high: float | None, path: str,
                  problems: list[str], *, duration: bool, percent: bool = False) -> None:
    def show(x: float) -> str:
        return format_duration(x) if duration else format_percent(x) if percent else f"{x:g}"

    if low is not None and value < low:
        problems.append(f"{path}: must be at least {show(low)}, got {show(value)}")
    if high is not None and value > high:
        problems.append(f"{path}: must be at most {show(high)}, got {show(value)}")


def _show(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_rules(spec: CheckSpec, problems: list[str]) -> None:
    """The rules that span several fields."""
    t = spec.target
    chosen = [name for name, v in (("deploy", t.deploy), ("workloadRef", t.workload_ref),
                                   ("service", t.service), ("url", t.url)) if v is not None]
    if len(chosen) != 1:
        got = ", ".join(chosen) if chosen else "none"
        problems.append("spec.target: set exactly one of deploy, workloadRef, service, url "
                        f"(got {got})")
    if t.url is not None:
        try:
            split_url(t.url)
        except ValueError as exc:
            problems.append(f"spec.target.url: {exc}")
    if t.deploy is not None:
        for i, env in enumerate(t.deploy.env):
            _one_value(env, f"spec.target.deploy.env[{i}]", problems)
    if spec.load is not None:
        _check_load(spec.load, problems)
    if spec.metrics is not None:
        problems.extend(metrics_problems(spec.metrics, url_target=t.url is not None))
    has_pods = t.deploy is not None or t.workload_ref is not None or t.service is not None
    if spec.resilience is not None and not has_pods:
        problems.append("spec.resilience: needs a target with pods (deploy, workloadRef or "
                        "service); a url target has none to delete")
    if spec.resilience is not None and spec.load is not None:
        length = _load_length(spec.load)
        if length is not None and spec.resilience.after >= length:
            problems.append(f"spec.resilience.after: {format_duration(spec.resilience.after)} "
                            f"is not within the load ({format_duration(length)}); pods are "
                            "deleted while the load runs")
    if spec.availability is not None:
        _check_availability(spec, problems)
    if spec.stability is not None:
        if spec.load is None:
            problems.append("spec.stability: needs spec.load (memory and restarts are watched "
                            "while the load runs)")
        if not has_pods:
            problems.append("spec.stability: needs a target with pods (deploy, workloadRef or "
                            "service)")
        if spec.stability.max_memory_growth is not None:
            try:
                parse_quantity(spec.stability.max_memory_growth)
            except ValueError as exc:
                problems.append(f"spec.stability.maxMemoryGrowth: {exc}")
    if spec.persistence is not None:
        p = spec.persistence
        if p.restart is None and not has_pods:
            problems.append("spec.persistence.restart: a url target has no workload to restart; "
                            "name the Deployment or StatefulSet to restart")
        for name, call in (("write", p.write), ("readBack", p.read_back)):
            for j, header in enumerate(call.headers):
                _one_value(header, f"spec.persistence.{name}.headers[{j}]", problems)
        if "{token}" not in p.write.path + (p.write.body or ""):
            problems.append("spec.persistence.write: put {token} in the path or body, so that "
                            "the value read back can only come from this run's write")
    if spec.gate is not None and t.deploy is None and t.workload_ref is None:
        problems.append("spec.gate: pod readiness gates need a deploy or workloadRef target "
                        "(the pods whose rollout the gate holds)")
    if spec.manifest is not None and t.url is not None:
        problems.append("spec.manifest: judges a pod template, and a url target has none; use "
                        "a deploy, workloadRef or service target, or remove spec.manifest")


def _check_availability(spec: CheckSpec, problems: list[str]) -> None:
    availability = spec.availability
    assert availability is not None
    path = "spec.availability"
    if spec.load is None:
        problems.append(f"{path}: is measured over the load: add spec.load (a soak is a long "
                        "load at a low rate)")
    elif spec.load.stress is not None:
        problems.append(f"{path}: is not judged over a stress run, which raises the rate until "
                        "the service breaks: give spec.load a rate or stages instead of stress")
    if availability.window != round(availability.window):
        problems.append(f"{path}.window: {format_duration(availability.window)} is not whole "
                        "seconds (the load counts its requests per second); use e.g. "
                        f"{format_duration(max(1.0, round(availability.window)))}")


def _load_length(load: LoadCheck) -> float | None:
    """How long the load runs (None for a stress run, whose length depends on the target)."""
    if load.stress is not None:
        return None
    if load.stages:
        return sum(s.duration for s in load.stages)
    return load.duration


def _one_value(item: EnvVar | Header, path: str, problems: list[str]) -> None:
    if (item.value is None) == (item.value_from is None):
        problems.append(f"{path}: set exactly one of value, valueFrom")
    if isinstance(item, Header) and item.name.lower() in FORBIDDEN_HEADERS:
        problems.append(f"{path}.name: {item.name} is set by readygate ("
                        f"{FORBIDDEN_HEADERS[item.name.lower()]}); remove it")


def _check_load(load: LoadCheck, problems: list[str]) -> None:
    path = "spec.load"
    if load.rate is not None and load.users is not None:
        problems.append(f"{path}: set rate (open model) or users (closed model), not both")
    if load.model == "open":
        if load.users is not None:
            problems.append(f"{path}.users: only for model closed; the open model takes rate")
        if load.rate is None and not load.stages and load.stress is None:
            problems.append(f"{path}: the open model needs rate, stages or stress")
    else:
        if load.rate is not None:
            problems.append(f"{path}.rate: only for model open; the closed model takes users")
        if load.stress is not None:
            problems.append(f"{path}.stress: only for model open")
        if load.users is None and not load.stages:
            problems.append(f"{path}: the closed model needs users or stages")
        for i, stage in enumerate(load.stages):
            if stage.target != int(stage.target):
                problems.append(f"{path}.stages[{i}].target: users must be a whole number")
    if load.stress is not None and load.stress.start > load.stress.max:
        problems.append(f"{path}.stress: start ({load.stress.start:g}) is above max "
                        f"({load.stress.max:g})")
    thresholds = {"p50": load.thresholds.p50, "p95": load.thresholds.p95,
                  "p99": load.thresholds.p99, "p999": load.thresholds.p999,
                  "maxErrorRate": load.thresholds.max_error_rate,
                  "minThroughput": load.thresholds.min_throughput}
    for name in load.warn_only:
        if thresholds.get(name) is None:
            problems.append(f"{path}.warnOnly: {name} has no threshold in {path}.thresholds")
    for i, req in enumerate(load.requests):
        for j, header in enumerate(req.headers):
            _one_value(header, f"{path}.requests[{i}].headers[{j}]", problems)
        for status in req.expect_status:
            if not 100 <= status <= 599:
                problems.append(f"{path}.requests[{i}].expectStatus: {status} is not an HTTP "
                                "status")
