"""kube.client's request accounting and its watch stream, without a network: the client's list
function is replaced by one that answers like the API server's watch (JSON lines, split anywhere
across chunks), so what is tested is readygate's own reading of it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest

from readygate.kube.client import Gone, Kube, Unavailable, describe


@pytest.mark.parametrize(("method", "expected"), [
    ("list_namespaced_pod", ("list", "pods")),
    ("read_namespaced_pod_log", ("get", "pods/log")),
    ("patch_namespaced_pod_status", ("patch", "pods/status")),
    ("replace_namespaced_deployment", ("update", "deployments")),
    ("patch_namespaced_custom_object_status", ("patch", "readinesschecks/status")),
    ("get_namespaced_custom_object", ("get", "readinesschecks")),
    ("read_node", ("get", "nodes")),
    ("list_namespaced_endpoint_slice", ("list", "endpointslices")),
    ("something_else", ("other", "something_else")),
])
def test_client_methods_are_counted_as_the_api_server_names_them(
        method: str, expected: tuple[str, str]) -> None:
    assert describe(method) == expected


class Stream:
    """A streamed watch response: ``stream()`` yields the body in arbitrary chunks."""

    def __init__(self, events: list[dict[str, Any]], chunk: int = 7) -> None:
        self.body = b"".join(json.dumps(e).encode() + b"\n" for e in events)
        self.chunk = chunk
        self.closed = False

    def stream(self, amt: int, decode_content: bool = True) -> Iterator[bytes]:
        for i in range(0, len(self.body), self.chunk):
            yield self.body[i:i + self.chunk]

    def shutdown(self) -> None:
        self.closed = True

    def release_conn(self) -> None:
        pass


def _kube(answer: Any, seen: list[dict[str, Any]]) -> tuple[Kube, list[tuple[str, str, str]]]:
    counted: list[tuple[str, str, str]] = []
    kube = Kube(kubernetes.client.ApiClient(kubernetes.client.Configuration()), workers=2,
                on_request=lambda *r: counted.append(r))

    def list_namespaced_pod(namespace: str, **kwargs: Any) -> Any:
        seen.append({"namespace": namespace, **kwargs})
        if isinstance(answer, BaseException):
            raise answer
        return answer
    kube.core.list_namespaced_pod = list_namespaced_pod  # type: ignore[method-assign]
    return kube, counted


def _pod(name: str, version: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "resourceVersion": version}}


def test_a_watch_yields_whole_events_across_chunks_with_bookmarks_and_resumes_where_asked(
        ) -> None:
    events = [{"type": "ADDED", "object": _pod("a", "11")},
              {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "12"}}},
              {"type": "MODIFIED", "object": _pod("a" * 300, "13")}]
    seen: list[dict[str, Any]] = []
    kube, counted = _kube(Stream(events), seen)

    async def main() -> list[dict[str, Any]]:
        return [e async for e in kube.watch("pods", "shop", "10", timeout_seconds=5)]

    got = asyncio.run(main())
    kube.close()
    assert got == events
    (call,) = seen
    assert call["namespace"] == "shop" and call["resource_version"] == "10"
    assert call["watch"] is True and call["allow_watch_bookmarks"] is True
    assert call["timeout_seconds"] == 5 and call["_preload_content"] is False
    assert counted == [("watch", "pods", "200")]


def test_410_gone_in_the_stream_or_as_an_answer_asks_for_a_relist() -> None:
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410,
                                        "message": "too old resource version: 5 (90)"}}
    kube, _ = _kube(Stream([gone]), [])

    async def drain(k: Kube) -> None:
        async for _ in k.watch("pods", "shop", "5"):
            pass

    with pytest.raises(Gone, match="too old"):
        asyncio.run(drain(kube))
    kube.close()
    kube, _ = _kube(kubernetes.client.ApiException(status=410, reason="Gone"), [])
    with pytest.raises(Gone):
        asyncio.run(drain(kube))
    kube.close()
    kube, _ = _kube(kubernetes.client.ApiException(status=500, reason="boom"), [])
    with pytest.raises(Unavailable):
        asyncio.run(drain(kube))
    kube.close()


def test_a_watch_the_reader_leaves_early_is_shut_down() -> None:
    stream = Stream([{"type": "ADDED", "object": _pod(f"p{i}", str(i))} for i in range(50)])
    kube, _ = _kube(stream, [])

    async def main() -> None:
        async for _ in kube.watch("pods", "shop", "1"):
            break

    asyncio.run(main())
    kube.close()
    assert stream.closed


def test_an_unwatched_resource_is_refused_before_any_request() -> None:
    kube, counted = _kube(Stream([]), [])

    async def main() -> None:
        async for _ in kube.watch("secrets", "shop", "1"):
            pass

    with pytest.raises(ValueError, match="does not watch secrets"):
        asyncio.run(main())
    kube.close()
    assert counted == []
