"""A check's PromQL confined to its namespace (api.promql): every vector selector gets the
namespace matcher, a matcher on another namespace is refused, an unreadable query is never sent.
Prometheus' own parser reads the confined queries in tests/monitoring/test_promql_parse.py."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readygate.api.parse import SpecError, parse_spec
from readygate.api.promql import ReachError, confine, reach_problems, selectors
from readygate.api.settings import SettingsError, from_env

NS = "team-a"
ME = 'namespace="team-a"'

REWRITES = [
    ("up", f"up{{{ME}}}"),
    ('x{code="500"}', f'x{{code="500",{ME}}}'),
    ('x{code="500",}', f'x{{code="500",{ME}}}'),
    ("x{}", f"x{{{ME}}}"),
    ('{__name__=~"http_.*"}', f'{{__name__=~"http_.*",{ME}}}'),
    ('{"my.metric", le="1"}', f'{{"my.metric", le="1",{ME}}}'),
    # its own namespace written out: the matcher is still added (matchers are ANDed)
    ('x{namespace="team-a"}', f'x{{namespace="team-a",{ME}}}'),
    ('x{namespace=~"team-a"}', f'x{{namespace=~"team-a",{ME}}}'),
    # what cannot widen it is kept: ANDed with the check's namespace
    ('up{namespace!=""}', f'up{{namespace!="",{ME}}}'),
    ('up{namespace=~".+"}', f'up{{namespace=~".+",{ME}}}'),
    ('x{namespace=~"team-a|team-b"}', f'x{{namespace=~"team-a|team-b",{ME}}}'),
    # where an operand stands, a keyword is a metric name (as for Prometheus)
    ("offset", f"offset{{{ME}}}"),
    ("sum(offset) + sum(by) + sum(and) / without", f"sum(offset{{{ME}}}) + sum(by{{{ME}}}) + "
     f"sum(and{{{ME}}}) / without{{{ME}}}"),
    ("rate(offset[5m])", f"rate(offset{{{ME}}}[5m])"),
    ("a * on(x) group_left(y) offset", f"a{{{ME}}} * on(x) group_left(y) offset{{{ME}}}"),
    ("sum", f"sum{{{ME}}}"),
    # keywords are case-insensitive
    ("up AND up", f"up{{{ME}}} AND up{{{ME}}}"),
    ("up Offset 5m", f"up{{{ME}}} Offset 5m"),
    ("SUM(up) BY (job)", f"SUM(up{{{ME}}}) BY (job)"),
    ("x > 5.", f"x{{{ME}}} > 5."),
    ("sum(x) by (y) and z", f"sum(x{{{ME}}}) by (y) and z{{{ME}}}"),
    ("a > bool on (x) group_right b", f"a{{{ME}}} > bool on (x) group_right b{{{ME}}}"),
    ("x @ -5 offset -1m", f"x{{{ME}}} @ -5 offset -1m"),
    ("rate(x[5m] anchored)", f"rate(x{{{ME}}}[5m] anchored)"),
    ("sum by (pod) (rate(http_requests_total[5m]))",
     f"sum by (pod) (rate(http_requests_total{{{ME}}}[5m]))"),
    ("sum(rate(x[1m])) without (instance)", f"sum(rate(x{{{ME}}}[1m])) without (instance)"),
    ("histogram_quantile(0.95, sum by (le) (rate(h_bucket[1m:10s] offset 5m @ start())))",
     f"histogram_quantile(0.95, sum by (le) (rate(h_bucket{{{ME}}}[1m:10s] offset 5m "
     "@ start())))"),
    ("a / on(pod) group_left(node) kube_pod_info",
     f"a{{{ME}}} / on(pod) group_left(node) kube_pod_info{{{ME}}}"),
    ("a and b or c unless d > bool 3",
     f"a{{{ME}}} and b{{{ME}}} or c{{{ME}}} unless d{{{ME}}} > bool 3"),
    ('label_replace(up, "namespace", "kube-system", "", "")',
     f'label_replace(up{{{ME}}}, "namespace", "kube-system", "", "")'),
    ('count_values("v", x)', f'count_values("v", x{{{ME}}})'),
    ("topk(3, x) by (pod)", f"topk(3, x{{{ME}}}) by (pod)"),
    ("-x * 2 ^ y % Inf", f"-x{{{ME}}} * 2 ^ y{{{ME}}} % Inf"),
    ("job:rate5m:sum", f"job:rate5m:sum{{{ME}}}"),
    ("x # a comment {namespace=\"kube-system\"}\n", f"x{{{ME}}} # a comment "
     "{namespace=\"kube-system\"}\n"),
    # Prometheus ends a comment at a carriage return too: what follows is read (and confined)
    ('vector(1) # c\r or {__name__=~"secret"}', f'vector(1) # c\r or {{__name__=~"secret",{ME}}}'),
    ("sum(rate(x[5m]))\r\n/ sum(rate(y[5m]))",
     f"sum(rate(x{{{ME}}}[5m]))\r\n/ sum(rate(y{{{ME}}}[5m]))"),
    ("vector(1) + time()", "vector(1) + time()"),  # reads no series
    ('x{by="on"} offset 1h', f'x{{by="on",{ME}}} offset 1h'),
]


@pytest.mark.parametrize(("query", "confined"), REWRITES)
def test_every_selector_is_confined(query: str, confined: str) -> None:
    assert confine(query, "namespace", NS) == confined


def test_another_label_name_and_escaping() -> None:
    assert confine("up", "kubernetes_namespace", NS) == 'up{kubernetes_namespace="team-a"}'
    # the label is the admin's: `namespace` is then an ordinary label
    assert confine('up{namespace="x"}', "k8s_ns", NS) == 'up{namespace="x",k8s_ns="team-a"}'
    assert confine("up", "namespace", 'we"ird\\') == 'up{namespace="we\\"ird\\\\"}'


REFUSED = [
    ('x{namespace="kube-system"}', 'x matches namespace="kube-system": a check reads only'),
    ('x{namespace!="team-a"}', 'x matches namespace!="team-a"'),
    ('{"namespace"="kube-system"}', '{...} matches namespace="kube-system"'),
    ('sum(a) + b{namespace="other"}', 'b matches namespace="other"'),
    ("up\x0b", "a control character (0x0b)"),
    ("up\x00", "a control character (0x00)"),
    # Prometheus 3 with unquoted UTF-8 names reads `bool.5xx_errors` as one metric name
    ("-1 < bool.5xx_errors", "a '.' right after 'bool' at character 10"),
    ("up * on(job) group_left.5x", "a '.' right after 'group_left'"),
    # Prometheus 3's experimental fill(): the word after it is an operand there
    ("up + fill(0) offset - 0", "fill() modifiers of binary operators are not read"),
    ("up + FILL_LEFT(0) and - 0", "FILL_LEFT() modifiers of binary operators are not read"),
    ("up\u2028or x", "unexpected '\\u2028' at character 3"),
    ("info(app_metric)", "info() joins in info series by job and instance alone"),
    ("x{", "expected '}' at the end of the query"),
    ("sum(x", "a '(' is never closed"),
    ("x)", "unmatched ')' at character 2"),
    ("x bar", "unexpected 'bar' at character 3"),
    ("x +", "expected an expression at the end of the query"),
    ("f(x,)", "expected an expression at character 5, found ')'"),
    ("x, y", "unexpected ',' at character 2"),
    ("", "the query holds no expression"),
    ("# only a comment", "the query holds no expression"),
    ('x{a="b" c="d"}', "expected ',' or '}' at character 9"),
    ("x{a=b}", "expected a quoted label value at character 5"),
    ('x[5m{namespace="o"}]', "expected a duration at character 5"),
    ("x ; y", "unexpected ';' at character 3"),
    ('x{a="unterminated}', "unterminated string at character 5"),
    ("sum by (x{a=\"b\"}) (y)", "expected a label name"),
    ("sum by (x) y", "expected '(' at character 12"),
    ("x @ now", "expected a time, start() or end() after @"),
    ("x offset y", "expected a duration after offset"),
    ('rate(x[5m]){a="b"}', "unexpected '{'"),
]


@pytest.mark.parametrize(("query", "why"), REFUSED)
def test_what_reaches_beyond_or_cannot_be_read_is_refused(query: str, why: str) -> None:
    with pytest.raises(ReachError) as err:
        confine(query, "namespace", NS)
    assert why in str(err.value)


def test_the_refusal_says_what_to_write() -> None:
    with pytest.raises(ReachError) as err:
        confine('x{namespace="kube-system"}', "namespace", NS)
    assert str(err.value) == (
        'x matches namespace="kube-system": a check reads only the series of its own '
        'namespace (team-a); write namespace="{namespace}" or leave namespace out '
        "(readygate adds it)")


def test_templates_are_read_before_the_run() -> None:
    assert reach_problems('x{namespace="{namespace}",pod=~"{name}-.*"}') == []
    assert reach_problems("up") == []
    assert reach_problems("sum(x") == ["a '(' is never closed"]
    assert reach_problems("info(x)")[0].startswith("info() joins in info series")


def promql_spec(query: str) -> dict[str, object]:
    return {"target": {"url": "http://orders.example:8080"},
            "metrics": {"promql": [{"name": "q", "query": query, "op": "<", "value": 1}]}}


def test_the_spec_refuses_what_cannot_be_confined_with_the_reason() -> None:
    parse_spec(promql_spec('sum(rate(x{namespace="{namespace}"}[1m])) / sum(rate(y[1m]))'))
    # which namespace it names is judged at the run, where the namespace and label are known
    parse_spec(promql_spec('sum(kube_secret_info{namespace="kube-system"})'))
    with pytest.raises(SpecError, match=r"promql\[0\]\.query: unexpected 'y'"):
        parse_spec(promql_spec("x y"))
    with pytest.raises(SpecError, match=r"promql\[0\]\.query: info\(\) joins"):
        parse_spec(promql_spec("info(x)"))
    with pytest.raises(SpecError, match=r"promql\[0\]\.query: a control character"):
        parse_spec(promql_spec("x # \x0b or y"))


def test_the_namespace_label_setting() -> None:
    assert from_env({}).prometheus_namespace_label == "namespace"
    assert from_env({"READYGATE_PROMETHEUS_NAMESPACE_LABEL": "k8s_namespace"}
                    ).prometheus_namespace_label == "k8s_namespace"
    assert from_env({"READYGATE_PROMETHEUS_NAMESPACE_LABEL": "none"}
                    ).prometheus_namespace_label is None
    for bad in ("name space", "9ns", 'namespace"}'):
        with pytest.raises(SettingsError, match="READYGATE_PROMETHEUS_NAMESPACE_LABEL"):
            from_env({"READYGATE_PROMETHEUS_NAMESPACE_LABEL": bad})


# -- any text: refused, or confined with every selector carrying exactly the namespace ------

ATOMS = st.sampled_from([
    "x", "up", "job:r:sum", "{", "}", "(", ")", "[5m]", "[1m:]", ",", " ", "sum", "by", "(a)",
    "on", "group_left", "rate", "offset 1h", "@", "start()", "and", "+", "/", "==", "bool",
    "OR", "Without", "info", "\r", "#", "5.", "offset", "by", "fill(0)", ".5", "bool.5",
    '"s"', "'t'", "`r`", '{a="b"}', '{namespace="team-a"}', '{namespace="b"}', '{"q.n"}',
    '__name__=~"x"', "=", "!~", "1", "0x1f", "Inf", "#c\n", "\\", "\n", "{}", "ñ"])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ATOMS, max_size=14).map("".join))
def test_any_query_is_refused_or_fully_confined(query: str) -> None:
    try:
        out = confine(query, "namespace", NS)
    except ReachError:
        return
    for sel in selectors(out):
        assert ("namespace", "=", NS) in [(m.label, m.op, m.value) for m in sel.matchers], (
            query, out)
