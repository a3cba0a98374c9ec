"""Reading a target's own Prometheus page, and asking the operator's Prometheus: both through
the prober (``run.prober``: its connection shares, rate and deadline), both bounded.

A page (``scrape``) is read up to ``PAGE_LIMIT`` bytes; a longer one is not judged. Only the
lines of the series the check asks about are parsed — found by one scan at C speed, at most
``MAX_SAMPLES`` lines of at most ``MAX_LINE`` bytes — by prometheus-client's own parser
(``text_string_to_metric_families``), in a thread: a page of a million series costs a fraction
of a second of a thread, never the event loop's time. A
page that does not parse is the target's fault and says why (clipped); the operator never
fails because of it. ``query`` asks Prometheus' ``/api/v1/query`` (a POST form, so a long query
fits) and reads at most ``ANSWER_LIMIT`` bytes of JSON, in a thread too.

What was read goes to ``judge.metrics`` as ``Scrape`` and ``QueryAnswer`` values; this module
decides nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from prometheus_client.parser import text_string_to_metric_families

from readygate.api.metricexpr import Selector
from readygate.api.results import clip
from readygate.judge.metrics import (
    PROBLEM_CHARS,
    PromSample,
    QueryAnswer,
    Scrape,
    query_answer,
    values_of,
)
from readygate.run.prober import Prober

PAGE_LIMIT = 4 * 2**20  # bytes of a page read; a longer page is not judged
ANSWER_LIMIT = 2**20  # bytes of a Prometheus answer read
MAX_SAMPLES = 10_000  # lines of wanted series parsed from one page
MAX_LINE = 16_384  # bytes of one such line
# the text format every Prometheus client serves (OpenMetrics parses the same way for what is
# read here); never compressed, so the byte limit is on what is parsed
PAGE_HEADERS = {"Accept": "text/plain;version=0.0.4;q=1,*/*;q=0.1",
                "Accept-Encoding": "identity"}


class PageError(Exception):
    """A page that is not read (too many lines of the wanted series, one too long)."""


def wanted_lines(text: str, names: Sequence[str]) -> list[str]:
    """The sample lines of ``text`` whose metric name is one of ``names``.

    One regular expression anchored at line starts finds them (a scan of the page at C speed,
    about 0.3 s for the worst 4 MiB); only the lines found become strings. PageError when more
    than ``MAX_SAMPLES`` lines would be read, or one is longer than ``MAX_LINE``.
    """
    if not names:
        return []
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    pattern = re.compile(rf"^[ \t]*(?:{alternatives})(?=[ \t{{])[^\n]*", re.MULTILINE)
    out: list[str] = []
    for m in pattern.finditer(text):
        line = m.group(0)
        if len(line) > MAX_LINE:
            raise PageError(f"a line of {line.split('{', 1)[0].split()[0]} is {len(line)} "
                            f"bytes long; readygate reads lines of at most {MAX_LINE}")
        out.append(line.rstrip("\r"))
        if len(out) > MAX_SAMPLES:
            raise PageError(f"the page holds more than {MAX_SAMPLES} samples of the wanted "
                            "series; readygate reads at most that many")
    return out


def read_page(text: str, selectors: Sequence[Selector]) -> tuple[dict[str, float], str | None]:
    """The value of each selector on the page, or (``{}``, why it was not read). The lines of
    the wanted series are parsed by prometheus-client; whatever it raises on hostile input is
    the page's fault, never the operator's."""
    try:
        lines = wanted_lines(text, sorted({s.name for s in selectors}))
    except PageError as exc:
        return {}, str(exc)
    samples: list[PromSample] = []
    try:
        for family in text_string_to_metric_families("\n".join(lines) + "\n"):
            samples.extend((s.name, s.labels, float(s.value)) for s in family.samples)
    except Exception as exc:  # a malformed page is data about the target
        return {}, clip(f"the page does not parse as Prometheus' text format: "
                        f"{type(exc).__name__}: {exc}", PROBLEM_CHARS)
    return values_of(selectors, samples), None


async def scrape(prober: Prober, url: str, *, at: float, source: str,
                 selectors: Sequence[Selector], within: float) -> Scrape:
    """One page of one source, read (within ``within`` seconds) and parsed (in a thread)."""
    answer = await prober.request("GET", url, timeout=within, headers=PAGE_HEADERS,
                                  limit=PAGE_LIMIT)
    path = urlsplit(url).path

    def problem(text: str, *, fault: bool) -> Scrape:
        return Scrape(at, source, problem=clip(text, PROBLEM_CHARS), fault=fault)

    if answer.status is None:
        return problem(f"{path}: {answer.error or 'no answer'}", fault=False)
    if not answer.ok:
        return problem(f"{path} answered HTTP {answer.status}", fault=True)
    if answer.truncated:
        return problem(f"{path} is larger than {PAGE_LIMIT // 2**20} MiB; readygate reads at "
                       "most that", fault=False)
    encoding = dict((k.lower(), v) for k, v in answer.headers).get("content-encoding", "")
    if encoding.strip().lower() not in ("", "identity"):
        return problem(f"{path} came {encoding}-encoded although readygate asked for "
                       "identity", fault=False)
    values, why = await asyncio.to_thread(read_page, answer.body, selectors)
    if why is not None:
        return problem(f"{path}: {why}", fault=why.startswith("the page does not parse"))
    return Scrape(at, source, values=values)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


async def query(prober: Prober, base_url: str, promql: str, *, rule: str, pod: str | None,
                within: float) -> QueryAnswer:
    """One instant query of the operator's Prometheus (``base_url``), answered within
    ``within`` seconds, read as a QueryAnswer."""
    body = urlencode({"query": promql, "timeout": f"{within:g}s"}).encode()
    answer = await prober.request(
        "POST", f"{base_url}/api/v1/query", timeout=within, body=body, limit=ANSWER_LIMIT,
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Accept": "application/json", "Accept-Encoding": "identity"})
    if answer.status is None:
        return query_answer(rule, pod, None, None, answer.error or "no answer")
    if answer.truncated:
        return QueryAnswer(rule, pod, problem=f"Prometheus answered more than "
                                              f"{ANSWER_LIMIT // 2**20} MiB; aggregate the "
                                              "query (sum, max, topk) to fewer series")
    return query_answer(rule, pod, answer.status, await asyncio.to_thread(_json, answer.body))
