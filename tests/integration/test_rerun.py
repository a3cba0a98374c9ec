"""``kubectl readygate rerun`` through the real Supervisor over the fakes: the
``readygate.io/rerun`` annotation starts one new run without a spec change, its token lands in
``status.handledRerun``, the same token never starts another, and a new token does; the runs in
between keep the conditions still and the passed run becomes the next run's baseline."""

from __future__ import annotations

import asyncio

from readygate.api.rerun import ANNOTATION

from .fakekube import KIND, FakeController, FakeKube
from .harness import NS, condition, deploy_spec, run, runtime, wait_until
from .test_supervisor import NAME, serving, status_of, supervising


def test_the_rerun_annotation_starts_one_run_per_token_without_a_spec_change() -> None:
    kube = FakeKube()
    prober = serving(kube)
    controller = FakeController(kube)
    kube.create_check(NS, NAME, deploy_spec())
    rt = runtime(kube, prober)

    def finished(runs: int, token: str | None) -> bool:
        s = status_of(kube)
        return (s.get("runs") == runs and s.get("phase") == "Passed"
                and s.get("handledRerun") == token)

    async def main() -> None:
        async with controller.running(), supervising(rt, kube):
            await wait_until("a verdict", lambda: finished(1, None), within=8)
            first = kube.check(NS, NAME)
            ready_since = condition(first["status"], "Ready")["lastTransitionTime"]
            kube.annotate(KIND, NS, NAME, ANNOTATION, "t1")
            await wait_until("the rerun's verdict", lambda: finished(2, "t1"), within=8)
            await asyncio.sleep(0.5)  # ten polls: the same token starts nothing more
            assert status_of(kube)["runs"] == 2
            again = kube.check(NS, NAME)
            assert again["metadata"]["generation"] == first["metadata"]["generation"]
            assert again["status"]["observedGeneration"] == first["status"]["observedGeneration"]
            assert condition(again["status"], "Ready")["lastTransitionTime"] == ready_since
            assert again["status"]["baseline"]["run"] == 1
            kube.annotate(KIND, NS, NAME, ANNOTATION, "t2")
            await wait_until("the second rerun's verdict", lambda: finished(3, "t2"), within=8)
            assert status_of(kube)["baseline"]["run"] == 2

    run(main(), timeout=30)
