"""The metrics check below the cluster: the spec (selectors, rule expressions, PromQL templates
and their escaping), the operator setting, reading hostile pages with prometheus-client's parser
(run.scrape's pure half) and the pure judge (judge.metrics). Table-driven."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readygate.api.metricexpr import (
    Selector,
    escape_value,
    parse_expr,
    parse_selector,
    render,
    template_problems,
)
from readygate.api.parse import SpecError, parse_spec
from readygate.api.results import EVIDENCE_CHARS, EVIDENCE_ITEMS, MEASURED_ITEMS, MESSAGE_CHARS
from readygate.api.settings import SettingsError, from_env
from readygate.api.spec import MetricsCheck
from readygate.judge.metrics import QueryAnswer, Scrape, judge_metrics, query_answer, values_of
from readygate.run.scrape import MAX_LINE, MAX_SAMPLES, read_page, wanted_lines

DEPLOY = {"deploy": {"image": "example/app:1"}}
FDS = "process_open_fds"


def metrics(**fields: Any) -> MetricsCheck:
    spec = parse_spec({"target": DEPLOY, "metrics": fields})
    assert spec.metrics is not None
    return spec.metrics


# -- selectors and expressions -----------------------------------------------------------------

@pytest.mark.parametrize(("text", "name", "matchers"), [
    ("process_open_fds", FDS, ()),
    ("  up ", "up", ()),
    ('http_requests_total{code="500"}', "http_requests_total", (("code", "=", "500"),)),
    ('a:b_c{x!="1", y = "q\\"uote\\\\n",}', "a:b_c",
     (("x", "!=", "1"), ("y", "=", 'q"uote\\n'))),
    ("m{}", "m", ()),
])
def test_selectors_parse(text: str, name: str, matchers: tuple[Any, ...]) -> None:
    sel = parse_selector(text)
    assert (sel.name, sel.matchers) == (name, matchers)
    assert parse_selector(str(sel)) == sel  # the canonical text reads back the same


@pytest.mark.parametrize(("text", "why"), [
    ("", "expected a metric name"),
    ("1abc", "expected a metric name"),
    ("a{b}", "expected = or != after b"),
    ('a{b=~"x"}', "regex matchers are not supported"),
    ('a{b="x"', "expected , or }"),
    ('a{b="x}', "unterminated label value"),
    ('a{b="\\q"}', "unknown escape"),
    ('a{b="x"} extra', "unexpected text"),
    ("a b", "unexpected text"),
    ("a{" + ",".join(f'l{i}="v"' for i in range(17)) + "}", "more than 16 label matchers"),
])
def test_bad_selectors_say_where_and_what(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_selector(text)


def test_expressions_are_a_series_or_a_ratio() -> None:
    expr = parse_expr('cache_hits_total / cache_lookups_total{pool="a"}')
    assert expr.numerator == Selector("cache_hits_total")
    assert expr.denominator == Selector("cache_lookups_total", (("pool", "=", "a"),))
    assert parse_expr(FDS).denominator is None
    for bad in ("a / b / c", "a *  b", "a /", "/ b", "sum(a)"):
        with pytest.raises(ValueError):
            parse_expr(bad)


def test_a_selector_matches_exactly_and_values_sum_what_it_matches() -> None:
    sel = parse_selector('req_total{code!="200",method="GET"}')
    assert sel.matches("req_total", {"code": "500", "method": "GET"})
    assert not sel.matches("req_total", {"code": "200", "method": "GET"})
    assert not sel.matches("req_total", {"code": "500"})  # missing label: empty value
    assert not sel.matches("req_total_created", {"code": "500", "method": "GET"})
    samples = [("req_total", {"code": "500", "method": "GET"}, 2.0),
               ("req_total", {"code": "503", "method": "GET"}, 3.0),
               ("req_total", {"code": "200", "method": "GET"}, 100.0)]
    assert values_of([sel, parse_selector("req_total"), parse_selector("nope")], samples) == {
        str(sel): 5.0, "req_total": 105.0}


# -- PromQL templates --------------------------------------------------------------------------

VALUES = {"namespace": "shop", "name": "rg-orders", "pod": "rg-orders-7d9-abc"}


@pytest.mark.parametrize(("query", "expected"), [
    ('sum(rate(http_requests_total{namespace="{namespace}",code=~"5.."}[1m]))',
     'sum(rate(http_requests_total{namespace="shop",code=~"5.."}[1m]))'),
    ("up{job='{name}'}", "up{job='rg-orders'}"),
    ('x{pod=~"{pod}"}', 'x{pod=~"rg-orders-7d9-abc"}'),
    ('x{pod=~".*{name}.*"}', 'x{pod=~".*rg-orders.*"}'),
    ("vector(1) # {namespace} in a comment is left alone\n",
     "vector(1) # {namespace} in a comment is left alone\n"),
    ('x{a="{{namespace}}"}', 'x{a="{shop}"}'),
    ("up", "up"),
])
def test_templates_render(query: str, expected: str) -> None:
    assert template_problems(query) == []
    assert render(query, VALUES) == expected


@pytest.mark.parametrize(("query", "why"), [
    ('up{namespace="{ns}"}', "unknown placeholder {ns}"),
    ('up{x="{Namespace}"}', "unknown placeholder {Namespace}"),
    ("up{namespace={namespace}}", "must be inside a quoted label value"),
    ("label_replace(up, 'a', `{pod}`, 'b', '')", "must be inside a quoted label value"),
    ('up{namespace="{namespace}}', "unterminated string"),
    ("up{a=`x}", "unterminated raw string"),
])
def test_bad_templates_are_refused(query: str, why: str) -> None:
    problems = template_problems(query)
    assert any(why in p for p in problems), problems
    with pytest.raises(ValueError):
        render(query, VALUES)


@pytest.mark.parametrize("hostile", [
    'x"} or vector(1) #', "x'} or on() vector(1)", "a\\", 'a\\"b', "line\nbreak", ".*",
    "a|b", "\x00\x1b", "${namespace}", "`",
])
def test_a_hostile_value_stays_inside_its_string(hostile: str) -> None:
    for query, regex in (('up{namespace="{namespace}"}', False),
                         ("up{namespace='{namespace}'}", False),
                         ('up{pod=~"{namespace}"}', True)):
        out = render(query, {"namespace": hostile})
        quote = query[query.index("{namespace}") - 1]
        inner = out[out.index(quote) + 1:out.rindex(quote)]
        assert inner == escape_value(hostile, quote, regex=regex)
        # the rendered query is one string literal: unescaping it gives back the value
        assert _unquote(inner, quote, regex=regex) == hostile
        assert out.endswith(quote + "}")


def _unquote(inner: str, quote: str, *, regex: bool) -> str:
    """Go's string unescaping for what escape_value writes, then the regex escapes."""
    out, i = [], 0
    while i < len(inner):
        c = inner[i]
        if c == "\\":
            e = inner[i + 1]
            if e == "x":
                out.append(chr(int(inner[i + 2:i + 4], 16)))
                i += 4
                continue
            out.append({"n": "\n"}.get(e, e))
            i += 2
            continue
        assert c not in quote + "\n", f"an unescaped {c!r} would end the string: {inner!r}"
        out.append(c)
        i += 1
    text = "".join(out)
    if regex:
        text, plain, j = text, [], 0
        while j < len(text):
            if text[j] == "\\":
                plain.append(text[j + 1])
                j += 2
            else:
                assert text[j] not in ".+*?()|[]{}^$", text
                plain.append(text[j])
                j += 1
        text = "".join(plain)
    return text


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=40), st.sampled_from(['"', "'"]), st.booleans())
def test_any_value_round_trips_through_escaping(value: str, quote: str, regex: bool) -> None:
    assert _unquote(escape_value(value, quote, regex=regex), quote, regex=regex) == value


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet='{}"\'`#\\\n abcnamespod=~', max_size=60))
def test_templates_are_refused_or_rendered_never_crash(query: str) -> None:
    if template_problems(query):
        with pytest.raises(ValueError):
            render(query, VALUES)
    else:
        render(query, VALUES)


# -- the spec and the setting -------------------------------------------------------------------

def test_metrics_defaults() -> None:
    m = metrics(growth=[{"series": FDS, "max": 20}])
    assert (m.path, m.port, m.scrape_every, m.settle, m.observe_for, m.timeout) == (
        "/metrics", None, 5.0, 2.0, 30.0, 5.0)
    assert m.growth[0].max == 20 and m.growth[0].max_per_minute is None
    rule = metrics(rules=[{"name": "hits", "expr": "a / b", "op": ">=", "value": 0.7}]).rules[0]
    assert (rule.sample, rule.scope) == ("last", "pod")


def _problems(fields: Any, target: Any = DEPLOY) -> list[str]:
    with pytest.raises(SpecError) as err:
        parse_spec({"target": target, "metrics": fields})
    return err.value.problems


@pytest.mark.parametrize(("fields", "why"), [
    ({}, "name at least one growth bound, rule or promql query"),
    ({"growth": [{"series": FDS}]}, "set max, maxPerMinute or both"),
    ({"growth": [{"series": FDS, "max": -1}]}, "max: must be at least 0"),
    ({"growth": [{"series": FDS, "max": float("nan")}]}, "must be a finite number"),
    ({"growth": [{"series": FDS, "maxPerMinute": float("inf")}]}, "must be a finite number"),
    ({"growth": [{"series": 'a{b="c', "max": 1}]}, "does not match"),
    ({"growth": [{"series": 'a{b~"c"}', "max": 1}]}, "expected = or != after b"),
    ({"growth": [{"series": FDS, "max": 1}] * 17}, "more than 16 items"),
    ({"scrapeEvery": "100ms", "growth": [{"series": FDS, "max": 1}]}, "at least 1s"),
    ({"timeout": "5m", "growth": [{"series": FDS, "max": 1}]}, "at most 1m"),
    ({"path": "metrics", "growth": [{"series": FDS, "max": 1}]}, "does not match"),
    ({"rules": [{"name": "r", "expr": "a / b", "op": "=>", "value": 1}]}, "is not one of"),
    ({"rules": [{"name": "r", "expr": "a / sum(b)", "op": ">", "value": 1}]},
     "rules[0].expr: expected"),
    ({"rules": [{"name": "Bad_Name", "expr": "a", "op": ">", "value": 1}]}, "does not match"),
    ({"rules": [{"name": "r", "expr": "a", "op": ">", "value": 1}],
      "promql": [{"name": "r", "query": "up", "op": ">", "value": 1}]},
     "'r' is also the name of spec.metrics.rules[0]"),
    ({"promql": [{"name": "q", "query": 'up{namespace="{tenant}"}', "op": ">", "value": 1}]},
     "unknown placeholder {tenant}"),
    ({"promql": [{"name": "q", "query": "up{namespace={namespace}}", "op": ">", "value": 1}]},
     "must be inside a quoted label value"),
    ({"promql": [{"name": "q", "query": "  ", "op": ">", "value": 1}]}, "promql[0].query: empty"),
    ({"promql": [{"name": "q", "query": "x" * 4097, "op": ">", "value": 1}]},
     "longer than 4096"),
    ({"promql": [{"name": "q", "query": "up", "op": ">", "value": 1e19}]}, "at most 1e+18"),
])
def test_bad_metrics_specs_say_what_to_fix(fields: Any, why: str) -> None:
    problems = _problems(fields)
    assert any(why in p for p in problems), problems


def test_a_url_target_has_no_pods_for_port_or_pod_placeholders() -> None:
    url = {"url": "https://shop.example/api"}
    problems = _problems({"port": 9100, "promql": [
        {"name": "q", "query": 'up{pod="{pod}"}', "op": "==", "value": 1}]}, url)
    assert any("spec.metrics.port: a url target's metrics" in p for p in problems)
    assert any("a url target has no pods to put in {pod}" in p for p in problems)
    spec = parse_spec({"target": url, "metrics": {"growth": [{"series": FDS, "max": 1}]}})
    assert spec.metrics is not None


def test_the_schema_carries_the_bounds_and_rules() -> None:
    from readygate.api import schema

    root = schema.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    m = root["properties"]["spec"]["properties"]["metrics"]
    assert m["properties"]["growth"]["maxItems"] == 16
    assert m["properties"]["promql"]["items"]["properties"]["query"]["maxLength"] == 4096
    assert m["properties"]["rules"]["items"]["properties"]["op"]["enum"] == [
        ">", ">=", "<", "<=", "==", "!="]
    rules = " ".join(r["rule"] for r in m["x-kubernetes-validations"])
    assert "exists_one" in rules and "size(self.growth) > 0" in rules
    growth_rules = m["properties"]["growth"]["items"]["x-kubernetes-validations"]
    assert growth_rules[0]["rule"] == "has(self.max) || has(self.maxPerMinute)"


def test_the_prometheus_setting() -> None:
    assert from_env({}).prometheus_url is None
    assert from_env({"READYGATE_PROMETHEUS_URL": " http://prom.monitoring:9090/ "}
                    ).prometheus_url == "http://prom.monitoring:9090"
    for bad in ("prom:9090", "ftp://prom", "http://prom:9090/?x=1", "http://prom:123456"):
        with pytest.raises(SettingsError, match="READYGATE_PROMETHEUS_URL"):
            from_env({"READYGATE_PROMETHEUS_URL": bad})
    with pytest.raises(SettingsError) as err:
        from_env({"READYGATE_PROMETHEUS_URL": "http://admin:s3cret@prom:9090"})
    assert "s3cret" not in str(err.value)  # a password is never repeated in the error


# -- reading pages ------------------------------------------------------------------------------

SELECTORS = (parse_selector(FDS), parse_selector('cache_total{result="hit"}'),
             parse_selector("cache_total"))


def test_a_page_is_read_with_prometheus_clients_parser() -> None:
    page = ("# HELP process_open_fds fds\n# TYPE process_open_fds gauge\n"
            "process_open_fds 12\nprocess_open_fds_total 99\n"
            'cache_total{result="hit",q="a \\"quoted\\" \\\\ value"} 7 1700000000000\n'
            'cache_total{result="miss"} 3\n'
            "# process_open_fds 1000 (a comment)\n"
            'other{label="process_open_fds 5"} 1\n'
            'openmetrics_total 1 # {trace_id="x"} 1.0\n# EOF\n')
    values, problem = read_page(page, SELECTORS)
    assert problem is None
    assert values == {FDS: 12.0, 'cache_total{result="hit"}': 7.0, "cache_total": 10.0}


@pytest.mark.parametrize(("value", "check"), [
    ("NaN", math.isnan), ("+Inf", lambda v: v == math.inf), ("-Inf", lambda v: v == -math.inf),
    ("1e308", lambda v: v == 1e308), ("-0", lambda v: v == 0),
])
def test_special_values_are_read_as_floats(value: str, check: Any) -> None:
    values, problem = read_page(f"process_open_fds {value}\n", SELECTORS)
    assert problem is None and check(values[FDS])


@pytest.mark.parametrize("line", [
    "process_open_fds{ 1", "process_open_fds twelve", 'process_open_fds{a="b} 1',
    "process_open_fds{a=b} 1", 'process_open_fds{a="b" c="d"} 1',
    "process_open_fds " + "9" * 400 + "x",
])
def test_a_malformed_page_is_the_targets_problem_with_a_bounded_reason(line: str) -> None:
    values, problem = read_page(line + "\n", SELECTORS)
    assert values == {} and problem is not None
    assert problem.startswith("the page does not parse") and len(problem) <= 200


def test_a_huge_page_of_other_series_is_skimmed_not_parsed() -> None:
    # a million series of no interest and the one wanted: read in a fraction of a second
    page = "".join(f'noise{{i="{i}"}} {i}\n' for i in range(1_000_000)) + "process_open_fds 7\n"
    began = time.monotonic()
    values, problem = read_page(page, SELECTORS)
    assert problem is None and values == {FDS: 7.0}
    assert time.monotonic() - began < 3.0


def test_too_many_wanted_samples_or_a_too_long_line_is_refused() -> None:
    many = "".join(f'cache_total{{i="{i}"}} 1\n' for i in range(MAX_SAMPLES + 1))
    values, problem = read_page(many, SELECTORS)
    assert values == {} and problem is not None and f"more than {MAX_SAMPLES}" in problem
    long = "process_open_fds{" + "a" * MAX_LINE + '="b"} 1\n'
    values, problem = read_page(long, SELECTORS)
    assert values == {} and problem is not None and "bytes long" in problem
    # a pathological label set on one line stays under the line bound: parsed or refused
    wide = "process_open_fds{" + ",".join(f'l{i}="v"' for i in range(1500)) + "} 1\n"
    assert len(wide) < MAX_LINE
    assert read_page(wide, SELECTORS) == ({FDS: 1.0}, None)


def test_lines_are_found_only_where_a_sample_starts() -> None:
    page = ("xprocess_open_fds 1\n process_open_fds\t2\nprocess_open_fdsx 3\n"
            'a{b="\nprocess_open_fds 4"} 5\n')
    assert wanted_lines(page, [FDS]) == [" process_open_fds\t2", 'process_open_fds 4"} 5']


# -- the judge ------------------------------------------------------------------------------------

T = {"started_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:01:00Z"}


def pages(series: dict[str, list[float | None]], every: float = 10.0,
          key: str = FDS) -> list[Scrape]:
    """Scrapes of each pod (``pod NAME``) with these values of ``key``, ``every`` s apart."""
    out = []
    for pod, values in series.items():
        for i, v in enumerate(values):
            out.append(Scrape(i * every, f"pod {pod}", {} if v is None else {key: v}))
    return out


def test_a_leak_fails_with_the_measured_growth() -> None:
    spec = metrics(growth=[{"series": FDS, "max": 20}])
    result = judge_metrics(spec, pages({"a": [12, 112, 212, 312], "b": [12, 13, 12, 12]}), [],
                           **T)
    assert result.result == "Failed"
    assert result.message == ("process_open_fds grew by 300 on pod a (12 -> 312 in 30s, "
                              "600.0/min; bound max 20)")
    assert result.measured["growth:process_open_fds"] == 300
    assert result.measured["growthPerMinute:process_open_fds"] == 600
    assert result.measured["pods"] == 2 and result.measured["scrapes"] == 8
    assert "pod b: process_open_fds 12 -> 12 (+0, +0.0/min) over 30s, 4 scrapes" in (
        result.evidence)


def test_a_steady_service_passes_and_a_rate_bound_catches_a_slow_leak() -> None:
    steady = judge_metrics(metrics(growth=[{"series": FDS, "max": 20}]),
                           pages({"a": [12, 30, 14, 13]}), [], **T)
    assert steady.result == "Passed"
    assert steady.message == ("1 pod(s) scraped 4 times over 30s: process_open_fds grew by at "
                              "most 1 (pod a)")
    slow = judge_metrics(metrics(growth=[{"series": FDS, "max": 100, "maxPerMinute": 10}]),
                         pages({"a": [10, 15, 20, 25]}), [], **T)
    assert slow.result == "Failed" and "bound maxPerMinute 10" in slow.message


def test_bytes_are_shown_as_bytes() -> None:
    key = "process_resident_memory_bytes"
    result = judge_metrics(metrics(growth=[{"series": key, "max": 64 * 2**20}]),
                           pages({"a": [100 * 2**20, 300 * 2**20]}, key=key), [], **T)
    assert result.result == "Failed"
    assert "grew by 200.0Mi on pod a (100.0Mi -> 300.0Mi in 10s" in result.message


@pytest.mark.parametrize(("values", "why"), [
    ([None, None, None], "process_open_fds is not on pod a's page"),
    ([1.0, math.nan], "not a number to judge"),
    ([math.inf, math.inf], "not a number to judge"),
    ([5.0], "no pod was scraped twice"),
])
def test_no_data_is_inconclusive_never_a_pass(values: list[float | None], why: str) -> None:
    result = judge_metrics(metrics(growth=[{"series": FDS, "max": 1e9}]),
                           pages({"a": values}), [], **T)
    assert result.result == "Inconclusive" and why in result.message


def test_unreadable_pages_fail_for_the_targets_reasons_only() -> None:
    spec = metrics(growth=[{"series": FDS, "max": 20}])
    http = [Scrape(0, "pod a", problem="/metrics answered HTTP 404", fault=True)] * 3
    assert judge_metrics(spec, http, [], **T).result == "Failed"
    refused = [Scrape(0, "pod a", problem="/metrics: ConnectError")] * 3
    result = judge_metrics(spec, refused, [], **T)
    assert result.result == "Inconclusive"
    assert result.message.startswith("pod a: no page could be read: /metrics: ConnectError")
    # one failed scrape among good ones is evidence, not a verdict
    mixed = [*pages({"a": [10, None, 11]})[:1], refused[0], *pages({"a": [10, 11]})[1:]]
    mixed = [Scrape(0, "pod a", {FDS: 10}), Scrape(5, "pod a", problem="timeout after 5s"),
             Scrape(10, "pod a", {FDS: 11})]
    ok = judge_metrics(spec, mixed, [], **T)
    assert ok.result == "Passed"
    assert "pod a: 1 of 3 scrapes failed, the last: timeout after 5s" in ok.evidence
    assert judge_metrics(spec, [], [], **T).message.startswith("no pod to scrape")


def rule(**fields: Any) -> MetricsCheck:
    return metrics(rules=[{"name": "hits", **fields}])


def test_rules_judge_the_last_scrape_or_the_increase() -> None:
    hits, looks = 'cache_total{result="hit"}', "cache_total"
    ratio = f"{hits} / {looks}"

    def scrape(at: float, pod: str, h: float, n: float) -> Scrape:
        return Scrape(at, f"pod {pod}", {hits: h, looks: n})

    # since start: 80 of 100 (0.8); over the check: 10 of 50 (0.2)
    series = [scrape(0, "a", 70, 50), scrape(10, "a", 80, 100)]
    last = judge_metrics(rule(expr=ratio, op=">=", value=0.7), series, [], **T)
    assert last.result == "Passed" and last.measured["rule:hits"] == 0.8
    increase = judge_metrics(rule(expr=ratio, op=">=", value=0.7, sample="increase"), series,
                             [], **T)
    assert increase.result == "Failed"
    assert increase.message == ('rule hits (cache_total{result="hit"} / cache_total >= 0.7, '
                                "increase over the check): 0.2 on pod a")
    # a counter reset (a pod restarted) counts what it counted since, as increase() does
    reset = [scrape(0, "a", 50, 100), scrape(5, "a", 5, 10), scrape(10, "a", 45, 50)]
    after_reset = judge_metrics(rule(expr=ratio, op=">=", value=0.7, sample="increase"), reset,
                                [], **T)
    assert after_reset.measured["rule:hits"] == pytest.approx(45 / 50)
    # per pod, every pod must hold; over the target, the sums
    two = [*series, scrape(0, "b", 0, 0), scrape(10, "b", 0, 100)]
    per_pod = judge_metrics(rule(expr=ratio, op=">=", value=0.7), two, [], **T)
    assert per_pod.result == "Failed" and "0 on pod b" in per_pod.message
    target = judge_metrics(rule(expr=ratio, op=">=", value=0.4, scope="target"), two, [], **T)
    assert target.result == "Passed" and target.measured["rule:hits"] == 0.4


def test_a_rule_without_data_is_inconclusive() -> None:
    spec = rule(expr="a / b", op="<", value=1)
    zero = judge_metrics(spec, [Scrape(0, "pod a", {"a": 1, "b": 0})], [], **T)
    assert zero.result == "Inconclusive" and "a zero or missing denominator" in zero.message
    missing = judge_metrics(rule(expr="a", op="<", value=1), [Scrape(0, "pod a", {})], [], **T)
    assert missing.result == "Inconclusive" and "the series is missing" in missing.message
    nan = judge_metrics(rule(expr="a", op="<", value=1),
                        [Scrape(0, "pod a", {"a": math.nan})], [], **T)
    assert nan.result == "Inconclusive" and "not a number" in nan.message
    once = judge_metrics(rule(expr="a", op="<", value=1, sample="increase"),
                         [Scrape(0, "pod a", {"a": 0})], [], **T)
    assert once.result == "Inconclusive"


def promql(**fields: Any) -> MetricsCheck:
    return metrics(promql=[{"name": "errors", "query": "x", "op": "<", "value": 0.01,
                            **fields}])


def vector(*series: tuple[dict[str, str], Any]) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": m, "value": [1700000000.0, str(v)]} for m, v in series]}}


def test_promql_answers_are_judged_series_by_series() -> None:
    spec = promql()
    one = query_answer("errors", None, 200, vector(({}, 0.001)))
    passed = judge_metrics(spec, [], [one], **T)
    assert passed.result == "Passed" and passed.measured["promql:errors"] == 0.001
    several = query_answer("errors", None, 200, vector(({"pod": "a"}, 0.001),
                                                       ({"pod": "b"}, 0.5)))
    failed = judge_metrics(spec, [], [several], **T)
    assert failed.result == "Failed"
    assert failed.message == 'promql errors (< 0.01): 1 of 2 series break it: {pod="b"} 0.5'
    assert failed.measured["promql:errors"] == 0.5
    scalar = query_answer("errors", None, 200,
                          {"status": "success", "data": {"resultType": "scalar",
                                                         "result": [1.0, "0.002"]}})
    assert judge_metrics(spec, [], [scalar], **T).result == "Passed"
    per_pod = [query_answer("errors", "p1", 200, vector(({}, 0))),
               query_answer("errors", "p2", 200, vector())]
    result = judge_metrics(spec, [], per_pod, **T)
    assert result.result == "Inconclusive"
    assert "promql errors (< 0.01) for pod p2: no data" in result.message


@pytest.mark.parametrize(("status", "data", "error", "why"), [
    (200, vector(), None, "no data (the query returned no series)"),
    (200, vector(({}, "NaN")), None, "is nan, not a number to judge"),
    (400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"},
     None, "Prometheus refused the query (bad_data): parse error at char 3"),
    (503, None, None, "Prometheus answered HTTP 503 without a JSON body"),
    (200, ["not", "an", "object"], None, "without a JSON body"),
    (200, {"status": "success", "data": {"resultType": "matrix", "result": []}}, None,
     "the query returns a matrix"),
    (200, {"status": "success", "data": {"resultType": "vector", "result": "x"}}, None,
     "the query returns a vector"),
    (200, {"status": "success"}, None, "Prometheus answered without data"),
    (None, None, "ConnectError", "Prometheus did not answer: ConnectError"),
    (500, {"status": "error", "error": "x" * 10_000}, None, "Prometheus refused"),
])
def test_promql_without_a_usable_answer_is_inconclusive(status: int | None, data: Any,
                                                         error: str | None, why: str) -> None:
    answer = query_answer("errors", None, status, data, error)
    result = judge_metrics(promql(), [], [answer], **T)
    assert result.result == "Inconclusive" and why in result.message
    assert len(answer.problem or "") <= 200


def test_no_prometheus_is_inconclusive_saying_so() -> None:
    from readygate.run.stages.metrics import NO_PROMETHEUS

    result = judge_metrics(promql(), [], [QueryAnswer("errors", problem=NO_PROMETHEUS)], **T)
    assert result.result == "Inconclusive"
    assert "the operator has no Prometheus configured (READYGATE_PROMETHEUS_URL)" in (
        result.message)


def test_the_status_stays_bounded_whatever_is_asked() -> None:
    spec = metrics(
        growth=[{"series": f'm{{i="{i}"}}', "max": 0} for i in range(16)],
        rules=[{"name": f"r{i}", "expr": f"m{i}", "op": "<", "value": 0} for i in range(16)],
        promql=[{"name": f"q{i}", "query": "up", "op": "<", "value": 0} for i in range(16)])
    scrapes = [Scrape(t, f"pod {'p' * 200}{n}", {**{f'm{{i="{i}"}}': t for i in range(16)},
                                                 **{f"m{i}": 1.0 for i in range(16)}})
               for n in range(32) for t in (0.0, 10.0)]
    answers = [query_answer(f"q{i}", None, 200, vector(*[({"l": "v" * 500}, 1)] * 1000))
               for i in range(16)]
    status = judge_metrics(spec, scrapes, answers, **T).to_status()
    assert status["result"] == "Failed"
    assert len(status["message"]) <= MESSAGE_CHARS
    assert len(status["evidence"]) <= EVIDENCE_ITEMS
    assert all(len(e) <= EVIDENCE_CHARS for e in status["evidence"])
    assert len(status["measured"]) <= MEASURED_ITEMS
    long = 'm{' + ",".join(f'label{i}="{"v" * 40}"' for i in range(16)) + "}"
    grew = judge_metrics(metrics(growth=[{"series": long, "max": 1}]),
                         pages({"a": [1, 5]}, key=str(parse_selector(long))), [], **T)
    assert grew.result == "Failed"
    assert all(len(k) <= 100 for k in grew.measured)


# -- fuzzing the spec: refused with a message, or accepted and usable ---------------------------

SERIES_TEXT = st.one_of(st.sampled_from([FDS, 'a{b="c"}', "a{", 'a{b="\\"}"}', "{}", "a b"]),
                        st.text(alphabet='abc_:{}="!,\\ \n~', max_size=30))
QUERY_TEXT = st.one_of(st.sampled_from(['up{namespace="{namespace}"}', "up{pod={pod}}",
                                        "x # {nope}", "`{pod}`"]),
                       st.text(alphabet='{}"\'`#\\ \nnamespodup=~', max_size=40))
NUMBER = st.one_of(st.floats(allow_nan=True), st.integers(), st.text(max_size=3), st.none())
METRICS_SPECS = st.fixed_dictionaries({}, optional={
    "growth": st.lists(st.fixed_dictionaries({"series": SERIES_TEXT}, optional={
        "max": NUMBER, "maxPerMinute": NUMBER}), max_size=3),
    "rules": st.lists(st.fixed_dictionaries({
        "name": st.sampled_from(["a", "b", "B", ""]), "expr": SERIES_TEXT,
        "op": st.sampled_from([">", "<=", "=>"]), "value": NUMBER}, optional={
        "sample": st.sampled_from(["last", "increase", "x"]),
        "scope": st.sampled_from(["pod", "target", "x"])}), max_size=3),
    "promql": st.lists(st.fixed_dictionaries({
        "name": st.sampled_from(["q", "a", "r"]), "query": QUERY_TEXT,
        "op": st.sampled_from(["==", "!="]), "value": NUMBER}), max_size=3),
    "port": NUMBER, "scrapeEvery": st.sampled_from(["1s", "0s", "5m1s", 3]),
})


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(METRICS_SPECS, st.booleans())
def test_metrics_specs_are_refused_with_a_message_or_usable(fields: Any, url: bool) -> None:
    target = {"url": "https://shop.example/"} if url else DEPLOY
    try:
        spec = parse_spec({"target": target, "metrics": fields})
    except SpecError as exc:
        assert exc.problems and all(p.startswith("spec") for p in exc.problems)
        return
    m = spec.metrics
    assert m is not None and (m.growth or m.rules or m.promql)
    from readygate.judge.metrics import wanted_selectors

    wanted_selectors(m)  # every selector and expression parses
    for q in m.promql:
        render(q.query, VALUES)  # every template renders
