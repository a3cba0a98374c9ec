"""loadjobs on the fake: delete_stale removes the Jobs and plan Secrets of a check's other runs
and keeps the current run's, other checks' and what the check does not own; a plan Secret name
taken by someone else refuses the load and stays."""

from __future__ import annotations

from typing import cast

import pytest

from readygate.api.parse import parse_spec
from readygate.judge.load import plan_for
from readygate.kube import manifests
from readygate.kube.client import Kube
from readygate.run.loadjobs import JobLoadError, JobSettings, delete_stale, run_load_jobs

from .fakekube import FakeKube
from .harness import NS, deploy_spec, run


def job_names(kube: FakeKube) -> set[str]:
    return {j["metadata"]["name"] for j in kube.select("Job", NS)}


def secret_names(kube: FakeKube) -> set[str]:
    return {s["metadata"]["name"] for s in kube.select("Secret", NS)}


def make_run(kube: FakeKube, check_name: str, run_no: int, shards: int) -> None:
    check = kube.check(NS, check_name)
    secret = manifests.load_secret(check, run_no, '{"plan": 1}')
    kube.put(secret, NS)
    kube.put(manifests.load_job(check, run_no, shards, image="readygate:dev",
                                pull_policy="IfNotPresent", secret=secret["metadata"]["name"],
                                deadline=120), NS)


def test_delete_stale_removes_other_runs_jobs_and_plan_secrets_and_keeps_the_current_run() -> None:
    kube = FakeKube()
    kube.create_check(NS, "orders", deploy_spec())
    kube.create_check(NS, "billing", deploy_spec())
    for run_no in (1, 2, 3):
        make_run(kube, "orders", run_no, shards=2)
    make_run(kube, "billing", 1, shards=1)
    kube.put({"kind": "Secret", "metadata": {"name": "db-password"},
              "stringData": {"password": "x"}}, NS)

    deleted = run(delete_stale(cast(Kube, kube), kube.check(NS, "orders"), keep_run=3))

    assert deleted == 2  # one Indexed Job per run
    assert job_names(kube) == {"rg-orders-load-r3", "rg-billing-load-r1"}
    assert secret_names(kube) == {manifests.load_secret_name("orders", 3),
                                  manifests.load_secret_name("billing", 1), "db-password"}
    # one list, one delete per stale Job, one per stale run's Secret
    assert kube.count("list_jobs") == 1
    assert sorted(c.args[1] for c in kube.calls_of("delete_job")) == [
        "rg-orders-load-r1", "rg-orders-load-r2"]
    assert sorted(c.args[1] for c in kube.calls_of("delete_secret")) == [
        manifests.load_secret_name("orders", 1), manifests.load_secret_name("orders", 2)]
    # the plan Secrets were real Secrets: the API server keeps stringData as base64 data
    plan = kube.must("Secret", NS, manifests.load_secret_name("orders", 3))
    assert "stringData" not in plan and manifests.PLAN_KEY in plan["data"]


def test_delete_stale_without_a_run_to_keep_removes_every_run_of_the_check() -> None:
    kube = FakeKube()
    kube.create_check(NS, "orders", deploy_spec())
    make_run(kube, "orders", 7, shards=1)
    assert run(delete_stale(cast(Kube, kube), kube.check(NS, "orders"))) == 1
    assert job_names(kube) == set() and secret_names(kube) == set()


def test_delete_stale_leaves_what_the_check_does_not_own() -> None:
    """A Job labelled like the check's load Job and a Secret named like its plan, made by
    someone else (or by another check of the same name before it was re-created): untouched."""
    kube = FakeKube()
    kube.create_check(NS, "orders", deploy_spec())
    make_run(kube, "orders", 1, shards=1)
    for kind, name in (("Job", "rg-orders-load-r1"),
                       ("Secret", manifests.load_secret_name("orders", 1))):
        obj = kube.must(kind, NS, name)
        obj["metadata"]["ownerReferences"][0]["uid"] = "someone-else"
        kube.remove(kind, NS, name)
        kube.put(obj, NS)
    assert run(delete_stale(cast(Kube, kube), kube.check(NS, "orders"), keep_run=2)) == 0
    assert job_names(kube) == {"rg-orders-load-r1"}
    assert secret_names(kube) == {manifests.load_secret_name("orders", 1)}
    assert kube.count("delete_job") == kube.count("delete_secret") == 0


def test_a_plan_secret_name_taken_by_someone_else_is_refused_and_left_untouched() -> None:
    kube = FakeKube()
    check = kube.create_check(NS, "orders", deploy_spec())
    theirs = {"kind": "Secret", "metadata": {"name": manifests.load_secret_name("orders", 1)},
              "stringData": {"theirs": "x"}}
    kube.put(theirs, NS)
    load = parse_spec({**deploy_spec(), "load": {"rate": 5, "duration": "1s"}}).load
    assert load is not None
    plan = plan_for(load, "http://10.96.0.10:80", lambda ref: "")
    settings = JobSettings(image="readygate:dev", pull_policy="IfNotPresent", start_delay=0.0)
    with pytest.raises(JobLoadError, match="not owned by this ReadinessCheck"):
        run(run_load_jobs(cast(Kube, kube), check, 1, plan, 2, settings))
    assert "theirs" in kube.must("Secret", NS, manifests.load_secret_name("orders", 1))["data"]
    assert kube.count("delete_secret") == kube.count("delete_job") == 0
    assert job_names(kube) == set()
