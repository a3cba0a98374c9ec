"""The HTML report in a real headless browser (Debian's chromium): a passed, a leaking and a
failed check are rendered, screenshotted (out/report/*.png, to look at) and their DOM read back
— the SVG charts with their series, thresholds and the disruption band are there (the leak's
open file descriptors too), the crash's log lines are, and a hostile status built no element of
its own.
"""

from __future__ import annotations

from pathlib import Path

from readygate.report import render_html

from .. import reportfixtures as fx
from ..browser import Elements, dump_dom, png_facts, screenshot

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "out" / "report"


def _page(name: str, obj: dict[str, object]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    page = OUT / f"{name}.html"
    page.write_text(render_html(obj, generated_at=fx.T3), encoding="utf-8")
    return page


def _looks_drawn(png: Path) -> None:
    width, height, ink = png_facts(png)
    assert (width, height) == (1000, 4000)
    assert ink > 0.005, f"{png} looks blank (ink {ink:.4f})"


def test_passed_report_in_a_browser() -> None:
    page = _page("unit-passed", fx.passed())
    _looks_drawn(screenshot(page, OUT / "unit-passed.png"))
    dom = Elements(dump_dom(page))
    assert dom.count["svg.chart"] == 4
    charts = {a.get("data-chart") for tag, a in dom.attrs if tag == "svg"}
    assert charts == {"latency", "throughput", "errors", "memory"}
    assert dom.count["path.series"] == 5  # p50, p95, p99, req/s, working set
    assert dom.count["rect.column"] >= 10  # errors per step
    assert dom.count["rect.disruption"] == 4
    assert dom.count["line.limit"] >= 4  # p95 and p99 thresholds, target rate, memory bound
    assert dom.count["article.check"] == 6 and dom.count["script"] == 0
    text = " ".join(dom.text)
    assert "Change against the last passed run" in text and "+30 %" in text


def test_leaking_report_draws_the_descriptors_in_a_browser() -> None:
    page = _page("unit-leaking", fx.leaking())
    _looks_drawn(screenshot(page, OUT / "unit-leaking.png"))
    dom = Elements(dump_dom(page))
    charts = [a.get("data-chart") for tag, a in dom.attrs if tag == "svg"]
    assert charts == ["latency", "throughput", "errors", "memory", "metric-1", "metric-2"]
    series = [a.get("data-series") for tag, a in dom.attrs
              if tag == "path" and a.get("class") == "series"]
    assert series[-2:] == ["process_open_fds", "process…"]
    assert dom.count["rect.disruption"] == 6  # the band on the descriptors' chart too
    # p95, p99, target rate, memory, and each growth series' bound (max 20; maxPerMinute
    # over the minutes scraped)
    assert dom.count["line.limit"] == 6 and dom.count["text.off-scale"] == 0
    text = " ".join(dom.text)
    assert "Open file descriptors of pod shop-7d9f-abcde during the load" in text
    assert "first scrape + max 20" in text
    assert "open file descriptors: not measured" not in text


def test_failed_report_in_a_browser() -> None:
    page = _page("unit-failed", fx.failed())
    _looks_drawn(screenshot(page, OUT / "unit-failed.png"))
    dom = Elements(dump_dom(page))
    assert dom.count["svg.chart"] == 0 and dom.count["pre.log"] == 1
    text = " ".join(dom.text)
    assert "ModuleNotFoundError: No module named 'autocoder'" in text
    assert "CrashLoopBackOff" in text and "Not checked" in text


def test_hostile_report_builds_no_element_of_its_own() -> None:
    page = _page("unit-hostile", fx.hostile())
    dom = Elements(dump_dom(page))
    assert dom.count["script"] == 0 and dom.count["img"] == 0
    assert not [a for _, attrs in dom.attrs for a in attrs if a.startswith("on")]
    assert dom.count["svg.chart"] == 4  # the charts survive a hostile name
    assert "<script>alert(1)</script>" in " ".join(dom.text)
