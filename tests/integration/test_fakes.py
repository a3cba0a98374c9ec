"""The fakes keep the real interfaces, and the fake API server keeps the rules the operator
relies on. When ``Kube`` or ``Prober`` changes, the first two tests say what the fakes miss."""

from __future__ import annotations

import inspect
from typing import Any, cast

import pytest

from readygate.kube.client import Conflict, Kube, NotFound, Refused
from readygate.kube.selectors import SelectorError
from readygate.run.prober import Prober

from .fakekube import FakeKube, matches, pod
from .fakeprober import FakeProber, ok, status
from .harness import NS, deploy_spec, run


def public_methods(cls: type) -> dict[str, Any]:
    return {name: fn for name, fn in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")}


def shape(fn: Any) -> tuple[bool, list[tuple[str, Any, Any, Any]]]:
    params = list(inspect.signature(fn).parameters.values())[1:]  # without self
    return (inspect.iscoroutinefunction(fn),
            [(p.name, p.kind, p.default, p.annotation) for p in params])


@pytest.mark.parametrize(("real", "fake"), [(Kube, FakeKube), (Prober, FakeProber)])
def test_the_fake_has_every_public_method_with_the_same_signature(real: type,
                                                                  fake: type) -> None:
    fakes = public_methods(fake)
    for name, fn in public_methods(real).items():
        assert name in fakes, f"{fake.__name__} lacks {real.__name__}.{name}"
        assert shape(fakes[name]) == shape(fn), f"{fake.__name__}.{name} differs from the real"


def test_fake_classes_do_not_reach_the_real_ones() -> None:
    assert not issubclass(FakeKube, Kube) and not issubclass(FakeProber, Prober)


def test_status_patches_honour_the_resource_version_and_the_crd_schema() -> None:
    kube = FakeKube()
    check = kube.create_check(NS, "orders", deploy_spec())
    version = check["metadata"]["resourceVersion"]
    k = cast(Kube, kube)

    async def main() -> None:
        done = await k.patch_check_status(NS, "orders", {
            "metadata": {"resourceVersion": version},
            "status": {"phase": "Deploying", "unknownField": 1, "checks": [{
                "name": "deploy", "result": "Running", "message": "x", "extra": True}]}})
        assert done["status"] == {"phase": "Deploying", "checks": [{
            "name": "deploy", "result": "Running", "message": "x"}]}  # pruned, as the server
        assert done["metadata"]["resourceVersion"] != version
        assert done["metadata"]["generation"] == 1  # a status write is no new generation
        with pytest.raises(Conflict):  # the version it was read at is gone
            await k.patch_check_status(NS, "orders", {"metadata": {"resourceVersion": version},
                                                      "status": {"phase": "Passed"}})
        with pytest.raises(Refused, match="422"):
            await k.patch_check_status(NS, "orders", {"status": {"score": 12.5}})
        with pytest.raises(Refused, match="422"):
            await k.patch_check_status(NS, "orders", {"status": {"phase": "Done"}})
        cleared = await k.patch_check_status(NS, "orders", {"status": {"checks": None}})
        assert cleared["status"] == {"phase": "Deploying"}
        assert (await k.get_check(NS, "orders"))["spec"]["readiness"]["maxRestarts"] == 0

    run(main())
    assert kube.set_check_spec(NS, "orders", deploy_spec())["metadata"]["generation"] == 1
    changed = kube.set_check_spec(NS, "orders", {**deploy_spec(), "gate": {
        "podReadinessGate": "readygate.io/x"}})
    assert changed["metadata"]["generation"] == 2


def test_pods_deletion_and_conditions_follow_the_uid_precondition() -> None:
    kube = FakeKube()
    uid = kube.put(pod(NS, "web-0"))["metadata"]["uid"]
    k = cast(Kube, kube)

    async def main() -> None:
        cond = {"type": "readygate.io/x", "status": "True", "reason": "R", "message": "m",
                "lastTransitionTime": "2026-01-01T00:00:00Z"}
        with pytest.raises(Conflict):
            await k.patch_pod_condition(NS, "web-0", "another-uid", cond)
        with pytest.raises(NotFound):
            await k.patch_pod_condition(NS, "web-1", uid, cond)
        await k.patch_pod_condition(NS, "web-0", uid, cond)
        with pytest.raises(Conflict):  # replaced under the same name
            await k.delete_pod(NS, "web-0", grace_seconds=1, uid="another-uid")
        await k.delete_pod(NS, "web-0", grace_seconds=1, uid=uid)
        terminating = await k.get_pod(NS, "web-0")
        assert terminating["metadata"]["deletionTimestamp"]
        assert terminating["status"]["conditions"][0]["type"] == "readygate.io/x"
        await k.delete_pod(NS, "gone", grace_seconds=0)  # NotFound is no error
        with pytest.raises(SelectorError):
            await k.list_pods(NS, {})  # the facade refuses to list every pod

    run(main())


def test_label_selectors_are_read_as_the_api_server_reads_them() -> None:
    labels = {"app": "web", "tier": "front"}
    assert matches(labels, "app=web,tier in (front,back)")
    assert matches(labels, "app==web,!canary,tier")
    assert matches(labels, "app!=db,zone notin (a,b)")
    assert not matches(labels, "app=web,tier notin (front)")
    assert not matches(labels, "canary")
    assert not matches(labels, "app in (db)")
    with pytest.raises(Refused):
        matches(labels, "app in (")


def test_the_fake_prober_scripts_in_order_and_refuses_hosts_off_its_pin() -> None:
    prober = FakeProber()
    prober.on("*/ready", ok(), ok(), status(503))  # the last one repeats

    async def main() -> list[int | None]:
        got = [(await prober.get("http://svc/ready", timeout=1, at=0)).status for _ in range(4)]
        pinned = prober.pinned("api.example.com", "203.0.113.7")
        off_pin = await pinned.request("GET", "http://elsewhere.example/ready", timeout=1)
        assert off_pin.error is not None and off_pin.error.startswith("refused:")
        assert (await pinned.get("http://api.example.com/x", timeout=1, at=0)).error == \
            "ConnectError"  # unscripted
        return got

    assert run(main()) == [200, 200, 503, 503]
    assert [c.url for c in prober.calls][-1] == "http://api.example.com/x"
    assert prober.calls[-1].pin == ("api.example.com", "203.0.113.7")
