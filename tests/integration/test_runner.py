"""CheckRunner on the fakes: a run of a deploy target from the workload's creation to the
verdict, through the real stages, the real StatusWriter and the CRD's schema."""

from __future__ import annotations

from typing import Any, cast

from readygate.api.parse import parse_spec
from readygate.kube import manifests
from readygate.kube.client import Kube
from readygate.run.runner import CheckRunner
from readygate.status.compute import RunView
from readygate.status.writer import StatusWriter

from ..statusview import checks_of
from .fakekube import FakeController, FakeKube
from .fakeprober import FakeProber, ready_pods, status
from .harness import NS, condition, deploy_spec, results, run, runtime

NAME = "orders"
WORKLOAD = manifests.workload_name(NAME)
SELECTOR = {manifests.LABEL_WORKLOAD: WORKLOAD}
CRASH_LOG = ("Traceback (most recent call last):",
             '  File "/app/main.py", line 3, in <module>',
             "    import x",
             "ModuleNotFoundError: No module named 'x'")


async def execute(kube: FakeKube, prober: FakeProber, controller: FakeController,
                  spec: dict[str, Any]) -> tuple[RunView, StatusWriter]:
    check = kube.create_check(NS, NAME, spec)
    writer = StatusWriter(cast(Kube, kube), NS, NAME, {},
                          resource_version=check["metadata"]["resourceVersion"])
    runner = CheckRunner(runtime(kube, prober), check, parse_spec(check["spec"]), writer,
                         run=1, reason="NewGeneration")
    async with controller.running():
        view = await runner.execute()
    return view, writer


def test_pods_that_become_ready_and_answer_2xx_pass_deploy_readiness_and_liveness() -> None:
    kube, prober = FakeKube(), FakeProber()
    controller = FakeController(kube)
    controller.behave(NS, WORKLOAD, "ready", ready_after=0.3)
    prober.on("http://10.244.*", status(503))  # a pod asked directly before it is Ready
    prober.on("http://10.96.*", ready_pods(kube, NS, SELECTOR))  # the Service

    view, writer = run(execute(kube, prober, controller, deploy_spec()))

    stored = kube.check(NS, NAME)
    st = stored["status"]
    assert view.phase == "Passed"
    assert results(st) == {"deploy": "Passed", "readiness": "Passed", "liveness": "Passed"}
    assert st["phase"] == "Passed" and st["verdict"] == "Passed"
    assert condition(st, "Ready")["status"] == "True"
    assert all(c["type"] != "Reconciling" for c in st["conditions"])
    # what was stored is what the writer computed, field for field (nothing pruned)
    assert st == writer.current
    assert writer.resource_version == stored["metadata"]["resourceVersion"]
    # the wait was real: the pods took 0.3 s, and a not-Ready pod was asked directly
    assert checks_of(st)["readiness"]["measured"]["secondsToReady"] >= 0.3
    assert any(u.startswith("http://10.244.") for u in prober.urls("*/ready"))
    # the workload readygate made is owned by the check, and its Service was probed
    dep = kube.must("Deployment", NS, WORKLOAD)
    assert dep["metadata"]["ownerReferences"][0]["uid"] == stored["metadata"]["uid"]
    svc = kube.must("Service", NS, WORKLOAD)
    assert st["target"] == f"Service {NS}/{WORKLOAD} {svc['spec']['clusterIP']}:8080"
    # the liveness window: /health of the Service, every 100 ms for 1 s
    assert prober.windows == [(f"http://{svc['spec']['clusterIP']}:8080/health", 0.1, 1.0)]
    assert checks_of(st)["liveness"]["measured"]["probes"] == 10


def test_a_pod_crashing_at_import_fails_the_run_with_the_log_line_as_diagnosis() -> None:
    kube, prober = FakeKube(), FakeProber()  # nothing answers: the pods never start
    controller = FakeController(kube)
    controller.behave(NS, WORKLOAD, "crash", log=CRASH_LOG)

    view, _ = run(execute(kube, prober, controller, deploy_spec()))

    st = kube.check(NS, NAME)["status"]
    assert view.phase == "Failed"
    assert results(st) == {"deploy": "Failed", "readiness": "Failed", "liveness": "Skipped"}
    diagnosis = st["diagnosis"]
    assert diagnosis["reason"] == "CrashLoopBackOff"
    assert diagnosis["message"] == ("container app exited with code 1: "
                                    "ModuleNotFoundError: No module named 'x'")
    assert diagnosis["logTail"][-1] == "ModuleNotFoundError: No module named 'x'"
    assert diagnosis["pod"].startswith(WORKLOAD + "-")
    assert "ModuleNotFoundError: No module named 'x'" in st["summary"]
    assert condition(st, "Stalled")["status"] == "True"
    assert condition(st, "Ready")["status"] == "False"
    # the crashed container's log was read once, from the previous container
    logs = kube.calls_of("pod_log")
    assert len(logs) == 1 and logs[0].kwargs["previous"] is True
    # failing at once, not at the budget's end (3 s): the liveness window never ran
    assert checks_of(st)["readiness"]["measured"]["secondsToDiagnosis"] < 1.5
    assert prober.windows == []


def test_a_workload_of_the_same_name_owned_by_someone_else_is_left_alone_and_the_run_errs(
        ) -> None:
    kube, prober = FakeKube(), FakeProber()
    foreign = kube.put({"kind": "Deployment", "metadata": {"name": WORKLOAD, "namespace": NS},
                        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "theirs"}},
                                 "template": {"metadata": {"labels": {"app": "theirs"}},
                                              "spec": {"containers": [{"name": "c",
                                                                       "image": "theirs:1"}]}}}})

    view, _ = run(execute(kube, prober, FakeController(kube), deploy_spec()))

    st = kube.check(NS, NAME)["status"]
    assert view.phase == "Error" and st["phase"] == "Error"
    assert "not owned by this ReadinessCheck" in st["error"]["message"]
    assert checks_of(st)["deploy"]["result"] == "Error"
    # theirs, untouched (its controller still runs it): never replaced, and no Service or
    # probe was made for it
    theirs = kube.must("Deployment", NS, WORKLOAD)
    assert theirs["spec"] == foreign["spec"] and theirs["metadata"]["generation"] == 1
    assert "ownerReferences" not in theirs["metadata"]
    assert kube.count_requests("update", "deployments") == 0
    assert kube.get("Service", NS, WORKLOAD) is None
    assert prober.calls == []
