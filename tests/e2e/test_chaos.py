"""Operator chaos on the real cluster: the operator is killed (SIGKILL) every few seconds while
50 checks run — deploy targets, checks of a shared workload, distributed loads. Every check
still ends with exactly one verdict for its generation, the right one, and nothing is orphaned:
no load Job or plan Secret outlives its run, and the Deployments readygate created go with their
checks.
"""

from __future__ import annotations

import random
import signal
import time
from typing import Any

from .conftest import (
    GROUP,
    PLURAL,
    RESTRICTED_CONTAINER,
    VERSION,
    WORKLOAD_IMAGE,
    Cluster,
    is_final,
    launch_operator,
    wait_for,
    workload,
)
from .test_faults import LOAD_WORKER, _cleanup, _log, _names

SHARED = {"app": "shared"}
LIVENESS = {"period": "1s", "observeFor": "3s"}


def _shared_workload(cluster: Cluster, ns: str) -> None:
    cluster.apps.create_namespaced_deployment(ns, {
        "metadata": {"name": "shared"},
        "spec": {"replicas": 2, "selector": {"matchLabels": SHARED},
                 "template": {"metadata": {"labels": SHARED}, "spec": {
                     "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "app", "image": WORKLOAD_IMAGE,
                                     "imagePullPolicy": "Never", **RESTRICTED_CONTAINER,
                                     "ports": [{"containerPort": 8080}]}]}}}})
    cluster.core.create_namespaced_service(ns, {
        "metadata": {"name": "shared"},
        "spec": {"selector": SHARED, "ports": [{"port": 80, "targetPort": 8080}]}})


def _specs() -> dict[str, dict[str, Any]]:
    specs: dict[str, dict[str, Any]] = {}
    for i in range(38):
        specs[f"ref-{i}"] = {"target": {"workloadRef": {"name": "shared"}}, "liveness": LIVENESS}
    for i in range(8):
        specs[f"deploy-{i}"] = {"target": workload(), "liveness": LIVENESS}
    for i in range(2):
        specs[f"load-{i}"] = {"target": {"workloadRef": {"name": "shared"}},
                              "liveness": {"enabled": False},
                              "load": {"rate": 20, "duration": "6s", "workers": 2,
                                       "thresholds": {"minSamples": 60}}}
    for i in range(2):
        specs[f"local-load-{i}"] = {"target": {"workloadRef": {"name": "shared"}},
                                    "liveness": {"enabled": False},
                                    "load": {"model": "closed", "users": 2, "maxRate": 20,
                                             "duration": "6s",
                                             "thresholds": {"minSamples": 40}}}
    return specs


def test_operator_killed_every_few_seconds_still_gives_each_check_one_verdict(
        cluster: Cluster, own_namespace: str) -> None:
    ns = own_namespace
    _shared_workload(cluster, ns)
    specs = _specs()
    assert len(specs) == 50
    op = launch_operator(cluster, ns, _log(ns))
    rng = random.Random(7)
    kills = 0
    try:
        for name, spec in specs.items():
            cluster.create_check(ns, name, spec)
        # kill it 8 times, each after 3-7 s of running, restarting it each time (how long a
        # restart takes depends on the machine; the number of kills does not)
        while kills < 8:
            time.sleep(rng.uniform(3, 7))
            op.stop(signal.SIGKILL)
            kills += 1
            op = launch_operator(cluster, ns, _log(ns))

        def finals() -> dict[str, dict[str, Any]] | None:
            items = cluster.custom.list_namespaced_custom_object(GROUP, VERSION, ns,
                                                                 PLURAL)["items"]
            done = {i["metadata"]["name"]: i for i in items if is_final(i)}
            return done if len(done) == len(specs) else None

        final = wait_for("every check final after the chaos", 420, finals, every=2)
        wrong = {n: o["status"].get("summary") for n, o in final.items()
                 if o["status"]["phase"] != "Passed"}
        assert not wrong, wrong
        for name, obj in final.items():
            status = obj["status"]
            lines = [h for h in status.get("history") or [] if " gen 1 " in h]
            assert len(lines) == 1, (name, status.get("history"))
            assert status["runs"] >= 1
        # nothing outlives its run: no load Job, no plan Secret
        assert _names(cluster, "jobs", ns, LOAD_WORKER) == []
        assert _names(cluster, "secrets", ns, LOAD_WORKER) == []
        owned = _names(cluster, "deployments", ns, "app.kubernetes.io/managed-by=readygate")
        assert len(owned) == 8, owned
    finally:
        _cleanup(cluster, ns, op)
    # the checks are gone: their Deployments and Services go with them
    wait_for("the owned Deployments garbage-collected", 120, lambda: not _names(
        cluster, "deployments", ns, "app.kubernetes.io/managed-by=readygate"), every=1)
