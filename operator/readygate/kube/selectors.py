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
