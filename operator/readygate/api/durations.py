"""Durations in the ReadinessCheck API (``200ms``, ``30s``, ``1m30s``, ``2h``): the load engine's
own parser (``readygate.load.durations``), so the API, the CRD's pattern and the command line
read durations the same way."""

from __future__ import annotations

from readygate.load.durations import PATTERN, format_duration, parse_duration

__all__ = ["PATTERN", "format_duration", "parse_duration"]
