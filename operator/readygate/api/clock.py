"""Wall-clock timestamps as Kubernetes writes them (``2026-01-01T00:00:00Z``). Pure helpers."""

from __future__ import annotations

import datetime

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime(FORMAT)


def utc_at(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime(FORMAT)


def parse_time(ts: object) -> float | None:
    """Epoch seconds of a Kubernetes timestamp, or None when it is missing or malformed."""
    if not isinstance(ts, str) or not ts:
        return None
    try:
        return datetime.datetime.strptime(ts, FORMAT).replace(tzinfo=datetime.UTC).timestamp()
    except ValueError:
        return None
