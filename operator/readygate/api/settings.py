"""Operator settings: frozen, read once from ``READYGATE_*`` environment variables.

Passed to handlers through kopf's ``memo`` (see ``control.handlers``), never kept in module globals.
``SettingsError`` says which variable is wrong and what it takes.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")


class SettingsError(ValueError):
    pass


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    url_allowlist: tuple[str, ...] = ()  # hostnames, *.suffixes or CIDRs external URLs may use
    max_total_rate: float = 20_000.0  # req/s of everything the operator sends (loads, probes)
    probe_share: float = 0.1  # of max_total_rate kept for probes; loads share the rest
    poll_interval: float = 1.0  # seconds between observations of a running check
    max_concurrent_runs: int = 100  # runs in progress at once; the others wait, in status
    metrics_port: int = 9090
    namespace: str | None = None  # watch one namespace; None: all
    # checks here are refused (Error): the cluster's own namespaces, whatever RBAC allows
    excluded_namespaces: frozenset[str] = frozenset(SYSTEM_NAMESPACES)
    log_lines: int = 20
    worker_image: str | None = None  # image of load Job pods; None: the operator's own
    worker_pull_policy: str = "IfNotPresent"
    job_start_delay: float = 10.0  # seconds for load Job pods to start before the shared t0
    kubelet_insecure_tls: bool = False  # kubelets with self-signed serving certificates
    # threads (and pooled connections) for calls to the API server; watches have their own
    kube_workers: int = 16
    # the Prometheus that metrics.promql queries (http(s)://host[:port][/prefix]); None: none
    prometheus_url: str | None = None
    # the label that carries a series' namespace there: every selector of a check's query is
    # limited to the check's namespace by it; None: queries are sent as written
    prometheus_namespace_label: str | None = "namespace"

    @property
    def probe_rate(self) -> float:
        """Req/s every probe of the operator shares (readiness, liveness, gates, security,
        persistence, resilience traffic): its share of the global cap, at least 1."""
        return max(1.0, self.max_total_rate * self.probe_share)

    @property
    def load_rate(self) -> float:
        """Req/s the load checks share: the global cap less the probes' share."""
        return max(0.0, self.max_total_rate - self.probe_rate)


def _float(env: Mapping[str, str], key: str, default: float, low: float, high: float) -> float:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{key}={raw!r}: must be a number") from None
    if not low <= value <= high:
        raise SettingsError(f"{key}={raw!r}: must be between {low:g} and {high:g}")
    return value


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    allow = tuple(x.strip() for x in env.get("READYGATE_URL_ALLOWLIST", "").split(",")
                  if x.strip())
    return Settings(
        url_allowlist=allow,
        max_total_rate=_float(env, "READYGATE_MAX_TOTAL_RATE", 20_000.0, 1.0, 1_000_000.0),
        probe_share=_float(env, "READYGATE_PROBE_SHARE", 0.1, 0.01, 0.9),
        poll_interval=_float(env, "READYGATE_POLL_INTERVAL", 1.0, 0.1, 30.0),
        max_concurrent_runs=int(_float(env, "READYGATE_MAX_CONCURRENT_RUNS", 100, 1, 10_000)),
        metrics_port=int(_float(env, "READYGATE_METRICS_PORT", 9090, 0, 65535)),
        namespace=env.get("READYGATE_NAMESPACE") or None,
        excluded_namespaces=frozenset(
            x.strip() for x in env.get("READYGATE_EXCLUDED_NAMESPACES",
                                       ",".join(SYSTEM_NAMESPACES)).split(",") if x.strip()),
        worker_image=env.get("READYGATE_WORKER_IMAGE") or None,
        worker_pull_policy=_choice(env, "READYGATE_WORKER_PULL_POLICY", "IfNotPresent",
                                   ("Always", "IfNotPresent", "Never")),
        job_start_delay=_float(env, "READYGATE_JOB_START_DELAY", 10.0, 0.0, 110.0),
        kubelet_insecure_tls=_choice(env, "READYGATE_KUBELET_INSECURE_TLS", "false",
                                     ("true", "false")) == "true",
        kube_workers=int(_float(env, "READYGATE_KUBE_WORKERS", 16, 2, 256)),
        prometheus_url=_prometheus_url(env),
        prometheus_namespace_label=_namespace_label(env),
    )


def _namespace_label(env: Mapping[str, str]) -> str | None:
    """READYGATE_PROMETHEUS_NAMESPACE_LABEL: a label name (default ``namespace``, as the
    Prometheus Operator and kube-prometheus label every target), or ``none`` when the
    Prometheus at READYGATE_PROMETHEUS_URL keeps tenants apart itself (prom-label-proxy)."""
    key = "READYGATE_PROMETHEUS_NAMESPACE_LABEL"
    raw = (env.get(key) or "namespace").strip()
    if raw == "none":
        return None
    if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", raw):
        raise SettingsError(f"{key}={raw!r}: must be a label name (such as namespace) or none")
    return raw


def _prometheus_url(env: Mapping[str, str]) -> str | None:
    """READYGATE_PROMETHEUS_URL without a trailing slash: an http(s) URL of the Prometheus
    (or a path prefix under which its /api/v1/query is served), without credentials."""
    raw = (env.get("READYGATE_PROMETHEUS_URL") or "").strip()
    if not raw:
        return None
    key = "READYGATE_PROMETHEUS_URL"
    if "@" in raw.split("//", 1)[-1].split("/", 1)[0]:  # not repeated: it holds a password
        raise SettingsError(f"{key}: credentials in the URL are not supported")
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise SettingsError(f"{key}={raw!r}: not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{key}={raw!r}: must be an http:// or https:// URL with a host, "
                            "such as http://prometheus.monitoring:9090")
    if parts.query or parts.fragment:
        raise SettingsError(f"{key}={raw!r}: no query or fragment (the queries are sent to "
                            "<url>/api/v1/query)")
    return raw.rstrip("/")


def _choice(env: Mapping[str, str], key: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = env.get(key) or default
    if raw not in allowed:
        raise SettingsError(f"{key}={raw!r}: must be one of {', '.join(allowed)}")
    return raw
