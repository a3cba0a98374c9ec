"""metav1.Condition lists, kstatus style. Pure.

Owns setting and removing one condition in a list while keeping ``lastTransitionTime`` unless
the status flips, and ``merge_patch``: the RFC 7386 merge patch that turns one status into
another, so the writer sends only what changed (and nothing at all when nothing did).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Condition = dict[str, Any]


def find(conditions: Sequence[Mapping[str, Any]], ctype: str) -> Mapping[str, Any] | None:
    for cond in conditions:
        if cond.get("type") == ctype:
            return cond
    return None


def set_condition(conditions: Sequence[Mapping[str, Any]], ctype: str, status: str, reason: str,
                  message: str, *, generation: int, now: str) -> list[Condition]:
    """A new list with ``ctype`` set; the transition time moves only when the status flips."""
    old = find(conditions, ctype)
    changed = old is None or old.get("status") != status
    new: Condition = {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": message[:32768],
        "observedGeneration": generation,
        "lastTransitionTime": now if changed or old is None else old.get("lastTransitionTime", now),
    }
    out = [dict(c) for c in conditions if c.get("type") != ctype]
    out.append(new)
    return sorted(out, key=_order)


def remove_condition(conditions: Sequence[Mapping[str, Any]], ctype: str) -> list[Condition]:
    return [dict(c) for c in conditions if c.get("type") != ctype]


_FIRST = ("Ready", "Reconciling", "Stalled")


def _order(cond: Mapping[str, Any]) -> tuple[int, str]:
    ctype = str(cond.get("type", ""))
    return (_FIRST.index(ctype) if ctype in _FIRST else len(_FIRST), ctype)


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns ``old`` into ``new``; ``{}`` when equal."""
    patch: dict[str, Any] = {}
    for key in old:
        if key not in new:
            patch[key] = None
    for key, value in new.items():
        before = old.get(key)
        if key in old and before == value:
            continue
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            sub = merge_patch(before, value)
            if sub:
                patch[key] = sub
        else:
            patch[key] = value
    return patch
