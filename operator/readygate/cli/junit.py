"""A ReadinessCheck's status as JUnit XML: one ``<testcase>`` per check, as CI systems ingest it.

Pure. The mapping: Passed is a passing case; Failed a ``<failure>``; Inconclusive a ``<failure
type="Inconclusive">`` too (never a pass: a CI gate must not go green on it); Error an
``<error>``; Skipped (and a check still Pending) ``<skipped>``. The message is the check's own,
its evidence (and the run's diagnosis for the checks it explains) is the element's text, and the
case's ``time`` runs from the check's ``startedAt`` to its ``finishedAt``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from readygate.api.clock import parse_time

_CONTROL = {c: None for c in range(32) if c not in (9, 10, 13)}


def _text(value: Any) -> str:
    """XML 1.0 cannot carry most control characters, whatever a target sent: drop them."""
    return str(value).translate(_CONTROL)


def _seconds(entry: Mapping[str, Any]) -> float:
    start, end = parse_time(entry.get("startedAt")), parse_time(entry.get("finishedAt"))
    return max(0.0, end - start) if start is not None and end is not None else 0.0


def junit(check: Mapping[str, Any]) -> str:
    """The JUnit XML document of a ReadinessCheck (``metadata``, ``status``)."""
    meta = check.get("metadata") or {}
    status = check.get("status") or {}
    name = _text(meta.get("name") or "check")
    namespace = _text(meta.get("namespace") or "default")
    entries = [c for c in status.get("checks") or [] if isinstance(c, Mapping)]
    diagnosis = status.get("diagnosis") or {}
    suite = ET.Element("testsuite", name=f"readygate {namespace}/{name}",
                       timestamp=_text(status.get("runStartedAt") or ""))
    props = ET.SubElement(suite, "properties")  # first, as the schema orders them
    for key in ("verdict", "score", "phase", "summary", "target"):
        if status.get(key) is not None:
            ET.SubElement(props, "property", name=key, value=_text(status[key]))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total = 0.0
    for entry in entries:
        result = str(entry.get("result") or "Pending")
        seconds = _seconds(entry)
        total += seconds
        case = ET.SubElement(suite, "testcase", name=_text(entry.get("name")),
                             classname=f"readygate.{namespace}.{name}", time=f"{seconds:.3f}")
        counts["tests"] += 1
        message = _text(entry.get("message") or "")
        lines = [_text(e) for e in entry.get("evidence") or []]
        lines += [f"warning: {_text(w)}" for w in entry.get("warnings") or []]
        if entry.get("name") in ("deploy", "readiness") and diagnosis and result == "Failed":
            lines += [f"diagnosis: {_text(diagnosis.get('reason'))}: "
                      f"{_text(diagnosis.get('message'))}"]
            lines += [_text(line) for line in diagnosis.get("logTail") or []]
        measured = entry.get("measured") or {}
        if measured:
            lines.append("measured: " + ", ".join(f"{k}={v}" for k, v in measured.items()))
        body = "\n".join(lines)
        if result == "Passed":
            if body:
                ET.SubElement(case, "system-out").text = f"{message}\n{body}".strip()
        elif result in ("Failed", "Inconclusive"):
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=message, type=result).text = body
        elif result == "Error":
            counts["errors"] += 1
            ET.SubElement(case, "error", message=message, type="Error").text = body
        else:
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=f"{result}: {message}")
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", f"{total:.3f}")
    root = ET.Element("testsuites", name="readygate", tests=str(counts["tests"]),
                      failures=str(counts["failures"]), errors=str(counts["errors"]),
                      skipped=str(counts["skipped"]), time=f"{total:.3f}")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"
