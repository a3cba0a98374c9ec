"""Reading a ReadinessCheck's status in tests: ``status.checks`` is a list keyed by name (as
Kubernetes API conventions ask); ``checks_of`` gives it as a mapping from name to entry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def checks_of(status: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    entries = status.get("checks") or []
    assert isinstance(entries, list), f"status.checks is a list, not {type(entries).__name__}"
    return {str(c["name"]): dict(c) for c in entries}
