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

Every request is counted by verb and resource through ``on_request`` (the operator's
``readygate_api_requests_total``). ``list_objects`` and ``watch`` feed the shared watch cache
(``kube.watchcache``): a watch streams in a thread of its own, outside the pool, so a long-lived
connection never takes a worker from short calls.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import functools
import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import kubernetes
import urllib3

from readygate.api.schema import GROUP, PLURAL, VERSION
from readygate.kube import manifests
from readygate.kube.selectors import SelectorError, from_map

log = logging.getLogger(__name__)
Obj = dict[str, Any]
OnRequest = Callable[[str, str, str], None]  # (verb, resource, code)
WATCH_CONNECTIONS = 256  # connections kept for watches (4 per watched namespace)
MAX_WATCH_LINE = 8 * 1024 * 1024  # one event is one object: far below etcd's own limit of it
LOG_BYTES = 256 * 1024  # of a container log tail: its last lines are normally a few KiB
_VERBS = {"read": "get", "get": "get", "list": "list", "create": "create", "replace": "update",
          "patch": "patch", "delete": "delete"}
_RESOURCES = {"pod": "pods", "pod_log": "pods/log", "pod_status": "pods/status",
              "deployment": "deployments", "stateful_set": "statefulsets",
              "service": "services", "endpoint_slice": "endpointslices", "secret": "secrets",
              "job": "jobs", "custom_object": "readinesschecks",
              "custom_object_status": "readinesschecks/status", "node": "nodes"}
_METHOD = re.compile(r"^(?P<verb>[a-z]+)_(?:namespaced_)?(?P<resource>[a-z_]+)$")


def describe(method: str) -> tuple[str, str]:
    """(verb, resource) of a client method's name, as the API server's metrics spell them:
    ``list_namespaced_pod`` -> (list, pods), ``read_namespaced_pod_log`` -> (get, pods/log)."""
    m = _METHOD.match(method)
    if m is None or m["verb"] not in _VERBS:
        return "other", method
    return _VERBS[m["verb"]], _RESOURCES.get(m["resource"], m["resource"])


class Gone(Exception):
    """410: the resourceVersion a watch resumes from is too old; list again."""


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


def load_user_config(kubeconfig: str | None = None, context: str | None = None) -> str:
    """A person's kubeconfig (``KUBECONFIG`` or ``kubeconfig``, its current context or
    ``context``) for the command line; returns that context's namespace (else ``default``)."""
    try:
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context)
        contexts, active = kubernetes.config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=kubeconfig)
    except (kubernetes.config.ConfigException, OSError) as exc:
        raise KubeError(f"cannot use the kubeconfig: {exc}") from exc
    chosen = next((c for c in contexts or [] if c.get("name") == context), None) \
        if context else active
    namespace = ((chosen or {}).get("context") or {}).get("namespace")
    return str(namespace) if namespace else "default"


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

    def __init__(self, api_client: Any | None = None, workers: int = 16,
                 on_request: OnRequest | None = None) -> None:
        if api_client is None:
            # One HTTP connection per thread that may call at once: the client's own default
            # pool (cpu_count * 5) is smaller than this thread pool on small nodes, and a
            # thread without a connection waits, or opens one the pool then throws away.
            config = kubernetes.client.Configuration.get_default_copy()
            config.connection_pool_maxsize = max(workers,
                                                 config.connection_pool_maxsize or 0)
            api_client = kubernetes.client.ApiClient(config)
            # Watches hold a connection each for minutes: they get a client (and pool) of
            # their own, so they never crowd the calls' pool ("Connection pool is full,
            # discarding connection", and a new TLS handshake per call, at 1,000 checks).
            watch_config = kubernetes.client.Configuration.get_default_copy()
            watch_config.connection_pool_maxsize = WATCH_CONNECTIONS
            self.watch_api: Any = kubernetes.client.ApiClient(watch_config)
        else:
            self.watch_api = api_client
        self.api = api_client
        self.core = kubernetes.client.CoreV1Api(self.api)
        self.apps = kubernetes.client.AppsV1Api(self.api)
        self.custom = kubernetes.client.CustomObjectsApi(self.api)
        self.batch = kubernetes.client.BatchV1Api(self.api)
        self.discovery = kubernetes.client.DiscoveryV1Api(self.api)
        if self.watch_api is self.api:
            self._watch_core, self._watch_apps, self._watch_batch = (self.core, self.apps,
                                                                     self.batch)
        else:
            self._watch_core = kubernetes.client.CoreV1Api(self.watch_api)
            self._watch_apps = kubernetes.client.AppsV1Api(self.watch_api)
            self._watch_batch = kubernetes.client.BatchV1Api(self.watch_api)
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="kube")
        self.on_request: OnRequest = on_request or (lambda verb, resource, code: None)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.api.close()
        if self.watch_api is not self.api:
            self.watch_api.close()

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("_request_timeout", 30)
        loop = asyncio.get_running_loop()
        verb, resource = describe(getattr(fn, "__name__", "other"))
        try:
            result = await loop.run_in_executor(self._pool,
                                                functools.partial(fn, *args, **kwargs))
        except (kubernetes.client.ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            mapped = _map_error(exc)
            self.on_request(verb, resource, str(mapped.status or 0))
            raise mapped from exc
        self.on_request(verb, resource, str(getattr(result, "status", 200) or 200))
        return result

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

    async def list_checks(self, namespace: str | None) -> list[Obj]:
        """The checks of a namespace, or of every namespace (None); for the command line."""
        if namespace is None:
            data = await self._json(self.custom.list_cluster_custom_object, GROUP, VERSION,
                                    PLURAL)
        else:
            data = await self._json(self.custom.list_namespaced_custom_object, GROUP, VERSION,
                                    namespace, PLURAL)
        return list(data.get("items") or [])

    async def annotate_check(self, namespace: str, name: str,
                             annotations: Mapping[str, str | None]) -> Obj:
        """Merge-patch the check's annotations (None removes one): ``kubectl readygate rerun``."""
        return await self._json(self.custom.patch_namespaced_custom_object, GROUP, VERSION,
                                namespace, PLURAL, name,
                                {"metadata": {"annotations": dict(annotations)}})

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
        # the kubelet stops at limit_bytes: lines of any length cannot grow the answer
        kwargs: dict[str, Any] = {"tail_lines": tail_lines, "previous": previous,
                                  "limit_bytes": LOG_BYTES}
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
            result = await loop.run_in_executor(self._pool, functools.partial(fn, *args))
        except (kubernetes.client.ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            mapped = _map_error(exc)
            self.on_request("get", "nodes/stats", str(mapped.status or 0))
            raise mapped from exc
        self.on_request("get", "nodes/stats", "200")
        return result

    # -- the watch cache's feed ----------------------------------------------------------------
    def _lister(self, resource: str, *, watch: bool = False) -> Any:
        core, apps, batch = ((self._watch_core, self._watch_apps, self._watch_batch) if watch
                             else (self.core, self.apps, self.batch))
        try:
            return {"pods": core.list_namespaced_pod,
                    "deployments": apps.list_namespaced_deployment,
                    "statefulsets": apps.list_namespaced_stateful_set,
                    "jobs": batch.list_namespaced_job}[resource]
        except KeyError:
            raise ValueError(f"readygate does not watch {resource}") from None

    async def list_objects(self, resource: str, namespace: str,
                           label_selector: str | None = None) -> tuple[list[Obj], str]:
        """Every object of a resource in a namespace (that the selector selects), and the
        list's resourceVersion to watch from."""
        kwargs: dict[str, Any] = {"label_selector": label_selector} if label_selector else {}
        data = await self._json(self._lister(resource), namespace, **kwargs)
        return list(data.get("items") or []), str((data.get("metadata") or {}).get(
            "resourceVersion") or "")

    async def watch(self, resource: str, namespace: str, resource_version: str, *,
                    label_selector: str | None = None,
                    timeout_seconds: int = 300) -> AsyncIterator[Obj]:
        """The watch events (``{"type", "object"}``) after ``resource_version``, with
        bookmarks, until the server ends the watch (``timeout_seconds``). ``Gone`` when the
        version is too old (relist); ``KubeError`` on any other failure."""
        fn = self._lister(resource, watch=True)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Obj | BaseException | None] = asyncio.Queue()
        held: dict[str, Any] = {}
        stop = threading.Event()

        def put(item: Obj | BaseException | None) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone (shutdown): nobody is reading
                stop.set()

        def stream() -> None:
            try:
                kwargs: dict[str, Any] = {"label_selector": label_selector} \
                    if label_selector else {}
                resp = fn(namespace, watch=True, resource_version=resource_version,
                          allow_watch_bookmarks=True, timeout_seconds=timeout_seconds,
                          _preload_content=False, _request_timeout=(10, timeout_seconds + 30),
                          **kwargs)
                held["resp"] = resp
                buffer = b""
                for chunk in resp.stream(64 * 1024, decode_content=True):
                    if stop.is_set():
                        break
                    buffer += chunk
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        if line.strip():
                            put(json.loads(line))
                    if len(buffer) > MAX_WATCH_LINE:
                        raise Unavailable(f"a watch event of {resource} is over "
                                          f"{MAX_WATCH_LINE} bytes")
                put(None)
            except BaseException as exc:  # handed to the loop, raised there
                put(exc)

        self.on_request("watch", resource, "200")
        thread = threading.Thread(target=stream, name=f"watch {resource} {namespace}",
                                  daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    if stop.is_set():
                        return
                    if isinstance(item, (kubernetes.client.ApiException,
                                         urllib3.exceptions.HTTPError, OSError)):
                        mapped = _map_error(item)
                        if mapped.status == 410:
                            raise Gone(str(mapped)) from item
                        raise mapped from item
                    if isinstance(item, (KubeError, ValueError)):
                        raise item
                    raise Unavailable(f"watch of {resource}: {type(item).__name__}") from item
                if item.get("type") == "ERROR":
                    status = item.get("object") or {}
                    if status.get("code") == 410:
                        raise Gone(str(status.get("message") or "410 Gone"))
                    raise Unavailable(f"watch of {resource}: {status.get('message')}",
                                      int(status.get("code") or 0))
                yield item
        finally:
            stop.set()
            resp = held.get("resp")
            if resp is not None:
                with contextlib.suppress(Exception):
                    resp.shutdown()  # unblocks the thread's read
                with contextlib.suppress(Exception):
                    resp.release_conn()

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

    async def secret_meta(self, namespace: str, name: str) -> Obj | None:
        """A Secret's metadata (its values are dropped at once), or None when there is none."""
        try:
            data = await self._json(self.core.read_namespaced_secret, name, namespace)
        except NotFound:
            return None
        return {"metadata": data.get("metadata") or {}}

    async def delete_secret(self, namespace: str, name: str, *, uid: str | None = None) -> None:
        """Delete a Secret; with ``uid``, only that very object (a precondition: one made again
        under the same name in between stays)."""
        kwargs = {"body": {"preconditions": {"uid": uid}}} if uid else {}
        with contextlib.suppress(NotFound, Conflict):
            await self._call(self.core.delete_namespaced_secret, name, namespace, **kwargs)

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
