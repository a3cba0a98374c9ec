"""Judging the security probes: refused unauthenticated access, disclosed server versions,
leaked stack traces. Pure.

The acting side (``checks.run_security``) sends the requests and hands their ``Answer``s here.
A path listed in ``requireAuth`` passes only with 401 or 403 (a 404 is no refusal: the path is
probably wrong, and the message says so). Findings of banners and stack traces follow the
spec's policy for each: ``Fail`` fails the check, ``Warn`` makes the verdict Conditional,
``Ignore`` reports nothing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from readygate.api.results import CheckResult
from readygate.api.spec import SecurityCheck
from readygate.judge.answers import Answer

EVIDENCE_LIMIT = 10
# Headers that name the software behind a service; a version in them is a disclosure.
BANNER_HEADERS = ("server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version",
                  "x-generator", "x-runtime")
_VERSION = re.compile(r"\d+\.\d+")
STACK_TRACE = re.compile(
    r"Traceback \(most recent call last\)"          # Python
    r"|File \"[^\"]+\", line \d+"                      # Python frames
    r"|\bat [\w$.]+\([\w$]+\.java:\d+\)"               # Java
    r"|Exception in thread \""                         # Java
    r"|goroutine \d+ \[running\]"                      # Go panics
    r"|\bat [\w.<>`]+\(.*\) in .+:line \d+"            # .NET
    r"|\n\s+at .+ \(.+\.js:\d+:\d+\)"                  # Node.js
    r"|#\d+ /[\w/.-]+\.php\(\d+\)"                     # PHP
)


def banner_of(answer: Answer) -> str | None:
    """The disclosing header of a response (``Server: gunicorn/20.1.0``), or None."""
    for name, value in answer.headers:
        low = name.lower()
        if low not in BANNER_HEADERS:
            continue
        if low == "server" and not _VERSION.search(value):
            continue  # "Server: nginx" names the software but no version: allowed
        return f"{name}: {value}"[:200]
    return None


def stack_trace_of(answer: Answer) -> str | None:
    """The first line of a stack trace in an error response's body, or None."""
    if answer.status is None or answer.status < 400:
        return None
    if answer.trace is not None:  # found by essentials, the body dropped
        return answer.trace or None
    m = STACK_TRACE.search(answer.body)
    return m.group(0).strip()[:200] if m else None


def essentials(answer: Answer) -> Answer:
    """What ``judge_security`` reads of an answer, and no more: its banner headers (clipped)
    and the stack-trace line found in its body (the body itself dropped). The stage keeps this
    instead of up to 64 KiB of body and 100 headers for each of thousands of requests."""
    headers = tuple((name[:64], value[:256]) for name, value in answer.headers
                    if name.lower() in BANNER_HEADERS)[:len(BANNER_HEADERS)]
    return dataclasses.replace(answer, headers=headers, body="",
                               trace=stack_trace_of(answer) or "")


def judge_security(spec: SecurityCheck, auth: Sequence[tuple[str, Answer]],
                   probes: Sequence[tuple[str, Answer]], *, started_at: str,
                   finished_at: str) -> CheckResult:
    """``auth``: (path, answer) without credentials; ``probes``: (path, answer) of the rest."""
    failures: list[str] = []
    evidence: list[str] = []
    for path, a in auth:
        if a.status in (401, 403):
            continue
        if a.status is None:
            failures.append(f"GET {path} without credentials got no answer ({a.error})")
        elif a.status == 404:
            failures.append(f"GET {path} without credentials answered 404: no refusal (is "
                            "the path right?)")
        else:
            failures.append(f"GET {path} without credentials answered {a.status}, not 401 "
                            "or 403")
    answered = [(p, a) for p, a in [*auth, *probes] if a.status is not None]
    banners = sorted({b for _, a in answered if (b := banner_of(a))})
    traces = [(p, a.status, t) for p, a in answered if (t := stack_trace_of(a))]
    warnings: list[str] = []
    if banners and spec.banners != "Ignore":
        text = f"responses disclose the server software: {', '.join(banners[:3])}"
        (failures if spec.banners == "Fail" else warnings).append(text)
        evidence.extend(f"banner {b}" for b in banners[:EVIDENCE_LIMIT])
    if traces and spec.stack_traces != "Ignore":
        path, status, line = traces[0]
        text = (f"{len(traces)} error response(s) leak a stack trace, e.g. GET {path} -> "
                f"{status}: {line}")
        (failures if spec.stack_traces == "Fail" else warnings).append(text)
        evidence.extend(f"GET {p} -> {s}: {t}" for p, s, t in traces[:EVIDENCE_LIMIT])
    evidence = [*failures[:EVIDENCE_LIMIT], *evidence][:2 * EVIDENCE_LIMIT]
    measured = {
        "requests": float(len(auth) + len(probes)),
        "unanswered": float(sum(1 for _, a in [*auth, *probes] if a.status is None)),
        "authPathsRefused": float(sum(1 for _, a in auth if a.status in (401, 403))),
        "authPaths": float(len(auth)),
        "bannerResponses": float(sum(1 for _, a in answered if banner_of(a))),
        "stackTraceResponses": float(len(traces)),
    }
    if not answered:
        return CheckResult(result="Inconclusive", message="no probe was answered",
                           started_at=started_at, finished_at=finished_at, measured=measured)
    if failures:
        return CheckResult(result="Failed", message="; ".join(failures), started_at=started_at,
                           finished_at=finished_at, measured=measured,
                           evidence=tuple(evidence), warnings=tuple(warnings))
    refused = f"{len(auth)} protected path(s) refused unauthenticated requests; " if auth else ""
    return CheckResult(result="Passed",
                       message=f"{refused}{len(answered)} responses checked for banners and "
                               "stack traces",
                       started_at=started_at, finished_at=finished_at, measured=measured,
                       evidence=tuple(evidence), warnings=tuple(warnings))
