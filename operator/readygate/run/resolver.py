"""Turning a check's ``spec.target`` into an ``Endpoint``: create the owned workload of a
``deploy`` target, find the Service of a ``workloadRef``, look up a ``service``, or vet a ``url``
against the target policy.

Acting side (it calls ``kube.client``), but it decides nothing itself: manifests come from
``manifests``, the URL policy from ``judge.targets`` (by name before any resolution, then
by address). Everything the user can get wrong
(a missing Deployment, a headless Service, a port the Service lacks, a URL off the allow-list)
raises ``TargetError`` with the fix in its message; API faults propagate as ``KubeError``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping
from typing import Any

from readygate.api.spec import CheckSpec
from readygate.api.urls import split_url
from readygate.judge.targets import (
    Endpoint,
    TargetError,
    address_refusal,
    name_refusal,
)
from readygate.kube import manifests
from readygate.kube.client import Kube, NotFound, Refused
from readygate.kube.selectors import SelectorError, from_map, label_selector
from readygate.kube.watchcache import Reader

RESOLVE_TIMEOUT = 5.0  # seconds for a url target's name to resolve


async def resolve(kube: Kube, check: Mapping[str, Any], spec: CheckSpec,
                  allowlist: tuple[str, ...]) -> Endpoint:
    namespace: str = check["metadata"]["namespace"]
    t = spec.target
    if t.deploy is not None:
        dep = manifests.deployment(check, spec)
        try:
            await kube.ensure(namespace, dep)
            svc = await kube.ensure(namespace, manifests.service(check, spec))
        except Refused as exc:
            raise TargetError(f"cannot create the workload: {exc}") from exc
        selector = label_selector(dep["spec"]["selector"])
        return service_endpoint(namespace, svc, t.deploy.port, selector,
                                ("Deployment", dep["metadata"]["name"]))
    if t.workload_ref is not None:
        ref = t.workload_ref
        wl = await workload(kube, namespace, ref.kind, ref.name)
        spec_ = wl.get("spec") or {}
        try:
            selector = label_selector(spec_.get("selector"))
        except SelectorError as exc:
            raise TargetError(f"{ref.kind} {ref.name} has a selector readygate cannot use: "
                              f"{exc}") from None
        pod_labels = ((spec_.get("template") or {}).get("metadata") or {}).get("labels") or {}
        svc = await _find_service(kube, namespace, ref.service, pod_labels, ref.kind, ref.name)
        if not (svc.get("spec") or {}).get("selector"):
            await _vet_selectorless(kube, namespace, svc)
        return service_endpoint(namespace, svc, ref.port, selector, (ref.kind, ref.name))
    if t.service is not None:
        try:
            svc = await kube.get_service(namespace, t.service.name)
        except NotFound:
            raise TargetError(f"Service {t.service.name} not found in namespace "
                              f"{namespace}") from None
        sel = (svc.get("spec") or {}).get("selector") or None
        try:
            query = from_map(sel) if sel else None
        except SelectorError as exc:
            raise TargetError(f"Service {t.service.name}: {exc}") from None
        if query is None:
            await _vet_selectorless(kube, namespace, svc)
        return service_endpoint(namespace, svc, t.service.port, query, None)
    assert t.url is not None
    return await _url_endpoint(t.url, allowlist)


async def _vet_selectorless(kube: Kube, namespace: str, svc: Mapping[str, Any]) -> None:
    """A Service without a selector routes wherever its hand-made endpoints say — another
    namespace's pods, the API server, a node. It is a target only when every endpoint is a pod
    of the check's own namespace, at that pod's own IP."""
    name = svc["metadata"]["name"]
    if (svc.get("spec") or {}).get("type") == "ExternalName":
        raise TargetError(f"Service {name} is an ExternalName Service: it leaves the namespace")
    own: dict[str, set[str]] | None = None
    for piece in await kube.list_endpoint_slices(namespace, name):
        for ep in piece.get("endpoints") or []:
            ref = ep.get("targetRef") or {}
            addresses = [str(a) for a in ep.get("addresses") or []]
            if ref.get("kind") != "Pod" or ref.get("namespace", namespace) != namespace:
                raise TargetError(f"Service {name} has no selector and an endpoint "
                                  f"{', '.join(addresses) or '?'} that is not a pod of namespace "
                                  f"{namespace}; readygate only checks this namespace's pods")
            if own is None:
                own = {p["metadata"]["name"]: {str(i.get("ip")) for i in (
                    (p.get("status") or {}).get("podIPs") or [])} | {
                    str((p.get("status") or {}).get("podIP"))}
                    for p in await kube.list_all_pods(namespace)}
            if not set(addresses) <= own.get(str(ref.get("name")), set()):
                raise TargetError(f"Service {name} has no selector and an endpoint "
                                  f"{', '.join(addresses)} that is not the IP of pod "
                                  f"{ref.get('name')}; readygate only checks this namespace's "
                                  "pods")


async def workload(kube: Reader, namespace: str, kind: str, name: str) -> dict[str, Any]:
    """An existing Deployment or StatefulSet; TargetError when it is not there. ``kube``: the
    watch cache, or the API itself."""
    try:
        if kind == "Deployment":
            return await kube.get_deployment(namespace, name)
        return await kube.get_statefulset(namespace, name)
    except NotFound:
        raise TargetError(f"{kind} {name} not found in namespace {namespace}") from None


async def _find_service(kube: Kube, namespace: str, name: str | None,
                        pod_labels: Mapping[str, str], kind: str,
                        workload_name: str) -> dict[str, Any]:
    if name:
        try:
            return await kube.get_service(namespace, name)
        except NotFound:
            raise TargetError(f"Service {name} not found in namespace {namespace}") from None
    for svc in await kube.list_services(namespace):
        sel = (svc.get("spec") or {}).get("selector") or {}
        if sel and all(pod_labels.get(k) == v for k, v in sel.items()):
            return svc
    raise TargetError(f"no Service in namespace {namespace} selects the pods of {kind} "
                      f"{workload_name}; name one in spec.target.workloadRef.service")


def service_endpoint(namespace: str, svc: Mapping[str, Any], port: int | None,
                     selector: str | None,
                     workload_ref: tuple[str, str] | None) -> Endpoint:
    """The Endpoint of one port of a Service (its cluster IP), with the pods behind it."""
    spec = svc.get("spec") or {}
    name = svc["metadata"]["name"]
    ip = spec.get("clusterIP")
    if not ip or ip == "None":
        raise TargetError(f"Service {name} is headless; point the check at a Service with a "
                          "cluster IP")
    ports = spec.get("ports") or []
    chosen = next((p for p in ports if port is None or p.get("port") == port), None)
    if chosen is None:
        have = ", ".join(str(p.get("port")) for p in ports) or "none"
        raise TargetError(f"Service {name} has no port {port} (ports: {have})")
    target_port = chosen.get("targetPort", chosen["port"])
    return Endpoint("http", ip, int(chosen["port"]),
                    f"Service {namespace}/{name} {ip}:{chosen['port']}",
                    pod_selector=selector, workload=workload_ref, pod_port=target_port)


async def _url_endpoint(url: str, allowlist: tuple[str, ...]) -> Endpoint:
    # the policy first, by name: an unlisted host is refused as such, whatever DNS says
    refusal = name_refusal(url, allowlist)
    if refusal:
        raise TargetError(refusal)
    parts, host, port = split_url(url)
    try:
        infos = await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))  # resolver's order
    except (OSError, TimeoutError, UnicodeError):
        addresses = []
    refusal = address_refusal(host, addresses, allowlist)
    if refusal:
        raise TargetError(refusal)
    return Endpoint(parts.scheme, host, port, f"URL {url} ({addresses[0]})",
                    prefix=parts.path.rstrip("/"), address=addresses[0])
