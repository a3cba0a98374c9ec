"""Running a check again now, without changing its spec: the ``readygate.io/rerun`` annotation.

``kubectl readygate rerun NAME`` sets the annotation to a new token (the time it was asked);
the operator starts a new run when the token differs from ``status.handledRerun``, the token
the last run started with (``control.plan.decide``). A run in progress finishes first. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ANNOTATION = "readygate.io/rerun"
TOKEN_CHARS = 100  # a longer value is cut to this (status stays small); compared cut


def token_of(metadata: Mapping[str, Any] | None) -> str | None:
    """The rerun token a user set on the check, or None."""
    annotations = (metadata or {}).get("annotations") or {}
    value = annotations.get(ANNOTATION) if isinstance(annotations, Mapping) else None
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:TOKEN_CHARS]
