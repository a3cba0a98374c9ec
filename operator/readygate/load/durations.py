"""Durations as Kubernetes users write them (``200ms``, ``30s``, ``1m30s``, ``2h``): the one
parser of readygate. The ReadinessCheck API (``api.durations`` re-exports it; ``schema`` puts
``PATTERN`` into the CRD, a subset of Go's ``time.ParseDuration`` so CEL's ``duration()``
reads it too) and the ``readygate load``/``check`` command lines both use it; the command
line also takes a bare number as seconds (``bare_seconds``). Pure.
"""

from __future__ import annotations

import re

PATTERN = r"^([0-9]+(\.[0-9]+)?(us|ms|s|m|h))+$"
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(us|ms|s|m|h)")
_UNIT = {"us": 1e-6, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_WHOLE = re.compile(PATTERN)


__all__ = ["PATTERN", "format_duration", "parse_duration"]
_BARE = re.compile(r"^[0-9]+(\.[0-9]+)?$")


def parse_duration(text: str, *, bare_seconds: bool = False) -> float:
    """Seconds in ``text``; ``ValueError`` with the accepted form when it is not a duration.
    ``bare_seconds``: a plain number is seconds (for command lines)."""
    if isinstance(text, str) and bare_seconds and _BARE.match(text.strip()):
        return float(text.strip())
    if not isinstance(text, str) or not _WHOLE.match(text):
        raise ValueError(f"{text!r} is not a duration; write it like 500ms, 30s, 2m or 1m30s")
    return sum(float(num) * _UNIT[unit] for num, unit in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """The shortest usual spelling: ``0.25`` → ``250ms``, ``90`` → ``1m30s``, ``7200`` → ``2h``."""
    if seconds < 1 and seconds != 0:
        millis = round(seconds * 1000, 3)
        return f"{millis:g}ms"
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    out = ""
    if hours:
        out += f"{hours}h"
    if minutes:
        out += f"{minutes}m"
    if secs or not out:
        out += f"{secs}s"
    return out
