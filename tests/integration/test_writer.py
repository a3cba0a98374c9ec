"""StatusWriter against the fake API server: the resourceVersion precondition, 409 handling,
and the no-op skip, counted in requests."""

from __future__ import annotations

from typing import Any, cast

import pytest

from readygate.api.results import CheckResult
from readygate.kube.client import Conflict, Kube, Unavailable
from readygate.status.compute import RunView, summarize
from readygate.status.writer import MAX_CONFLICTS, StatusWriter

from ..statusview import checks_of
from .fakekube import FakeKube, conflict, unavailable
from .harness import NS, deploy_spec, run

NAME = "orders"
T0 = "2026-01-01T00:00:00Z"
WAITING = RunView(generation=1, run=1, reason="NewGeneration", phase="Deploying",
                  started_at=T0, checks={
                      "deploy": CheckResult(result="Running", message="creating the workload"),
                      "readiness": CheckResult(result="Pending", message="waiting")})
READY = RunView(generation=1, run=1, reason="NewGeneration", phase="Verifying", started_at=T0,
                checks={"deploy": CheckResult(result="Passed", message="1/1 pods Ready"),
                        "readiness": CheckResult(result="Passed", message="/ready answered")})
BY_HAND = "run 0 gen 1 Passed score 40 at 2025-12-31T00:00:00Z: written by hand"


def setup() -> tuple[FakeKube, StatusWriter]:
    kube = FakeKube()
    check = kube.create_check(NS, NAME, deploy_spec())
    writer = StatusWriter(cast(Kube, kube), NS, NAME, {},
                          resource_version=check["metadata"]["resourceVersion"])
    return kube, writer


def patches(kube: FakeKube) -> list[dict[str, Any]]:
    return [c.args[2] for c in kube.calls_of("patch_check_status")]


def test_a_write_that_gets_409_rereads_and_recomputes_from_what_is_stored() -> None:
    kube, writer = setup()

    async def main() -> None:
        assert await writer.write_view(WAITING)
        seen = writer.resource_version
        # someone else writes the status in between: a new resourceVersion
        theirs = kube.patch_status_as(NS, NAME, {"summary": "edited by hand",
                                                 "history": [BY_HAND]})
        kube.reset_log()
        assert await writer.write_view(READY)
        first, second = patches(kube)
        # the first try carried what the writer had seen, and the API server said 409
        assert first["metadata"]["resourceVersion"] == seen
        # the retry carries the version it re-read, and is a diff against the stored status
        assert second["metadata"]["resourceVersion"] == theirs["metadata"]["resourceVersion"]
        assert second["status"]["summary"] == summarize(READY)
        assert "history" not in second["status"]  # the stored history is kept as it is
        assert kube.count("get_check") == 1
        assert writer.conflicts == 1

    run(main())
    stored = kube.check(NS, NAME)
    st = stored["status"]
    assert st == writer.current
    assert st["history"] == [BY_HAND]  # recomputed from the stored status, not its own copy
    assert st["summary"] == summarize(READY)
    assert {n: c["result"] for n, c in checks_of(st).items()} == {"deploy": "Passed",
                                                                 "readiness": "Passed"}
    assert writer.resource_version == stored["metadata"]["resourceVersion"]


def test_an_unchanged_status_is_not_written_again() -> None:
    kube, writer = setup()

    async def main() -> None:
        assert await writer.write_view(WAITING) is True
        assert await writer.write_view(WAITING) is False
        assert await writer.rewrite() is False
        assert await writer.write_gate(None) is False
        assert kube.count("patch_check_status") == 1
        assert await writer.write_view(READY) is True
        assert await writer.write_view(READY) is False

    version_before = kube.check(NS, NAME)["metadata"]["resourceVersion"]
    run(main())
    assert kube.count("patch_check_status") == 2
    assert kube.count_requests("patch", "readinesschecks/status") == 2
    assert writer.patches == 2 and writer.conflicts == 0
    assert kube.check(NS, NAME)["metadata"]["resourceVersion"] != version_before


def test_a_metadata_change_by_kopf_costs_one_conflict_and_keeps_both_changes() -> None:
    kube, writer = setup()

    async def main() -> None:
        await writer.write_view(WAITING)
        kube.annotate("ReadinessCheck", NS, NAME, "readygate.io/last-handled-configuration",
                      "{}")
        await writer.write_view(READY)

    run(main())
    stored = kube.check(NS, NAME)
    assert writer.conflicts == 1 and kube.count("patch_check_status") == 3
    assert stored["metadata"]["annotations"] == {"readygate.io/last-handled-configuration": "{}"}
    assert stored["status"] == writer.current
    assert checks_of(stored["status"])["readiness"]["result"] == "Passed"


def test_conflicts_in_a_row_are_retried_up_to_the_limit() -> None:
    kube, writer = setup()
    kube.fail("patch_check_status", conflict(), conflict())
    assert run(writer.write_view(WAITING)) is True
    assert kube.count("patch_check_status") == 3 and kube.count("get_check") == 2
    assert kube.check(NS, NAME)["status"] == writer.current

    kube2, writer2 = setup()
    kube2.fail("patch_check_status", *(conflict() for _ in range(MAX_CONFLICTS)))
    with pytest.raises(Conflict):
        run(writer2.write_view(WAITING))
    assert kube2.count("patch_check_status") == MAX_CONFLICTS
    assert "status" not in kube2.check(NS, NAME)


def test_a_patch_whose_answer_was_lost_converges_on_the_next_write() -> None:
    """A timeout after the API server applied the patch: the writer does not know its own
    write landed, and its next patch (with the old resourceVersion) gets 409 and recovers."""
    kube, writer = setup()

    async def main() -> None:
        kube.fail("patch_check_status", unavailable(504), lost_response=True)
        with pytest.raises(Unavailable):
            await writer.write_view(WAITING)
        assert kube.check(NS, NAME)["status"]["phase"] == "Deploying"  # it did land
        assert await writer.write_view(READY)

    run(main())
    assert writer.conflicts == 1
    assert kube.check(NS, NAME)["status"] == writer.current
    assert writer.current["phase"] == "Verifying"
