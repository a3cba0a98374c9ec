"""The shared watch cache against the fake API: one list then a watch per namespace and resource,
reads that select as the API server does, resume after a drop, relist after 410 Gone, wake-ups
on change, and a fallback to the API where the operator may not watch."""

from __future__ import annotations

import asyncio
from typing import cast

from readygate.kube.client import Kube
from readygate.kube.watchcache import WatchCache

from .fakekube import FakeController, FakeKube, pod, refused
from .harness import NS, caught_up, run, wait_until

LABELS = {"app": "web"}


def test_reads_come_from_one_list_and_a_watch_not_from_a_list_per_read() -> None:
    kube = FakeKube()
    kube.put(pod(NS, "a", labels=LABELS))
    kube.put(pod(NS, "b", labels={"app": "other"}))
    cache = WatchCache(cast(Kube, kube))

    async def main() -> None:
        for _ in range(50):
            pods = await cache.list_pods(NS, "app=web")
            assert [p["metadata"]["name"] for p in pods] == ["a"]
        assert [p["metadata"]["name"] for p in await cache.list_pods(NS, "app notin (web)")] \
            == ["b"]
        kube.put(pod(NS, "c", labels=LABELS))
        await caught_up(cache, kube)
        assert sorted(p["metadata"]["name"] for p in await cache.list_pods(NS, LABELS)) == \
            ["a", "c"]
        kube.remove("Pod", NS, "a")
        await caught_up(cache, kube)
        assert [p["metadata"]["name"] for p in await cache.list_pods(NS, LABELS)] == ["c"]
        await cache.close()

    run(main())
    assert kube.count_requests("list", "pods") == 1
    assert kube.count_requests("watch", "pods") == 1


def test_what_is_kept_is_trimmed_of_what_readygate_never_reads() -> None:
    kube = FakeKube()
    body = pod(NS, "a", labels=LABELS)
    body["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:x": {}}}]
    body["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": "{" + "x" * 10_000 + "}",
        "keep": "me"}
    body["spec"]["volumes"] = [{"name": "v", "emptyDir": {}}]
    body["spec"]["containers"][0]["env"] = [{"name": "TOKEN", "value": "s3cret"}]
    kube.put(body)
    cache = WatchCache(cast(Kube, kube))

    async def main() -> None:
        (got,) = await cache.list_pods(NS, LABELS)
        assert "managedFields" not in got["metadata"]
        assert got["metadata"]["annotations"] == {"keep": "me"}
        assert "volumes" not in got["spec"] and "env" not in got["spec"]["containers"][0]
        assert got["spec"]["containers"][0]["ports"]  # what the gate reads is kept
        await cache.close()

    run(main())


def test_a_dropped_watch_resumes_from_its_version_without_listing_again() -> None:
    kube = FakeKube()
    kube.watch_timeout = 0.05  # the server ends every watch after 50 ms
    kube.put(pod(NS, "a", labels=LABELS))
    cache = WatchCache(cast(Kube, kube))

    async def main() -> None:
        await cache.list_pods(NS, LABELS)
        await wait_until("several watches", lambda: kube.count_requests("watch", "pods") >= 3,
                         within=10)
        kube.put(pod(NS, "b", labels=LABELS))
        await caught_up(cache, kube)
        assert len(await cache.list_pods(NS, LABELS)) == 2
        await cache.close()

    run(main(), timeout=20)
    assert kube.count_requests("list", "pods") == 1
    resumed = [c.args[2] for c in kube.calls_of("watch")]
    assert all(v != "" for v in resumed) and resumed == sorted(resumed, key=int)


def test_410_gone_lists_again_and_the_cache_shows_what_changed_meanwhile() -> None:
    kube = FakeKube()
    kube.watch_timeout = 0.05
    kube.put(pod(NS, "a", labels=LABELS))
    relisted: list[str] = []
    cache = WatchCache(cast(Kube, kube), on_relist=relisted.append)

    async def main() -> None:
        await cache.list_pods(NS, LABELS)
        lists = kube.count_requests("list", "pods")
        kube.remove("Pod", NS, "a")
        kube.put(pod(NS, "b", labels=LABELS))
        kube.compact()  # history gone: the next watch from the old version gets 410
        await wait_until("a relist", lambda: kube.count_requests("list", "pods") > lists,
                         within=10)
        await caught_up(cache, kube)
        assert [p["metadata"]["name"] for p in await cache.list_pods(NS, LABELS)] == ["b"]
        await cache.close()

    run(main(), timeout=20)
    assert relisted and set(relisted) == {"pods"}


def test_a_reader_waiting_for_a_change_wakes_when_the_kubelet_reports_one() -> None:
    kube = FakeKube()
    kube.put(pod(NS, "a", labels=LABELS))
    cache = WatchCache(cast(Kube, kube))

    async def main() -> float:
        await cache.list_pods(NS, LABELS)
        mark = cache.mark(NS)
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def crash() -> None:
            await asyncio.sleep(0.2)

            def exited(obj: dict[str, object]) -> None:
                obj["status"] = {"phase": "Running", "containerStatuses": [
                    {"name": "app", "restartCount": 1, "ready": False,
                     "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}
            kube.update("Pod", NS, "a", exited)
        task = asyncio.create_task(crash())
        woke = await cache.wait(NS, mark, 30.0)
        await task
        assert woke
        (seen,) = await cache.list_pods(NS, LABELS)
        assert seen["status"]["containerStatuses"][0]["restartCount"] == 1
        await cache.close()
        return loop.time() - started

    waited = run(main())
    assert 0.15 < waited < 1.0, waited  # at the change, not at the 30 s timeout


def test_a_workload_created_a_moment_ago_is_read_from_the_api_until_the_watch_shows_it() -> None:
    kube = FakeKube()
    controller = FakeController(kube)
    cache = WatchCache(cast(Kube, kube))

    async def main() -> None:
        await cache.list_pods(NS, LABELS)  # the namespace is watched, and empty
        kube.put({"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "web", "namespace": NS},
                  "spec": {"replicas": 1, "selector": {"matchLabels": LABELS},
                           "template": {"metadata": {"labels": LABELS},
                                        "spec": {"containers": [{"name": "app",
                                                                 "image": "x"}]}}}})
        got = await cache.get_deployment(NS, "web")  # a miss: one GET
        assert got["metadata"]["name"] == "web"
        await caught_up(cache, kube)
        before = kube.count_requests("get", "deployments")
        for _ in range(20):
            await cache.get_deployment(NS, "web")
        assert kube.count_requests("get", "deployments") == before  # hits: none
        controller.tick()
        await cache.close()

    run(main())


def test_without_list_permission_reads_go_to_the_api_and_nothing_breaks() -> None:
    kube = FakeKube()
    kube.put(pod(NS, "a", labels=LABELS))
    kube.fail("list_objects", refused(403, 'pods is forbidden: cannot list resource "pods"'))
    cache = WatchCache(cast(Kube, kube))

    async def main() -> None:
        for _ in range(3):
            assert len(await cache.list_pods(NS, LABELS)) == 1
        assert cache.watching() == {NS: ()}
        await cache.close()

    run(main())
    assert kube.count("list_pods") == 3


def test_a_namespace_is_watched_while_held_and_let_go_after_the_grace() -> None:
    kube = FakeKube()
    cache = WatchCache(cast(Kube, kube), idle_grace=0.2)

    async def main() -> None:
        cache.hold(NS)
        await cache.list_pods(NS, LABELS)
        assert cache.watching() == {NS: ("pods",)}
        cache.release(NS)
        assert NS in cache.watching()  # within the grace: a check that comes back keeps it
        await wait_until("the namespace let go", lambda: NS not in cache.watching(),
                         within=5)
        await cache.close()

    run(main())
