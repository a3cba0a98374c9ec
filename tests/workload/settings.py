"""Environment-derived settings of the readygate test workload.

Stdlib only: ``main.py`` imports this module before it execs Gunicorn, so a bad value fails the
container at once with a clear one-line message instead of a worker traceback. ``app.py`` imports
it again inside every Gunicorn worker. Every variable is documented in ``README.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

MODES = ("healthy", "crash-import", "crash-exit", "never-ready")

# main.py exports the wall-clock start of the container under this name so that every Gunicorn
# worker (and a worker restarted later) measures READY_DELAY, LIVENESS_* from the same instant.
START_ENV = "READYGATE_WORKLOAD_STARTED_AT"


class SettingsError(ValueError):
    """An environment variable holds a value the workload cannot use."""


def _float(env: Mapping[str, str], name: str, default: float, lo: float = 0.0) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if value != value or value < lo:  # NaN or below the floor
        raise SettingsError(f"{name}={raw!r} must be a number >= {lo:g}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, lo: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if value < lo:
        raise SettingsError(f"{name}={raw!r} must be an integer >= {lo}")
    return value


def _exit_code(env: Mapping[str, str]) -> int:
    code = _int(env, "EXIT_CODE", 3)
    if code > 255:
        raise SettingsError(f"EXIT_CODE={code} must be between 0 and 255")
    return code


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    """The effective configuration; ``public()`` is what ``/info`` shows."""

    mode: str = "healthy"
    port: int = 8080
    bind_host: str = "0.0.0.0"
    workers: int = 1
    threads: int = 8
    exit_code: int = 3
    ready_delay_s: float = 0.0
    liveness_flap_period_s: float = 0.0
    liveness_fail_after_s: float = 0.0
    error_rate: float = 0.0
    error_leak: bool = False
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    latency_p99_ms: float = 0.0
    slow_under_load: int = 0
    slow_factor_ms: float = 50.0
    memory_growth_mb_per_s: float = 0.0
    memory_growth_max_mb: float = 256.0
    leak_fds: int = 0
    leak_fds_max: int = 10_000
    state_dir: str = ""
    auth_token: str = ""
    auth_paths: tuple[str, ...] = ("/admin",)
    server_banner: bool = False
    access_log: bool = False
    log_level: str = "info"
    seed: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        mode = e.get("MODE", "").strip().lower() or "healthy"
        if mode not in MODES:
            raise SettingsError(f"MODE={mode!r} is not one of {', '.join(MODES)}")
        error_rate = _float(e, "ERROR_RATE", 0.0)
        if error_rate > 1.0:
            raise SettingsError(f"ERROR_RATE={error_rate!r} must be between 0 and 1")
        port = _int(e, "PORT", 8080, lo=1)
        if port > 65535:
            raise SettingsError(f"PORT={port} is not a TCP port")
        paths_raw = e.get("AUTH_PATHS", "").strip()
        auth_paths = (
            tuple(p.strip() for p in paths_raw.split(",") if p.strip())
            if paths_raw
            else cls.auth_paths
        )
        for p in auth_paths:
            if not p.startswith("/"):
                raise SettingsError(f"AUTH_PATHS entry {p!r} must start with '/'")
        return cls(
            mode=mode,
            port=port,
            bind_host=e.get("BIND_HOST", "").strip() or "0.0.0.0",
            workers=_int(e, "WORKERS", 1, lo=1),
            threads=_int(e, "THREADS", 8, lo=1),
            exit_code=_exit_code(e),
            ready_delay_s=_float(e, "READY_DELAY", 0.0),
            liveness_flap_period_s=_float(e, "LIVENESS_FLAP_PERIOD", 0.0),
            liveness_fail_after_s=_float(e, "LIVENESS_FAIL_AFTER", 0.0),
            error_rate=error_rate,
            error_leak=_flag(e, "ERROR_LEAK"),
            latency_ms=_float(e, "LATENCY_MS", 0.0),
            latency_jitter_ms=_float(e, "LATENCY_JITTER_MS", 0.0),
            latency_p99_ms=_float(e, "LATENCY_P99_MS", 0.0),
            slow_under_load=_int(e, "SLOW_UNDER_LOAD", 0),
            slow_factor_ms=_float(e, "SLOW_FACTOR_MS", 50.0),
            memory_growth_mb_per_s=_float(e, "MEMORY_GROWTH_MB_PER_S", 0.0),
            memory_growth_max_mb=_float(e, "MEMORY_GROWTH_MAX_MB", 256.0),
            leak_fds=_int(e, "LEAK_FDS", 0),
            leak_fds_max=_int(e, "LEAK_FDS_MAX", 10_000),
            state_dir=e.get("STATE_DIR", "").strip(),
            auth_token=e.get("AUTH_TOKEN", "").strip(),
            auth_paths=auth_paths,
            server_banner=_flag(e, "SERVER_BANNER"),
            access_log=_flag(e, "ACCESS_LOG"),
            log_level=e.get("LOG_LEVEL", "").strip().lower() or "info",
            seed=_int(e, "SEED", 1),
        )

    def public(self) -> dict[str, Any]:
        """The settings as JSON-ready data, with the auth token redacted."""
        data = asdict(self)
        data["auth_token"] = "<set>" if self.auth_token else ""
        data["auth_paths"] = list(self.auth_paths) if self.auth_token else []
        return data


def started_at(env: Mapping[str, str] | None = None) -> float | None:
    """The container start time exported by ``main.py``, or None when it is absent or bad."""
    raw = (os.environ if env is None else env).get(START_ENV, "")
    try:
        return float(raw)
    except ValueError:
        return None
