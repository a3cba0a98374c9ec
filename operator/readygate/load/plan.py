"""The typed, frozen description of a load run, validated once, with the safety caps.

Owns ``RequestTemplate``, ``Stage``, ``StressPlan`` and ``LoadPlan``, the module constants
``MAX_RATE``, ``MAX_USERS``, ``MAX_DURATION``, ``MAX_PROCESSES``, ``MAX_CONNECTIONS`` and
``MAX_TIMEOUT`` (a plan beyond them raises ``CapExceeded``, a ``ValueError``), and the JSON form
that worker processes and Job pods receive. ``schedule.py`` turns a plan into due times,
``engine.py`` runs it, ``workers.py`` shards it, ``thresholds.py`` supplies ``Thresholds``.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from .errors import CapExceeded, PlanError
from .schedule import Segment, segments
from .thresholds import Thresholds

__all__ = [
    "MAX_CONNECTIONS",
    "MAX_DURATION",
    "MAX_PROCESSES",
    "MAX_RATE",
    "MAX_TIMEOUT",
    "MAX_USERS",
    "LoadPlan",
    "RequestTemplate",
    "Stage",
    "StressPlan",
    "spike_stages",
]

MAX_RATE = 20_000.0  # req/s, open model, whole plan (all shards)
MAX_USERS = 1_000  # closed model, whole plan
MAX_DURATION = 3_600.0  # seconds, whole plan (stages or stress steps included)
MAX_PROCESSES = 16  # worker processes on one machine
MAX_CONNECTIONS = 10_000  # open model: max in flight, whole plan
MAX_TIMEOUT = 300.0  # seconds, per request

Model = Literal["open", "closed"]
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True)
class RequestTemplate:
    """One kind of request. ``expect_status`` is a tuple of inclusive (low, high) status ranges;
    a response outside all of them counts as an error ``status:<code>``. ``weight`` sets how
    often it is sent relative to the plan's other templates (deterministic interleaving)."""

    method: str = "GET"
    path: str = "/"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    weight: int = 1
    expect_status: tuple[tuple[int, int], ...] = ((200, 399),)

    def __post_init__(self) -> None:
        if not self.method or not set(self.method) <= _TOKEN:
            raise PlanError(f"invalid HTTP method {self.method!r}")
        if not self.path.startswith("/") or any(c in self.path for c in " \r\n"):
            raise PlanError(f"path must start with '/' and contain no spaces: {self.path!r}")
        for k, v in self.headers:
            if not k or not set(k) <= _TOKEN or any(c in v for c in "\r\n"):
                raise PlanError(f"invalid header {k!r}")
        if not 1 <= self.weight <= 1000:
            raise PlanError(f"weight must be in 1..1000, got {self.weight}")
        if not self.expect_status:
            raise PlanError("expect_status needs at least one (low, high) range")
        for lo, hi in self.expect_status:
            if not 100 <= lo <= hi <= 599:
                raise PlanError(f"invalid status range {lo}-{hi}")

    def expects(self, status: int) -> bool:
        return any(lo <= status <= hi for lo, hi in self.expect_status)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "headers": [list(h) for h in self.headers],
            "bodyB64": None if self.body is None else base64.b64encode(self.body).decode(),
            "weight": self.weight,
            "expectStatus": [list(r) for r in self.expect_status],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RequestTemplate:
        body = d.get("bodyB64")
        return cls(
            method=d.get("method", "GET"),
            path=d.get("path", "/"),
            headers=tuple((str(k), str(v)) for k, v in d.get("headers", [])),
            body=None if body is None else base64.b64decode(body),
            weight=int(d.get("weight", 1)),
            expect_status=tuple((int(lo), int(hi)) for lo, hi in
                                d.get("expectStatus", [[200, 399]])),
        )


@dataclass(frozen=True)
class Stage:
    """Move the target (req/s or users) linearly to ``target`` over ``duration`` seconds."""

    duration: float
    target: float


def spike_stages(base: float, peak: float, *, warm: float, rise: float, hold: float,
                 fall: float, after: float) -> tuple[Stage, ...]:
    """Stages of a spike test: hold ``base``, rise to ``peak`` quickly, hold it, fall back to
    ``base`` and hold (a soak test is simply a long constant run: no stages)."""
    return (Stage(warm, base), Stage(rise, peak), Stage(hold, peak), Stage(fall, base),
            Stage(after, base))


@dataclass(frozen=True)
class StressPlan:
    """Step the open-model rate up from ``start_rate`` by ``step_rate`` (each step lasting
    ``step_duration``) until ``thresholds`` break or ``max_rate`` is passed; the knee is the
    last rate that met the thresholds."""

    start_rate: float
    step_rate: float
    max_rate: float
    step_duration: float
    thresholds: Thresholds

    def rates(self) -> list[float]:
        n = int(math.floor((self.max_rate - self.start_rate) / self.step_rate + 1e-9)) + 1
        return [self.start_rate + i * self.step_rate for i in range(max(n, 0))]


@dataclass(frozen=True)
class LoadPlan:
    """A whole load run. ``rate`` (open) or ``users`` (closed) is the constant value, or the
    start value when ``stages`` are given. ``connections`` bounds requests in flight for the
    open model (the closed model opens one connection per user). ``shard`` = (i, n) makes a
    plan run only its i-th share; ``start_at`` (wall clock, time.time()) aligns shards."""

    base_url: str
    model: Model = "open"
    rate: float | None = None
    users: int | None = None
    duration: float = 30.0
    stages: tuple[Stage, ...] = ()
    requests: tuple[RequestTemplate, ...] = (RequestTemplate(),)
    timeout: float = 10.0
    connections: int = 50
    insecure: bool = False
    ca_file: str | None = None
    connect_to: str | None = None
    expected_interval: float | None = None
    stress: StressPlan | None = None
    start_at: float | None = None
    shard: tuple[int, int] = (0, 1)
    thresholds: Thresholds = field(default_factory=Thresholds)
    # Most requests per second the whole plan may send (all shards): an open-model plan whose
    # schedule asks for more is refused; a closed-model plan's users are paced to it.
    max_rate: float | None = None

    def __post_init__(self) -> None:
        url = urlsplit(self.base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise PlanError(f"base_url must be http(s)://host[:port], got {self.base_url!r}")
        try:
            _ = url.port
        except ValueError as exc:
            raise PlanError(f"invalid port in {self.base_url!r}") from exc
        if self.connect_to is not None and (not self.connect_to or any(
                c.isspace() or c in "/[]" for c in self.connect_to)):
            raise PlanError(f"connect_to must be a host or IP address, got {self.connect_to!r}")
        if self.model not in ("open", "closed"):
            raise PlanError(f"model must be 'open' or 'closed', got {self.model!r}")
        if not self.requests:
            raise PlanError("a plan needs at least one request")
        if not 0 < self.timeout <= MAX_TIMEOUT:
            raise CapExceeded(f"timeout must be in (0, {MAX_TIMEOUT}] s, got {self.timeout}")
        if not 1 <= self.connections <= MAX_CONNECTIONS:
            raise CapExceeded(f"connections must be in 1..{MAX_CONNECTIONS}")
        i, n = self.shard
        if not (1 <= n <= 10_000 and 0 <= i < n):
            raise PlanError(f"invalid shard {i}/{n}")
        if self.expected_interval is not None and self.expected_interval <= 0:
            raise PlanError("expected_interval must be > 0")
        if self.max_rate is not None and not (self.max_rate > 0 and math.isfinite(self.max_rate)):
            raise PlanError(f"max_rate must be a positive number, got {self.max_rate!r}")
        if self.stress is not None:
            self._check_stress(self.stress)
            self._check_max_rate(self.stress.max_rate)
            return
        if self.model == "open":
            self._check_values(self.rate, MAX_RATE, "rate", "req/s")
        else:
            self._check_values(self.users, MAX_USERS, "users", "users")
            if self.rate is not None:
                raise PlanError("the closed model takes users, not rate")
        total = self.total_duration
        if not 0 < total <= MAX_DURATION:
            raise CapExceeded(f"duration must be in (0, {MAX_DURATION:.0f}] s, got {total}")
        if self.model == "open":
            self._check_max_rate(max([self.rate or 0.0] + [s.target for s in self.stages]))

    def _check_max_rate(self, peak: float) -> None:
        if self.max_rate is not None and peak > self.max_rate * (1 + 1e-9):
            raise CapExceeded(f"the plan asks for {peak:g} req/s, more than its max_rate "
                              f"{self.max_rate:g} req/s")

    def _check_values(self, start: float | None, cap: float, name: str, unit: str) -> None:
        if start is None and not self.stages:
            raise PlanError(f"the {self.model} model needs {name} (or stages)")
        values = [start or 0] + [s.target for s in self.stages]
        if any(v < 0 or not math.isfinite(v) for v in values):
            raise PlanError(f"{name} must be finite and >= 0")
        if max(values) > cap:
            raise CapExceeded(f"{name} {max(values):g} exceeds the cap of {cap:g} {unit}")
        if max(values) <= 0:
            raise PlanError(f"{name} must be > 0 somewhere in the plan")
        if any(s.duration < 0 for s in self.stages):
            raise PlanError("stage durations must be >= 0")

    def _check_stress(self, s: StressPlan) -> None:
        if self.model != "open":
            raise PlanError("stress runs use the open model")
        if not (0 < s.start_rate <= s.max_rate and s.step_rate > 0 and s.step_duration > 0):
            raise PlanError("stress needs 0 < start_rate <= max_rate, step_rate > 0, "
                            "step_duration > 0")
        if s.max_rate > MAX_RATE:
            raise CapExceeded(f"stress max_rate {s.max_rate:g} exceeds the cap of {MAX_RATE:g}")
        if len(s.rates()) > 1000:
            raise PlanError("stress has more than 1000 steps")
        if len(s.rates()) * s.step_duration > MAX_DURATION:
            raise CapExceeded(f"stress lasts longer than {MAX_DURATION:.0f} s")

    # -- derived -----------------------------------------------------------------------------
    @property
    def total_duration(self) -> float:
        if self.stress is not None:
            return len(self.stress.rates()) * self.stress.step_duration
        return sum(s.duration for s in self.stages) if self.stages else self.duration

    def segments(self) -> list[Segment]:
        value = self.rate if self.model == "open" else self.users
        start = float(value) if value is not None else 0.0
        return segments(start, [(s.duration, s.target) for s in self.stages], self.duration)

    def for_shard(self, index: int, count: int) -> LoadPlan:
        return replace(self, shard=(index, count))

    # -- JSON --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "baseUrl": self.base_url,
            "model": self.model,
            "rate": self.rate,
            "users": self.users,
            "duration": self.duration,
            "stages": [[s.duration, s.target] for s in self.stages],
            "requests": [r.to_dict() for r in self.requests],
            "timeout": self.timeout,
            "connections": self.connections,
            "insecure": self.insecure,
            "caFile": self.ca_file,
            "connectTo": self.connect_to,
            "expectedInterval": self.expected_interval,
            "stress": None if self.stress is None else {
                "startRate": self.stress.start_rate, "stepRate": self.stress.step_rate,
                "maxRate": self.stress.max_rate, "stepDuration": self.stress.step_duration,
                "thresholds": self.stress.thresholds.to_dict()},
            "startAt": self.start_at,
            "shard": list(self.shard),
            "thresholds": self.thresholds.to_dict(),
            "maxRate": self.max_rate,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LoadPlan:
        try:
            st = d.get("stress")
            stress = None if st is None else StressPlan(
                float(st["startRate"]), float(st["stepRate"]), float(st["maxRate"]),
                float(st["stepDuration"]), Thresholds.from_dict(st.get("thresholds", {})))
            shard = d.get("shard", [0, 1])
            return cls(
                base_url=d["baseUrl"],
                model=d.get("model", "open"),
                rate=None if d.get("rate") is None else float(d["rate"]),
                users=None if d.get("users") is None else int(d["users"]),
                duration=float(d.get("duration", 30.0)),
                stages=tuple(Stage(float(a), float(b)) for a, b in d.get("stages", [])),
                requests=tuple(RequestTemplate.from_dict(r) for r in d.get("requests", [{}])),
                timeout=float(d.get("timeout", 10.0)),
                connections=int(d.get("connections", 50)),
                insecure=bool(d.get("insecure", False)),
                ca_file=d.get("caFile"),
                connect_to=d.get("connectTo"),
                expected_interval=d.get("expectedInterval"),
                stress=stress,
                start_at=d.get("startAt"),
                shard=(int(shard[0]), int(shard[1])),
                thresholds=Thresholds.from_dict(d.get("thresholds", {})),
                max_rate=None if d.get("maxRate") is None else float(d["maxRate"]),
            )
        except (KeyError, TypeError, IndexError) as exc:
            raise PlanError(f"invalid plan document: {exc!r}") from exc
        except ValueError as exc:
            if isinstance(exc, PlanError):
                raise
            raise PlanError(f"invalid plan document: {exc}") from exc
