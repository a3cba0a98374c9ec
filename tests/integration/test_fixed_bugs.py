"""Operator bugs the fakes reproduced (each failed before its fix): a gate port not cached when
the target did not resolve yet, a plan Secret left without its Jobs, a new spec waiting out the
old one's back-off."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from readygate.api.parse import parse_spec
from readygate.control.supervisor import Supervisor
from readygate.kube import manifests
from readygate.kube.client import Kube
from readygate.kube.watchcache import WatchCache
from readygate.run.gatekeeper import Gatekeeper
from readygate.run.loadjobs import delete_stale
from readygate.run.prober import Prober
from readygate.status.writer import StatusWriter

from .fakekube import FakeController, FakeKube, unavailable
from .fakeprober import FakeProber, ok, ready_pods
from .harness import FAST, NS, Stopped, caught_up, deploy_spec, run, runtime, wait_until

GATE = "readygate.io/web"
LABELS = {"app": "web"}


def gated_deployment(kube: FakeKube, replicas: int) -> None:
    kube.put({"kind": "Deployment", "metadata": {"name": "web", "namespace": NS}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": LABELS},
        "template": {"metadata": {"labels": LABELS}, "spec": {
            "readinessGates": [{"conditionType": GATE}],
            "containers": [{"name": "web", "image": "registry.example/web:1",
                            "ports": [{"name": "http", "containerPort": 8080}]}]}}}})


def test_a_service_missing_at_the_first_verification_fails_every_later_pod_of_the_generation(
        ) -> None:
    kube, prober = FakeKube(), FakeProber()
    gated_deployment(kube, replicas=1)  # ... and no Service yet
    kube.create_check(NS, "web", {"target": {"workloadRef": {"name": "web"}},
                                  "gate": {"podReadinessGate": GATE}, **FAST})
    prober.on("http://10.244.*", ok())  # every pod is healthy
    controller = FakeController(kube)
    controller.tick()
    check = kube.check(NS, "web")
    writer = StatusWriter(cast(Kube, kube), NS, "web", {},
                          resource_version=check["metadata"]["resourceVersion"])
    keeper = Gatekeeper(cast(Kube, kube), cast(Prober, prober), kube.body(NS, "web"), writer,
                        WatchCache(cast(Kube, kube)))
    spec = parse_spec(check["spec"])

    async def main() -> None:
        await keeper.turn(spec, 1)  # the first pod: no Service to learn the port from
        await asyncio.gather(*keeper.tasks.values())
        # the Service appears a moment later, and the Deployment scales up
        kube.put({"kind": "Service", "metadata": {"name": "web", "namespace": NS},
                  "spec": {"selector": LABELS, "ports": [{"port": 80, "targetPort": "http"}]}})

        def scale(dep: dict[str, Any]) -> None:
            dep["spec"]["replicas"] = 2
        kube.update("Deployment", NS, "web", scale)
        controller.tick()
        await caught_up(keeper.cache, kube)
        await keeper.turn(spec, 1)
        await asyncio.gather(*keeper.tasks.values())

    run(main())
    first, second = controller.pods_of(NS, "web")
    message = {c["type"]: c for c in first["status"]["conditions"]}[GATE]["message"]
    assert message.startswith("no pod IP or port to verify")
    # the second pod came after the Service: it can be verified, and it is healthy
    cond = {c["type"]: c for c in second["status"]["conditions"]}[GATE]
    assert cond["status"] == "True", cond["message"]


def test_a_plan_secret_left_without_its_jobs_is_deleted_too() -> None:
    kube = FakeKube()
    check = kube.create_check(NS, "orders", deploy_spec())
    # run 2's cleanup deleted its Jobs, then delete_secret failed (503): the Secret stayed
    kube.put(manifests.load_secret(check, 2, '{"headers": {"Authorization": "Bearer s3cr3t"}}'),
             NS)
    assert run(delete_stale(cast(Kube, kube), kube.check(NS, "orders"), keep_run=3)) == 0
    assert kube.get("Secret", NS, manifests.load_secret_name("orders", 2)) is None


def test_a_spec_change_during_a_retry_back_off_starts_the_new_generation_at_once() -> None:
    kube = FakeKube()
    controller = FakeController(kube)
    selector = {manifests.LABEL_WORKLOAD: manifests.workload_name("orders")}
    prober = FakeProber().on("http://10.96.*", ready_pods(kube, NS, selector))
    kube.create_check(NS, "orders", deploy_spec())
    kube.fail("ensure", unavailable(503))  # the run's first request fails
    rt = runtime(kube, prober)
    waited: list[float] = []

    async def main() -> None:
        sup = Supervisor(rt, kube.body(NS, "orders"))
        stopped = Stopped()
        task = asyncio.create_task(sup.loop(stopped))
        async with controller.running():
            await wait_until("the failed run reaped", lambda: sup.failures == 1)
            kube.set_check_spec(NS, "orders", deploy_spec(
                liveness={**FAST["liveness"], "path": "/livez"}))
            changed = time.monotonic()
            # the failed run made ensure's call 1; the new generation's run makes 2 and 3
            await wait_until("the new generation's run", lambda: kube.count("ensure") >= 3)
            waited.append(time.monotonic() - changed)
        stopped.set()
        await task

    run(main())
    assert waited[0] < 0.5, f"the new generation waited {waited[0]:.1f}s for the old back-off"
