"""The two small languages of ``spec.metrics``, parsed and checked here. Pure.

**Series selectors** pick samples out of a target's own ``/metrics`` page: a metric name with
optional exact label matchers, as in PromQL — ``process_open_fds``,
``http_requests_total{code="500",method!="GET"}``. A selector's value on one page is the sum of
the samples it matches. A rule's ``expr`` is one selector, or the ratio of two
(``cache_hits_total / cache_lookups_total``). ``parse_selector`` and ``parse_expr`` raise
``ValueError`` saying where and what to write instead.

**PromQL templates** are the queries of ``metrics.promql``, sent to the operator's Prometheus.
They may hold the placeholders ``{namespace}``, ``{name}`` and ``{pod}`` — nothing else — and
only inside a quoted string (a label value), where ``render`` replaces them by their value
escaped for that string: backslashes and quotes escaped, and regex metacharacters too when the
string is the right side of ``=~`` or ``!~``. So a tenant-chosen name can never close the string
or add to the query. ``template_problems`` says what is wrong with a template before it is used.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from readygate.api.promql import reach_problems

if TYPE_CHECKING:
    from readygate.api.spec import MetricsCheck

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
MAX_MATCHERS = 16
PLACEHOLDERS = ("namespace", "name", "pod")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"'}
_REGEX_META = frozenset("\\.+*?()|[]{}^$")


@dataclasses.dataclass(frozen=True)
class Selector:
    """A metric name and exact label matchers: (label, ``=`` or ``!=``, value)."""

    name: str
    matchers: tuple[tuple[str, str, str], ...] = ()

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        if name != self.name:
            return False
        for label, op, value in self.matchers:
            if (labels.get(label, "") == value) != (op == "="):
                return False
        return True

    def __str__(self) -> str:
        if not self.matchers:
            return self.name
        inner = ",".join(f'{label}{op}"{_quote(value)}"' for label, op, value in self.matchers)
        return f"{self.name}{{{inner}}}"


@dataclasses.dataclass(frozen=True)
class Expr:
    """A rule's expression: one selector, or ``numerator / denominator``."""

    numerator: Selector
    denominator: Selector | None = None

    def selectors(self) -> tuple[Selector, ...]:
        return (self.numerator,) if self.denominator is None else (
            self.numerator, self.denominator)

    def __str__(self) -> str:
        if self.denominator is None:
            return str(self.numerator)
        return f"{self.numerator} / {self.denominator}"


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def fail(self, what: str) -> ValueError:
        return ValueError(f"{what} at character {self.i + 1} of {self.text!r}"
                          if len(self.text) <= 80 else f"{what} at character {self.i + 1}")

    def space(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t":
            self.i += 1

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def take(self, pattern: re.Pattern[str], what: str) -> str:
        m = pattern.match(self.text, self.i)
        if not m:
            raise self.fail(f"expected {what}")
        self.i = m.end()
        return m.group(0)

    def string(self) -> str:
        if self.peek() != '"':
            raise self.fail('expected a label value in double quotes ("...")')
        self.i += 1
        out: list[str] = []
        while True:
            c = self.peek()
            if c == "":
                raise self.fail("unterminated label value (a closing \" is missing)")
            self.i += 1
            if c == '"':
                return "".join(out)
            if c == "\n":
                raise self.fail("a line break inside a label value (write \\n)")
            if c == "\\":
                e = self.peek()
                if e not in _ESCAPES:
                    raise self.fail("unknown escape in a label value (use \\\\, \\\" or \\n)")
                self.i += 1
                out.append(_ESCAPES[e])
            else:
                out.append(c)

    def selector(self) -> Selector:
        self.space()
        name = self.take(NAME, "a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)")
        matchers: list[tuple[str, str, str]] = []
        self.space()
        if self.peek() == "{":
            self.i += 1
            while True:
                self.space()
                if self.peek() == "}":
                    self.i += 1
                    break
                label = self.take(LABEL, "a label name ([a-zA-Z_][a-zA-Z0-9_]*) or }")
                self.space()
                if self.text.startswith("!=", self.i):
                    op = "!="
                elif self.text.startswith("=~", self.i) or self.text.startswith("!~", self.i):
                    raise self.fail("regex matchers are not supported here (use = or !=)")
                elif self.peek() == "=":
                    op = "="
                else:
                    raise self.fail(f"expected = or != after {label}")
                self.i += len(op)
                self.space()
                matchers.append((label, op, self.string()))
                if len(matchers) > MAX_MATCHERS:
                    raise self.fail(f"more than {MAX_MATCHERS} label matchers")
                self.space()
                if self.peek() == ",":
                    self.i += 1
                elif self.peek() != "}":
                    raise self.fail("expected , or } after a label matcher")
            self.space()
        return Selector(name, tuple(matchers))


def parse_selector(text: str) -> Selector:
    """A series selector, or ValueError saying what is wrong and where."""
    r = _Reader(text)
    sel = r.selector()
    if r.i != len(text):
        raise r.fail("unexpected text after the selector")
    return sel


def parse_expr(text: str) -> Expr:
    """``selector`` or ``selector / selector``, or ValueError saying what is wrong and where."""
    r = _Reader(text)
    numerator = r.selector()
    denominator = None
    if r.peek() == "/":
        r.i += 1
        denominator = r.selector()
    if r.i != len(text):
        raise r.fail("expected / or the end of the expression (only a series or the ratio of "
                     "two series)")
    return Expr(numerator, denominator)


# -- PromQL templates --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Piece:
    text: str
    quote: str | None = None  # a string literal's quote ('"' or "'"); None: any other text
    regex: bool = False  # the string is the right side of =~ or !~
    comment: bool = False  # a # comment: nothing in it is substituted or refused


def _pieces(query: str) -> list[_Piece]:
    """The query cut into string literals, comments and the text around them (raw strings
    are text: nothing can be substituted there). ValueError for an unterminated string."""
    out: list[_Piece] = []
    i, start, n = 0, 0, len(query)
    while i < n:
        c = query[i]
        if c in "\"'":
            out.append(_Piece(query[start:i]))
            j = i + 1
            while j < n and query[j] != c:
                if query[j] == "\n":
                    raise ValueError("a line break inside a quoted string")
                j += 2 if query[j] == "\\" else 1
            if j >= n:
                raise ValueError(f"unterminated string starting at character {i + 1}")
            before = query[:i].rstrip()
            out.append(_Piece(query[i + 1:j], c, before.endswith(("=~", "!~"))))
            i = start = j + 1
        elif c == "`":
            j = query.find("`", i + 1)
            if j < 0:
                raise ValueError(f"unterminated raw string starting at character {i + 1}")
            i = j + 1
        elif c == "#":
            out.append(_Piece(query[start:i]))
            # Prometheus ends a comment at a carriage return as at a line feed
            ends = [j for j in (query.find("\n", i), query.find("\r", i)) if j >= 0]
            end = min(ends, default=n)
            out.append(_Piece(query[i:end], comment=True))
            i = start = end
        else:
            i += 1
    out.append(_Piece(query[start:]))
    return out


def template_problems(query: str) -> list[str]:
    """What is wrong with a PromQL template: unknown placeholders, placeholders outside a
    quoted label value, unterminated strings. Empty when it can be rendered."""
    try:
        pieces = _pieces(query)
    except ValueError as exc:
        return [str(exc)]
    problems: list[str] = []
    known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    for piece in pieces:
        if piece.comment:
            continue
        for m in _PLACEHOLDER.finditer(piece.text):
            if m.group(1) not in PLACEHOLDERS:
                problems.append(f"unknown placeholder {m.group(0)}; the placeholders are "
                                f"{known}")
            elif piece.quote is None:
                problems.append(f"{m.group(0)} must be inside a quoted label value, e.g. "
                                f'namespace="{{namespace}}"')
    return problems[:5]


def placeholders_of(query: str) -> frozenset[str]:
    """The placeholders a (valid) template uses."""
    return frozenset(m.group(1) for piece in _pieces(query) if piece.quote is not None
                     for m in _PLACEHOLDER.finditer(piece.text) if m.group(1) in PLACEHOLDERS)


def escape_value(value: str, quote: str = '"', *, regex: bool = False) -> str:
    """``value`` as the inside of a PromQL string literal quoted with ``quote``: it can end
    neither the string nor (``regex``) match more than itself."""
    if regex:
        value = "".join("\\" + c if c in _REGEX_META else c for c in value)
    out: list[str] = []
    for c in value:
        if c == "\\" or c == quote:
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif ord(c) < 0x20 or c == "\x7f":
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(c)
    return "".join(out)


def render(query: str, values: Mapping[str, str]) -> str:
    """The query with each placeholder replaced by its escaped value; ValueError when the
    template is invalid or a placeholder it uses has no value."""
    problems = template_problems(query)
    if problems:
        raise ValueError("; ".join(problems))
    out: list[str] = []
    for piece in _pieces(query):
        if piece.quote is None:
            out.append(piece.text)
            continue

        def sub(m: re.Match[str], piece: _Piece = piece) -> str:
            key = m.group(1)
            if key not in values:
                raise ValueError(f"no value for {{{key}}}")
            return escape_value(values[key], piece.quote or '"', regex=piece.regex)

        out.append(piece.quote + _PLACEHOLDER.sub(sub, piece.text) + piece.quote)
    return "".join(out)


# -- spec.metrics, checked as a whole (called by api.parse) ------------------------------------

def metrics_problems(metrics: MetricsCheck, *, url_target: bool) -> list[str]:
    """What is wrong with ``spec.metrics`` beyond its schema: each selector, expression and
    template parsed, names unique across rules and promql, and what a url target cannot have."""
    path = "spec.metrics"
    problems: list[str] = []
    if not (metrics.growth or metrics.rules or metrics.promql):
        problems.append(f"{path}: name at least one growth bound, rule or promql query")
    if url_target and metrics.port is not None:
        problems.append(f"{path}.port: a url target's metrics are read at its own URL and "
                        f"{path}.path; remove port")
    for i, growth in enumerate(metrics.growth):
        try:
            parse_selector(growth.series)
        except ValueError as exc:
            problems.append(f"{path}.growth[{i}].series: {exc}")
        if growth.max is None and growth.max_per_minute is None:
            problems.append(f"{path}.growth[{i}]: set max, maxPerMinute or both (a growth "
                            "without a bound judges nothing)")
    seen: dict[str, str] = {}
    names = [(f"{path}.rules[{i}]", r.name) for i, r in enumerate(metrics.rules)]
    names += [(f"{path}.promql[{i}]", q.name) for i, q in enumerate(metrics.promql)]
    for here, name in names:
        if name in seen:
            problems.append(f"{here}.name: {name!r} is also the name of {seen[name]}; names "
                            "must be unique")
        seen.setdefault(name, here)
    for i, rule in enumerate(metrics.rules):
        try:
            parse_expr(rule.expr)
        except ValueError as exc:
            problems.append(f"{path}.rules[{i}].expr: {exc}")
    for i, query in enumerate(metrics.promql):
        here = f"{path}.promql[{i}].query"
        if not query.query.strip():
            problems.append(f"{here}: empty")
            continue
        found = template_problems(query.query)
        problems.extend(f"{here}: {p}" for p in found)
        if not found:  # which namespace it may read is known at run (confine)
            problems.extend(f"{here}: {p}" for p in reach_problems(query.query))
        if not found and url_target and "pod" in placeholders_of(query.query):
            problems.append(f"{here}: a url target has no pods to put in {{pod}}")
    return problems
