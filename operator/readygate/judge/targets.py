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

from readygate.api.urls import split_url

METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "metadata.azure.internal",
                            "instance-data", "instance-data.ec2.internal", "metadata.goog",
                            "metadata.oraclecloud.com", "metadata.tencentyun.com"})
# Never a target, whatever the allow-list says: cloud metadata and host agents.
METADATA_IPS = frozenset({ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.169.123", "fd00:ec2::254", "fd00:ec2::123",
    "100.100.100.200", "192.0.0.192", "168.63.129.16")})
NEVER_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "169.254.0.0/16", "fe80::/10", "fd00:ec2::/32", "0.0.0.0/8", "::/128", "255.255.255.255/32"))

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetError(Exception):
    """The target cannot be used: not found, not allowed, or not addressable. Data, not a bug."""


@dataclasses.dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int
    description: str
    pod_selector: str | None = None  # label selector (query string) of the pods behind it
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
        return pod_url(pod, self.pod_port, path)


def pod_url(pod: Mapping[str, Any], port: int | str | None, path: str) -> str | None:
    """The URL of ``path`` at one pod's IP and ``port`` (a number or a container port's name;
    an IPv6 address in brackets); None while the pod has no IP or no such port."""
    number = pod_port_number(pod, port)
    ip = (pod.get("status") or {}).get("podIP")
    if number is None or not ip:
        return None
    host = f"[{ip}]" if ":" in str(ip) else str(ip)
    return f"http://{host}:{number}{path}"


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


def _ip(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _entry(entry: str) -> tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network | None]:
    """An allow-list entry as (lower-case ASCII name, network or None)."""
    entry = entry.strip().lower()
    if "/" in entry:
        try:
            return entry, ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return entry, None
    try:
        return entry.encode("idna").decode("ascii"), None
    except UnicodeError:
        return entry, None


def _names_host(entry: str, host: str) -> bool:
    if entry.startswith("*."):
        return host.endswith(entry[1:]) and len(host) > len(entry) - 1
    return entry == host


def _wholly_non_global(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    """A CIDR entry that names a private, loopback or shared range (not one reaching beyond)."""
    return not net.network_address.is_global and not net.broadcast_address.is_global \
        and net.prefixlen >= (8 if net.version == 4 else 16)


def never(ip: Address) -> str | None:
    """Why an address is never a target (metadata, link-local, not unicast), or None."""
    if ip in METADATA_IPS or ip.is_link_local or any(ip in n for n in NEVER_NETWORKS):
        return "a link-local or cloud metadata address"
    if ip.is_multicast or ip.is_unspecified or (ip.is_reserved and not ip.is_loopback):
        return "not a unicast address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return never(ip.ipv4_mapped) or None
    return None


def name_refusal(url: str, allowlist: Iterable[str]) -> str | None:
    """The policy before any resolution: why ``url`` may not be targeted by its name, or None
    (then its addresses still have to pass ``address_refusal``)."""
    try:
        _, host, _ = split_url(url)
    except ValueError as exc:
        return str(exc)
    if host in METADATA_HOSTS:
        return f"{host} is a cloud metadata service; it is never a target"
    entries = [_entry(e) for e in allowlist if e.strip()]
    literal = _ip(host)
    if literal is not None:
        why = never(literal)
        if why:
            return f"{host} is {why}; never a target"
        if any(net is not None and literal in net for _, net in entries):
            return None
    elif any(net is None and _names_host(name, host) for name, net in entries):
        return None
    elif any(net is not None for _, net in entries):
        return None  # a CIDR entry may admit what the name resolves to
    return (f"{host} is not on the operator's URL allow-list; an operator admin can add it "
            "with READYGATE_URL_ALLOWLIST (hostnames, *.domains or CIDRs)")


def address_refusal(host: str, resolved: Iterable[str], allowlist: Iterable[str]) -> str | None:
    """Whether the addresses ``host`` resolved to may be targeted: every one of them must be.

    A name entry (``host``, ``*.domain``) admits global addresses only; a private, loopback or
    shared address needs a CIDR entry that names that range (``10.0.0.0/8``, not ``0.0.0.0/0``).
    Metadata and link-local addresses are never admitted.
    """
    entries = [_entry(e) for e in allowlist if e.strip()]
    by_name = any(net is None and _names_host(name, host.lower()) for name, net in entries)
    ips = []
    for text in resolved:
        ip = _ip(text.split("%", 1)[0])
        if ip is None:
            return f"{host} resolves to {text!r}, which is not an address"
        why = never(ip)
        if why:
            return f"{host} resolves to {ip}, {why}; never a target"
        ips.append(ip)
    if not ips:
        return f"{host} does not resolve"
    for ip in ips:
        nets = [net for _, net in entries if net is not None and ip in net]
        if ip.is_global and (by_name or nets):
            continue
        if not ip.is_global and any(_wholly_non_global(n) for n in nets):
            continue
        if not ip.is_global:
            return (f"{host} resolves to {ip}, a private, loopback or shared address; only a "
                    "CIDR entry naming that range in READYGATE_URL_ALLOWLIST admits it")
        return (f"{host} resolves to {ip}, which the operator's URL allow-list does not admit")
    return None


def url_refusal(url: str, resolved: Iterable[str], allowlist: Iterable[str]) -> str | None:
    """Why ``url`` may not be targeted (``resolved``: the host's addresses), or None."""
    refusal = name_refusal(url, allowlist)
    if refusal:
        return refusal
    _, host, _ = split_url(url)
    return address_refusal(host, resolved, allowlist)
