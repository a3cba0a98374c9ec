"""An in-memory Kubernetes API behind the interface of ``readygate.kube.client.Kube``.

``FakeKube`` has every public method of ``Kube`` with the same name and signature (a test in
``test_fakes.py`` compares them), and is a class of its own: nothing here can reach the real
client. Pass it where the operator wants a ``Kube`` with ``typing.cast(Kube, fake)``.

What it keeps like an API server does:

* objects by (kind, namespace, name), as JSON-shaped dicts (every write and read goes through a
  JSON round trip), each with ``metadata.uid``, ``creationTimestamp``, ``generation`` (bumped
  when ``spec`` changes) and ``resourceVersion`` (one counter for the whole store);
* the ReadinessCheck's status subresource: a JSON merge patch (RFC 7386) of ``status`` only,
  with ``metadata.resourceVersion`` in the body as a precondition (409 when stale), then the
  CRD's structural schema (``crds/``): unknown fields pruned, types, enums and bounds checked
  (422 otherwise), defaults applied to ``spec`` on create;
* create (409 when the name is taken), ``ensure``'s create-or-update-on-hash (and, like the real
  facade, never adopting an object another owner holds), label selectors (``=``, ``!=``,
  ``in``, ``notin``, exists; a map or a query, an empty one refused as the facade does), pod
  deletion with a ``uid`` precondition (409 when the pod was replaced) and a
  ``deletionTimestamp`` while the pod terminates, ``pods/status`` condition patches merged by
  ``type`` with a uid precondition, Secrets (``stringData`` becomes base64 ``data``), Jobs,
  Nodes, EndpointSlices (put by the test), pod logs (set by the test), and a kubelet
  ``/stats/summary`` built from the pods.

For tests: ``calls`` (the facade calls: method, args, time), ``requests`` (the API requests
they made: verb, resource, namespace, name), ``fail`` (a queue of errors for the next calls of
a method), and direct access to the store (``put``, ``get``, ``set_check_spec``,
``patch_status_as``, ``annotate``, ``body``). ``FakeController`` plays the Deployment
controller and the kubelet: it makes the pods of every Deployment and runs them Ready, crashing,
unschedulable or failing to pull their image.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import dataclasses
import datetime
import functools
import hashlib
import itertools
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml

from readygate.api.schema import GROUP, KIND, PLURAL, VERSION
from readygate.kube import manifests
from readygate.kube.client import (
    Conflict,
    Gone,
    Kube,
    KubeError,
    NotFound,
    Refused,
    Unavailable,
)
from readygate.kube.offline import merge_patch  # RFC 7386, as the API server applies it
from readygate.kube.selectors import SelectorError, from_map

Obj = dict[str, Any]
Key = tuple[str, str, str]  # (kind, namespace, name); "" namespace for cluster-scoped kinds

CRD = Path(__file__).resolve().parents[2] / "crds" / f"{PLURAL}.{GROUP}.yaml"
RESOURCES = {"ReadinessCheck": PLURAL, "Deployment": "deployments",
             "StatefulSet": "statefulsets", "Service": "services", "Pod": "pods",
             "Secret": "secrets", "Job": "jobs", "Node": "nodes",
             "EndpointSlice": "endpointslices"}
API_VERSIONS = {"ReadinessCheck": f"{GROUP}/{VERSION}", "Deployment": "apps/v1",
                "StatefulSet": "apps/v1", "Service": "v1", "Pod": "v1", "Secret": "v1",
                "Job": "batch/v1", "Node": "v1", "EndpointSlice": "discovery.k8s.io/v1"}
SERVICE_CIDR = "10.96.0."
POD_CIDR = "10.244.0."
NODE_IP = "10.0.0.1"


def _kind_of(resource: str) -> str:
    for kind, plural in RESOURCES.items():
        if plural == resource:
            return kind
    raise ValueError(f"readygate does not watch {resource}")


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(value: Any) -> Any:
    """What the wire makes of a value: JSON types only (tuples become lists). NaN and Infinity
    are no JSON: the API server refuses a body with them (400)."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except ValueError as exc:
        raise Refused(f"400: the request body is not valid JSON: {exc}", 400) from None


# -- errors as the real client maps them ---------------------------------------------------------
def conflict(message: str = "the object has been modified; please apply your changes to the "
                            "latest version and try again") -> Conflict:
    return Conflict(f"409: {message}", 409)


def unavailable(status: int = 503, message: str = "the server is currently unable to handle "
                                                  "the request") -> Unavailable:
    return Unavailable(f"{status}: {message}", status)


def too_many_requests() -> Unavailable:
    return unavailable(429, "Too many requests, please try again later.")


def not_found(resource: str = "pods", name: str = "x") -> NotFound:
    return NotFound(f'404: {resource} "{name}" not found', 404)


def refused(status: int = 403, message: str = "forbidden") -> Refused:
    return Refused(f"{status}: {message}", status)


def _again(error: KubeError) -> KubeError:
    """A fresh exception of the same class and status (one instance per raise)."""
    return type(error)(str(error), error.status)


# -- the call log and fault injection ------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Call:
    """One call of the facade, as the operator made it."""

    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    at: float  # time.monotonic()


@dataclasses.dataclass(frozen=True)
class Request:
    """One API request a facade call made (``ensure`` makes up to three)."""

    verb: Literal["get", "list", "create", "update", "patch", "delete"]
    resource: str  # "pods", "pods/status", "readinesschecks/status", "nodes/stats", ...
    namespace: str
    name: str


@dataclasses.dataclass
class _Fault:
    error: KubeError
    when: Callable[[Call], bool] | None
    lost_response: bool


# -- the CRD's structural schema, as the API server applies it -----------------------------------
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


@functools.cache
def crd_schema() -> Obj:
    crd = yaml.safe_load(CRD.read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == VERSION)
    schema: Obj = version["schema"]["openAPIV3Schema"]
    return schema


def conform(value: Any, schema: Mapping[str, Any], path: str, errors: list[str], *,
            defaults: bool) -> Any:
    """``value`` pruned of unknown fields and nulls (and defaulted); type, enum and bound
    violations go to ``errors`` as the API server words them (``status.score: Invalid ...``)."""
    kind = schema.get("type")
    if value is None and schema.get("nullable"):
        return None  # a null item of a nullable list (status.charts' gaps)
    if kind is not None and not _TYPES[kind](value):
        errors.append(f"{path}: Invalid value: {json.dumps(value)}: {path} in body must be of "
                      f"type {kind}")
        return value
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: Unsupported value: {json.dumps(value)}")
    if isinstance(value, dict):
        props: Mapping[str, Any] = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        keep = schema.get("x-kubernetes-preserve-unknown-fields", False)
        out: Obj = {}
        for key, item in value.items():
            if item is None:
                continue  # nulls of non-nullable fields are pruned
            if key in props:
                out[key] = conform(item, props[key], f"{path}.{key}", errors, defaults=defaults)
            elif isinstance(extra, Mapping):
                out[key] = conform(item, extra, f"{path}.{key}", errors, defaults=defaults)
            elif keep or (kind is None and not props):
                out[key] = item
        if defaults:
            for key, sub in props.items():
                if key not in out and "default" in sub:
                    out[key] = copy.deepcopy(sub["default"])
        for key in schema.get("required") or []:
            if key not in out:
                errors.append(f"{path}.{key}: Required value")
        return out
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: Too many: {len(value)}: must have at most "
                          f"{schema['maxItems']} items")
        items = schema.get("items")
        if isinstance(items, Mapping):
            return [conform(v, items, f"{path}[{i}]", errors, defaults=defaults)
                    for i, v in enumerate(value)]
        return value
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: Too long: may not be longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: Invalid value: {json.dumps(value)}: {path} in body should "
                          f"match '{schema['pattern']}'")
        if schema.get("format") == "date-time" and not _DATE_TIME.match(value):
            errors.append(f"{path}: Invalid value: {json.dumps(value)}: {path} in body must be "
                          "of type date-time")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: Invalid value: {value}: should be greater than or equal to "
                          f"{schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: Invalid value: {value}: should be less than or equal to "
                          f"{schema['maximum']}")
    return value


_REQUIREMENT = re.compile(r"""^\s*(?:
    !\s*(?P<absent>[^\s!=,()]+)
  | (?P<key>[^\s!=,()]+)\s*(?:
        (?P<op>==|=|!=)\s*(?P<value>[^\s!=,()]*)
      | \s(?P<set>in|notin)\s*\((?P<values>[^()]*)\)
    )?
)\s*$""", re.X)
Selector = str | Mapping[str, str]


def _requirements(query: str) -> list[str]:
    """The comma-separated requirements of a selector (commas inside ``(...)`` kept)."""
    parts, depth, current = [], 0, ""
    for ch in query:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current] if query.strip() else []


def _require_owner(kind: str, current: Mapping[str, Any], wanted: Mapping[str, Any]) -> None:
    """The facade's own rule (as the real one): an existing object of the name readygate meant
    to create is adopted only when the same ReadinessCheck owns it; otherwise Refused (409)."""
    def owners(obj: Mapping[str, Any]) -> set[str]:
        refs = (obj.get("metadata") or {}).get("ownerReferences") or []
        return {str(r.get("uid")) for r in refs if r.get("uid")}
    if owners(wanted) and not owners(wanted) & owners(current):
        name = (current.get("metadata") or {}).get("name")
        raise Refused(f"{kind} {name} already exists and is not owned by this ReadinessCheck; "
                      "readygate leaves it untouched: delete or rename it, or rename the check",
                      409)


def matches(labels: Mapping[str, str] | None, selector: Selector) -> bool:
    """Whether ``labels`` satisfy a label selector the way the API server reads it: a query
    (``a=b,c!=d,e in (f,g),h notin (i),j,!k``) or a map of labels (all equal)."""
    labels = labels or {}
    if not isinstance(selector, str):
        return all(labels.get(k) == v for k, v in selector.items())
    for text in _requirements(selector):
        m = _REQUIREMENT.match(text)
        if m is None:
            raise Refused(f"400: unable to parse requirement: {text!r}", 400)
        if m["absent"]:
            ok = m["absent"] not in labels
        elif m["op"]:
            ok = (labels.get(m["key"]) == m["value"]) == (m["op"] != "!=")
        elif m["set"]:
            values = {v.strip() for v in m["values"].split(",")}
            ok = (labels.get(m["key"]) in values) == (m["set"] == "in")
        else:
            ok = m["key"] in labels
        if not ok:
            return False
    return True


class LiveBody(Mapping[str, Any]):
    """What kopf gives a daemon as ``body``: a read-only view of the latest stored object (kept
    current by kopf's watch; here, with no delay). After a delete it keeps the last version."""

    def __init__(self, kube: FakeKube, kind: str, namespace: str, name: str) -> None:
        self._kube, self._key = kube, (kind, namespace, name)
        self._last: Obj = kube._stored(*self._key)

    def _obj(self) -> Obj:
        self._last = self._kube.objects.get(self._key, self._last)
        return self._last

    def __getitem__(self, key: str) -> Any:
        return copy.deepcopy(self._obj()[key])

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._obj()))

    def __len__(self) -> int:
        return len(self._obj())


class FakeKube:
    """The API server and the ``Kube`` facade in one, in memory. See the module docstring."""

    def __init__(self, *, latency: float = 0.0) -> None:
        self.objects: dict[Key, Obj] = {}
        self.calls: list[Call] = []
        self.requests: list[Request] = []
        self.logs: dict[tuple[str, str, str | None, bool], list[str]] = {}
        self.memory: dict[tuple[str, str, str], float] = {}  # (ns, pod, container) -> bytes
        self.default_memory = 50_000_000.0
        self.latency = latency  # seconds each call takes (0: one event-loop turn)
        self.closed = False
        self._faults: dict[str, list[_Fault]] = {}
        self._version = itertools.count(1000)
        self._ips = itertools.count(1)
        # the watch journal: (version, kind, namespace, event type, object), built by scanning
        # the store (every change bumps the one version counter, wherever it happens)
        self.journal: list[tuple[int, str, str, str, Obj]] = []
        self._journaled: dict[Key, tuple[str, Obj]] = {}
        self.compacted = 0  # a watch from a version before this gets 410 Gone
        self.watch_timeout: float | None = None  # seconds a watch lasts (None: as asked)

    # -- test side: faults and the logs -----------------------------------------------------------
    def fail(self, method: str, *errors: KubeError, when: Callable[[Call], bool] | None = None,
             lost_response: bool = False) -> None:
        """Raise ``errors``, one per call, on the next calls of ``method`` (that ``when``
        accepts). ``lost_response``: the request takes effect and only the answer is lost (a
        timeout after the server acted)."""
        if not hasattr(Kube, method):  # only what the real client can be asked
            raise AttributeError(f"Kube has no method {method!r}")
        self._faults.setdefault(method, []).extend(_Fault(e, when, lost_response)
                                                   for e in errors)

    def pending_faults(self, method: str) -> int:
        return len(self._faults.get(method, []))

    def count(self, method: str) -> int:
        return sum(1 for c in self.calls if c.method == method)

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def count_requests(self, verb: str, resource: str | None = None) -> int:
        return sum(1 for r in self.requests
                   if r.verb == verb and (resource is None or r.resource == resource))

    def compact(self) -> None:
        """Forget the journal, as etcd compacts history: watches resuming from before now get
        410 Gone and must list again."""
        self._sync_journal()
        self.compacted = int(self._next_version())
        self.journal.clear()

    def _sync_journal(self) -> None:
        for key, obj in self.objects.items():
            version = str(obj["metadata"].get("resourceVersion"))
            seen = self._journaled.get(key)
            if seen is None or seen[0] != version:
                kind = "ADDED" if seen is None else "MODIFIED"
                copied = copy.deepcopy(obj)
                self.journal.append((int(version), key[0], key[1], kind, copied))
                self._journaled[key] = (version, copied)
        for key in [k for k in self._journaled if k not in self.objects]:
            _, last = self._journaled.pop(key)
            gone = copy.deepcopy(last)
            gone["metadata"]["resourceVersion"] = self._next_version()
            self.journal.append((int(gone["metadata"]["resourceVersion"]), key[0], key[1],
                                 "DELETED", gone))
        self.journal.sort(key=lambda e: e[0])

    def reset_log(self) -> None:
        self.calls.clear()
        self.requests.clear()

    # -- test side: the store ---------------------------------------------------------------------
    def _next_version(self) -> str:
        return str(next(self._version))

    def _stored(self, kind: str, namespace: str, name: str) -> Obj:
        obj = self.objects.get((kind, namespace, name))
        if obj is None:
            raise NotFound(f'404: {RESOURCES.get(kind, kind.lower())} "{name}" not found', 404)
        return obj

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        obj = self.objects.get((kind, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def must(self, kind: str, namespace: str, name: str) -> Obj:
        return copy.deepcopy(self._stored(kind, namespace, name))

    def select(self, kind: str, namespace: str | None = None,
             selector: Selector | None = None) -> list[Obj]:
        return [copy.deepcopy(o) for (k, ns, _), o in sorted(self.objects.items())
                if k == kind and (namespace is None or ns == namespace)
                and matches(o["metadata"].get("labels"), selector or {})]

    def put(self, body: Mapping[str, Any], namespace: str | None = None) -> Obj:
        """Create ``body`` (any kind) as the API server would; 409 if it exists."""
        kind = body["kind"]
        namespace = namespace if namespace is not None else str(
            body["metadata"].get("namespace") or "")
        return copy.deepcopy(self._create(kind, namespace, body))

    def update(self, kind: str, namespace: str, name: str, change: Callable[[Obj], None]) -> Obj:
        """Change a stored object in place (as its controller or a user would): a new
        resourceVersion, and a new generation when its spec changed."""
        obj = self._stored(kind, namespace, name)
        new = copy.deepcopy(obj)
        change(new)
        return copy.deepcopy(self._replace(kind, namespace, name, new))

    def remove(self, kind: str, namespace: str, name: str) -> None:
        self.objects.pop((kind, namespace, name), None)

    def create_check(self, namespace: str, name: str, spec: Mapping[str, Any],
                     status: Mapping[str, Any] | None = None) -> Obj:
        body: Obj = {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND,
                     "metadata": {"name": name, "namespace": namespace}, "spec": dict(spec)}
        if status is not None:
            body["status"] = dict(status)
        return self.put(body)

    def check(self, namespace: str, name: str) -> Obj:
        return self.must(KIND, namespace, name)

    def set_check_spec(self, namespace: str, name: str, spec: Mapping[str, Any]) -> Obj:
        """A user's edit of the spec: a new generation."""
        def change(obj: Obj) -> None:
            obj["spec"] = _json(spec)
        return self.update(KIND, namespace, name, change)

    def patch_status_as(self, namespace: str, name: str, patch: Mapping[str, Any]) -> Obj:
        """Someone other than readygate merge-patches the check's status (no precondition)."""
        obj = self._stored(KIND, namespace, name)
        return copy.deepcopy(self._patch_status(obj, {"status": dict(patch)}))

    def annotate(self, kind: str, namespace: str, name: str, key: str, value: str) -> Obj:
        """A metadata-only change (kopf's own annotation patches): a new resourceVersion."""
        def change(obj: Obj) -> None:
            obj["metadata"].setdefault("annotations", {})[key] = value
        return self.update(kind, namespace, name, change)

    def body(self, namespace: str, name: str) -> LiveBody:
        """The check as kopf hands it to the daemon."""
        return LiveBody(self, KIND, namespace, name)

    def set_log(self, namespace: str, pod: str, lines: Sequence[str], *,
                container: str | None = None, previous: bool = False) -> None:
        self.logs[(namespace, pod, container, previous)] = list(lines)

    # -- the API server's own rules ----------------------------------------------------------------
    def _create(self, kind: str, namespace: str, body: Mapping[str, Any]) -> Obj:
        obj: Obj = _json(body)
        meta = obj.setdefault("metadata", {})
        name = meta.get("name")
        if not name:
            raise Refused("422: metadata.name: Required value", 422)
        if (kind, namespace, name) in self.objects:
            raise Conflict(f'409: {RESOURCES.get(kind, kind)} "{name}" already exists', 409)
        obj["kind"] = kind
        obj.setdefault("apiVersion", API_VERSIONS.get(kind, "v1"))
        if namespace:
            meta["namespace"] = namespace
        meta.update(uid=str(uuid.uuid4()), resourceVersion=self._next_version(),
                    creationTimestamp=now_rfc3339(), generation=1)
        if kind == KIND:
            obj = self._validated(obj, defaults=True)
        elif kind == "Secret":
            data = dict(obj.get("data") or {})
            for key, text in (obj.pop("stringData", None) or {}).items():
                data[key] = base64.b64encode(str(text).encode()).decode()
            obj["data"] = data
        elif kind == "Service":
            spec = obj.setdefault("spec", {})
            if spec.get("clusterIP") != "None":
                spec["clusterIP"] = SERVICE_CIDR + str(next(self._ips))
            for port in spec.get("ports") or []:
                port.setdefault("targetPort", port.get("port"))
                port.setdefault("protocol", "TCP")
        self.objects[(kind, namespace, name)] = obj
        return obj

    def _replace(self, kind: str, namespace: str, name: str, new: Obj) -> Obj:
        old = self._stored(kind, namespace, name)
        new = _json(new)
        meta = new.setdefault("metadata", {})
        for fixed in ("uid", "creationTimestamp", "namespace", "name"):
            if fixed in old["metadata"]:
                meta[fixed] = old["metadata"][fixed]
        if kind == KIND:  # defaulted before comparing: an unchanged spec is no new generation
            new = self._validated(new, defaults=True)
        meta["generation"] = old["metadata"].get("generation", 1) + (
            1 if new.get("spec") != old.get("spec") else 0)
        meta["resourceVersion"] = self._next_version()
        self.objects[(kind, namespace, name)] = new
        return new

    def _validated(self, obj: Obj, *, defaults: bool) -> Obj:
        errors: list[str] = []
        props = crd_schema()["properties"]
        for part in ("spec", "status"):
            if part in obj:
                obj[part] = conform(obj[part], props[part], part, errors, defaults=defaults)
        if errors:
            name = obj["metadata"].get("name")
            raise Refused(f'422: {KIND}.{GROUP} "{name}" is invalid: ' + ", ".join(errors), 422)
        return obj

    def _patch_status(self, obj: Obj, patch: Mapping[str, Any]) -> Obj:
        meta = obj["metadata"]
        wanted = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted is not None and str(wanted) != meta["resourceVersion"]:
            raise Conflict(f'409: Operation cannot be fulfilled on {PLURAL}.{GROUP} '
                           f'"{meta["name"]}": the object has been modified; please apply your '
                           "changes to the latest version and try again", 409)
        new = copy.deepcopy(obj)
        status = merge_patch(obj.get("status") or {}, _json(patch.get("status") or {}))
        new["status"] = status
        new = self._validated(new, defaults=False)
        new["metadata"]["resourceVersion"] = self._next_version()
        self.objects[(KIND, meta["namespace"], meta["name"])] = new
        return new

    def _write_pod_status(self, namespace: str, name: str, status: Obj) -> None:
        obj = self.objects.get(("Pod", namespace, name))
        if obj is None or obj.get("status") == status:
            return
        obj["status"] = _json(status)
        obj["metadata"]["resourceVersion"] = self._next_version()

    def _log(self, verb: Any, resource: str, namespace: str, name: str = "") -> None:
        self.requests.append(Request(verb, resource, namespace, name))

    # -- the facade --------------------------------------------------------------------------------
    async def _call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                    act: Callable[[], Any]) -> Any:
        call = Call(method, args, dict(kwargs), time.monotonic())
        self.calls.append(call)
        await asyncio.sleep(self.latency)  # the request travels: a cancel here loses it
        fault = self._take_fault(call)
        if fault is not None and not fault.lost_response:
            raise _again(fault.error)
        result = act()
        await asyncio.sleep(0)  # the answer travels back: a cancel here loses only the answer
        if fault is not None:
            raise _again(fault.error)
        return copy.deepcopy(result)

    def _take_fault(self, call: Call) -> _Fault | None:
        queue = self._faults.get(call.method) or []
        for i, fault in enumerate(queue):
            if fault.when is None or fault.when(call):
                return queue.pop(i)
        return None

    def close(self) -> None:
        self.calls.append(Call("close", (), {}, time.monotonic()))
        self.closed = True

    # -- the watch cache's feed
    async def list_objects(self, resource: str, namespace: str,
                           label_selector: str | None = None) -> tuple[list[Obj], str]:
        kind = _kind_of(resource)

        def act() -> tuple[list[Obj], str]:
            self._log("list", resource, namespace)
            self._sync_journal()
            items = [o for (k, ns, _), o in sorted(self.objects.items())
                     if k == kind and ns == namespace
                     and matches(o["metadata"].get("labels"), label_selector or "")]
            return items, str(next(self._version) - 1)
        result: tuple[list[Obj], str] = await self._call(
            "list_objects", (resource, namespace), {"label_selector": label_selector}, act)
        return result

    async def watch(self, resource: str, namespace: str, resource_version: str, *,
                    label_selector: str | None = None,
                    timeout_seconds: int = 300) -> AsyncIterator[Obj]:
        kind = _kind_of(resource)
        await self._call("watch", (resource, namespace, resource_version),
                         {"label_selector": label_selector, "timeout_seconds": timeout_seconds},
                         lambda: self._log("watch", resource, namespace))
        since = int(resource_version or 0)
        if since < self.compacted:
            raise Gone(f"410: too old resource version: {since} ({self.compacted})")
        ends = time.monotonic() + (self.watch_timeout if self.watch_timeout is not None
                                   else timeout_seconds)
        while time.monotonic() < ends and not self.closed:
            self._sync_journal()
            if since < self.compacted:
                raise Gone(f"410: too old resource version: {since} ({self.compacted})")
            for version, k, ns, kind_of_event, obj in list(self.journal):
                if version <= since or k != kind or ns != namespace:
                    continue
                since = version
                if label_selector and not matches(obj["metadata"].get("labels"),
                                                  label_selector):
                    continue
                yield {"type": kind_of_event, "object": copy.deepcopy(obj)}
            await asyncio.sleep(0.005)

    # -- the ReadinessCheck itself
    async def get_check(self, namespace: str, name: str) -> Obj:
        def act() -> Obj:
            self._log("get", PLURAL, namespace, name)
            return self._stored(KIND, namespace, name)
        result: Obj = await self._call("get_check", (namespace, name), {}, act)
        return result

    async def patch_check_status(self, namespace: str, name: str, patch: Mapping[str, Any]) -> Obj:
        body = _json(dict(patch))

        def act() -> Obj:
            self._log("patch", f"{PLURAL}/status", namespace, name)
            return self._patch_status(self._stored(KIND, namespace, name), body)
        result: Obj = await self._call("patch_check_status", (namespace, name, body), {}, act)
        return result

    async def list_checks(self, namespace: str | None) -> list[Obj]:
        def act() -> list[Obj]:
            self._log("list", PLURAL, namespace or "")
            return self.select(KIND, namespace)
        result: list[Obj] = await self._call("list_checks", (namespace,), {}, act)
        return result

    async def annotate_check(self, namespace: str, name: str,
                             annotations: Mapping[str, str | None]) -> Obj:
        wanted = dict(annotations)

        def act() -> Obj:
            self._log("patch", PLURAL, namespace, name)

            def change(obj: Obj) -> None:
                current = obj["metadata"].setdefault("annotations", {})
                for key, value in wanted.items():
                    if value is None:
                        current.pop(key, None)
                    else:
                        current[key] = value
            return self.update(KIND, namespace, name, change)
        result: Obj = await self._call("annotate_check", (namespace, name, wanted), {}, act)
        return result

    # -- owned children
    async def ensure(self, namespace: str, body: Mapping[str, Any]) -> Obj:
        wanted = _json(dict(body))

        def act() -> Obj:
            kind = wanted["kind"]
            if kind not in ("Deployment", "Service"):
                raise KeyError(kind)  # as the real one: only these two
            resource, name = RESOURCES[kind], wanted["metadata"]["name"]
            self._log("create", resource, namespace, name)
            current = self.objects.get((kind, namespace, name))
            if current is None:
                return self._create(kind, namespace, wanted)
            self._log("get", resource, namespace, name)
            _require_owner(kind, current, wanted)
            if manifests.spec_hash(current) == manifests.spec_hash(wanted):
                return current
            updated = copy.deepcopy(wanted)
            updated["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            if kind == "Service":
                updated["spec"]["clusterIP"] = current["spec"].get("clusterIP")
            updated["status"] = current.get("status") or {}
            self._log("update", resource, namespace, name)
            return self._replace(kind, namespace, name, updated)
        result: Obj = await self._call("ensure", (namespace, wanted), {}, act)
        return result

    # -- what the checks observe
    def _reader(self, method: str, kind: str, namespace: str, name: str) -> Any:
        def act() -> Obj:
            self._log("get", RESOURCES[kind], namespace, name)
            return self._stored(kind, namespace, name)
        return self._call(method, (namespace, name), {}, act)

    async def get_deployment(self, namespace: str, name: str) -> Obj:
        result: Obj = await self._reader("get_deployment", "Deployment", namespace, name)
        return result

    async def get_statefulset(self, namespace: str, name: str) -> Obj:
        result: Obj = await self._reader("get_statefulset", "StatefulSet", namespace, name)
        return result

    async def get_service(self, namespace: str, name: str) -> Obj:
        result: Obj = await self._reader("get_service", "Service", namespace, name)
        return result

    async def list_endpoint_slices(self, namespace: str, service: str) -> list[Obj]:
        """The EndpointSlices of a Service, by their ``kubernetes.io/service-name`` label (put
        them with ``put``: no EndpointSlice controller runs here)."""
        def act() -> list[Obj]:
            self._log("list", "endpointslices", namespace)
            return self.select("EndpointSlice", namespace,
                               f"kubernetes.io/service-name={service}")
        result: list[Obj] = await self._call("list_endpoint_slices", (namespace, service), {},
                                             act)
        return result

    async def list_services(self, namespace: str) -> list[Obj]:
        def act() -> list[Obj]:
            self._log("list", "services", namespace)
            return self.select("Service", namespace)
        result: list[Obj] = await self._call("list_services", (namespace,), {}, act)
        return result

    async def list_pods(self, namespace: str, selector: str | Mapping[str, str]) -> list[Obj]:
        # the facade's own side, as the real one: a map becomes a query; empty is refused
        wanted = selector if isinstance(selector, str) else from_map(selector)
        if not wanted:
            raise SelectorError("the selector is empty: it would select every pod")

        def act() -> list[Obj]:
            self._log("list", "pods", namespace)
            return self.select("Pod", namespace, wanted)
        result: list[Obj] = await self._call("list_pods", (namespace, wanted), {}, act)
        return result

    async def pod_log(self, namespace: str, pod: str, container: str | None, *,
                      previous: bool, tail_lines: int) -> list[str]:
        def act() -> list[str]:
            self._log("get", "pods/log", namespace, pod)
            self._stored("Pod", namespace, pod)
            lines = self.logs.get((namespace, pod, container, previous))
            if lines is None:
                lines = self.logs.get((namespace, pod, None, previous))
            if lines is None:
                if previous:
                    raise Refused(f'400: previous terminated container "{container}" in pod '
                                  f'"{pod}" not found', 400)
                lines = []
            return lines[-tail_lines:] if tail_lines > 0 else []
        result: list[str] = await self._call(
            "pod_log", (namespace, pod, container),
            {"previous": previous, "tail_lines": tail_lines}, act)
        return result

    async def get_pod(self, namespace: str, name: str) -> Obj:
        result: Obj = await self._reader("get_pod", "Pod", namespace, name)
        return result

    async def list_all_pods(self, namespace: str) -> list[Obj]:
        def act() -> list[Obj]:
            self._log("list", "pods", namespace)
            return self.select("Pod", namespace)
        result: list[Obj] = await self._call("list_all_pods", (namespace,), {}, act)
        return result

    async def delete_pod(self, namespace: str, name: str, *, grace_seconds: int,
                         uid: str | None = None) -> None:
        def act() -> None:
            self._log("delete", "pods", namespace, name)
            pod = self.objects.get(("Pod", namespace, name))
            if pod is None:
                return  # NotFound: suppressed, as the real one does
            meta = pod["metadata"]
            if uid and meta["uid"] != uid:
                raise Conflict(f"409: Precondition failed: UID in precondition: {uid}, UID in "
                               f"object meta: {meta['uid']}", 409)
            if grace_seconds <= 0:
                self.remove("Pod", namespace, name)
            elif not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = now_rfc3339()
                meta["deletionGracePeriodSeconds"] = grace_seconds
                meta["resourceVersion"] = self._next_version()
        await self._call("delete_pod", (namespace, name),
                         {"grace_seconds": grace_seconds, "uid": uid}, act)

    async def patch_pod_condition(self, namespace: str, name: str, uid: str,
                                  condition: Mapping[str, Any]) -> Obj:
        wanted = _json(dict(condition))

        def act() -> Obj:
            self._log("patch", "pods/status", namespace, name)
            pod = self._stored("Pod", namespace, name)
            if pod["metadata"]["uid"] != uid:
                raise Conflict(f"409: Precondition failed: UID in precondition: {uid}, UID in "
                               f"object meta: {pod['metadata']['uid']}", 409)
            status = copy.deepcopy(pod.get("status") or {})
            conditions = status.setdefault("conditions", [])
            for i, c in enumerate(conditions):  # strategic merge: by type
                if c.get("type") == wanted.get("type"):
                    conditions[i] = {**c, **wanted}
                    break
            else:
                conditions.append(wanted)
            self._write_pod_status(namespace, name, status)
            return pod
        result: Obj = await self._call("patch_pod_condition", (namespace, name, uid, wanted),
                                       {}, act)
        return result

    async def get_node(self, name: str) -> Obj:
        def act() -> Obj:
            self._log("get", "nodes", "", name)
            return self._stored("Node", "", name)
        result: Obj = await self._call("get_node", (name,), {}, act)
        return result

    async def kubelet_summary(self, node: Mapping[str, Any], *, insecure: bool = False) -> Obj:
        snapshot = _json(dict(node))

        def act() -> Obj:
            status = snapshot.get("status") or {}
            address = next((a["address"] for a in status.get("addresses") or []
                            if a.get("type") == "InternalIP"), None)
            if not address:
                raise Refused(f"node {snapshot['metadata']['name']} has no InternalIP", 0)
            name = snapshot["metadata"]["name"]
            self._log("get", "nodes/stats", "", name)
            pods = []
            for (kind, ns, pod_name), pod in sorted(self.objects.items()):
                if kind != "Pod" or (pod.get("spec") or {}).get("nodeName") != name:
                    continue
                containers = [{"name": c["name"], "memory": {"workingSetBytes": self.memory.get(
                    (ns, pod_name, c["name"]), self.default_memory)}}
                    for c in (pod.get("spec") or {}).get("containers") or []]
                pods.append({"podRef": {"name": pod_name, "namespace": ns,
                                        "uid": pod["metadata"]["uid"]},
                             "containers": containers})
            return {"node": {"nodeName": name}, "pods": pods}
        result: Obj = await self._call("kubelet_summary", (snapshot,), {"insecure": insecure}, act)
        return result

    # -- distributed load: Jobs and the Secret holding their plan
    def _create_or_read(self, kind: str, namespace: str, body: Obj) -> Obj:
        resource, name = RESOURCES[kind], body["metadata"]["name"]
        self._log("create", resource, namespace, name)
        try:
            return self._create(kind, namespace, body)
        except Conflict:
            self._log("get", resource, namespace, name)
            current = self._stored(kind, namespace, name)
            _require_owner(kind, current, body)
            if kind == "Secret" and body.get("data") is not None \
                    and current.get("data") != body.get("data"):
                raise Refused(f"Secret {name} already exists with other content", 409) from None
            return current

    def _delete(self, kind: str, namespace: str, name: str) -> None:
        self._log("delete", RESOURCES[kind], namespace, name)
        self.remove(kind, namespace, name)  # NotFound is suppressed by the real one

    async def create_secret(self, namespace: str, body: Mapping[str, Any]) -> Obj:
        wanted = _json(dict(body))
        result: Obj = await self._call("create_secret", (namespace, wanted), {},
                                       lambda: self._create_or_read("Secret", namespace, wanted))
        return result

    async def secret_meta(self, namespace: str, name: str) -> Obj | None:
        def act() -> Obj | None:
            self._log("get", "secrets", namespace, name)
            found = self.get("Secret", namespace, name)
            return None if found is None else {"metadata": copy.deepcopy(found["metadata"])}
        result: Obj | None = await self._call("secret_meta", (namespace, name), {}, act)
        return result

    async def delete_secret(self, namespace: str, name: str, *, uid: str | None = None) -> None:
        def act() -> None:
            found = self.get("Secret", namespace, name)
            if uid is not None and found is not None and found["metadata"].get("uid") != uid:
                return  # the precondition fails (409), suppressed as the real one does
            self._delete("Secret", namespace, name)
        await self._call("delete_secret", (namespace, name), {}, act)

    async def create_job(self, namespace: str, body: Mapping[str, Any]) -> Obj:
        wanted = _json(dict(body))
        result: Obj = await self._call("create_job", (namespace, wanted), {},
                                       lambda: self._create_or_read("Job", namespace, wanted))
        return result

    async def list_jobs(self, namespace: str, selector: Mapping[str, str]) -> list[Obj]:
        wanted = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))

        def act() -> list[Obj]:
            self._log("list", "jobs", namespace)
            return self.select("Job", namespace, wanted)
        result: list[Obj] = await self._call("list_jobs", (namespace, wanted), {}, act)
        return result

    async def delete_job(self, namespace: str, name: str) -> None:
        await self._call("delete_job", (namespace, name), {},
                         lambda: self._delete("Job", namespace, name))

    async def secret_value(self, namespace: str, name: str, key: str) -> str:
        def act() -> str:
            self._log("get", "secrets", namespace, name)
            raw = (self._stored("Secret", namespace, name).get("data") or {}).get(key)
            if raw is None:
                raise NotFound(f"Secret {name} has no key {key!r}", 404)
            try:
                return base64.b64decode(raw, validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise Refused(f"Secret {name} key {key!r} is not UTF-8 text", 422) from None
        result: str = await self._call("secret_value", (namespace, name, key), {}, act)
        return result


# -- the Deployment controller and the kubelet, in miniature -------------------------------------
Mode = Literal["ready", "crash", "unschedulable", "image-pull"]


@dataclasses.dataclass
class Behaviour:
    """How the pods of one Deployment (or one bare pod) run."""

    mode: Mode = "ready"
    ready_after: float = 0.0  # seconds from a pod's creation until its containers are ready
    log: tuple[str, ...] = ()  # what a crashing container printed before it exited
    exit_code: int = 1
    crash_every: float = 0.5  # seconds between restarts of a crashing container


class FakeController:
    """Makes and runs the pods of every Deployment in a ``FakeKube``: ``tick`` once, or keep
    ``running`` in the background. Pods of an older template are replaced, deleted pods are
    finalized (and replaced), each pod's conditions follow its ``Behaviour`` like the kubelet
    sets them (``Ready`` waits for every readiness gate the pod declares), and the Deployment's
    status counts them (observedGeneration, replicas, updated, ready, available)."""

    def __init__(self, kube: FakeKube, node: str = "node-1") -> None:
        self.kube = kube
        self.node = node
        self.behaviours: dict[tuple[str, str], Behaviour] = {}
        self._names = itertools.count(1)
        self._born: dict[str, float] = {}  # pod uid -> when the kubelet first saw it
        if ("Node", "", node) not in kube.objects:
            kube.put({"kind": "Node", "metadata": {"name": node}, "status": {
                "addresses": [{"type": "InternalIP", "address": NODE_IP}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}})

    def behave(self, namespace: str, owner: str, mode: Mode = "ready", **kw: Any) -> Behaviour:
        """Set how the pods of Deployment ``owner`` (or the bare pod ``owner``) run."""
        behaviour = Behaviour(mode=mode, **kw)
        self.behaviours[(namespace, owner)] = behaviour
        return behaviour

    @contextlib.asynccontextmanager
    async def running(self, every: float = 0.02) -> AsyncIterator[FakeController]:
        async def loop() -> None:
            while True:
                self.tick()
                await asyncio.sleep(every)
        task = asyncio.create_task(loop())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def tick(self) -> None:
        kube = self.kube
        for key, pod in list(kube.objects.items()):
            if key[0] == "Pod" and pod["metadata"].get("deletionTimestamp"):
                kube.remove(*key)  # the kubelet finished the graceful deletion
        for (kind, ns, name), dep in list(kube.objects.items()):
            if kind == "Deployment":
                self._deployment(ns, name, dep)
        for (kind, ns, name), pod in list(kube.objects.items()):
            if kind == "Pod":
                self._kubelet(ns, name, pod)
        for (kind, ns, name), dep in list(kube.objects.items()):
            if kind == "Deployment":
                self._deployment_status(ns, name, dep)

    def pods_of(self, namespace: str, deployment: str) -> list[Obj]:
        dep = self.kube.must("Deployment", namespace, deployment)
        return [p for p in self.kube.select("Pod", namespace)
                if _owner_uid(p) == dep["metadata"]["uid"]]

    @staticmethod
    def template_hash(dep: Mapping[str, Any]) -> str:
        template = json.dumps(dep["spec"]["template"], sort_keys=True)
        return hashlib.sha256(template.encode()).hexdigest()[:10]

    def _deployment(self, ns: str, name: str, dep: Obj) -> None:
        kube = self.kube
        uid = dep["metadata"]["uid"]
        wanted = self.template_hash(dep)
        replicas = int(dep["spec"].get("replicas", 1))
        mine = [p for (k, pns, _), p in kube.objects.items()
                if k == "Pod" and pns == ns and _owner_uid(p) == uid
                and not p["metadata"].get("deletionTimestamp")]
        current = [p for p in mine if p["metadata"]["labels"].get("pod-template-hash") == wanted]
        for pod in mine:
            if pod not in current:
                _mark_deleted(kube, pod)
        for pod in current[replicas:]:
            _mark_deleted(kube, pod)
        for _ in range(replicas - len(current)):
            template = dep["spec"]["template"]
            pod_name = f"{name}-{wanted[:8]}-{next(self._names):05d}"
            kube.put({
                "kind": "Pod",
                "metadata": {
                    "name": pod_name, "namespace": ns,
                    "labels": {**(template.get("metadata") or {}).get("labels", {}),
                               "pod-template-hash": wanted},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                         "name": name, "uid": uid, "controller": True}],
                },
                "spec": {**copy.deepcopy(template.get("spec") or {}), "nodeName": self.node},
                "status": {"phase": "Pending"},
            })

    def _behaviour(self, ns: str, pod: Mapping[str, Any]) -> Behaviour:
        name = pod["metadata"]["name"]
        owner = next((r["name"] for r in pod["metadata"].get("ownerReferences") or []
                      if r.get("kind") == "Deployment"), None)
        return (self.behaviours.get((ns, name))
                or (self.behaviours.get((ns, owner)) if owner else None) or Behaviour())

    def _kubelet(self, ns: str, name: str, pod: Obj) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            return
        b = self._behaviour(ns, pod)
        old = pod.get("status") or {}
        created = pod["metadata"]["creationTimestamp"]  # whole seconds: age from our clock
        born = self._born.setdefault(pod["metadata"]["uid"], time.monotonic())
        age = time.monotonic() - born
        status: Obj = {"phase": "Pending", "podIP": old.get("podIP"), "hostIP": NODE_IP,
                       "startTime": created}
        if not status["podIP"]:
            status["podIP"] = POD_CIDR + str(next(self.kube._ips))
        containers = (pod.get("spec") or {}).get("containers") or []
        own: dict[str, tuple[str, str, str]] = {}  # type -> (status, reason, message)
        if b.mode == "unschedulable":
            status.pop("podIP")
            status.pop("hostIP")
            own["PodScheduled"] = ("False", "Unschedulable",
                                   "0/1 nodes are available: 1 Insufficient cpu.")
            statuses: list[Obj] = []
        else:
            own["PodScheduled"] = ("True", "", "")
            own["Initialized"] = ("True", "", "")
            statuses = [self._container(ns, name, c, b, age, created) for c in containers]
            ready = bool(statuses) and all(s["ready"] for s in statuses)
            status["phase"] = "Running" if b.mode != "image-pull" else "Pending"
            own["ContainersReady"] = (("True", "", "") if ready else
                                      ("False", "ContainersNotReady", "containers with unready "
                                       "status: [" + " ".join(c["name"] for c in containers)
                                       + "]"))
            gates = [g["conditionType"] for g in (pod.get("spec") or {}).get("readinessGates")
                     or []]
            conds = {c["type"]: c for c in old.get("conditions") or []}
            missing = [g for g in gates if (conds.get(g) or {}).get("status") != "True"]
            if not ready:
                own["Ready"] = own["ContainersReady"]
            elif missing:
                own["Ready"] = ("False", "ReadinessGatesNotReady",
                                f'corresponding condition of pod readiness gate "{missing[0]}" '
                                "does not exist.")
            else:
                own["Ready"] = ("True", "", "")
        status["containerStatuses"] = statuses
        status["conditions"] = _conditions(old.get("conditions") or [], own)
        self.kube._write_pod_status(ns, name, status)

    def _container(self, ns: str, pod: str, c: Mapping[str, Any], b: Behaviour, age: float,
                   created: str) -> Obj:
        base: Obj = {"name": c["name"], "image": c.get("image", ""), "imageID": "",
                     "restartCount": 0, "ready": False, "started": False}
        if b.mode == "image-pull":
            base["state"] = {"waiting": {"reason": "ImagePullBackOff",
                                         "message": f'Back-off pulling image "{c.get("image")}"'}}
            return base
        if b.mode == "crash":
            restarts = 1 + int(age / b.crash_every)
            finished = now_rfc3339()
            base.update(restartCount=restarts, state={"waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off 10s restarting failed container={c['name']} pod={pod}"}},
                lastState={"terminated": {"exitCode": b.exit_code, "reason": "Error",
                                          "startedAt": created, "finishedAt": finished}})
            if (ns, pod, c["name"], True) not in self.kube.logs:
                self.kube.set_log(ns, pod, b.log, container=c["name"], previous=True)
            return base
        base.update(started=True, ready=age >= b.ready_after,
                    state={"running": {"startedAt": created}})
        return base

    def _deployment_status(self, ns: str, name: str, dep: Obj) -> None:
        uid = dep["metadata"]["uid"]
        wanted = self.template_hash(dep)
        pods = [p for (k, pns, _), p in self.kube.objects.items()
                if k == "Pod" and pns == ns and _owner_uid(p) == uid]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        ready = [p for p in live if _ready(p)]
        status = {
            "observedGeneration": dep["metadata"]["generation"],
            "replicas": len(pods),
            "updatedReplicas": sum(1 for p in live
                                   if p["metadata"]["labels"].get("pod-template-hash") == wanted),
            "readyReplicas": len(ready),
            "availableReplicas": len(ready),
        }
        if len(pods) > len(ready):
            status["unavailableReplicas"] = len(pods) - len(ready)
        if dep.get("status") != status:
            dep["status"] = status
            dep["metadata"]["resourceVersion"] = self.kube._next_version()


def _owner_uid(pod: Mapping[str, Any]) -> str | None:
    return next((r.get("uid") for r in pod["metadata"].get("ownerReferences") or []), None)


def _mark_deleted(kube: FakeKube, pod: Obj) -> None:
    pod["metadata"]["deletionTimestamp"] = now_rfc3339()
    pod["metadata"]["resourceVersion"] = kube._next_version()


def _ready(pod: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _conditions(old: Sequence[Mapping[str, Any]],
                own: Mapping[str, tuple[str, str, str]]) -> list[Obj]:
    """The kubelet's conditions set, everyone else's (readiness gates) kept; a transition time
    moves only when the status flips."""
    out: list[Obj] = []
    by_type = {c["type"]: c for c in old}
    for ctype, (status, reason, message) in own.items():
        before = by_type.get(ctype)
        since = (before.get("lastTransitionTime") if before and before.get("status") == status
                 else now_rfc3339())
        cond: Obj = {"type": ctype, "status": status, "lastTransitionTime": since}
        if reason:
            cond.update(reason=reason, message=message)
        out.append(cond)
    out.extend(dict(c) for c in old if c["type"] not in own)
    return out


def pod(namespace: str, name: str, *, labels: Mapping[str, str] | None = None,
        gates: Sequence[str] = (), port: int = 8080) -> Obj:
    """A bare pod (no controller) with one container ``app`` listening on ``port``."""
    body: Obj = {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "spec": {"nodeName": "node-1", "containers": [{
            "name": "app", "image": "registry.example/app:1",
            "ports": [{"name": "http", "containerPort": port}]}]},
        "status": {"phase": "Pending"},
    }
    if gates:
        body["spec"]["readinessGates"] = [{"conditionType": g} for g in gates]
    return body
