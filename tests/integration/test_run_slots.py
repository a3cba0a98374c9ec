"""The operator's cap on runs at once (READYGATE_MAX_CONCURRENT_RUNS): a run beyond it waits,
and says so in its status, instead of crowding the others into false failures."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import cast

from readygate.api.parse import parse_spec
from readygate.kube import manifests
from readygate.kube.client import Kube
from readygate.run.runner import CheckRunner
from readygate.status.writer import StatusWriter

from ..statusview import checks_of
from .fakekube import FakeController, FakeKube
from .fakeprober import FakeProber, ok
from .harness import NS, deploy_spec, run, runtime, wait_until


def test_a_run_beyond_the_cap_waits_visibly_then_runs() -> None:
    kube, prober = FakeKube(), FakeProber()
    controller = FakeController(kube)
    runners = []
    prober.on("http://10.96.*", ok())  # both Services answer once their pods are Ready
    rt = dataclasses.replace(runtime(kube, prober, max_concurrent_runs=1),
                             run_slots=asyncio.Semaphore(1))
    for name in ("first", "second"):
        workload = manifests.workload_name(name)
        controller.behave(NS, workload, "ready", ready_after=1.0)
        check = kube.create_check(NS, name, deploy_spec())
        writer = StatusWriter(cast(Kube, kube), NS, name, {},
                              resource_version=check["metadata"]["resourceVersion"])
        runners.append(CheckRunner(rt, check, parse_spec(check["spec"]), writer, run=1,
                                   reason="NewGeneration"))

    async def main() -> list[str]:
        async with controller.running():
            first = asyncio.create_task(runners[0].execute())
            await asyncio.sleep(0.05)
            second = asyncio.create_task(runners[1].execute())
            await wait_until("the second run queued", lambda: (
                kube.check(NS, "second").get("status") or {}).get("phase") == "Pending",
                within=20)
            queued = kube.check(NS, "second")["status"]
            assert "queued" in queued["summary"], queued["summary"]
            assert "READYGATE_MAX_CONCURRENT_RUNS" in checks_of(queued)["deploy"]["message"]
            assert not first.done()
            views = await asyncio.gather(first, second)
        return [v.phase for v in views]

    phases = run(main(), timeout=60)
    assert phases == ["Passed", "Passed"], [kube.check(NS, n)["status"]["summary"]
                                            for n in ("first", "second")]
