"""Kubernetes resource quantities (``64Mi``, ``1.5G``, ``500k``) as numbers of bytes. Pure.

Only the forms a memory bound needs: a decimal number with an optional binary (Ki, Mi, Gi, Ti)
or decimal (k, M, G, T) suffix. ``parse_quantity`` and ``format_bytes`` are used by the spec
parser and the stability check.
"""

from __future__ import annotations

import re

_SUFFIX = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
           "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")


def parse_quantity(text: str) -> float:
    """Bytes in ``text``; ValueError says what is wrong."""
    m = _QUANTITY.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a quantity such as 64Mi, 1Gi or 500M")
    return float(m.group(1)) * _SUFFIX[m.group(2) or ""]


def format_bytes(value: float) -> str:
    """``value`` bytes in the largest binary unit that keeps it >= 1 (``12.5Mi``)."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit in ("Ti", "Gi", "Mi", "Ki"):
        size = _SUFFIX[unit]
        if value >= size:
            return f"{sign}{value / size:.1f}{unit}"
    return f"{sign}{value:.0f}B"
