"""loadjobs.delete_stale on the fake: the Jobs and plan Secrets of a check's other runs go, the
current run's and other checks' stay."""

from __future__ import annotations

from typing import cast

from readygate.kube import manifests
from readygate.kube.client import Kube
from readygate.run.loadjobs import delete_stale

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

    deleted = run(delete_stale(cast(Kube, kube), NS, "orders", keep_run=3))

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
    assert run(delete_stale(cast(Kube, kube), NS, "orders")) == 1
    assert job_names(kube) == set() and secret_names(kube) == set()
