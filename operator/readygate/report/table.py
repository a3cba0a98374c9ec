"""``kubectl readygate get``: the scorecard of each check as a terminal table, and of one check
its checks too. Pure; every string from an object is stripped of control characters (a status
cannot move the cursor or recolour the terminal) and cut to its column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from readygate.api.checks import CATEGORIES
from readygate.report import facts
from readygate.report.fmt import terminal
from readygate.report.model import read

MESSAGE_COLUMN = 100


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows) + "\n"


def scorecards(objs: Sequence[Mapping[str, Any]], *, namespaces: bool = False) -> str:
    """One line per check: verdict, score, points per category (``-``: not checked)."""
    head = (["NAMESPACE"] if namespaces else []) + ["NAME", "VERDICT", "SCORE"] + [
        c.upper() for c in CATEGORIES] + ["P95", "RUNS", "LAST VERDICT"]
    rows = [head]
    for obj in objs:
        r = read(obj)
        cells = [terminal(r.namespace, 63)] if namespaces else []
        cells += [terminal(r.name, 63), terminal(r.verdict or r.phase or "-", 20),
                  f"{r.score:.0f}" if r.score is not None else "-"]
        for row in facts.scorecard(r):
            cells.append("-" if row.points is None else f"{row.points:.0f}/{row.weight}")
        p95 = next((c.measured.get("p95Ms") for c in r.checks if c.name == "load"), None)
        cells += [f"{p95:.0f}ms" if p95 is not None else "-",
                  f"{r.runs:.0f}" if r.runs is not None else "0",
                  terminal(r.last_verdict_at or "-", 30)]
        rows.append(cells)
    return _table(rows)


def checks(obj: Mapping[str, Any]) -> str:
    """Each check of one ReadinessCheck: result and message."""
    r = read(obj)
    rows = [["CHECK", "RESULT", "MESSAGE"]]
    for c in r.checks:
        rows.append([terminal(c.name, 40), terminal(c.result, 20),
                     terminal(c.message, MESSAGE_COLUMN)])
    out = _table(rows) if len(rows) > 1 else "no check has run yet\n"
    missing = facts.not_checked(r)
    if missing:
        out += "\nnot checked:\n" + "".join(f"  {terminal(m, 200)}\n" for m in missing)
    return out
