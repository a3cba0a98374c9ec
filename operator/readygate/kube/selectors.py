"""Label selectors as the API server takes them: a ``LabelSelector`` (``matchLabels`` and
``matchExpressions``) or a Service's selector map turned into the query string. Pure.

The whole selector is converted — never ``matchLabels`` alone: a workload that selects with
``matchExpressions`` would otherwise select every pod of the namespace, and a restart would
delete them all. An empty selector (which selects everything) is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_NAME = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                   r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


class SelectorError(ValueError):
    """A selector that cannot be used safely: empty, or not a label selector."""


def _key(key: Any) -> str:
    if not isinstance(key, str) or len(key) > 316 or not _NAME.match(key):
        raise SelectorError(f"{key!r} is not a label key")
    return key


def _value(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 63 or not _VALUE.match(value):
        raise SelectorError(f"{value!r} is not a label value")
    return value


def from_map(labels: Mapping[str, Any] | None) -> str:
    """``k=v,...`` of a map (a Service's selector, ``matchLabels``); empty refused."""
    return label_selector({"matchLabels": dict(labels or {})})


def label_selector(selector: Mapping[str, Any] | None) -> str:
    """The query string of a ``LabelSelector``; SelectorError when it is empty or invalid."""
    selector = selector or {}
    parts = [f"{_key(k)}={_value(v)}" for k, v in sorted(
        (selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        if not isinstance(expr, Mapping):
            raise SelectorError(f"{expr!r} is not a selector requirement")
        key, op = _key(expr.get("key")), expr.get("operator")
        values = [_value(v) for v in expr.get("values") or []]
        if op in ("In", "NotIn"):
            if not values:
                raise SelectorError(f"{key} {op} needs values")
            parts.append(f"{key} {'in' if op == 'In' else 'notin'} ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
        else:
            raise SelectorError(f"unknown selector operator {op!r}")
    if not parts:
        raise SelectorError("the selector is empty: it would select every pod of the namespace")
    return ",".join(parts)


_REQUIREMENT = re.compile(r"^\s*(?P<neg>!)?\s*(?P<key>[^\s=!(),]+)\s*"
                          r"(?:(?P<op>==|=|!=|\s+in\s+|\s+notin\s+)\s*"
                          r"(?P<rest>\([^()]*\)|[^\s(),]*)\s*)?$")


def _split(query: str) -> list[str]:
    """The requirements of a query string: commas outside parentheses separate them."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(query):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(query[start:i])
            start = i + 1
    parts.append(query[start:])
    return [p for p in parts if p.strip()]


def matches(query: str, labels: Mapping[str, str] | None) -> bool:
    """Whether a label selector query string (as ``label_selector`` writes it, or the API
    server takes it) selects an object with these labels. Used on the watch cache, so a read
    selects exactly what a LIST with the same ``labelSelector`` would. An empty query selects
    nothing here (readygate never reads every pod); SelectorError on a query it cannot read."""
    labels = labels or {}
    parts = _split(query)
    if not parts:
        return False
    for part in parts:
        m = _REQUIREMENT.match(part)
        if m is None:
            raise SelectorError(f"{part!r} is not a label selector requirement")
        key, op, rest = m["key"], (m["op"] or "").strip(), m["rest"]
        if m["neg"]:
            if op:
                raise SelectorError(f"{part!r} is not a label selector requirement")
            if key in labels:
                return False
            continue
        if not op:
            if key not in labels:
                return False
            continue
        if op in ("in", "notin"):
            if not rest or not rest.startswith("("):
                raise SelectorError(f"{part!r}: {op} needs a (list)")
            values = {v.strip() for v in rest[1:-1].split(",")}
            if (key in labels and labels[key] in values) != (op == "in"):
                return False
            continue
        value = rest or ""
        if (op == "!=") == (labels.get(key) == value):
            return False
    return True
