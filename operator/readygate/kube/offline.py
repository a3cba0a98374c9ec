"""The ``Kube`` a run uses outside any cluster (``readygate check -f FILE --url URL``).

The operator's own runner, stages, judges and status writer run unchanged; only the API behind
them is this: the check's status is kept in memory (status patches are JSON merge patches, as
the API server applies them), header values come from what the user passed instead of Secrets,
there are no load Jobs of earlier runs, and any other request is refused, saying that it needs a
cluster. So a pipeline gets the verdict, score and messages the operator would give for the same
spec and URL.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import kubernetes

from readygate.kube.client import Kube, NotFound, Obj, Refused


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: a mapping merges key by key, ``None`` removes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


class Offline(Kube):
    def __init__(self, check: Mapping[str, Any], secrets: Mapping[tuple[str, str], str],
                 secret_hint: str = "") -> None:
        super().__init__(kubernetes.client.ApiClient(kubernetes.client.Configuration()),
                         workers=1)
        meta = check.get("metadata") or {}
        self.obj: Obj = {"metadata": {"namespace": meta.get("namespace") or "default",
                                      "name": meta.get("name") or "check",
                                      "generation": 1, "resourceVersion": "1"},
                         "spec": copy.deepcopy(dict(check.get("spec") or {})), "status": {}}
        self.secrets = dict(secrets)
        self.secret_hint = secret_hint  # how to pass a missing value, for the message

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        raise Refused(f"{getattr(fn, '__name__', 'this request')} needs a cluster; "
                      "`readygate check --url` runs the checks that need none", 0)

    async def _loop_call(self, fn: Any, *args: Any) -> Any:
        raise Refused("reading a kubelet needs a cluster", 0)

    async def get_check(self, namespace: str, name: str) -> Obj:
        return copy.deepcopy(self.obj)

    async def patch_check_status(self, namespace: str, name: str, patch: Mapping[str, Any]) -> Obj:
        self.obj["status"] = merge_patch(self.obj.get("status") or {}, patch.get("status") or {})
        meta = self.obj["metadata"]
        meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
        return copy.deepcopy(self.obj)

    async def secret_value(self, namespace: str, name: str, key: str) -> str:
        value = self.secrets.get((name, key))
        if value is None:
            hint = self.secret_hint.format(name=name, key=key) if self.secret_hint else ""
            raise NotFound(f"Secret {name} key {key!r} was not given{hint}", 404)
        return value

    async def list_jobs(self, namespace: str, selector: Mapping[str, str]) -> list[Obj]:
        return []  # no load Jobs of earlier runs out here
