"""Distributed load: Kubernetes runs the shards, readygate merges them and judges once.

For ``load.workers: N`` the plan (with any header values from Secrets) goes into a Secret owned
by the check, and one Indexed Job (``completionMode: Indexed``, N completions, N in parallel)
runs ``python3 -m readygate.load --shard auto/N`` from the operator's own image: pod i takes
shard i from its completion index, reads the plan from that Secret and prints its result as one
JSON line. A shard is never retried; the pod failure policy fails the Job on a non-zero exit
and ignores disruptions. The shards share a start time (``plan.start_at``, a few seconds ahead
so the pods can start); their histograms and timelines merge exactly (``load.merge_results``).
Results are read only from pods the Job itself owns.

The Job and the Secret are deleted when the run ends (and by garbage collection with the
check); ``delete_stale`` removes those of earlier runs that an operator restart left behind.
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
from readygate.kube.watchcache import Reader
from readygate.load import LoadPlan, LoadResult, merge_results
from readygate.load.workers import default_timeout

log = logging.getLogger(__name__)
MARGIN = 60.0  # seconds past the plan's own time budget before the Jobs count as overrun
POLL = 1.0
APPEAR_WITHIN = 30.0  # seconds a created Job may take to show in the watch cache


class JobLoadError(Exception):
    """A shard failed or overran; the message says which and why (shown in status)."""


@dataclasses.dataclass(frozen=True)
class JobSettings:
    image: str
    pull_policy: str
    start_delay: float


async def delete_stale(kube: Kube, check: Mapping[str, Any],
                       keep_run: int | None = None) -> int:
    """Delete load Jobs (and their plan Secrets) of this check's other runs; returns how many.
    Only what the check owns: a Job labelled like readygate's, or a Secret named like a plan,
    that someone else made is left untouched."""
    namespace, check_name = check["metadata"]["namespace"], check["metadata"]["name"]
    owner = str(check["metadata"].get("uid"))
    selector = {manifests.LABEL_CHECK: manifests.label_value(check_name),
                manifests.LABEL_COMPONENT: manifests.LOAD_WORKER}
    jobs = await kube.list_jobs(namespace, selector)
    stale = [j for j in jobs
             if (j["metadata"].get("labels") or {}).get(manifests.LABEL_RUN) != str(keep_run)
             and owner in owner_uids(j)]
    runs = {(j["metadata"].get("labels") or {}).get(manifests.LABEL_RUN) for j in stale}
    await asyncio.gather(*(kube.delete_job(namespace, j["metadata"]["name"]) for j in stale))
    # The plan Secret of the run before this one too, even without its Jobs: its cleanup may
    # have failed, or the operator died between creating it and the Job. (By name: readygate
    # may not list Secrets, which would let it read every one of the namespace.)
    if keep_run is not None and keep_run > 1:
        runs.add(str(keep_run - 1))
    for run in runs:
        if run and run.isdigit() and int(run) != keep_run:
            await delete_own_secret(kube, namespace,
                                    manifests.load_secret_name(check_name, int(run)), owner)
    if stale:
        log.info("%s/%s: deleted %d load Job(s) left by earlier runs", namespace, check_name,
                 len(stale))
    return len(stale)


async def delete_own_secret(kube: Kube, namespace: str, name: str, owner: str) -> None:
    """Delete the Secret ``name`` if ``owner`` (a check's uid) owns it, and only that object."""
    meta = await kube.secret_meta(namespace, name)
    if meta is None:
        return
    if owner not in owner_uids(meta):
        log.warning("%s: Secret %s is not a plan of this check's: left untouched", namespace,
                    name)
        return
    await kube.delete_secret(namespace, name, uid=meta["metadata"].get("uid"))


async def _pods_of(kube: Reader, namespace: str, job: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pods of a Job readygate created: labelled with its name *and* owned by it (by uid),
    so a pod someone else labelled ``job-name=...`` cannot hand in a result."""
    uid = (job.get("metadata") or {}).get("uid")
    pods = await kube.list_pods(namespace, {"job-name": job["metadata"]["name"]})
    return [p for p in pods if uid and uid in owner_uids(p)]


def _job_state(job: Mapping[str, Any]) -> str:
    status = job.get("status") or {}
    for c in status.get("conditions") or []:
        if c.get("status") != "True":
            continue
        if c.get("type") in ("Failed", "FailureTarget"):
            return "failed"
        if c.get("type") == "Complete":
            return "succeeded"
    if status.get("failed"):
        return "failed"
    completions = (job.get("spec") or {}).get("completions") or 1
    if int(status.get("succeeded") or 0) >= int(completions):
        return "succeeded"
    return "running"


INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"


async def _results_of(kube: Kube, reader: Reader, namespace: str, job: Mapping[str, Any],
                      shards: int) -> list[LoadResult]:
    """Each shard's result, from the log of the pod that completed its index."""
    name = job["metadata"]["name"]
    by_index: dict[int, dict[str, Any]] = {}
    for pod in await _pods_of(reader, namespace, job):
        if (pod.get("status") or {}).get("phase") != "Succeeded":
            continue
        index = ((pod.get("metadata") or {}).get("annotations") or {}).get(INDEX_ANNOTATION)
        if index is not None and str(index).isdigit():
            by_index[int(index)] = pod
    missing = [i for i in range(shards) if i not in by_index]
    if missing:
        raise JobLoadError(f"load Job {name}: no completed pod for shard(s) "
                           f"{', '.join(map(str, missing))}")
    results = []
    for i in range(shards):
        pod = by_index[i]
        lines = await kube.pod_log(namespace, pod["metadata"]["name"], "load", previous=False,
                                   tail_lines=20)
        for line in reversed(lines):
            if line.startswith("{"):
                try:
                    results.append(LoadResult.from_dict(json.loads(line)))
                except (ValueError, KeyError) as exc:
                    raise JobLoadError(f"load Job {name} shard {i} printed an unreadable "
                                       f"result: {exc}") from exc
                break
        else:
            raise JobLoadError(f"load Job {name} shard {i} printed no result")
    return results


async def run_load_jobs(kube: Kube, check: Mapping[str, Any], run: int, plan: LoadPlan,
                        workers: int, settings: JobSettings,
                        reader: Reader | None = None) -> LoadResult:
    """Run the plan in ``workers`` Job pods and merge their results. The Job and its pods are
    read from ``reader`` (the watch cache; else the API, each poll)."""
    reader = reader or kube
    namespace = check["metadata"]["namespace"]
    check_name = check["metadata"]["name"]
    await delete_stale(kube, check)
    shared = dataclasses.replace(plan, start_at=time.time() + settings.start_delay)
    budget = default_timeout(shared) + settings.start_delay + MARGIN
    secret = manifests.load_secret(check, run, json.dumps(shared.to_dict()))
    secret_name = secret["metadata"]["name"]
    job = manifests.load_job(check, run, workers, image=settings.image,
                             pull_policy=settings.pull_policy, secret=secret_name,
                             deadline=int(budget))
    name = job["metadata"]["name"]
    made_secret = made_job = False  # the cleanup deletes only what this run made (or owns)
    try:
        try:
            await kube.create_secret(namespace, secret)
            made_secret = True
            created = await kube.create_job(namespace, job)
            made_job = True
        except Refused as exc:  # a quota, a plan over the Secret size limit, a name taken
            raise JobLoadError(f"cannot create the load Job: {exc}") from None
        created_at = time.monotonic()
        deadline = created_at + budget
        seen = False
        selector = {manifests.LABEL_CHECK: manifests.label_value(check_name),
                    manifests.LABEL_RUN: str(run)}
        while True:
            current = {j["metadata"]["name"]: j for j in await reader.list_jobs(namespace,
                                                                                selector)}
            if name not in current:
                # the watch cache shows a new Job a moment after it was created
                if seen or time.monotonic() - created_at > APPEAR_WITHIN:
                    raise JobLoadError(f"load Job {name} disappeared")
                await asyncio.sleep(POLL)
                continue
            seen = True
            if _uid(current[name]) != _uid(created):
                raise JobLoadError(f"load Job {name} was replaced by someone else")
            state = _job_state(current[name])
            if state == "failed":
                detail = await _failure_detail(reader, namespace, current[name])
                raise JobLoadError(f"load Job {name} failed: {detail}")
            if state == "succeeded":
                break
            if time.monotonic() > deadline:
                raise JobLoadError(f"load Job {name} did not finish within {budget:.0f}s")
            await asyncio.sleep(POLL)
        return merge_results(await _results_of(kube, reader, namespace, current[name],
                                               workers))
    finally:
        try:
            if made_job:
                await kube.delete_job(namespace, name)
        except KubeError as exc:
            log.warning("could not delete load Job %s: %s", name, exc)
        try:
            if made_secret:
                await kube.delete_secret(namespace, secret_name)
        except KubeError as exc:
            log.warning("could not delete load plan Secret %s: %s", secret_name, exc)


def _uid(obj: Mapping[str, Any]) -> str | None:
    uid = (obj.get("metadata") or {}).get("uid")
    return str(uid) if uid else None


async def _failure_detail(kube: Reader, namespace: str, job: Mapping[str, Any]) -> str:
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
