"""A check's PromQL kept inside its own namespace. Pure.

The operator's Prometheus holds every tenant's series; a ReadinessCheck may read only those of
its own namespace. ``confine`` finds every vector selector of a query (``up``,
``http_requests_total{code="500"}``, ``{__name__=~"x.*"}``, each one inside functions,
aggregations, binary operations and subqueries) and gives each the matcher
``<label>="<namespace>"`` — what prom-label-proxy does in front of a shared Prometheus. Matchers
are ANDed, so whatever else a selector says of the label it cannot reach further (the
matcher is added to every selector, even one that names its own namespace); one that could
only select another namespace (``namespace="kube-system"``, ``namespace!="<its own>"``)
is refused with ``ReachError`` saying so, rather than sent to answer nothing. So is any text the
reader does not understand — a query readygate cannot read is never sent — and ``info()``, which
joins in series its selectors do not name.

The reader follows Prometheus' lexer and grammar as far as they decide what is a selector: a
tokenizer (comments end at a carriage return as at a line feed; other control characters
are refused; so is a name followed by a dot, one name for Prometheus 3 with unquoted UTF-8
names), then a small state machine that expects either an operand or an operator. In operand
position every word not followed by ``(`` is a metric name, keywords included (``offset``,
``by``, ``and`` are metric names there, as for Prometheus); in operator position the keywords
are keywords, case-insensitive. It knows nothing of types: Prometheus still parses and
evaluates the confined query and its errors are reported as they are.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

NAMESPACE_PLACEHOLDER = "{namespace}"

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # \t \n \r are spaces
_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\n]+)
  | (?P<comment>\#[^\r\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`]*`)
  | (?P<number>(?:0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
               [a-zA-Z0-9_]*)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[{}()\[\],=<>+\-*/%^@:])
""", re.VERBOSE)

_BINARY_WORDS = frozenset({"and", "or", "unless", "atan2"})
_BINARY_OPS = frozenset({"+", "-", "*", "/", "%", "^", "==", "!=", "<", ">", "<=", ">="})
# aggregations may put their by/without clause before the parenthesis: sum by (x) (...)
_AGGREGATIONS = frozenset({"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
                           "count_values", "bottomk", "topk", "quantile", "limitk",
                           "limit_ratio"})
_NUMBERS = frozenset({"inf", "nan"})
_STRING_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f",
                   "v": "\v", "\\": "\\", '"': '"', "'": "'"}
_MATCH_OPS = frozenset({"=", "!=", "=~", "!~"})
# functions that read series their arguments do not select
_REFUSED_FUNCTIONS = {"info": "info() joins in info series by job and instance alone, from any "
                               "namespace; join with group_left on your own selectors instead"}
# Prometheus 3's experimental fill modifiers of binary operators (fill(0) after `+`): read as
# calls here, they would turn the operand after them into an operator
_UNREAD_MODIFIERS = frozenset({"fill", "fill_left", "fill_right"})


class ReachError(ValueError):
    """The query cannot be confined to the namespace: it names another, or cannot be read."""


@dataclasses.dataclass(frozen=True)
class _Token:
    kind: str  # string, number, ident, op
    text: str
    at: int  # offset in the query


def _tokens(query: str) -> list[_Token]:
    bad = _CONTROL.search(query)
    if bad is not None:
        raise ReachError(f"a control character ({ord(bad.group()):#04x}) at character "
                         f"{bad.start() + 1}")
    out: list[_Token] = []
    i = 0
    while i < len(query):
        m = _TOKEN.match(query, i)
        if m is None:
            what = query[i]
            if what in "\"'`":
                raise ReachError(f"unterminated string at character {i + 1}")
            raise ReachError(f"unexpected {what!r} at character {i + 1}")
        kind = m.lastgroup or ""
        if kind == "ident" and query.startswith(".", m.end()):
            # Prometheus 3 may read `a.b` as one name (unquoted UTF-8 names): quote it
            raise ReachError(f"a '.' right after {m.group()!r} at character {m.end() + 1}; "
                             'quote a name with dots: {"a.b"}')
        if kind not in ("space", "comment"):
            out.append(_Token(kind, m.group(), i))
        i = m.end()
    return out


def _unquote(token: _Token) -> str:
    """The value of a string token."""
    body = token.text[1:-1]
    if token.text[0] == "`":
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            out.append(_STRING_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


@dataclasses.dataclass(frozen=True)
class Matcher:
    """One label matcher of a selector (a quoted metric name alone has label ``__name__``)."""

    label: str
    op: str
    value: str
    raw: str  # the value as written, quotes included


@dataclasses.dataclass(frozen=True)
class Selector:
    """A vector selector: where it starts and ends in the query, its metric name (None for a
    bare ``{...}``), its matchers, and whether its braces (if any) end with a comma."""

    start: int
    end: int
    name: str | None
    matchers: tuple[Matcher, ...]
    braces: bool = False
    trailing_comma: bool = False


class _Reader:
    """Reads a query's tokens in operand and operator positions, collecting selectors."""

    def __init__(self, query: str) -> None:
        self.toks = _tokens(query)
        self.i = 0
        self.found: list[Selector] = []

    def peek(self, k: int = 0) -> _Token | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> _Token:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, tok: _Token | None, expected: str) -> ReachError:
        if tok is None:
            return ReachError(f"expected {expected} at the end of the query")
        return ReachError(f"expected {expected} at character {tok.at + 1}, found {tok.text!r}")

    def at(self, text: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok is not None and tok.kind == "op" and tok.text == text

    def word(self, k: int = 0) -> str | None:
        tok = self.peek(k)
        return tok.text.lower() if tok is not None and tok.kind == "ident" else None

    def read(self) -> list[Selector]:
        if not self.toks:
            raise ReachError("the query holds no expression")
        depth = 0  # open parentheses
        operand = True  # an expression is expected next
        while (tok := self.peek()) is not None:
            if operand:
                if self.at("("):
                    self.take()
                    depth += 1
                elif self.at(")") and self.i > 0 and self.toks[self.i - 1].text == "(":
                    self.take()  # a call without arguments: time()
                    depth -= 1
                    operand = False
                elif self.at("-") or self.at("+"):
                    self.take()
                elif self.at("{"):
                    self.selector(self.take(), None)
                    operand = False
                elif tok.kind in ("number", "string"):
                    self.take()
                    operand = False
                elif tok.kind == "ident":
                    operand = self.operand_word()
                else:
                    raise self.fail(tok, "an expression")
            elif self.at(")"):
                if depth == 0:
                    raise ReachError(f"unmatched ')' at character {tok.at + 1}")
                self.take()
                depth -= 1
            elif self.at("["):
                self.take()
                self.skip_range()
            elif self.at(","):
                if depth == 0:
                    raise ReachError(f"unexpected ',' at character {tok.at + 1}")
                self.take()
                operand = True
            elif self.at("@"):
                self.take()
                self.at_modifier()
            elif self.word() == "offset":
                self.take()
                if self.at("-") or self.at("+"):
                    self.take()
                nxt = self.peek()
                if nxt is None or nxt.kind != "number":
                    raise self.fail(nxt, "a duration after offset")
                self.take()
            elif self.word() in ("by", "without"):
                self.take()
                self.skip_labels()  # sum(x) by (pod): an operator follows
            elif self.word() in ("anchored", "smoothed"):
                self.take()  # Prometheus 3's range modifiers
            elif (tok.kind == "op" and tok.text in _BINARY_OPS) or self.word() in _BINARY_WORDS:
                self.take()
                self.binary_modifiers()
                operand = True
            else:
                raise ReachError(f"unexpected {tok.text!r} at character {tok.at + 1}")
        if operand:
            raise self.fail(None, "an expression")
        if depth:
            raise ReachError("a '(' is never closed")
        return self.found

    def operand_word(self) -> bool:
        """A word where an expression is expected: a number, a call (the ``(`` is read next)
        or a metric name, whatever the word (keywords too). False once an operand is read."""
        tok = self.take()
        lower = tok.text.lower()
        if lower in _NUMBERS:
            return False
        if self.at("("):
            if tok.text in _REFUSED_FUNCTIONS:
                raise ReachError(_REFUSED_FUNCTIONS[tok.text])
            if lower in _UNREAD_MODIFIERS:
                raise ReachError(f"{tok.text}() modifiers of binary operators are not read by "
                                 "readygate; write the operation without them")
            return True
        if lower in _AGGREGATIONS and self.word() in ("by", "without"):
            self.take()
            self.skip_labels()
            if not self.at("("):
                raise self.fail(self.peek(), "'('")
            return True
        if self.at("{"):
            self.selector(self.take(), tok)
        else:
            self.found.append(Selector(tok.at, tok.at + len(tok.text), tok.text, ()))
        return False

    def binary_modifiers(self) -> None:
        """What may follow a binary operator: bool, on/ignoring (...), group_left/right."""
        if self.word() == "bool":
            self.take()
        if self.word() in ("on", "ignoring"):
            self.take()
            self.skip_labels()
            if self.word() in ("group_left", "group_right"):
                self.take()
                if self.at("("):
                    self.skip_labels()

    def at_modifier(self) -> None:
        """After @: a (signed) number, or start() / end()."""
        if self.at("-") or self.at("+"):
            self.take()
        tok = self.peek()
        if tok is not None and tok.kind == "number":
            self.take()
        elif self.word() in ("start", "end") and self.at("(", 1) and self.at(")", 2):
            self.i += 3
        else:
            raise self.fail(tok, "a time, start() or end() after @")

    def selector(self, brace: _Token, name: _Token | None) -> None:
        matchers: list[Matcher] = []
        comma = False
        while True:
            tok = self.peek()
            if tok is None:
                raise self.fail(tok, "'}'")
            if tok.text == "}" and tok.kind == "op":
                self.take()
                break
            matchers.append(self.matcher())
            tok = self.peek()
            comma = tok is not None and tok.kind == "op" and tok.text == ","
            if comma:
                self.take()
            elif tok is None or tok.text != "}":
                raise self.fail(tok, "',' or '}'")
        start = name.at if name is not None else brace.at
        end = self.toks[self.i - 1].at + 1
        self.found.append(Selector(start, end, name.text if name is not None else None,
                                   tuple(matchers), True, comma))

    def matcher(self) -> Matcher:
        label = self.take()
        if label.kind not in ("ident", "string"):
            raise self.fail(label, "a label name")
        op = self.peek()
        if label.kind == "string" and (op is None or op.text in (",", "}")):
            return Matcher("__name__", "=", _unquote(label), label.text)
        if op is None or op.kind != "op" or op.text not in _MATCH_OPS:
            raise self.fail(op, "=, !=, =~ or !~")
        self.take()
        value = self.take() if self.peek() is not None else None
        if value is None or value.kind != "string":
            raise self.fail(value, "a quoted label value")
        name = label.text if label.kind == "ident" else _unquote(label)
        return Matcher(name, op.text, _unquote(value), value.text)

    def skip_labels(self) -> None:
        """A label list: (pod, "service.name")."""
        if not self.at("("):
            raise self.fail(self.peek(), "'(' and label names")
        self.take()
        self.skip_to(")", lambda t: t.kind in ("ident", "string") or t.text == ",",
                     "a label name")

    def skip_range(self) -> None:
        """A range or subquery after its '[': 5m], 1h:30s], 5m:]."""
        self.skip_to("]", lambda t: t.kind != "string" and t.text not in ("{", "}", "[", "(", ")"),
                     "a duration")

    def skip_to(self, close: str, allowed: Callable[[_Token], bool], expected: str) -> None:
        """Past the next ``close``; every token before it must be ``allowed``."""
        while True:
            tok = self.peek()
            if tok is None:
                raise self.fail(tok, repr(close))
            self.take()
            if tok.kind == "op" and tok.text == close:
                return
            if not allowed(tok):
                raise self.fail(tok, expected)


def selectors(query: str) -> list[Selector]:
    """Every vector selector of a query, in order; ReachError when the query cannot be read."""
    return _Reader(query).read()


def _elsewhere(matcher: Matcher, namespace: str) -> bool:
    """The matcher can only select series of another namespace."""
    return ((matcher.op == "=" and matcher.value != namespace)
            or (matcher.op == "!=" and matcher.value == namespace))


def confine(query: str, label: str, namespace: str) -> str:
    """The query with every vector selector limited to ``label="namespace"``; ReachError when
    a selector can only match another namespace, or the query cannot be read."""
    value = '"' + namespace.replace("\\", "\\\\").replace('"', '\\"') + '"'
    inserts: list[tuple[int, str]] = []
    for sel in selectors(query):
        mine = [m for m in sel.matchers if m.label == label]
        for m in mine:
            if _elsewhere(m, namespace):
                raise ReachError(
                    f"{sel.name or '{...}'} matches {label}{m.op}{m.raw}: a check reads only "
                    f"the series of its own namespace ({namespace}); write "
                    f"{label}=\"{NAMESPACE_PLACEHOLDER}\" or leave {label} out (readygate adds it)")
        # added even beside its own namespace written out: what Prometheus reads is then
        # confined whatever it makes of the other matchers' escapes
        if not sel.braces:
            inserts.append((sel.end, f"{{{label}={value}}}"))
        else:  # last, after a comma: a quoted metric name may have to stay first
            sep = "," if sel.matchers and not sel.trailing_comma else ""
            inserts.append((sel.end - 1, f"{sep}{label}={value}"))
    out: list[str] = []
    last = 0
    for at, text in sorted(inserts):
        out += [query[last:at], text]
        last = at
    return "".join(out) + query[last:]


def reach_problems(template: str) -> list[str]:
    """What keeps a PromQL template (before its placeholders are rendered) from being
    confined, whatever the namespace: text the reader does not understand, info()."""
    try:
        selectors(template)
    except ReachError as exc:
        return [str(exc)]
    return []
