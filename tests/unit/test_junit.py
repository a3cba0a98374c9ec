"""cli.junit: a status as JUnit XML — one case per check, each result mapped as CI systems read
it, and nothing a target sent can break the document."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from readygate.cli.junit import junit

HOSTILE = "</failure><x a='\"'>&amp;\x00\x1b[31m\ud7ff ]]>"


def test_each_result_maps_to_its_junit_element_and_hostile_text_stays_text() -> None:
    obj = {"metadata": {"name": "api", "namespace": "shop"},
           "status": {"verdict": "Failed", "score": 40, "summary": HOSTILE,
                      "runStartedAt": "2026-12-02T10:00:00Z",
                      "diagnosis": {"reason": "CrashLoopBackOff", "message": "exit 3",
                                    "logTail": ["Traceback", HOSTILE]},
                      "checks": [
                          {"name": "readiness", "result": "Failed", "message": HOSTILE,
                           "startedAt": "2026-12-02T10:00:00Z",
                           "finishedAt": "2026-12-02T10:00:02Z"},
                          {"name": "liveness", "result": "Skipped", "message": "not run"},
                          {"name": "security", "result": "Passed", "message": "ok",
                           "warnings": ["no HSTS"]},
                          {"name": "load", "result": "Inconclusive", "message": "too few",
                           "measured": {"requests": 3}},
                          {"name": "metrics", "result": "Error", "message": "no scrape"},
                      ]}}
    root = ET.fromstring(junit(obj))
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) \
        == ("5", "2", "1", "1")
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert list(cases) == ["readiness", "liveness", "security", "load", "metrics"]
    assert cases["readiness"].get("time") == "2.000"
    assert cases["readiness"].get("classname") == "readygate.shop.api"
    failure = cases["readiness"].find("failure")
    assert failure is not None and failure.get("type") == "Failed"
    # the hostile text arrives as text, control characters dropped, nothing injected
    assert failure.get("message") == HOSTILE.replace("\x00", "").replace("\x1b", "")
    assert "diagnosis: CrashLoopBackOff: exit 3" in (failure.text or "")
    assert cases["liveness"].find("skipped") is not None
    assert cases["security"].find("failure") is None
    assert "warning: no HSTS" in (cases["security"].findtext("system-out") or "")
    load = cases["load"].find("failure")
    assert load is not None and load.get("type") == "Inconclusive"  # never a pass in CI
    assert "measured: requests=3" in (load.text or "")
    assert cases["metrics"].find("error") is not None
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["verdict"] == "Failed" and props["score"] == "40"
    assert root.find("x") is None and not list(root.iter("x"))


def test_a_check_without_status_is_an_empty_suite() -> None:
    root = ET.fromstring(junit({"metadata": {"name": "new"}}))
    assert root.get("tests") == "0"
    assert root.find("testsuite") is not None
