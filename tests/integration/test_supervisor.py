"""The real Supervisor loop (as kopf's daemon runs it) over the fakes: operator-side faults
retried with back-off, a spec change replacing the run in flight, a status restored after
someone else changed it, and a gated deploy target that passes once its pods are verified."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from readygate.control.supervisor import Supervisor
from readygate.kube import manifests
from readygate.run.context import Runtime

from ..statusview import checks_of
from .fakekube import FakeController, FakeKube, too_many_requests
from .fakeprober import FakeProber, ok, ready_pods, status
from .harness import (
    NS,
    Events,
    Stopped,
    condition,
    deploy_spec,
    results,
    run,
    runtime,
    wait_until,
)

NAME = "orders"
WORKLOAD = manifests.workload_name(NAME)
SELECTOR = {manifests.LABEL_WORKLOAD: WORKLOAD}
ALL_PASSED = {"deploy": "Passed", "readiness": "Passed", "liveness": "Passed"}


@contextlib.asynccontextmanager
async def supervising(rt: Runtime, kube: FakeKube,
                      events: Events | None = None) -> AsyncIterator[Supervisor]:
    """The supervisor's loop as kopf's daemon runs it, stopped (and awaited) at the end."""
    sup = Supervisor(rt, kube.body(NS, NAME), events)
    stopped = Stopped()
    task = asyncio.create_task(sup.loop(stopped))
    try:
        yield sup
    finally:
        stopped.set()
        await task


def status_of(kube: FakeKube) -> dict[str, Any]:
    return dict(kube.check(NS, NAME).get("status") or {})


def serving(kube: FakeKube) -> FakeProber:
    prober = FakeProber()
    prober.on("http://10.244.*", status(503))  # pods asked directly before they are Ready
    prober.on("http://10.96.*", ready_pods(kube, NS, SELECTOR))  # the Service
    return prober


def test_an_operator_side_fault_is_retried_with_back_off_and_the_check_gets_its_verdict(
        ) -> None:
    kube = FakeKube()
    prober = serving(kube)
    controller = FakeController(kube)
    kube.create_check(NS, NAME, deploy_spec())
    kube.fail("ensure", too_many_requests())  # the API server throttles the run's first request
    rt = runtime(kube, prober)
    events = Events()

    async def main() -> None:
        async with controller.running(), supervising(rt, kube, events) as sup:
            await wait_until("a verdict", lambda: status_of(kube).get("phase") == "Passed",
                             within=8)
            await wait_until("the run reaped", lambda: sup.task is None)
            assert sup.failures == 0  # a run that finished resets the count

    run(main())
    st = status_of(kube)
    assert results(st) == ALL_PASSED
    assert st["runs"] == 2  # the failed run, then its retry
    assert [h.split(" at ")[0] for h in st["history"]] == ["run 2 gen 1 Passed score 40"]
    assert kube.pending_faults("ensure") == 0
    # the retry waited out the back-off (2 s after the first failure), no sooner
    failed, retried = kube.calls_of("ensure")[:2]
    assert retried.at - failed.at >= 1.9
    assert rt.metrics.registry.get_sample_value("readygate_reconcile_errors_total") == 1.0
    # the operator's fault was not the target's: no Failed/Error status was ever written
    for call in kube.calls_of("patch_check_status"):
        assert call.args[2]["status"].get("phase") not in ("Failed", "Error")
    # one event per phase change: the retry, in the same phase, posted none
    assert events.reasons() == ["Deploying", "Verifying", "Passed"]


def test_a_spec_change_while_a_run_is_in_flight_cancels_it_and_runs_the_new_generation(
        ) -> None:
    kube = FakeKube()
    controller = FakeController(kube)
    prober = FakeProber()
    prober.on("http://10.96.*/ready", status(503))  # generation 1's path never answers
    prober.on("http://10.96.*/readyz", ready_pods(kube, NS, SELECTOR))
    prober.on("http://10.96.*/health", ok())
    kube.create_check(NS, NAME, deploy_spec())
    rt = runtime(kube, prober)
    changed: list[float] = []

    async def main() -> None:
        async with controller.running(), supervising(rt, kube):
            await wait_until("run 1 waiting for /ready",
                             lambda: len(prober.urls("http://10.96.*/ready")) >= 3)
            assert checks_of(status_of(kube))["readiness"]["result"] == "Running"
            spec = deploy_spec()
            spec["readiness"] = {**spec["readiness"], "path": "/readyz"}
            kube.set_check_spec(NS, NAME, spec)
            changed.append(time.monotonic())
            await wait_until("generation 2's verdict",
                             lambda: status_of(kube).get("observedGeneration") == 2
                             and status_of(kube).get("phase") == "Passed", within=8)

    run(main())
    st = status_of(kube)
    assert results(st) == ALL_PASSED
    assert st["runs"] == 2
    assert "/readyz" in checks_of(st)["readiness"]["message"]
    # run 1 was replaced, not judged: no verdict, no Failed readiness was ever written for it
    assert [h.split(" at ")[0] for h in st["history"]] == ["run 2 gen 2 Passed score 40"]
    for call in kube.calls_of("patch_check_status"):
        checks = checks_of(call.args[2]["status"])
        assert (checks.get("readiness") or {}).get("result") != "Failed"
    # and it stopped probing: nothing asked the old path after the change
    assert all(c.at < changed[0] + 0.2 for c in prober.calls if c.url.endswith("/ready"))
    # the workload was brought up to the new spec (its readiness probe path)
    dep = kube.must("Deployment", NS, WORKLOAD)
    assert dep["metadata"]["generation"] == 2
    probe = dep["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert probe["httpGet"]["path"] == "/readyz"


def test_a_status_changed_by_someone_else_between_runs_is_restored() -> None:
    kube = FakeKube()
    controller = FakeController(kube)
    prober = serving(kube)
    kube.create_check(NS, NAME, deploy_spec())
    rt = runtime(kube, prober)

    async def main() -> None:
        async with controller.running(), supervising(rt, kube) as sup:
            await wait_until("a verdict", lambda: status_of(kube).get("phase") == "Passed")
            await wait_until("the run reaped", lambda: sup.task is None)
            before = status_of(kube)
            kube.reset_log()
            tampered = kube.patch_status_as(NS, NAME, {
                "phase": "Failed", "verdict": "Failed", "score": 0, "summary": "by hand",
                "checks": [{"name": "liveness", "result": "Failed", "message": "by hand"}]})
            await wait_until("the status restored", lambda: status_of(kube) == before)
            await asyncio.sleep(0.2)  # a few more turns: nothing else happens
            assert status_of(kube) == before
            # one patch put it back, against the version the other writer left
            (restore,) = kube.calls_of("patch_check_status")
            assert (restore.args[2]["metadata"]["resourceVersion"]
                    == tampered["metadata"]["resourceVersion"])
            # and no run was started for it
            assert kube.count("ensure") == 0 and kube.count("list_pods") == 0

    run(main())
    assert status_of(kube)["runs"] == 1


def test_a_gated_deploy_target_is_ready_only_once_the_gatekeeper_verified_its_pods() -> None:
    gate = "readygate.io/orders"
    kube = FakeKube()
    controller = FakeController(kube)
    prober = FakeProber()
    prober.on("http://10.244.*", ok())  # the pods answer /ready and /health
    prober.on("http://10.96.*", ready_pods(kube, NS, SELECTOR))
    kube.create_check(NS, NAME, deploy_spec(gate={"podReadinessGate": gate}))
    rt = runtime(kube, prober)

    async def main() -> None:
        async with controller.running(), supervising(rt, kube):
            await wait_until("a verdict", lambda: status_of(kube).get("phase") == "Passed")
            await wait_until("the gate summary", lambda: (status_of(kube).get("gate") or {})
                             .get("verified") == 1)
            # then idle, gate and all: ~40 supervisor turns make no request to the API at all
            await asyncio.sleep(0.3)
            patched.append(kube.count("patch_pod_condition"))
            kube.reset_log()
            await asyncio.sleep(2.0)
            idle.extend(kube.requests)

    idle: list[object] = []
    patched: list[int] = []
    run(main())
    assert idle == []
    st = status_of(kube)
    assert results(st) == ALL_PASSED
    assert st["gate"]["conditionType"] == gate and st["gate"]["failed"] == 0
    (pod,) = kube.select("Pod", NS)
    conds = {c["type"]: c for c in pod["status"]["conditions"]}
    assert conds[gate]["status"] == "True" and conds[gate]["reason"] == "ReadinessCheckPassed"
    assert conds["Ready"]["status"] == "True"
    # the pod was verified at its own address, /ready then a liveness window on /health
    ip = pod["status"]["podIP"]
    assert f"http://{ip}:8080/ready" in prober.urls()
    assert (f"http://{ip}:8080/health", 0.1, 1.0) in prober.windows
    assert patched == [1]
    assert condition(st, "Ready")["status"] == "True"
