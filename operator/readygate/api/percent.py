"""Percentages in the ReadinessCheck API (``99.9%``): a fraction (0.999) in Python, a string with a
percent sign in YAML, as durations are float seconds in Python and ``30s`` in YAML.

One form only, so that ``0.999`` and ``99.9`` cannot be mistaken for each other: the API server
refuses a number where a percentage belongs, and ``parse`` says how to write it. The value is read
in decimal, so ``99.9%`` is exactly the float nearest 0.999, not 99.9 / 100. Pure.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

PATTERN = r"^[0-9]{1,3}(\.[0-9]{1,6})?%$"
MAX_LENGTH = 12


def parse_percent(raw: Any) -> float:
    """``"99.9%"`` -> 0.999; a ``ValueError`` saying how to write it otherwise."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ValueError(f"must be a percentage such as 99.9%, got {raw!r}")
    if not isinstance(raw, str):
        if 0 < raw <= 1:
            also = f" (the fraction {raw!r} is written {format_percent(float(raw))})"
        elif 1 < raw <= 100:
            also = f" (write {raw!r}%)"
        else:
            also = ""
        raise ValueError(f"write a percentage with a percent sign, such as 99.9%, not the "
                         f"number {raw!r}{also}")
    text = raw.strip()
    if len(text) > MAX_LENGTH or not re.match(PATTERN, text):
        raise ValueError(f"{raw!r} is not a percentage such as 99.9% (digits, at most six "
                         "decimals, then %)")
    try:
        return float(Decimal(text[:-1]) / 100)
    except InvalidOperation as exc:  # the pattern makes this unreachable
        raise ValueError(f"{raw!r} is not a percentage such as 99.9%") from exc


def format_percent(fraction: float) -> str:
    """0.999 -> ``99.9%``; 0.99995 -> ``99.995%`` (at most six decimals, no trailing zeros)."""
    text = f"{Decimal(repr(fraction)) * 100:.6f}".rstrip("0").rstrip(".")
    return text + "%"
