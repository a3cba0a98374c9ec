"""Numbers and strings as the report shows them, and the escaping of everything it quotes.

Every string a report quotes comes from a ReadinessCheck (names, messages, log lines, evidence)
and so from whoever could write that object: ``esc`` makes it inert in HTML and in the SVG
inside it, ``md`` in Markdown (no HTML, no links, no emphasis, no table breaks), and ``fence``
picks a code fence no log line can close. Numbers are formatted by their key's unit suffix
(``p95Ms`` → ms, ``errorRate`` → %, ``...Bytes`` → MiB). Pure.
"""

from __future__ import annotations

import html
import math
import re

from readygate.api.quantity import format_bytes

TIMES, MINUS = "\u00d7", "\u2212"
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~<>])")
_MD_LEADING = re.compile(r"^(\d*)((?<![0-9])[#+=-]|(?<=[0-9])[.)](?=\s|$))")
# C0 (but tab and newline) and C1 controls, and the bidirectional overrides that make text
# read other than it is
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def esc(text: object) -> str:
    """HTML and SVG text or attribute value: ``& < > " '`` escaped, control characters gone."""
    return html.escape(_CONTROL.sub("", str(text)), quote=True)


def md(text: object) -> str:
    """Markdown text, one line: no HTML, link, emphasis or table cell boundary survives."""
    one = " ".join(_CONTROL.sub("", str(text)).split())
    one = _MD_SPECIAL.sub(r"\\\1", one.replace("&", "&amp;"))
    return _MD_LEADING.sub(r"\1\\\2", one)  # no heading, list or rule where it starts a line


def terminal(text: object, width: int) -> str:
    """One line for a terminal, at most ``width`` characters: no escape sequence survives."""
    one = " ".join(_CONTROL.sub("", str(text)).split())
    return one if len(one) <= width else one[:width - 1] + "…"


def fence(lines: list[str]) -> str:
    """A backtick fence longer than any run of backticks in ``lines``."""
    longest = max((len(m) for line in lines for m in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


def code_line(text: object) -> str:
    """A log line inside a fenced block: one line, no control characters."""
    return _CONTROL.sub("", str(text)).replace("\r", " ").replace("\n", " ")


def num(value: object) -> float | None:
    """A finite number from status (which anyone with write access could fill), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def plain(value: float) -> str:
    """Three significant digits, no exponent for everyday magnitudes."""
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:.{min(digits, 6)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def seconds(value: float) -> str:
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{plain(value)} s"
    minutes, secs = divmod(round(value), 60)
    return f"{minutes}m{secs:02d}s"


def by_unit(key: str, value: float) -> str:
    """A measured value by its key: ``p95Ms`` 12.3 → ``12.3 ms``, ``errorRate`` → ``1.2 %``."""
    if key.endswith("Ms"):
        return f"{plain(value)} ms"
    if key.endswith("Seconds"):
        return seconds(value)
    if key.endswith("Bytes"):
        return format_bytes(value)
    if "Rate" in key or key.endswith("Ratio"):
        return percent(value)
    if key.endswith("Rps") or key == "rps":
        return f"{plain(value)} req/s"
    return plain(value)


def percent(fraction: float) -> str:
    if fraction == 0:
        return "0 %"
    pct = fraction * 100
    return f"{plain(pct)} %"


def label(key: str) -> str:
    """``p95Ms`` → ``p95``, ``errorRateDuringRecovery`` → ``error rate during recovery``."""
    base = re.sub(r"(Ms|Seconds|Bytes)$", "", key)
    if re.fullmatch(r"p\d+", base):
        return base
    if base == "rps":
        return "throughput"
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: " " + m.group(1).lower(), base)


def change(before: float, now: float) -> str:
    """How ``now`` differs from ``before``: ``+30 %``, minus 12 %, times 2.0, ``unchanged``
    (with the typographic minus and multiplication signs)."""
    if before == now:
        return "unchanged"
    if before == 0:
        return "from 0"
    ratio = now / before
    if ratio >= 2:  # a rise by a factor; a fall is always a percentage (-94 %, not x0.06)
        return f"{TIMES}{ratio:.1f}" if ratio < 10 else f"{TIMES}{ratio:.0f}"
    pct = (ratio - 1) * 100
    sign = "+" if pct > 0 else MINUS
    return f"{sign}{abs(pct):.0f} %"
