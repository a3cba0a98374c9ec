"""The readiness report: the chart data's downsampling and bounds, the Markdown and HTML it renders
for a passed and a failed check, escaping of a hostile status, malformed objects, the scorecard
table and the command line on saved objects. The browser's view is tests/unit/test_report_browser.
"""

from __future__ import annotations

import dataclasses
import html.parser
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from readygate.api.parse import parse_spec
from readygate.api.report import CHART_POINTS, METRICS_SERIES, Charts, MetricsSeries
from readygate.api.rerun import ANNOTATION, token_of
from readygate.cli.kubectl import main as kubectl_main
from readygate.cli.kubectl import new_token
from readygate.judge.charts import (
    charts_of,
    load_series,
    memory_series,
    metrics_series,
    with_metrics,
)
from readygate.judge.metrics import Scrape
from readygate.judge.resilience import Disruption
from readygate.load import LoadResult, Second
from readygate.load.histogram import COARSE, bucket_of
from readygate.report import render_html, render_markdown
from readygate.report.fmt import MINUS, TIMES, change, fence, md, terminal
from readygate.report.table import checks, scorecards

from .. import reportfixtures as fx


def _second(t: int, n: int, errors: int, ms: float) -> Second:
    return Second(t, n, errors, {bucket_of(int(ms * 1e6)) // COARSE: n})


# -- the chart data -------------------------------------------------------------------------


def test_an_hour_of_load_is_sixty_points_and_keeps_every_request() -> None:
    timeline = tuple(_second(t, 100, t % 2, 10.0 if t < 1800 else 40.0) for t in range(3600))
    result = LoadResult(model="open", duration=3600.0, requests=360_000, timeline=timeline,
                        started=1e9)
    series = load_series(result)
    assert series is not None
    assert series.step == 60 and len(series.t) == CHART_POINTS
    assert sum(series.requests) == 360_000 and sum(series.errors) == 1800
    assert series.t[:3] == (0.0, 60.0, 120.0)
    # percentiles of a step come from its merged histogram (5 % buckets), three digits
    assert series.p95_ms[0] == pytest.approx(10.0, rel=0.06)
    assert series.p95_ms[-1] == pytest.approx(40.0, rel=0.06)


def test_a_short_load_keeps_its_seconds_and_a_silent_second_is_a_gap() -> None:
    timeline = (_second(0, 10, 0, 5.0), Second(1, 0, 0, {}), _second(2, 10, 2, 7.0))
    series = load_series(LoadResult(model="open", duration=3.0, timeline=timeline, started=1e9))
    assert series is not None
    assert series.step == 1 and series.requests == (10, 0, 10) and series.errors == (0, 0, 2)
    assert series.p50_ms[1] is None and series.p50_ms[0] is not None


def test_memory_keeps_the_container_that_grew_most_at_most_sixty_peaks() -> None:
    samples = [(float(i), {"a/app": 100.0 + i, "b/app": 100.0 + 3 * i, "late/app": 1e9})
               for i in range(150)]
    samples[0][1].pop("late/app")  # a pod that started during the load is not judged
    series = memory_series(samples, offset=-0.5)
    assert series is not None
    assert series.of == "b/app" and len(series.t) <= CHART_POINTS
    assert series.t[0] == -0.5 and series.bytes[-1] == 100 + 3 * 149


def test_charts_are_on_the_load_clock() -> None:
    result = LoadResult(model="open", duration=2.0, timeline=(_second(0, 1, 0, 1.0),),
                        started=1000.0)
    d = Disruption(killed=("p",), killed_at=1010.0, recovered_at=1017.5, desired=1,
                   ready_at_end=1, answering_at_end=True)
    charts = charts_of(result, [(0.0, {"p/c": 1.0})], 1000.5, d)
    assert charts is not None
    assert (charts.killed_at, charts.recovered_at) == (10.0, 17.5)
    assert charts.memory is not None and charts.memory.t == (0.5,)
    assert charts.load_started_at == "1970-01-01T00:16:40Z"
    assert charts_of(None) is None


FDS, RSS = "process_open_fds", "process_resident_memory_bytes"


def test_metrics_keep_the_pod_that_grew_most_its_first_and_last_scrape_and_sixty_points() -> None:
    scrapes = []
    for i in range(500):  # a long soak scraped every second: three pods, three growth series
        at = float(i)
        scrapes += [Scrape(at, "pod a", {FDS: 10.0 + i % 7, RSS: 1e6 + i, "third": 1.0}),
                    Scrape(at, "pod b", {FDS: 10.0 + i // 2 + (40 if i % 9 == 0 else 0),
                                         RSS: 1e6}),
                    Scrape(at, "pod c", problem="connection refused")]
    series = metrics_series(scrapes, [FDS, FDS, RSS, "third"], offset=-0.5)
    assert series is not None and series.of == "pod b"  # its descriptors grew most
    assert 50 <= len(series.t) <= CHART_POINTS and [k for k, _ in series.series] == [FDS, RSS]
    fds = series.series[0][1]
    # the first and the last scrape as they were (what growth is measured between), the peaks
    # of the scrapes between them: the spike every 9 s is kept
    assert (fds[0], fds[-1]) == (50.0, 10.0 + 499 // 2)
    assert series.t[0] == -0.5 and series.t[-1] == 498.5
    assert max(fds[1:-1]) == 10 + 495 // 2 + 40 and len(fds) == len(series.t)
    assert series.t == tuple(sorted(series.t))


def test_metrics_of_a_few_scrapes_keep_each_and_a_hostile_value_is_no_number() -> None:
    scrapes = [Scrape(0.0, "pod a", {FDS: 12.0, RSS: math.nan}),
               Scrape(1.0, "pod a", {FDS: math.inf, RSS: 1.5e308}),
               Scrape(2.0, "pod a", {RSS: -math.inf}),  # FDS missing from the page
               Scrape(2.5, "pod a", problem="HTTP 500", fault=True),  # not read: no point
               Scrape(3.0, "pod a", {FDS: 123456789.123, RSS: -2.0})]
    series = metrics_series(scrapes, [FDS, RSS])
    assert series is not None and series.t == (0.0, 1.0, 2.0, 3.0)
    assert dict(series.series) == {FDS: (12.0, None, None, 123457000.0),
                                   RSS: (None, 1.5e308, None, -2.0)}
    status = Charts(metrics=series).to_status()
    json.dumps(status, allow_nan=False)  # valid JSON for the API server
    assert metrics_series([Scrape(0.0, "pod a", {"other": 1.0})], [FDS]) is None
    assert metrics_series(scrapes, []) is None and metrics_series([], [FDS]) is None
    # NaN or infinite values in a series built by hand become null in status, too
    hand = MetricsSeries(of="p" * 1000, t=(0.0,) * 99, series=(
        ("x" * 500, (math.nan, math.inf, 1.0) * 33),) * 5)
    out = hand.to_status()
    assert len(out["t"]) == CHART_POINTS and len(out["series"]) == METRICS_SERIES
    assert out["series"][0]["values"][:3] == [None, None, 1.0]
    assert len(out["of"]) == 300 and len(out["series"][0]["name"]) == 100
    json.dumps(out, allow_nan=False)


def test_metrics_are_on_the_load_clock_beside_the_load_phases_charts() -> None:
    spec = parse_spec({"target": {"deploy": {"image": "x:1"}}, "metrics": {"growth": [
        {"series": "process_open_fds{}", "max": 20}], "rules": [
        {"name": "r", "expr": "other", "op": "<", "value": 1}]}}).metrics
    assert spec is not None
    result = LoadResult(model="open", duration=2.0, timeline=(_second(0, 1, 0, 1.0),),
                        started=1000.0)
    loaded = charts_of(result)
    assert loaded is not None and loaded.load_epoch == 1000.0
    scrapes = [Scrape(0.0, "pod a", {FDS: 3.0}), Scrape(5.0, "pod a", {FDS: 9.0})]
    charts = with_metrics(loaded, spec, scrapes, 999.4)  # scraped 0.6 s before the load
    assert charts is not None and charts.load == loaded.load
    assert charts.metrics is not None and charts.metrics.t == (-0.6, 4.4)
    assert charts.to_status()["metrics"]["series"] == [{"name": FDS, "values": [3.0, 9.0]}]
    # no load phase charts (no load, or it failed): the scrapes' own clock
    alone = with_metrics(None, spec, scrapes, 999.4)
    assert alone is not None and alone.load_started_at is None
    assert alone.metrics is not None and alone.metrics.t == (0.0, 5.0)
    # only rules: nothing to chart, the load phase's charts as they were
    rules = dataclasses.replace(spec, growth=())
    assert with_metrics(loaded, rules, scrapes, 999.4) is loaded
    assert with_metrics(None, rules, scrapes, 999.4) is None


# -- the report -----------------------------------------------------------------------------


def test_markdown_of_a_passed_check() -> None:
    text = render_markdown(fx.passed(), generated_at=fx.T3)
    assert "✅ **Passed** · **score 80/100** · run 2" in text
    # the scorecard by category, with what was not checked
    assert "| performance | 25 / 25 | load ✅ |" in text
    assert "| persistence | not checked | — |" in text
    # thresholds against measured values
    assert "| p95 | ≤ 250 ms | 156 ms | ✅ |" in text
    assert "| error rate | ≤ 2 % | 1.3 % | ✅ |" in text
    # the change against the last passed run: p95 +30 %, error rate times two
    assert "Compared with run 1 (Passed, score 80)" in text
    assert "| load | p95 | 120 ms | 156 ms | +30 % ⚠️ worse |" in text
    assert f"| load | error rate | 0.65 % | 1.3 % | {TIMES}2.0 ⚠️ worse |" in text
    assert "Pods deleted at 30.2 s into the load; recovered at 38.1 s." in text
    assert "- persistence: not measured" in text
    assert "open file descriptors: not measured" in text


def test_markdown_of_a_failed_check_shows_the_crash_and_its_log() -> None:
    text = render_markdown(fx.failed())
    assert "❌ **Failed** · **score 0/100**" in text
    assert "**CrashLoopBackOff**: container app exited with code 3: ModuleNotFoundError" in text
    assert "```text\nTraceback (most recent call last):" in text
    assert "ModuleNotFoundError: No module named 'autocoder'\n```" in text
    assert "No earlier run of this check passed" in text
    assert "- load: skipped — not run: the target did not become ready" in text


def test_html_of_a_passed_check_has_its_charts_and_nothing_external() -> None:
    page = render_html(fx.passed(), generated_at=fx.T3)
    for name in ("latency", "throughput", "errors", "memory"):
        assert f'data-chart="{name}"' in page
    assert page.count('class="disruption"') == 4  # marked on every chart of the run
    assert 'data-series="p95"' in page and 'class="limit"' in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    parsed = _parse(page)
    assert not parsed.urls and "script" not in parsed.tags
    assert "+30 %" in page and f"{TIMES}2.0" in page


def test_html_of_a_failed_check_shows_the_crash_and_no_charts() -> None:
    page = render_html(fx.failed())
    assert "<b>CrashLoopBackOff</b>" in page and 'class="log"' in page
    assert "ModuleNotFoundError: No module named &#x27;autocoder&#x27;" in page
    assert 'class="chart"' not in page


class _Parsed(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.handlers: list[str] = []
        self.urls: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(name)
            if name in ("src", "href", "xlink:href", "action", "formaction", "style") and (
                    name != "style" or "url(" in (value or "")):
                self.urls.append(f"{name}={value}")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Parsed:
    p = _Parsed()
    p.feed(page)
    p.close()
    return p


ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "header", "section",
                "article", "footer", "h1", "h2", "h3", "p", "div", "span", "b", "table", "tr",
                "th", "td", "ul", "li", "pre", "svg", "rect", "text", "line", "path"}


def test_a_hostile_status_stays_text_in_html() -> None:
    page = render_html(fx.hostile())
    parsed = _parse(page)
    assert parsed.tags <= ALLOWED_TAGS, parsed.tags - ALLOWED_TAGS
    assert not parsed.handlers and not parsed.urls
    text = "".join(parsed.text)
    assert "<script>alert(1)</script>" in text  # shown, as text
    assert "\x00" not in page and "\x1b" not in page
    # the SVG inside is well-formed XML too: every chart parses on its own
    import xml.etree.ElementTree as ET

    for svg in page.split("<svg ")[1:]:
        ET.fromstring("<svg " + svg.split("</svg>")[0] + "</svg>")


def test_a_hostile_status_stays_text_in_markdown() -> None:
    text = render_markdown(fx.hostile())
    fenced = text.split("``````text\n")[1].split("\n``````")[0]
    outside = re.sub(r"(?m)^> ", "", text.replace(fenced, ""))  # less the quote we write
    assert not re.search(r"(?<!\\)[<>]", outside)  # no tag: every angle bracket escaped
    assert not re.search(r"(?<!\\)\]\(", outside)  # no link
    # no table row gets extra cells from a hostile string
    for line in text.splitlines():
        if line.startswith("| ") and "\\|" in line:
            assert line.replace("\\|", "").count("|") in (4, 5, 6)
    # the log fence is longer than any run of backticks inside it
    assert "\n``````text\n" in text


@pytest.mark.parametrize("obj", [
    {},
    {"metadata": {"name": 3}, "spec": "x", "status": "nope"},
    {"metadata": {"name": "a"}, "status": {"checks": [None, 1, {"name": "load", "measured": {
        "p95Ms": "1", "rps": True, "x": math.nan}}], "charts": {"load": {"t": "x"}},
        "baseline": {"verdict": 1}, "score": "80", "scoreBreakdown": [1]}},
    {"metadata": {"name": "a"}, "status": {"charts": {
        "load": {"t": [0, 1, 2], "requests": [1], "p95Ms": [None, "x", 3], "stepSeconds": -5},
        "memory": {"t": [0, 1], "bytes": [1]}, "disruption": {"killedAt": "x"}}}},
])
def test_a_malformed_object_still_renders(obj: dict[str, Any]) -> None:
    assert "Readiness report" in render_markdown(obj)
    assert "</html>" in render_html(obj)
    assert "NAME" in scorecards([obj]) and checks(obj)


def test_a_threshold_far_above_the_data_is_named_not_drawn() -> None:
    from readygate.report.svg import Limit, Series, chart

    svg = chart("latency", "t", [0.0, 1.0], [Series("p95", [40.0, 60.0])], unit="ms",
                limits=[Limit("p95 threshold", 2000.0), Limit("p50 threshold", 100.0)])
    assert svg.count('class="limit"') == 1 and "p50 threshold" in svg
    assert "p95 threshold: 2,000 ms (above the chart)" in svg
    ticks = [float(t.replace(",", "")) for t in re.findall(r'class="tick" x="58"[^>]*>([^<]+)<',
                                                           svg)]
    assert 100 <= max(ticks) <= 150  # scaled to the data and the threshold near it


def _svgs(page: str) -> dict[str, str]:
    return {re.findall(r'data-chart="([^"]+)"', svg)[0]: svg
            for svg in re.findall(r"<svg .*?</svg>", page, re.S)}


def test_descriptors_are_charted_on_the_load_clock_with_their_bound() -> None:
    page = render_html(fx.leaking(), generated_at=fx.T3)
    svgs = _svgs(page)
    assert list(svgs) == ["latency", "throughput", "errors", "memory", "metric-1", "metric-2"]
    fds = svgs["metric-1"]
    assert "Open file descriptors of pod shop-7d9f-abcde during the load" in fds
    assert 'data-series="process_open_fds"' in fds and ">open fds</text>" in fds
    assert fds.count('class="limit"') == 1 and "first scrape + max 20" in fds
    # every chart of the run shares the x axis, so the disruption band lines up
    bands = {re.findall(r'class="disruption" x="([^"]+)"', svg)[0] for svg in svgs.values()}
    assert len(bands) == 1
    assert "seconds since the load started" in fds
    # the second series in MiB, its rate bound as the line the last scrape is judged against
    rss = svgs["metric-2"]
    assert "process_resident_memory_bytes of pod shop-7d9f-abcde" in rss and ">MiB<" in rss
    assert f"first scrape + maxPerMinute 8.0Mi {TIMES} 1.58 min" in rss
    text = render_markdown(fx.leaking())
    assert "| metric-1: Open file descriptors of pod shop-7d9f-abcde during the load | `▁" in text
    assert ("- metric-1, one character per scrape (or group of them): 14 → 239 open fds; "
            "first scrape + max 20: 34 open fds.") in text
    assert "open file descriptors: not measured" not in text  # the metrics check measured them


def test_a_growth_bound_far_above_the_descriptors_is_named_not_drawn() -> None:
    obj = fx.leaking()
    obj["spec"]["metrics"]["growth"][0]["max"] = 5000
    fds = _svgs(render_html(obj))["metric-1"]
    assert 'class="limit"' not in fds
    assert "first scrape + max 5,000: 5,014 open fds (above the chart)" in fds


def test_without_a_load_the_descriptors_are_on_the_scrapes_clock() -> None:
    obj = fx.leaking()
    charts = obj["status"]["charts"]
    obj["status"]["charts"] = {"metrics": charts["metrics"]}
    svgs = _svgs(render_html(obj))
    assert list(svgs) == ["metric-1", "metric-2"]
    assert "seconds since the first scrape" in svgs["metric-1"]
    assert "during the load" not in svgs["metric-1"]


HOSTILE_NUMBERS = [math.nan, math.inf, -math.inf, 1.7976931348623157e308, -1e308, 1e-300,
                   "x", None, True, [1], {"a": 1}]


@pytest.mark.timeout(30)
def test_hostile_numbers_in_the_metrics_chart_render_and_stay_bounded() -> None:
    obj = fx.leaking()
    charts = obj["status"]["charts"]
    charts["metrics"] = {
        "of": fx.HOSTILE, "t": [*HOSTILE_NUMBERS, *range(200)],
        "series": [{"name": fx.HOSTILE, "values": [*HOSTILE_NUMBERS, *range(200)]},
                   {"name": "process_open_fds", "values": HOSTILE_NUMBERS[::-1]},
                   *({"name": f"s{i}", "values": [1]} for i in range(100))]}
    charts["load"]["t"] = [1e308, -1e308] + charts["load"]["t"][2:]
    charts["disruption"] = {"killedAt": -1.7e308, "recoveredAt": 1.7e308}
    page = render_html(obj)
    svgs = _svgs(page)
    assert [k for k in svgs if k.startswith("metric-")] == ["metric-1", "metric-2"]
    import xml.etree.ElementTree as ET

    for svg in svgs.values():
        ET.fromstring(svg)  # well-formed, every coordinate a number
        assert "nan" not in svg.lower().replace("nanos", "") and "inf\"" not in svg
    assert "<script>" not in page.split("<body>")[1].replace("&lt;script&gt;", "")
    text = render_markdown(obj)
    assert "metric-1" in text and "metric-3" not in text
    from readygate.report.charts import sparkline

    assert sparkline([1e-300, -1.7e308, None, 5.0]) == "▁▁ █"  # no overflow to an index
    # a chart of the largest floats: drawn at the edge, in well under a second
    from readygate.report.svg import Band, Limit, Series, chart

    svg = chart("x", "t", [-1e308, 1.7e308], [Series("a", [1.7e308, -1e308])], unit="u",
                bars=True, step=1e308, band=Band("b", -1e308, None),
                limits=[Limit("l", math.inf), Limit("m", 1.5e308)], domain=(-1e308, 1e308))
    ET.fromstring(svg)


# -- formatting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("before", "now", "text"), [
    (120, 156, "+30 %"), (0.0065, 0.013, f"{TIMES}2.0"), (100, 88, f"{MINUS}12 %"),
    (10, 2, f"{MINUS}80 %"), (14.1, 0.906, f"{MINUS}94 %"), (5, 5, "unchanged"),
    (0, 3, "from 0"), (1, 250, f"{TIMES}250"),
])
def test_change(before: float, now: float, text: str) -> None:
    assert change(before, now) == text


def test_escaping_helpers() -> None:
    assert md("a | b <i>*x*</i> [l](u)") == r"a \| b \<i\>\*x\*\</i\> \[l\](u)"
    assert md("# title") == r"\# title" and md("1. item") == r"1\. item"
    assert md("1.3 %") == "1.3 %" and md("-x") == r"\-x" and md("12) x") == r"12\) x"
    assert fence(["a ````` b"]) == "``````"
    assert terminal("red \x1b[31mtext\x9b\u202e\n more", 100) == "red [31mtext more"
    assert terminal("x" * 10, 5) == "xxxx…"


# -- the scorecard table and the command line -------------------------------------------------


def test_scorecards_table() -> None:
    table = scorecards([fx.passed(), fx.failed()], namespaces=True)
    lines = table.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "VERDICT", "SCORE", "DEPLOY", "HEALTH",
                                "PERFORMANCE", "RESILIENCE", "PERSISTENCE", "SECURITY", "P95",
                                "RUNS", "LAST", "VERDICT"]
    assert lines[1].split()[:11] == ["shop", "shop", "Passed", "80", "15/15", "25/25", "25/25",
                                     "15/15", "-", "-", "156ms"]
    assert lines[2].split()[:6] == ["shop", "shop-broken", "Failed", "0", "0/15", "0/25"]
    detail = checks(fx.failed())
    assert "readiness Failed the workload does not start" in " ".join(detail.split())
    assert "not checked:" in detail


@pytest.mark.parametrize(("fmt", "suffix", "marker"), [
    ("md", "report.md", "# Readiness report: shop/shop"),
    (None, "report.html", "<!DOCTYPE html>"),
    ("html", "report.txt", "<!DOCTYPE html>"),
])
def test_report_command_renders_a_saved_object(tmp_path: Path, fmt: str | None, suffix: str,
                                               marker: str) -> None:
    saved = tmp_path / "check.yaml"
    other = {"kind": "ConfigMap", "metadata": {"name": "x"}}
    saved.write_text(yaml.safe_dump_all([other, fx.passed()]))
    out = tmp_path / suffix
    argv = ["report", "--file", str(saved), "-o", str(out)] + (["--format", fmt] if fmt else [])
    assert kubectl_main(argv) == 0
    assert out.read_text().startswith(marker)


def test_report_command_reads_a_list_and_picks_by_name(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "checks.json"
    saved.write_text(json.dumps({"kind": "List", "items": [fx.passed(), fx.failed()]}))
    assert kubectl_main(["report", "shop-broken", "--file", str(saved)]) == 0
    assert "shop/shop-broken" in capsys.readouterr().out
    assert kubectl_main(["report", "--file", str(saved)]) == 2
    assert "expected one ReadinessCheck, found 2" in capsys.readouterr().err
    assert kubectl_main(["report"]) == 2


def test_rerun_token() -> None:
    assert token_of({"annotations": {ANNOTATION: " 2026-01-01T00:00:00.123Z "}}) == \
        "2026-01-01T00:00:00.123Z"
    assert token_of({"annotations": {ANNOTATION: "x" * 500}}) == "x" * 100
    assert token_of({"annotations": {ANNOTATION: ""}}) is None
    assert token_of({"annotations": None}) is None and token_of(None) is None
    token = new_token()
    assert token.endswith("Z") and len(token) == len("2026-01-01T00:00:00.000Z")
