"""The readiness report as one self-contained HTML page: inline CSS and inline SVG charts, no
script, no external reference (a Content-Security-Policy of ``default-src 'none'`` says so to
the browser too). Every quoted string is escaped with ``fmt.esc``; class names come from a fixed
set, never from the object. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from readygate.report import facts
from readygate.report.charts import charts
from readygate.report.fmt import code_line, esc, plain
from readygate.report.model import Check, Report, read
from readygate.report.svg import chart

_KNOWN = ("Passed", "Conditional", "Failed", "Error", "Inconclusive", "Skipped", "Running",
          "Pending")
_TREND = {True: "worse", False: "better", None: ""}
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body{font:14px/1.45 "DejaVu Sans",system-ui,sans-serif;color:#1d1d1f;margin:0;background:#f4f5f7}
main{max-width:980px;margin:0 auto;padding:24px}
header{background:#fff;border-radius:8px;padding:20px 24px;border-left:8px solid #999}
section,article{background:#fff;border-radius:8px;padding:16px 24px;margin-top:16px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:0 0 10px}h3{font-size:15px;margin:0}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;
 background:#888}
.r-Passed{background:#2e8b57}.r-Conditional{background:#d68910}.r-Failed{background:#c0392b}
.r-Error{background:#7b241c}.r-Inconclusive{background:#7f8c8d}.r-Skipped{background:#aab}
.r-Running,.r-Pending{background:#2b7bb9}
header.v-Passed{border-color:#2e8b57}header.v-Conditional{border-color:#d68910}
header.v-Failed,header.v-Error{border-color:#c0392b}
.score{font-size:30px;font-weight:700;margin-left:12px;vertical-align:middle}
.summary{margin:8px 0 0;color:#333}.meta{color:#666;font-size:12px;margin-top:6px}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eee;vertical-align:top}
th{color:#555;font-weight:600;font-size:12px}
.scorebar{background:#eee;border-radius:3px;height:10px;width:160px}
.scorebar>div{background:#2e8b57;height:10px;border-radius:3px}
.ok{color:#2e8b57;font-weight:700}.bad{color:#c0392b;font-weight:700}
.worse{color:#c0392b;font-weight:600}.better{color:#2e8b57}
pre{background:#1d1d1f;color:#eee;padding:10px;border-radius:6px;overflow-x:auto;
 font:12px/1.4 "DejaVu Sans Mono",monospace;white-space:pre-wrap;word-break:break-all}
.check-head{display:flex;gap:10px;align-items:center}.muted{color:#777}
ul{margin:6px 0;padding-left:20px}
svg.chart{display:block;margin:10px 0;width:100%;height:auto}
svg .chart-title{font:600 13px "DejaVu Sans",sans-serif}
svg .tick,svg .legend,svg .limit-label,svg .band-label,svg .axis-label{
 font:11px "DejaVu Sans",sans-serif;fill:#555}
svg .band-label{fill:#c0392b}
"""


def _cls(result: str | None) -> str:
    return result if result in _KNOWN else "Unknown"


def _badge(result: str | None) -> str:
    return f'<span class="badge r-{_cls(result)}">{esc(result or "no run yet")}</span>'


def _header(r: Report) -> str:
    verdict = r.verdict or r.phase
    score = (f'<span class="score">{r.score:.0f}<span class="muted" style="font-size:16px">'
             f'/100</span></span>' if r.score is not None else "")
    meta = []
    if r.runs is not None:
        meta.append(f"run {r.runs:.0f}")
    if r.phase and r.phase != verdict:
        meta.append(f"phase {esc(r.phase)}")
    for what, value in (("target", r.target), ("started", r.run_started_at),
                        ("verdict at", r.last_verdict_at), ("next run", r.next_run_at)):
        if value:
            meta.append(f"{what} {esc(value)}")
    error = f'<p class="bad">Error: {esc(r.error)}</p>' if r.error else ""
    return (f'<header class="v-{_cls(verdict)}"><h1>Readiness report: {esc(r.namespace)}/'
            f'{esc(r.name)}</h1><div>{_badge(verdict)}{score}</div>'
            f'<p class="summary">{esc(r.summary)}</p><div class="meta">{" · ".join(meta)}</div>'
            f'{error}</header>')


def _scorecard(r: Report) -> str:
    rows = []
    for row in facts.scorecard(r):
        if row.points is None:
            points, bar = '<span class="muted">not checked</span>', ""
        else:
            share = max(0.0, min(1.0, row.points / row.weight)) if row.weight else 0.0
            points = f"{row.points:.0f} / {row.weight}"
            color = "#2e8b57" if share >= 1 else ("#d68910" if share > 0 else "#c0392b")
            bar = (f'<div class="scorebar"><div style="width:{max(share, 0.02) * 100:.0f}%;'
                   f'background:{color}"></div></div>')
        checks = " ".join(f"{esc(n)} {_badge(res)}" for n, res in row.checks)
        rows.append(f"<tr><td>{esc(row.category)}</td><td>{points}</td><td>{bar}</td>"
                    f"<td>{checks or '—'}</td></tr>")
    total = (f'<tr><th>total</th><th>{r.score:.0f} / 100</th><th></th><th></th></tr>'
             if r.score is not None else "")
    return ('<section id="scorecard"><h2>Scorecard</h2><table><tr><th>category</th>'
            '<th>points</th><th></th><th>checks</th></tr>' + "".join(rows) + total
            + "</table></section>")


def _changes(r: Report) -> str:
    b = r.baseline
    head = '<section id="changes"><h2>Change against the last passed run</h2>'
    if b is None:
        return head + "<p>No earlier run of this check passed: nothing to compare with.</p>" \
                      "</section>"
    run = f"run {b.run:.0f}" if b.run is not None else "the last passed run"
    when = f" at {esc(b.finished_at)}" if b.finished_at else ""
    score = plain(b.score) if b.score is not None else "?"
    intro = f"<p>Compared with {run} ({esc(b.verdict)}, score {score}){when}.</p>"
    rows = facts.changes(r)
    if not rows:
        return head + intro + "<p>No value was measured in both runs.</p></section>"
    body = "".join(
        f"<tr><td>{esc(c.check)}</td><td>{esc(c.what)}</td><td>{esc(c.before)}</td>"
        f'<td>{esc(c.now)}</td><td class="{_TREND[c.worse]}">{esc(c.change)}'
        f"{' (worse)' if c.worse else ''}</td></tr>" for c in rows)
    return (head + intro + "<table><tr><th>check</th><th>value</th><th>then</th><th>now</th>"
            "<th>change</th></tr>" + body + "</table></section>")


def _diagnosis(r: Report) -> str:
    d = r.diagnosis
    if d is None:
        return ""
    facts_ = [f"pod {esc(d.pod)}" if d.pod else "",
              f"container {esc(d.container)}" if d.container else "",
              f"exit code {d.exit_code:.0f}" if d.exit_code is not None else "",
              f"{d.restart_count:.0f} restart(s)" if d.restart_count is not None else "",
              f"detected {esc(d.detected_at)}" if d.detected_at else ""]
    logs = ""
    if d.log_tail:
        logs = ("<p>Last log lines:</p><pre class=\"log\">"
                + "\n".join(esc(code_line(x)) for x in d.log_tail) + "</pre>")
    return (f'<section id="diagnosis"><h2>Diagnosis</h2><p><b>{esc(d.reason)}</b>: '
            f'{esc(d.message)}</p><p class="meta">{" · ".join(x for x in facts_ if x)}</p>'
            f"{logs}</section>")


def _check(r: Report, c: Check) -> str:
    bounds = facts.bounds(r.spec, c)
    table = ""
    if bounds:
        marks = {True: '<span class="ok">✓</span>', False: '<span class="bad">✗</span>',
                 None: ""}
        table = ("<table class=\"bounds\"><tr><th>what</th><th>threshold</th><th>measured</th>"
                 "<th></th></tr>" + "".join(
                     f"<tr><td>{esc(b.what)}</td><td>{esc(b.limit)}</td><td>{esc(b.measured)}"
                     f"</td><td>{marks[b.ok]}</td></tr>" for b in bounds) + "</table>")
    other = facts.other_measured(r.spec, c)
    measured = ("<p class=\"meta\">measured: " + ", ".join(
        f"{esc(k)} {esc(v)}" for k, v in other) + "</p>") if other else ""
    items = [f"<li>⚠ {esc(w)}</li>" for w in c.warnings] + [f"<li>{esc(e)}</li>"
                                                             for e in c.evidence]
    evidence = f"<ul>{''.join(items)}</ul>" if items else ""
    when = " · ".join(x for x in (f"started {esc(c.started_at)}" if c.started_at else "",
                                  f"finished {esc(c.finished_at)}" if c.finished_at else "")
                      if x)
    return (f'<article class="check" data-check="{esc(c.name)}"><div class="check-head">'
            f"<h3>{esc(c.name)}</h3>{_badge(c.result)}<span class=\"meta\">{when}</span></div>"
            f"<p>{esc(c.message)}</p>{table}{measured}{evidence}</article>")


def _charts(r: Report) -> str:
    specs = charts(r)
    if not specs:
        return ""
    svgs = [chart(s.name, s.title, s.x, s.series, unit=s.unit, limits=s.limits, band=s.band,
                  bars=s.bars, step=s.step, domain=s.domain, x_label=s.x_label) for s in specs]
    note = ""
    if r.load is not None:
        note = (f"<p class=\"meta\">One point per {plain(r.load.step)} s of the load"
                + (f" (started {esc(r.load_started_at)})" if r.load_started_at else "")
                + "; percentiles of each step come from its merged histogram.</p>")
    return f'<section id="charts"><h2>Over time</h2>{note}{"".join(svgs)}</section>'


def _list(section: str, title: str, items: list[str] | tuple[str, ...]) -> str:
    if not items:
        return ""
    return (f'<section id="{section}"><h2>{title}</h2><ul>'
            + "".join(f"<li>{esc(x)}</li>" for x in items) + "</ul></section>")


def render(obj: Mapping[str, Any], generated_at: str | None = None) -> str:
    r = read(obj)
    verdict = r.verdict or r.phase or "no run yet"
    checks = ('<section id="checks"><h2>Checks</h2>'
              + ("".join(_check(r, c) for c in r.checks) or "<p>No check has run yet.</p>")
              + "</section>")
    footer = (f'<footer class="meta" style="margin-top:16px">Generated by readygate report at '
              f"{esc(generated_at)}.</footer>") if generated_at else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Readiness report: {esc(r.namespace)}/{esc(r.name)} — {esc(verdict)}</title>"
        f"<style>{STYLE}</style></head><body><main>"
        + _header(r) + _scorecard(r) + _changes(r) + _diagnosis(r) + _charts(r) + checks
        + _list("not-checked", "Not checked", facts.not_checked(r))
        + _list("history", "History", tuple(reversed(r.history)))
        + footer + "</main></body></html>\n")
