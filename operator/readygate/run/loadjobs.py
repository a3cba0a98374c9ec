"""Distributed load: Kubernetes runs the shards, readygate merges them and judges once.

For ``load.workers: N`` the plan (with any header values from Secrets) goes into a Secret owned
by the check, and N single-pod Jobs run ``python3 -m readygate.load --shard i/N`` from the
operator's own image, each reading the plan from that Secret and printing its result as one
JSON line. The shards share a start time (``plan.start_at``, a few seconds ahead so the pods can
start); their histograms and timelines merge exactly (``load.merge_results``). One Job per
shard, not an Indexed Job: Indexed Jobs need Kubernetes 1.21+, and this works on every version.

Jobs and the Secret are deleted when the run ends (and by garbage collection with the check);
``delete_stale`` removes those of earlier runs that an operator restart left behind.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from readygate.kube import manifests
from readygate.kube.client import Kube, KubeError, Refused, owner_uids
from readygate.load import LoadPlan, LoadResult, merge_results
from readygate.load.workers import default_timeout

log = logging.getLogger(__name__)
MARGIN = 60.0  # seconds past the plan's own time budget before the Jobs count as overrun
POLL = 1.0


class JobLoadError(Exception):
    """A shard failed or overran; the message says which and why (shown in status)."""


@dataclasses.dataclass(frozen=True)
class JobSettings:
    image: str
    pull_policy: str
    start_delay: float


async def delete_stale(kube: Kube, namespace: str, check_name: str,
                       keep_run: int | None = None) -> int:
    """Delete load Jobs (and their plan Secrets) of this check's other runs; returns how many."""
    selector = {manifests.LABEL_CHECK: manifests.label_value(check_name),
                manifests.LABEL_COMPONENT: manifests.LOAD_WORKER}
    jobs = await kube.list_jobs(namespace, selector)
    stale = [j for j in jobs
             if (j["metadata"].get("labels") or {}).get(manifests.LABEL_RUN) != str(keep_run)]
    runs = {(j["metadata"].get("labels") or {}).get(manifests.LABEL_RUN) for j in stale}
    await asyncio.gather(*(kube.delete_job(namespace, j["metadata"]["name"]) for j in stale))
    for run in runs:
        if run and run.isdigit():
            await kube.delete_secret(namespace, manifests.load_secret_name(check_name, int(run)))
    if stale:
        log.info("%s/%s: deleted %d load Job(s) left by earlier runs", namespace, check_name,
                 len(stale))
    return len(stale)


async def _pods_of(kube: Kube, namespace: str, job: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pods of a Job readygate created: labelled with its name *and* owned by it (by uid),
    so a pod someone else labelled ``job-name=...`` cannot hand in a result."""
    uid = (job.get("metadata") or {}).get("uid")
    pods = await kube.list_pods(namespace, {"job-name": job["metadata"]["name"]})
    return [p for p in pods if uid and uid in owner_uids(p)]


def _job_state(job: Mapping[str, Any]) -> str:
    status = job.get("status") or {}
    if status.get("succeeded"):
        return "succeeded"
    if status.get("failed"):
        return "failed"
    for c in status.get("conditions") or []:
        if c.get("type") == "Failed" and c.get("status") == "True":
            return "failed"
    return "running"


async def _result_of(kube: Kube, namespace: str, job: Mapping[str, Any]) -> LoadResult:
    name = job["metadata"]["name"]
    pods = await _pods_of(kube, namespace, job)
    if not pods:
        raise JobLoadError(f"load Job {name} has no pod")
    pod = sorted(pods, key=lambda p: str(p["metadata"].get("creationTimestamp")))[-1]
    lines = await kube.pod_log(namespace, pod["metadata"]["name"], "load", previous=False,
                               tail_lines=20)
    for line in reversed(lines):
        if line.startswith("{"):
            try:
                return LoadResult.from_dict(json.loads(line))
            except (ValueError, KeyError) as exc:
                raise JobLoadError(f"load Job {name} printed an unreadable result: "
                                   f"{exc}") from exc
    tail = " | ".join(lines[-3:])
    raise JobLoadError(f"load Job {name} printed no result: {tail[:500]}")


async def run_load_jobs(kube: Kube, check: Mapping[str, Any], run: int, plan: LoadPlan,
                        workers: int, settings: JobSettings) -> LoadResult:
    namespace = check["metadata"]["namespace"]
    check_name = check["metadata"]["name"]
    await delete_stale(kube, namespace, check_name)
    shared = dataclasses.replace(plan, start_at=time.time() + settings.start_delay)
    budget = default_timeout(shared) + settings.start_delay + MARGIN
    secret = manifests.load_secret(check, run, json.dumps(shared.to_dict()))
    secret_name = secret["metadata"]["name"]
    jobs = [manifests.load_job(check, run, i, workers, image=settings.image,
                               pull_policy=settings.pull_policy, secret=secret_name,
                               deadline=int(budget))
            for i in range(workers)]
    created: dict[str, Mapping[str, Any]] = {}
    try:
        try:
            await kube.create_secret(namespace, secret)
            for job in jobs:
                created[job["metadata"]["name"]] = await kube.create_job(namespace, job)
        except Refused as exc:  # a quota, a plan over the Secret size limit, a name taken
            raise JobLoadError(f"cannot create the load Jobs: {exc}") from None
        deadline = time.monotonic() + budget
        names = [j["metadata"]["name"] for j in jobs]
        selector = {manifests.LABEL_CHECK: manifests.label_value(check_name),
                    manifests.LABEL_RUN: str(run)}
        while True:
            current = {j["metadata"]["name"]: j for j in await kube.list_jobs(namespace,
                                                                              selector)}
            missing = [n for n in names if n not in current]
            if missing:
                raise JobLoadError(f"load Job(s) {', '.join(missing)} disappeared")
            replaced = [n for n in names if _uid(current[n]) != _uid(created[n])]
            if replaced:
                raise JobLoadError(f"load Job(s) {', '.join(replaced)} were replaced by "
                                   "someone else")
            states = {n: _job_state(current[n]) for n in names}
            failed = [n for n, s in states.items() if s == "failed"]
            if failed:
                detail = await _failure_detail(kube, namespace, current[failed[0]])
                raise JobLoadError(f"load Job {failed[0]} failed: {detail}")
            if all(s == "succeeded" for s in states.values()):
                break
            if time.monotonic() > deadline:
                raise JobLoadError(f"load Jobs did not finish within {budget:.0f}s")
            await asyncio.sleep(POLL)
        results = [await _result_of(kube, namespace, current[n]) for n in names]
        return merge_results(results)
    finally:
        for job in jobs:
            try:
                await kube.delete_job(namespace, job["metadata"]["name"])
            except KubeError as exc:
                log.warning("could not delete load Job %s: %s", job["metadata"]["name"], exc)
        try:
            await kube.delete_secret(namespace, secret_name)
        except KubeError as exc:
            log.warning("could not delete load plan Secret %s: %s", secret_name, exc)


def _uid(obj: Mapping[str, Any]) -> str | None:
    uid = (obj.get("metadata") or {}).get("uid")
    return str(uid) if uid else None


async def _failure_detail(kube: Kube, namespace: str, job: Mapping[str, Any]) -> str:
    pods = await _pods_of(kube, namespace, job)
    for pod in pods:
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            state = cs.get("state") or {}
            waiting = state.get("waiting") or {}
            if waiting.get("reason"):
                return f"{waiting['reason']}: {waiting.get('message', '')}"[:500]
            term = state.get("terminated") or {}
            if term:
                msg = (term.get("message") or "").strip().splitlines()[-1:] or [""]
                return f"exit code {term.get('exitCode')}: {msg[0]}"[:500]
    return "its pod did not run"
