"""Where a check sends its requests, and whether it may. Pure.

``Endpoint`` is a resolved address (scheme, host, port) with the pods behind it. ``url_refusal``
is the target policy for ``url`` targets: link-local and cloud metadata addresses are always
refused, any other host must be on the operator's allow-list. Workload and Service targets are
names in the check's own namespace, so they cannot reach elsewhere by construction.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "metadata.azure.internal",
                            "instance-data", "instance-data.ec2.internal"})
METADATA_IPS = frozenset({ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")})


class TargetError(Exception):
    """The target cannot be used: not found, not allowed, or not addressable. Data, not a bug."""


@dataclasses.dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int
    description: str
    pod_selector: dict[str, str] | None = None  # label selector of the pods behind it
    workload: tuple[str, str] | None = None  # (kind, name) whose rollout readiness counts
    prefix: str = ""  # path prefix of a url target, without the trailing slash
    pod_port: int | str | None = None  # the pods' port behind the Service (number or name)
    # a url target's host as the target policy vetted it: every connection goes to this
    # address (the host is never looked up again; see Prober.pinned and LoadPlan.connect_to)
    address: str | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.prefix}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def pod_url(self, pod: Mapping[str, Any], path: str) -> str | None:
        """The URL of ``path`` on one pod, straight to its IP (None: no IP or port yet)."""
        port = pod_port_number(pod, self.pod_port)
        ip = (pod.get("status") or {}).get("podIP")
        if port is None or not ip:
            return None
        host = f"[{ip}]" if ":" in str(ip) else str(ip)
        return f"http://{host}:{port}{path}"


def pod_port_number(pod: Mapping[str, Any], port: int | str | None) -> int | None:
    """A Service targetPort resolved on one pod: a number as is, a name by its containers."""
    if port is None:
        return None
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for p in container.get("ports") or []:
            if p.get("name") == port and p.get("containerPort"):
                return int(p["containerPort"])
    return None


def _allowed(host: str, ips: Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address],
             allowlist: Iterable[str]) -> bool:
    ips = list(ips)
    for entry in allowlist:
        entry = entry.lower()
        if "/" in entry:
            try:
                net = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                continue
            if ips and all(ip in net for ip in ips):
                return True
        elif (entry.startswith("*.") and host.endswith(entry[1:])) or entry == host:
            return True
    return False


def url_refusal(url: str, resolved: Iterable[str], allowlist: Iterable[str]) -> str | None:
    """Why ``url`` may not be targeted (``resolved``: the host's addresses), or None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return f"{url!r} is not an http(s) URL with a host"
    if host in METADATA_HOSTS:
        return f"{host} is a cloud metadata service; it is never a target"
    ips = []
    for text in resolved:
        ip = ipaddress.ip_address(text)
        if ip in METADATA_IPS or ip.is_link_local:
            return f"{host} resolves to {ip}, a link-local or metadata address; never a target"
        if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
            return f"{host} resolves to {ip}, which is not a unicast address"
        ips.append(ip)
    if not ips:
        return f"{host} does not resolve"
    if not _allowed(host, ips, allowlist):
        return (f"{host} is not on the operator's URL allow-list; an operator admin can add it "
                "with READYGATE_URL_ALLOWLIST (hostnames, *.domains or CIDRs)")
    return None
