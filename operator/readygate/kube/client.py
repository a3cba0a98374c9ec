"""Every call readygate makes to the Kubernetes API, run off the event loop.

The ``kubernetes`` client is synchronous, so each call runs in a bounded thread pool and the
operator's event loop never blocks. Objects come back as plain dicts with the API's own
camelCase keys. API errors are mapped to a small tree, drawn here:

    KubeError
    ├── NotFound          404
    ├── Conflict          409
    ├── Refused           400/403/422: the request itself is wrong or forbidden — permanent
    └── Unavailable       429, 5xx, connection and timeout errors — worth retrying

``ensure`` is idempotent: create, and on 409 bring the existing object up to date only when the
hash of what was asked (``manifests.ANNOTATION_HASH``) differs — and only when that object is
owned by the same ReadinessCheck: an object of the same name that readygate did not create is
never replaced (``Refused``). Jobs and Secrets are created the same way.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import functools
import json
import logging
from collections.abc import Mapping
from typing import Any

import kubernetes
import urllib3

from readygate.api.schema import GROUP, PLURAL, VERSION
from readygate.kube import manifests
from readygate.kube.selectors import SelectorError, from_map

log = logging.getLogger(__name__)
Obj = dict[str, Any]


class KubeError(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFound(KubeError):
    pass


class Conflict(KubeError):
    pass


class Refused(KubeError):
    pass


class Unavailable(KubeError):
    pass


def load_config() -> None:
    """In-cluster credentials when running in a pod, else the kubeconfig (``KUBECONFIG``)."""
    try:
        kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]


def _map_error(exc: Exception) -> KubeError:
    if isinstance(exc, kubernetes.client.ApiException):
        status = int(exc.status or 0)
        try:
            message = json.loads(exc.body or "{}").get("message") or str(exc.reason)
        except (ValueError, AttributeError):
            message = str(exc.reason)
        cls: type[KubeError]
        if status == 404:
            cls = NotFound
        elif status == 409:
            cls = Conflict
        elif status == 429 or status >= 500 or status == 0:
            cls = Unavailable
        else:
            cls = Refused
        return cls(f"{status}: {message}", status)
    return Unavailable(f"{type(exc).__name__}: {exc}")


def bearer_token(config: Any) -> str | None:
    """The ``Authorization`` value of a client configuration's token, or None (client
    certificates). Client versions keep it under different keys, with or without "Bearer"."""
    for setting in (config.auth_settings() or {}).values():
        if setting.get("in") == "header" and str(setting.get("key")).lower() == "authorization":
            value = str(setting.get("value") or "")
            if not value:
                return None
            return value if value.lower().startswith("bearer ") else f"Bearer {value}"
    return None


def owner_uids(obj: Mapping[str, Any]) -> set[str]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return {str(r.get("uid")) for r in refs if r.get("uid")}


def _require_owner(kind: str, current: Mapping[str, Any], wanted: Mapping[str, Any]) -> None:
    """An object readygate meant to create exists already: go on only if it is ours (owned by
    the same ReadinessCheck); anything else is left untouched and refused."""
    mine = owner_uids(wanted)
    if mine and not mine & owner_uids(current):
        name = (current.get("metadata") or {}).get("name")
        raise Refused(f"{kind} {name} already exists and is not owned by this ReadinessCheck; "
                      "readygate leaves it untouched: delete or rename it, or rename the check",
                      409)


class Kube:
    """Async facade over the synchronous client. One per operator (or per test)."""

    def __init__(self, api_client: Any | None = None, workers: int = 16) -> None:
        if api_client is None:
            # One HTTP connection per thread that may call at once: the client's own default
            # pool (cpu_count * 5) is smaller than this thread pool on small nodes, and a
            # thread without a connection waits, or opens one the pool then throws away.
            config = kubernetes.client.Configuration.get_default_copy()
            config.connection_pool_maxsize = max(workers,
                                                 config.connection_pool_maxsize or 0)
            api_client = kubernetes.client.ApiClient(config)
        self.api = api_client
        self.core = kubernetes.client.CoreV1Api(self.api)
        self.apps = kubernetes.client.AppsV1Api(self.api)
        self.custom = kubernetes.client.CustomObjectsApi(self.api)
        self.batch = kubernetes.client.BatchV1Api(self.api)
        self.discovery = kubernetes.client.DiscoveryV1Api(self.api)
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="kube")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.api.close()

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("_request_timeout", 30)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))
        except (kubernetes.client.ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _map_error(exc) from exc

    async def _json(self, fn: Any, *args: Any, **kwargs: Any) -> Obj:
        resp = await self._call(fn, *args, _preload_content=False, **kwargs)
        data: Obj = json.loads(resp.data)
        return data

    # -- the ReadinessCheck itself ------------------------------------------------------------
    async def get_check(self, namespace: str, name: str) -> Obj:
        return await self._json(self.custom.get_namespaced_custom_object,
                                GROUP, VERSION, namespace, PLURAL, name)

    async def patch_check_status(self, namespace: str, name: str, patch: Mapping[str, Any]) -> Obj:
        return await self._json(self.custom.patch_namespaced_custom_object_status,
                                GROUP, VERSION, namespace, PLURAL, name, dict(patch))

    # -- owned children ------------------------------------------------------------------------
    async def ensure(self, namespace: str, body: Mapping[str, Any]) -> Obj:
        kind = body["kind"]
        create, read, replace = {
            "Deployment": (self.apps.create_namespaced_deployment,
                           self.apps.read_namespaced_deployment,
                           self.apps.replace_namespaced_deployment),
            "Service": (self.core.create_namespaced_service, self.core.read_namespaced_service,
                        self.core.replace_namespaced_service),
        }[kind]
        try:
            return await self._json(create, namespace, dict(body))
        except Conflict:
            pass
        name = body["metadata"]["name"]
        current = await self._json(read, name, namespace)
        _require_owner(kind, current, body)
        if manifests.spec_hash(current) == manifests.spec_hash(body):
            return current
        updated = json.loads(json.dumps(body))
        updated["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if kind == "Service":  # immutable fields stay as allocated
            updated["spec"]["clusterIP"] = current["spec"].get("clusterIP")
        log.info("updating %s %s/%s to the current spec", kind, namespace, name)
        return await self._json(replace, name, namespace, updated)

    # -- what the checks observe ---------------------------------------------------------------
    async def get_deployment(self, namespace: str, name: str) -> Obj:
        return await self._json(self.apps.read_namespaced_deployment, name, namespace)

    async def get_statefulset(self, namespace: str, name: str) -> Obj:
        return await self._json(self.apps.read_namespaced_stateful_set, name, namespace)

    async def get_service(self, namespace: str, name: str) -> Obj:
        return await self._json(self.core.read_namespaced_service, name, namespace)

    async def list_endpoint_slices(self, namespace: str, service: str) -> list[Obj]:
        data = await self._json(self.discovery.list_namespaced_endpoint_slice, namespace,
                                label_selector=f"kubernetes.io/service-name={service}")
        return list(data.get("items") or [])

    async def list_services(self, namespace: str) -> list[Obj]:
        data = await self._json(self.core.list_namespaced_service, namespace)
        return list(data.get("items") or [])

    async def list_pods(self, namespace: str, selector: str | Mapping[str, str]) -> list[Obj]:
        """The pods a label selector (query string, or a map of labels) selects; never every
        pod of the namespace: an empty selector is refused (``selectors.SelectorError``)."""
        query = selector if isinstance(selector, str) else from_map(selector)
        if not query:
            raise SelectorError("the selector is empty: it would select every pod")
        data = await self._json(self.core.list_namespaced_pod, namespace, label_selector=query)
        return list(data.get("items") or [])

    async def pod_log(self, namespace: str, pod: str, container: str | None, *,
                      previous: bool, tail_lines: int) -> list[str]:
        kwargs: dict[str, Any] = {"tail_lines": tail_lines, "previous": previous}
        if container:
            kwargs["container"] = container
        resp = await self._call(self.core.read_namespaced_pod_log, pod, namespace,
                                _preload_content=False, **kwargs)
        text: str = resp.data.decode("utf-8", errors="replace")
        return text.splitlines()

    async def get_pod(self, namespace: str, name: str) -> Obj:
        return await self._json(self.core.read_namespaced_pod, name, namespace)

    async def list_all_pods(self, namespace: str) -> list[Obj]:
        data = await self._json(self.core.list_namespaced_pod, namespace)
        return list(data.get("items") or [])

    async def delete_pod(self, namespace: str, name: str, *, grace_seconds: int,
                         uid: str | None = None) -> None:
        """Delete one pod; with ``uid`` only that incarnation (a 409 if it was replaced)."""
        body: dict[str, Any] = {"gracePeriodSeconds": grace_seconds}
        if uid:
            body["preconditions"] = {"uid": uid}
        with contextlib.suppress(NotFound):
            await self._call(self.core.delete_namespaced_pod, name, namespace, body=body)

    async def patch_pod_condition(self, namespace: str, name: str, uid: str,
                                  condition: Mapping[str, Any]) -> Obj:
        """Set one pod condition with a strategic merge on ``pods/status``.

        PodStatus.conditions merges by ``type``, so this touches only that condition and never
        the kubelet's own; ``metadata.uid`` in the patch is a precondition (409/422 when the
        pod was replaced under the same name).
        """
        patch = {"metadata": {"uid": uid}, "status": {"conditions": [dict(condition)]}}
        return await self._json(self.core.patch_namespaced_pod_status, name, namespace, patch)

    async def get_node(self, name: str) -> Obj:
        return await self._json(self.core.read_node, name)

    async def kubelet_summary(self, node: Mapping[str, Any], *, insecure: bool = False) -> Obj:
        """The kubelet's ``/stats/summary`` of a node, asked of the kubelet itself.

        Authorized as ``nodes/stats`` (get) by the kubelet's webhook, with the operator's own
        credentials; deliberately not through the API server's ``nodes/proxy``, which would
        need a far broader permission.
        """
        status = node.get("status") or {}
        address = next((a["address"] for a in status.get("addresses") or []
                        if a.get("type") == "InternalIP"), None)
        port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get(
            "Port", 10250)
        if not address:
            raise Refused(f"node {node['metadata']['name']} has no InternalIP", 0)
        host = f"[{address}]" if ":" in address else address
        url = f"https://{host}:{port}/stats/summary?only_cpu_and_memory=true"
        data: Obj = await self._loop_call(self._kubelet_get, url, insecure)
        return data

    def _kubelet_get(self, url: str, insecure: bool) -> Obj:
        config = self.api.configuration
        headers = {"Accept": "application/json"}
        token = bearer_token(config)
        if token:
            headers["Authorization"] = token
        if insecure:
            pool = urllib3.PoolManager(cert_reqs="CERT_NONE", cert_file=config.cert_file,
                                       key_file=config.key_file)
        else:
            pool = self.api.rest_client.pool_manager
        resp = pool.request("GET", url, headers=headers, timeout=10.0, retries=False)
        if resp.status != 200:
            raise kubernetes.client.ApiException(status=resp.status, reason=resp.reason)
        data: Obj = json.loads(resp.data)
        return data

    async def _loop_call(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, functools.partial(fn, *args))
        except (kubernetes.client.ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _map_error(exc) from exc

    # -- distributed load: Jobs and the Secret holding their plan ------------------------------
    async def create_secret(self, namespace: str, body: Mapping[str, Any]) -> Obj:
        try:
            return await self._json(self.core.create_namespaced_secret, namespace, dict(body))
        except Conflict:
            current = await self._json(self.core.read_namespaced_secret,
                                       body["metadata"]["name"], namespace)
            _require_owner("Secret", current, body)
            if current.get("data") != body.get("data") and body.get("data") is not None:
                raise Refused(f"Secret {body['metadata']['name']} already exists with other "
                              "content", 409) from None
            return current

    async def delete_secret(self, namespace: str, name: str) -> None:
        with contextlib.suppress(NotFound):
            await self._call(self.core.delete_namespaced_secret, name, namespace)

    async def create_job(self, namespace: str, body: Mapping[str, Any]) -> Obj:
        try:
            return await self._json(self.batch.create_namespaced_job, namespace, dict(body))
        except Conflict:
            current = await self._json(self.batch.read_namespaced_job,
                                       body["metadata"]["name"], namespace)
            _require_owner("Job", current, body)
            return current

    async def list_jobs(self, namespace: str, selector: Mapping[str, str]) -> list[Obj]:
        label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        data = await self._json(self.batch.list_namespaced_job, namespace,
                                label_selector=label_selector)
        return list(data.get("items") or [])

    async def delete_job(self, namespace: str, name: str) -> None:
        with contextlib.suppress(NotFound):
            await self._call(self.batch.delete_namespaced_job, name, namespace,
                             body={"propagationPolicy": "Background"})

    async def secret_value(self, namespace: str, name: str, key: str) -> str:
        data = await self._json(self.core.read_namespaced_secret, name, namespace)
        raw = (data.get("data") or {}).get(key)
        if raw is None:
            raise NotFound(f"Secret {name} has no key {key!r}", 404)
        try:
            return base64.b64decode(raw, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise Refused(f"Secret {name} key {key!r} is not UTF-8 text", 422) from None
