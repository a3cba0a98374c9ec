"""The readiness report: a ReadinessCheck's last run as Markdown and as one self-contained HTML
page — the verdict and the score by category, each check's thresholds against what it measured,
the crash diagnosis with its log lines, what was not checked, the change against the last passed
run (``status.baseline``) and charts of the load over time (``status.charts``).

Pure: an object (as the API server returns it, or from a saved file) in, text out. ``model``
reads the object defensively, ``facts`` derives the tables, ``charts`` picks the charts,
``svg`` draws them, ``markdown`` and ``html`` lay everything out, ``fmt`` formats and escapes.
``cli.report`` fetches the object and writes the file.
"""

from __future__ import annotations

from readygate.report.html import render as render_html
from readygate.report.markdown import render as render_markdown

__all__ = ["render_html", "render_markdown"]
