"""The Gatekeeper on the fakes: gated pods verified at their own address and their condition
patched, and ``release`` of a deleted check's gate."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from readygate.api.parse import parse_spec
from readygate.api.spec import CheckSpec
from readygate.kube.client import Kube
from readygate.kube.watchcache import WatchCache
from readygate.run import gatekeeper
from readygate.run.gatekeeper import Gatekeeper, release
from readygate.run.prober import Prober
from readygate.status.writer import StatusWriter

from .fakekube import FakeController, FakeKube, conflict, pod
from .fakeprober import FakeProber, ok, slow, status
from .harness import FAST, NS, caught_up, run

GATE = "readygate.io/web"
NAME = "web"
LABELS = {"app": "web"}


def conditions(kube: FakeKube, name: str) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in kube.must("Pod", NS, name)["status"].get("conditions") or []}


def keeper_of(kube: FakeKube, prober: FakeProber) -> tuple[Gatekeeper, CheckSpec]:
    """The check's gatekeeper over the fakes (its own writer and watch cache), and its spec."""
    check = kube.check(NS, NAME)
    writer = StatusWriter(cast(Kube, kube), NS, NAME, {},
                          resource_version=check["metadata"]["resourceVersion"])
    keeper = Gatekeeper(cast(Kube, kube), cast(Prober, prober), kube.body(NS, NAME), writer,
                        WatchCache(cast(Kube, kube)))
    return keeper, parse_spec(check["spec"])


def workload_check(kube: FakeKube, replicas: int = 2) -> None:
    """An existing Deployment whose pods declare the gate, its Service, and the check."""
    kube.put({"kind": "Deployment", "metadata": {"name": NAME, "namespace": NS}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": LABELS},
        "template": {"metadata": {"labels": LABELS}, "spec": {
            "readinessGates": [{"conditionType": GATE}],
            "containers": [{"name": "web", "image": "registry.example/web:1",
                            "ports": [{"name": "http", "containerPort": 8080}]}]}}}})
    kube.put({"kind": "Service", "metadata": {"name": NAME, "namespace": NS},
              "spec": {"selector": LABELS, "ports": [{"port": 80, "targetPort": "http"}]}})
    kube.create_check(NS, NAME, {"target": {"workloadRef": {"name": NAME}},
                                 "gate": {"podReadinessGate": GATE}, **FAST})


def test_gated_pods_are_verified_at_their_address_and_their_condition_patched() -> None:
    kube, prober = FakeKube(), FakeProber()
    workload_check(kube)
    kube.put(pod(NS, "bystander", labels=LABELS))  # declares no gate: never touched
    controller = FakeController(kube)
    controller.tick()  # the Deployment's two pods: running, containers ready, held by the gate
    good, bad = (p["metadata"]["name"] for p in controller.pods_of(NS, NAME))
    ip = {p["metadata"]["name"]: p["status"]["podIP"] for p in kube.select("Pod", NS)}
    assert conditions(kube, good)["Ready"]["reason"] == "ReadinessGatesNotReady"
    prober.on(f"http://{ip[good]}:8080/*", ok())
    prober.on(f"http://{ip[bad]}:8080/ready", ok())
    prober.on(f"http://{ip[bad]}:8080/health", status(500))  # not alive

    keeper, spec = keeper_of(kube, prober)

    async def main() -> None:
        await keeper.turn(spec, 1)
        assert kube.check(NS, NAME)["status"]["gate"]["pending"] == 2
        await asyncio.gather(*keeper.tasks.values())
        controller.tick()
        await caught_up(keeper.cache, kube)
        await keeper.turn(spec, 1)
        patches_after_verdicts = kube.count("patch_check_status")
        await keeper.turn(spec, 1)  # nothing new: no verification, no write
        assert kube.count("patch_check_status") == patches_after_verdicts

    run(main())
    passed, failed = conditions(kube, good), conditions(kube, bad)
    assert passed[GATE]["status"] == "True"
    assert passed[GATE]["reason"] == "ReadinessCheckPassed"
    assert passed["Ready"]["status"] == "True"  # the kubelet let it count
    assert failed[GATE]["status"] == "False" and failed[GATE]["reason"] == "ReadinessCheckFailed"
    assert failed[GATE]["message"].startswith("liveness failed")
    assert failed[GATE]["message"].endswith("(check generation 1)")
    assert failed["Ready"]["status"] == "False"
    assert GATE not in conditions(kube, "bystander")
    assert kube.count("patch_pod_condition") == 2
    assert not any(ip["bystander"] in url for url in prober.urls())
    # each pod was asked at its own IP and the Service's targetPort ("http" -> 8080)
    assert f"http://{ip[good]}:8080/ready" in prober.urls()
    assert all(c.check == (NS, NAME) for c in prober.calls)  # the check's own share
    gate = kube.check(NS, NAME)["status"]["gate"]
    assert gate["conditionType"] == GATE
    assert (gate["verified"], gate["failed"], gate["pending"]) == (1, 1, 0)
    assert {p["pod"]: p["result"] for p in gate["pods"]} == {bad: "Failed", good: "Passed"}


def test_release_sets_the_gate_true_on_every_pod_of_the_target_that_declares_it() -> None:
    kube = FakeKube()
    for name in ("fresh", "failed", "passed", "leaving"):
        kube.put(pod(NS, name, labels=LABELS, gates=[GATE]))
    kube.put(pod(NS, "ungated", labels=LABELS))
    kube.put(pod(NS, "other-gate", labels=LABELS, gates=["readygate.io/other"]))
    # another team's workload naming the same condition type: not this check's to release
    kube.put(pod(NS, "theirs", labels={"app": "billing"}, gates=[GATE]))
    FakeController(kube).tick()

    async def main() -> int:
        k = cast(Kube, kube)
        failed = {"type": GATE, "status": "False", "reason": "ReadinessCheckFailed",
                  "message": "x (check generation 1)",
                  "lastTransitionTime": "2026-01-01T00:00:00Z"}
        passed = {**failed, "status": "True", "reason": "ReadinessCheckPassed"}
        for name, cond in (("failed", failed), ("passed", passed)):
            await k.patch_pod_condition(NS, name, kube.must("Pod", NS, name)["metadata"]["uid"],
                                        cond)
        await k.delete_pod(NS, "leaving", grace_seconds=30)
        kube.reset_log()
        return await release(k, NS, GATE, "app=web")

    released = run(main())
    assert released == 2
    for name in ("fresh", "failed"):
        cond = conditions(kube, name)[GATE]
        assert cond["status"] == "True" and cond["reason"] == "ReadinessCheckDeleted"
    assert conditions(kube, "passed")[GATE]["reason"] == "ReadinessCheckPassed"  # left as is
    assert GATE not in conditions(kube, "leaving")  # terminating: not worth a patch
    assert GATE not in conditions(kube, "ungated")
    assert GATE not in conditions(kube, "other-gate")
    assert GATE not in conditions(kube, "theirs")
    assert sorted(c.args[1] for c in kube.calls_of("patch_pod_condition")) == ["failed", "fresh"]
    assert kube.count_requests("list", "pods") == 1


def test_release_goes_on_past_a_pod_it_cannot_patch() -> None:
    kube = FakeKube()
    for name in ("a", "b", "c"):
        kube.put(pod(NS, name, labels=LABELS, gates=[GATE]))
    kube.fail("patch_pod_condition", conflict("Precondition failed: UID in precondition"),
              when=lambda call: call.args[1] == "b")  # b was replaced under the same name

    released = run(release(cast(Kube, kube), NS, GATE, "app=web"))
    assert released == 2
    assert conditions(kube, "a")[GATE]["status"] == "True"
    assert GATE not in conditions(kube, "b")
    assert conditions(kube, "c")[GATE]["status"] == "True"


def test_a_verification_that_only_timed_out_is_tried_again_before_the_gate_fails(
        monkeypatch: Any) -> None:
    """A gated pod whose probes time out (a slow moment of the node, or of readygate) is not
    held un-Ready for the whole generation: the gate says Retrying and verifies it again; one
    that answers HTTP 500 fails at once (the existing test above)."""
    monkeypatch.setattr(gatekeeper, "RETRY_AFTER", 0.05)
    kube, prober = FakeKube(), FakeProber()
    workload_check(kube, replicas=1)
    controller = FakeController(kube)
    controller.tick()
    (only,) = (p["metadata"]["name"] for p in controller.pods_of(NS, NAME))
    ip = kube.must("Pod", NS, only)["status"]["podIP"]
    prober.on(f"http://{ip}:8080/ready", ok())
    health = iter([slow(1.0)] * 10 + [ok()] * 1000)  # the first window times out
    prober.on(f"http://{ip}:8080/health", lambda method, url: next(health))
    keeper, spec = keeper_of(kube, prober)
    seen: list[tuple[str, str]] = []

    async def main() -> None:
        for _ in range(200):
            await keeper.turn(spec, 1)
            await asyncio.gather(*keeper.tasks.values())
            mine = conditions(kube, only).get(GATE)
            if mine is not None and (mine["status"], mine["reason"]) not in seen:
                seen.append((mine["status"], mine["reason"]))
            if mine is not None and mine["status"] == "True":
                return
            await asyncio.sleep(0.02)

    run(main(), timeout=30)
    assert seen == [("False", "ReadinessCheckRetrying"), ("True", "ReadinessCheckPassed")]
    assert kube.count("patch_pod_condition") == 2
    first = kube.calls_of("patch_pod_condition")[0].args[3]
    assert first["message"].endswith("verified again in 0s (attempt 1 of 3)"), first


def test_a_pod_with_an_ipv6_address_is_verified_at_it() -> None:
    kube, prober = FakeKube(), FakeProber()
    workload_check(kube)
    at = "http://[[]fd00:10:244::5[]]:8080/*"  # the fakes' patterns are fnmatch's
    prober.on(at, ok())
    keeper, spec = keeper_of(kube, prober)
    six = {"metadata": {"name": "web-6"}, "status": {"podIP": "fd00:10:244::5"}}
    passed, why, _ = run(keeper._judge(six, spec, 8080))
    assert passed, why
    assert prober.urls(at)
