"""Liveness judgement, the supervisor's decision table, and the URL target policy."""

from __future__ import annotations

from typing import Any

import pytest

from readygate.api.spec import LivenessCheck
from readygate.control.plan import decide
from readygate.judge.answers import Sample
from readygate.judge.health import judge_liveness
from readygate.judge.targets import url_refusal

SPEC = LivenessCheck(failure_threshold=3, max_flaps=1)


def samples(pattern: str) -> list[Sample]:
    return [Sample(float(i), ch == "+", status=200 if ch == "+" else 500)
            for i, ch in enumerate(pattern)]


@pytest.mark.parametrize(("pattern", "restarts", "result", "words"), [
    ("++++++++", 0, "Passed", "answered 8/8"),
    ("+++-++++", 0, "Passed", "answered 7/8"),
    ("++---+++", 0, "Failed", "3 consecutive failed probes"),
    ("+-+-+-+", 0, "Failed", "flapping: 3 recoveries"),
    ("++++++", 1, "Failed", "1 container restart"),
    ("", 0, "Inconclusive", "no liveness probe"),
])
def test_liveness(pattern: str, restarts: int, result: str, words: str) -> None:
    got = judge_liveness(samples(pattern), SPEC, restarts=restarts, started_at="a",
                         finished_at="b")
    assert got.result == result and words in got.message


def test_liveness_evidence_names_the_failed_probes() -> None:
    got = judge_liveness(samples("+-+-+-+"), SPEC, restarts=0, started_at="a", finished_at="b")
    assert got.evidence[0] == "t=1.0s GET /health -> HTTP 500 in 0ms"
    assert got.measured["flaps"] == 3


TERMINAL: dict[str, Any] = {"observedGeneration": 1, "phase": "Passed",
                            "lastVerdictAt": "2026-01-01T00:00:00Z"}
T = 1767225600.0  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize(("kw", "action", "reason"), [
    ({"generation": 1, "status": {}, "running": None}, "start", "NewGeneration"),
    ({"generation": 2, "status": TERMINAL, "running": None}, "start", "NewGeneration"),
    ({"generation": 1, "status": {**TERMINAL, "phase": "Verifying"}, "running": None},
     "start", "Resumed"),
    ({"generation": 2, "status": TERMINAL, "running": 1}, "restart", "NewGeneration"),
    ({"generation": 1, "status": TERMINAL, "running": 1}, "wait", None),
    ({"generation": 1, "status": TERMINAL, "running": None}, "wait", None),
    ({"generation": 1, "status": TERMINAL, "running": None, "every": 60.0, "now": T + 61},
     "start", "Periodic"),
    ({"generation": 1, "status": TERMINAL, "running": None, "every": 60.0, "now": T + 30},
     "wait", None),
    # kubectl readygate rerun: a token the last run did not start with starts a run, once
    ({"generation": 1, "status": TERMINAL, "running": None, "rerun": "t1"}, "start", "Rerun"),
    ({"generation": 1, "status": {**TERMINAL, "handledRerun": "t1"}, "running": None,
      "rerun": "t1"}, "wait", None),
    ({"generation": 1, "status": {**TERMINAL, "handledRerun": "t1"}, "running": None,
      "rerun": "t2"}, "start", "Rerun"),
    ({"generation": 1, "status": TERMINAL, "running": 1, "rerun": "t1"}, "wait", None),
    ({"generation": 2, "status": TERMINAL, "running": None, "rerun": "t1"},
     "start", "NewGeneration"),
    ({"generation": 1, "status": {**TERMINAL, "phase": "Verifying"}, "running": None,
      "rerun": "t1"}, "start", "Resumed"),
])
def test_decide(kw: dict[str, Any], action: str, reason: str | None) -> None:
    kw.setdefault("now", T)
    kw.setdefault("every", None)
    d = decide(**kw)
    assert (d.action, d.reason) == (action, reason)


@pytest.mark.parametrize(("url", "resolved", "allow", "refused"), [
    ("http://169.254.169.254/latest", ["169.254.169.254"], ["0.0.0.0/0"], "metadata"),
    ("http://metadata.google.internal/", ["10.0.0.1"], ["*.internal"], "metadata"),
    ("http://evil.example/", ["169.254.1.1"], ["evil.example"], "link-local"),
    ("http://[fe80::1]/", ["fe80::1"], ["::/0"], "link-local"),
    ("http://api.example/", ["192.0.2.10"], [], "allow-list"),
    ("http://api.example/", ["192.0.2.10"], ["other.example"], "allow-list"),
    ("http://api.example/", [], ["api.example"], "does not resolve"),
    ("http://api.example/", ["93.184.216.34"], ["api.example"], None),
    ("http://svc.corp.example/", ["93.184.216.34"], ["*.corp.example"], None),
    ("http://127.0.0.1:8080/", ["127.0.0.1"], ["127.0.0.1/32"], None),
    ("http://127.0.0.1:8080/", ["127.0.0.1"], ["10.0.0.0/8"], "allow-list"),
])
def test_url_policy(url: str, resolved: list[str], allow: list[str],
                    refused: str | None) -> None:
    why = url_refusal(url, resolved, allow)
    if refused is None:
        assert why is None
    else:
        assert why is not None and refused in why
