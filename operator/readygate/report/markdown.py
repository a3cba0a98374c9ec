"""The readiness report as Markdown: what a pull request comment or a CI summary shows. Pure.

Every quoted string goes through ``fmt.md`` (tables, emphasis, links and HTML made inert) or
sits in a code fence no log line can close (``fmt.fence``); charts are one-line sparklines with
their range. The HTML report (``html``) shows the same facts with SVG charts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from readygate.report import facts
from readygate.report.charts import charts, sparkline
from readygate.report.fmt import code_line, fence, md, plain
from readygate.report.model import Report, read

MARK = {True: "✅", False: "❌", None: ""}
RESULT_MARK = {"Passed": "✅", "Conditional": "⚠️", "Failed": "❌", "Error": "⛔",
               "Inconclusive": "❔", "Skipped": "⏭", "Running": "⏳", "Pending": "⏳"}


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _head(*cells: str) -> list[str]:
    return [_row(*cells), _row(*("---" for _ in cells))]


def _title(r: Report) -> list[str]:
    verdict = r.verdict or r.phase or "no run yet"
    lines = [f"# Readiness report: {md(r.namespace)}/{md(r.name)}", ""]
    score = f"**score {r.score:.0f}/100**" if r.score is not None else "no score yet"
    lines.append(f"{RESULT_MARK.get(verdict, '')} **{md(verdict)}** · {score}"
                 + (f" · run {r.runs:.0f}" if r.runs is not None else "")
                 + (f" · phase {md(r.phase)}" if r.phase and r.phase != verdict else ""))
    lines.append("")
    if r.summary:
        lines += [f"> {md(r.summary)}", ""]
    facts_line = []
    if r.target:
        facts_line.append(f"target {md(r.target)}")
    if r.run_started_at:
        facts_line.append(f"started {md(r.run_started_at)}")
    if r.last_verdict_at:
        facts_line.append(f"verdict at {md(r.last_verdict_at)}")
    if r.next_run_at:
        facts_line.append(f"next run {md(r.next_run_at)}")
    if facts_line:
        lines += ["; ".join(facts_line), ""]
    if r.error:
        lines += [f"**Error:** {md(r.error)}", ""]
    return lines


def _scorecard(r: Report) -> list[str]:
    lines = ["## Scorecard", "", *_head("category", "points", "checks")]
    for row in facts.scorecard(r):
        points = "not checked" if row.points is None else f"{row.points:.0f} / {row.weight}"
        checks = ", ".join(f"{md(n)} {RESULT_MARK.get(res, md(res))}" for n, res in row.checks)
        lines.append(_row(md(row.category), points, checks or "—"))
    if r.score is not None:
        lines.append(_row("**total**", f"**{r.score:.0f} / 100**", ""))
    return [*lines, ""]


def _changes(r: Report) -> list[str]:
    lines = ["## Change against the last passed run", ""]
    b = r.baseline
    if b is None:
        return [*lines, "No earlier run of this check passed: nothing to compare with.", ""]
    when = f" at {md(b.finished_at)}" if b.finished_at else ""
    run = f"run {b.run:.0f}" if b.run is not None else "the last passed run"
    lines += [f"Compared with {run} ({md(b.verdict)}, score "
              f"{plain(b.score) if b.score is not None else '?'}){when}.", ""]
    rows = facts.changes(r)
    if not rows:
        return [*lines, "No value was measured in both runs.", ""]
    lines += _head("check", "value", "then", "now", "change")
    for c in rows:
        flag = {True: " ⚠️ worse", False: " better", None: ""}[c.worse]
        lines.append(_row(md(c.check), md(c.what), md(c.before), md(c.now),
                          c.change + flag))  # computed here, not quoted
    return [*lines, ""]


def _diagnosis(r: Report) -> list[str]:
    d = r.diagnosis
    if d is None:
        return []
    where = ", ".join(x for x in (f"pod {md(d.pod)}" if d.pod else "",
                                  f"container {md(d.container)}" if d.container else "",
                                  f"exit code {d.exit_code:.0f}" if d.exit_code is not None
                                  else "",
                                  f"{d.restart_count:.0f} restart(s)" if d.restart_count
                                  is not None else "") if x)
    lines = ["## Diagnosis", "", f"**{md(d.reason)}**: {md(d.message)}", ""]
    if where:
        lines += [where, ""]
    if d.log_tail:
        logs = [code_line(x) for x in d.log_tail]
        f = fence(logs)
        lines += ["Last log lines:", "", f + "text", *logs, f, ""]
    return lines


def _checks(r: Report) -> list[str]:
    lines = ["## Checks", ""]
    if not r.checks:
        return [*lines, "No check has run yet.", ""]
    for c in r.checks:
        lines += [f"### {RESULT_MARK.get(c.result, '')} {md(c.name)}: {md(c.result)}", "",
                  md(c.message) or "—", ""]
        bounds = facts.bounds(r.spec, c)
        if bounds:
            lines += _head("what", "threshold", "measured", "")
            lines += [_row(md(b.what), md(b.limit), md(b.measured), MARK[b.ok]) for b in bounds]
            lines.append("")
        other = facts.other_measured(r.spec, c)
        if other:
            lines += ["Measured: " + ", ".join(f"{md(k)} {md(v)}" for k, v in other), ""]
        for w in c.warnings:
            lines.append(f"- ⚠️ {md(w)}")
        for e in c.evidence:
            lines.append(f"- {md(e)}")
        if c.warnings or c.evidence:
            lines.append("")
    return lines


def _charts(r: Report) -> list[str]:
    specs = charts(r)
    if not specs:
        return []
    lines = ["## Over time", "", "One character per step of the load (the HTML report draws "
             "them).", ""]
    lines += _head("series", "over the load", "max")
    for spec in specs:
        for s in spec.series:
            finite = [v for v in s.values if v is not None]
            top = f"{plain(max(finite))} {md(spec.unit)}" if finite else "—"
            what = spec.title if spec.name.startswith("metric-") else s.name
            lines.append(_row(f"{md(spec.name)}: {md(what)}", f"`{sparkline(s.values)}`", top))
    # the metrics check's series: a character per scrape (or group of them), and as the
    # sparkline has no scale, the first and last value and the bound
    notes = []
    for spec in specs:
        finite = [v for s in spec.series[:1] for v in s.values if v is not None]
        if spec.name.startswith("metric-") and finite:
            bound = "".join(f"; {md(lim.name)}: {plain(lim.value)} {md(spec.unit)}"
                            for lim in spec.limits)
            notes.append(f"- {md(spec.name)}, one character per scrape (or group of them): "
                         f"{plain(finite[0])} → {plain(finite[-1])} {md(spec.unit)}{bound}.")
    if notes:
        lines += ["", *notes]
    if r.killed_at is not None:
        until = (f"recovered at {plain(r.recovered_at)} s" if r.recovered_at is not None
                 else "not recovered")
        lines += ["", f"Pods deleted at {plain(r.killed_at)} s into the load; {until}."]
    return [*lines, ""]


def _not_checked(r: Report) -> list[str]:
    items = facts.not_checked(r)
    if not items:
        return []
    return ["## Not checked", "", *(f"- {md(x)}" for x in items), ""]


def _history(r: Report) -> list[str]:
    if not r.history:
        return []
    return ["## History", "", *(f"- {md(h)}" for h in reversed(r.history)), ""]


def render(obj: Mapping[str, Any], generated_at: str | None = None) -> str:
    r = read(obj)
    lines = _title(r) + _scorecard(r) + _changes(r) + _diagnosis(r) + _checks(r) + _charts(r)
    lines += _not_checked(r) + _history(r)
    if generated_at:
        lines.append(f"*Generated by readygate report at {md(generated_at)}.*")
    return "\n".join(lines).rstrip() + "\n"
