"""Availability and downtime on the real cluster, with the test workload under a short load.

Four checks run together in one namespace: a healthy target meets 99 % in every window; a
target failing 5 % of its requests (``ERROR_RATE=0.05``) misses 99 % with about 500 % of its
error budget consumed; a single replica deleted under load is down (no request succeeding) for a
few seconds, which its resilience check reports as ``downtimeSeconds`` and its availability
check as the windows that dipped; and without a load, the resilience check's own probes measure
that downtime, which ``maxDowntime: 0s`` fails. The API server refuses an objective written as
a number, an objective below 50 %, a window of a fraction of a second, and availability without a
load.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest

from ..statusview import checks_of
from .conftest import Cluster, Operator, condition, is_final, workload

NO_LIVENESS = {"enabled": False}
LOAD = {"rate": 50, "duration": "12s", "thresholds": {"minSamples": 300}}

SCENARIOS: dict[str, dict[str, Any]] = {
    "healthy": {
        "target": workload(),
        "liveness": NO_LIVENESS,
        "load": LOAD,
        "availability": {"objective": "99%", "window": "4s"},
    },
    "flaky": {
        "target": workload({"ERROR_RATE": "0.05"}),
        "liveness": NO_LIVENESS,
        "load": LOAD,
        "availability": {"objective": "99%", "window": "4s"},
    },
    "outage": {
        # the only replica is deleted: nothing answers until its replacement is Ready
        "target": workload(),
        "liveness": NO_LIVENESS,
        "load": {"rate": 50, "duration": "20s", "thresholds": {"minSamples": 300}},
        "availability": {"objective": "99.9%", "window": "5s"},
        "resilience": {"killPods": 1, "after": "5s", "maxRecovery": "60s",
                       "maxDowntime": "30s"},
    },
    "probed-outage": {
        # no load: the resilience check's own probes (probeRate, 10/s) see the same outage,
        # and a maxDowntime of 0s fails on it
        "target": workload(),
        "liveness": NO_LIVENESS,
        "resilience": {"killPods": 1, "after": "1s", "maxRecovery": "60s",
                       "maxDowntime": "0s"},
    },
}


@pytest.fixture(scope="module")
def results(cluster: Cluster, operator: Operator,
            module_namespace: str) -> Iterator[dict[str, Any]]:
    for name, spec in SCENARIOS.items():
        cluster.create_check(module_namespace, name, spec)
    yield {name: cluster.wait_check(module_namespace, name, is_final, timeout=240, what="final")
           for name in SCENARIOS}
    cluster.custom.delete_collection_namespaced_custom_object(
        "readygate.io", "v1alpha1", module_namespace, "readinesschecks")


def _report(name: str, obj: dict[str, Any]) -> None:
    """The figures measured, for the test log (pytest -s)."""
    for check in ("availability", "resilience"):
        entry = checks_of(obj["status"]).get(check)
        if entry is not None:
            print(f"{name} {check} {entry['result']}: {entry['message']}\n"
                  f"  measured {json.dumps(entry.get('measured'), sort_keys=True)}")


def test_a_healthy_target_meets_the_objective_in_every_window(results: dict[str, Any]) -> None:
    obj = results["healthy"]
    _report("healthy", obj)
    status = obj["status"]
    a = checks_of(status)["availability"]
    assert a["result"] == "Passed", a
    m = a["measured"]
    assert m["availability"] == 1 and m["failures"] == 0 and m["objective"] == 0.99
    assert m["requests"] >= 550  # 50 req/s for 12 s
    assert m["windowSeconds"] == 4 and m["windows"] == 3 and m["emptyWindows"] == 0
    assert m["worstWindowAvailability"] == 1 and m["windowsBelowObjective"] == 0
    assert m["errorBudgetConsumedPercent"] == 0
    assert m["errorBudgetRequests"] == pytest.approx(0.01 * m["requests"])
    assert a["message"].startswith(f"availability 100% over {int(m['requests'])} requests "
                                   "(0 failed), objective 99%: 0% of the error budget")
    assert status["verdict"] == "Passed" and status["scoreBreakdown"]["performance"] == 25
    assert condition(obj, "AvailabilityPassed")["status"] == "True"
    # the order a run makes its checks: availability right after the load
    names = [c["name"] for c in status["checks"]]
    assert names.index("availability") == names.index("load") + 1


def test_five_percent_errors_miss_99_percent_with_the_budget_consumed(
        results: dict[str, Any]) -> None:
    obj = results["flaky"]
    _report("flaky", obj)
    status = obj["status"]
    a = checks_of(status)["availability"]
    assert a["result"] == "Failed", a
    m = a["measured"]
    assert 0.94 <= m["availability"] <= 0.96, m
    # 5 % failed against a 1 % budget: about five times the budget
    assert 400 <= m["errorBudgetConsumedPercent"] <= 600, m
    assert m["windowsBelowObjective"] == m["windows"] == 3
    assert m["worstWindowAvailability"] < 0.99
    assert "objective 99%" in a["message"] and "of the error budget" in a["message"]
    assert a["message"].endswith("below the objective"), a["message"]
    assert any(e.startswith("window +0s..+4s: ") and e.endswith("below 99%")
               for e in a["evidence"]), a["evidence"]
    assert status["phase"] == "Failed"
    assert condition(obj, "AvailabilityPassed")["status"] == "False"


def test_an_outage_under_load_reports_downtime_and_the_window_it_hit(
        cluster: Cluster, module_namespace: str, results: dict[str, Any]) -> None:
    obj = results["outage"]
    _report("outage", obj)
    checks = checks_of(obj["status"])
    res = checks["resilience"]
    assert res["result"] == "Passed", res
    m = res["measured"]
    assert m["podsKilled"] == 1 and m["errorsDuringRecovery"] > 0
    # nothing answered while the only replica was replaced: whole seconds of it, bounded by
    # the recovery (plus the two partial seconds at its ends)
    assert 1 <= m["downtimeSeconds"] <= m["recoverySeconds"] + 2, m
    assert f"down for {int(m['downtimeSeconds'])}s (no request succeeded)" in res["message"]
    a = checks["availability"]
    am = a["measured"]
    assert am["worstWindowAvailability"] < 0.999 and am["windowsBelowObjective"] >= 1, am
    # the deletion came 5 s into the load (plus the load child's start), the replacement was
    # Ready seconds later: the worst window is one of those after the first
    assert am["worstWindowStartSeconds"] in (5, 10, 15), am
    assert am["availability"] < 1 and am["failures"] > 0
    assert a["result"] in ("Failed", "Passed"), a
    if am["availability"] < 0.999:
        assert a["result"] == "Failed" and am["errorBudgetConsumedPercent"] > 100
    else:  # the budget absorbed it: a warning (verdict Conditional)
        assert a["warnings"], a
    # the measured values reach kubectl
    text = cluster.kubectl("get", "readinesscheck", "outage", "-n", module_namespace, "-o",
                           "jsonpath={.status.checks[?(@.name==\"resilience\")].measured."
                           "downtimeSeconds}").stdout
    assert float(text) == m["downtimeSeconds"]


def test_without_a_load_the_probes_measure_the_downtime_and_max_downtime_judges_it(
        results: dict[str, Any]) -> None:
    obj = results["probed-outage"]
    _report("probed-outage", obj)
    res = checks_of(obj["status"])["resilience"]
    assert res["result"] == "Failed", res
    m = res["measured"]
    assert m["requestsDuringRecovery"] > 0 and 1 <= m["downtimeSeconds"] <= m["recoverySeconds"]
    assert res["message"].endswith(": longer than maxDowntime 0s"), res["message"]
    assert "availability" not in checks_of(obj["status"])


REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("number", {"objective": 0.999},
     "spec.availability.objective in body must be of type string"),
    ("too-low", {"objective": "0.999%"},
     'spec.availability.objective: Invalid value: "0.999%": must be at least 50% and at most '
     "99.9999%, such as 99.9%"),
    ("hundred", {"objective": "100%"}, "must be at least 50% and at most 99.9999%"),
    ("half-second", {"objective": "99%", "window": "1500ms"},
     "spec.availability.window: Invalid value: window is whole seconds"),
]


@pytest.mark.parametrize(("name", "availability", "words"), REFUSED,
                         ids=[r[0] for r in REFUSED])
def test_the_api_server_refuses_what_parse_refuses(cluster: Cluster, module_namespace: str,
                                                   name: str, availability: dict[str, Any],
                                                   words: str) -> None:
    spec = {"target": workload(), "load": {"rate": 5}, "availability": availability}
    with pytest.raises(kubernetes.client.ApiException) as info:
        cluster.create_check(module_namespace, f"bad-{name}", spec)
    assert info.value.status == 422
    message = json.loads(info.value.body)["message"]  # what kubectl prints
    assert words in message, message


def test_availability_needs_a_load(cluster: Cluster, module_namespace: str) -> None:
    with pytest.raises(kubernetes.client.ApiException) as info:
        cluster.create_check(module_namespace, "no-load", {
            "target": workload(), "availability": {"objective": "99.9%"}})
    message = json.loads(info.value.body)["message"]
    assert "spec.availability: Invalid value: availability is measured over the load" in message
