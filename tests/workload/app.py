"""The readygate test workload: a small Flask app whose faults are chosen by environment variables.

Gunicorn imports this module in each worker (``app:app``). With ``MODE=crash-import`` the import
itself fails with ``ModuleNotFoundError: No module named 'autocoder'``, the worker cannot boot and
Gunicorn's master exits non-zero: the real-world failure readygate exists to catch. The other
settings shape liveness, readiness, errors, latency, memory, state, auth and headers; see
``README.md`` for the table of variables.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import resource
import tempfile
import threading
import time
import traceback
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, abort, jsonify, request
from settings import Settings, started_at
from werkzeug.exceptions import HTTPException

SETTINGS = Settings.from_env()

if SETTINGS.mode == "crash-import":
    # A generated service that imports its generator's package: fine on the author's machine,
    # fatal in the container. The worker dies here and Gunicorn halts.
    import autocoder  # type: ignore[import-not-found]  # noqa: F401

STARTED_AT = started_at() or time.time()
POD = os.environ.get("HOSTNAME", "")
MB = 1024 * 1024


def uptime() -> float:
    return time.time() - STARTED_AT


def hit(n: int, rate: float) -> bool:
    """True for exactly ``rate`` of the 1-based sequence n = 1, 2, 3, ... (deterministic)."""
    return int(n * rate) != int((n - 1) * rate)


class Stats:
    """Per-worker request counters, shared by the worker's threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.work_requests = 0  # / and /work: the sequence ERROR_RATE and LATENCY_P99_MS count
        self.injected_errors = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.by_status: dict[str, int] = {}

    def begin(self) -> int:
        with self.lock:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.in_flight

    def end(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def next_work(self) -> int:
        with self.lock:
            self.work_requests += 1
            return self.work_requests

    def status(self, code: int) -> None:
        with self.lock:
            self.by_status[str(code)] = self.by_status.get(str(code), 0) + 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "work_requests": self.work_requests,
                "injected_errors": self.injected_errors,
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "by_status": dict(self.by_status),
            }


class MemoryGrower(threading.Thread):
    """Allocates and keeps MEMORY_GROWTH_MB_PER_S, up to MEMORY_GROWTH_MAX_MB (a slow leak)."""

    def __init__(self, mb_per_s: float, max_mb: float) -> None:
        super().__init__(name="memory-growth", daemon=True)
        self.mb_per_s = mb_per_s
        self.max_mb = max_mb
        self.chunks: list[bytearray] = []
        self.grown_bytes = 0

    def run(self) -> None:
        begin = time.monotonic()
        limit = int(self.max_mb * MB)
        while self.grown_bytes < limit:
            target = min(limit, int(self.mb_per_s * MB * (time.monotonic() - begin)))
            if target > self.grown_bytes:
                # Filled with a non-zero byte so that the pages are really resident.
                self.chunks.append(bytearray(b"\x5a") * (target - self.grown_bytes))
                self.grown_bytes = target
            time.sleep(0.1)


class FdLeak:
    """LEAK_FDS: that many file descriptors (of /dev/null) opened on every ``/`` and ``/work``
    request and never closed, up to LEAK_FDS_MAX in all (a leak the process survives)."""

    def __init__(self, per_request: int, limit: int) -> None:
        self.per_request = per_request
        self.limit = limit
        self.fds: list[int] = []
        self.lock = threading.Lock()

    def leak(self) -> None:
        if self.per_request <= 0:
            return
        with self.lock:
            for _ in range(min(self.per_request, self.limit - len(self.fds))):
                self.fds.append(os.open(os.devnull, os.O_RDONLY))


def exposition() -> str:
    """This worker's numbers in Prometheus' text format (0.0.4), written by hand: the image has
    no prometheus-client. The ``process_*`` series are what prometheus-client's process
    collector exports, read from /proc/self the same way."""
    open_fds = len(os.listdir("/proc/self/fd"))
    with open("/proc/self/statm") as f:
        resident = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    cpu = os.times()
    counters = stats.snapshot()
    lines = []

    def family(name: str, kind: str, help_: str, *samples: tuple[str, float]) -> None:
        lines.extend([f"# HELP {name} {help_}", f"# TYPE {name} {kind}"])
        lines.extend(f"{name}{labels} {value}" for labels, value in samples)

    family("process_open_fds", "gauge", "Number of open file descriptors.", ("", open_fds))
    family("process_max_fds", "gauge", "Maximum number of open file descriptors.",
           ("", resource.getrlimit(resource.RLIMIT_NOFILE)[0]))
    family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
           ("", resident))
    family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in "
           "seconds.", ("", float(cpu.user + cpu.system)))
    family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch "
           "in seconds.", ("", float(STARTED_AT)))
    family("workload_requests_total", "counter", "Requests this worker served.",
           ("", counters["requests"]))
    family("workload_work_requests_total", "counter", "Requests to / and /work.",
           ("", counters["work_requests"]))
    family("workload_injected_errors_total", "counter", "Failures ERROR_RATE injected.",
           ("", counters["injected_errors"]))
    family("workload_responses_total", "counter", "Responses by HTTP status code.",
           *((f'{{code="{code}"}}', n) for code, n in sorted(counters["by_status"].items())))
    family("workload_leaked_fds", "gauge", "File descriptors LEAK_FDS opened and never closed.",
           ("", len(leak.fds)))
    family("workload_memory_grown_bytes", "gauge", "Memory MEMORY_GROWTH_MB_PER_S holds.",
           ("", grower.grown_bytes if grower else 0))
    return "\n".join(lines) + "\n"


class Store:
    """Items kept in memory (lost on restart) or as one JSON file per key in STATE_DIR."""

    def __init__(self, state_dir: str) -> None:
        self.dir = state_dir
        self.memory: dict[str, Any] = {}
        self.lock = threading.Lock()
        if state_dir:
            os.makedirs(state_dir, exist_ok=True)

    @property
    def backend(self) -> str:
        return f"dir:{self.dir}" if self.dir else "memory"

    def _path(self, key: str) -> str:
        return os.path.join(self.dir, "item-" + hashlib.sha256(key.encode()).hexdigest() + ".json")

    def put(self, key: str, value: Any) -> None:
        if not self.dir:
            with self.lock:
                self.memory[key] = value
            return
        data = json.dumps({"key": key, "value": value}).encode()
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.dir)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path(key))  # atomic: readers see the old or the new file
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def get(self, key: str) -> tuple[bool, Any]:
        if not self.dir:
            with self.lock:
                return (key in self.memory, self.memory.get(key))
        try:
            with open(self._path(key), "rb") as f:
                return (True, json.load(f)["value"])
        except FileNotFoundError:
            return (False, None)


class InjectedError(RuntimeError):
    """The failure ERROR_RATE injects."""


def install_server_header(banner: bool) -> None:
    """Drop Gunicorn's ``Server`` header, or with SERVER_BANNER=1 show ``gunicorn/<version>``.

    Gunicorn writes ``Server: gunicorn`` itself (not from the WSGI headers) and has no option to
    turn it off, so its response's header writer is wrapped in this worker process.
    """
    try:
        from gunicorn import SERVER_SOFTWARE  # type: ignore[import-untyped]
        from gunicorn.http import wsgi  # type: ignore[import-untyped]
    except ImportError:  # served by something else (e.g. flask run): nothing to patch
        return
    original = wsgi.Response.default_headers
    if getattr(original, "_readygate", False):
        return
    replacement = f"Server: {SERVER_SOFTWARE}\r\n" if banner else ""

    def default_headers(self: Any) -> list[str]:
        lines: list[str] = original(self)
        out = [ln for ln in lines if not ln.lower().startswith("server:")]
        if replacement:
            out.insert(1, replacement)  # after the status line
        return out

    default_headers._readygate = True  # type: ignore[attr-defined]
    wsgi.Response.default_headers = default_headers


stats = Stats()
store = Store(SETTINGS.state_dir)
leak = FdLeak(SETTINGS.leak_fds, SETTINGS.leak_fds_max)
rng = random.Random(SETTINGS.seed)
grower: MemoryGrower | None = None
if SETTINGS.memory_growth_mb_per_s > 0:
    grower = MemoryGrower(SETTINGS.memory_growth_mb_per_s, SETTINGS.memory_growth_max_mb)
    grower.start()
install_server_header(SETTINGS.server_banner)

app = Flask(__name__)
app.config["MAX_CONTENT_LENGTH"] = 1 * MB
app.json.sort_keys = False  # type: ignore[attr-defined]


def needs_auth(path: str) -> bool:
    if not SETTINGS.auth_token:
        return False
    for prefix in SETTINGS.auth_paths:
        base = prefix.rstrip("/")
        if path in (prefix, base) or path.startswith(base + "/"):
            return True
    return False


@app.before_request
def before() -> Response | tuple[Response, int] | None:
    request.environ["workload.in_flight"] = stats.begin()
    if needs_auth(request.path):
        expected = f"Bearer {SETTINGS.auth_token}".encode()
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            resp = jsonify(error="unauthorized", status=401)
            resp.headers["WWW-Authenticate"] = 'Bearer realm="workload"'
            return resp, 401
    return None


@app.after_request
def after(resp: Response) -> Response:
    stats.status(resp.status_code)
    if SETTINGS.server_banner:
        resp.headers["X-Powered-By"] = "Flask"
    resp.headers.setdefault("Cache-Control", "no-store")
    return resp


@app.teardown_request
def teardown(_exc: BaseException | None) -> None:
    stats.end()


@app.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> tuple[Response, int]:
    code = exc.code or 500
    return jsonify(error=exc.name.lower(), status=code), code


@app.errorhandler(Exception)
def server_error(exc: Exception) -> tuple[Response, int]:
    body: dict[str, Any] = {"error": "internal server error", "status": 500}
    if SETTINGS.error_leak:  # what a debug-mode or careless handler shows the world
        body["exception"] = f"{type(exc).__name__}: {exc}"
        body["traceback"] = "".join(traceback.format_exception(exc))
    elif not isinstance(exc, InjectedError):
        app.logger.exception("unhandled error on %s", request.path)
    return jsonify(body), 500


def delay_ms(n: int) -> float:
    """The latency of work request ``n``: base + jitter, the 1 % tail, and the overload penalty."""
    s = SETTINGS
    ms = s.latency_ms
    if s.latency_jitter_ms > 0:
        ms += rng.uniform(0.0, s.latency_jitter_ms)
    if s.latency_p99_ms > 0 and hit(n, 0.01):
        ms = max(ms, s.latency_p99_ms)
    if s.slow_under_load > 0:
        excess = int(request.environ.get("workload.in_flight", 1)) - s.slow_under_load
        ms += max(0, excess) * s.slow_factor_ms
    return ms


def handle_order(n: int) -> dict[str, Any]:
    """The business logic of / and /work, which fails on the requests ERROR_RATE picks."""
    if SETTINGS.error_rate > 0 and hit(n, SETTINGS.error_rate):
        with stats.lock:
            stats.injected_errors += 1
        raise InjectedError(f"order {n} could not be processed (injected failure)")
    return {"order": n, "status": "processed"}


def do_work() -> dict[str, Any]:
    leak.leak()
    n = stats.next_work()
    ms = delay_ms(n)
    if ms > 0:
        time.sleep(ms / 1000.0)
    result = handle_order(n)
    result.update(pod=POD, latency_ms=round(ms, 3))
    return result


@app.get("/")
def index() -> Response:
    return jsonify(service="readygate-workload", mode=SETTINGS.mode, **do_work())


@app.get("/work")
def work() -> Response:
    return jsonify(do_work())


@app.get("/health")
def health() -> tuple[Response, int]:
    up = uptime()
    s = SETTINGS
    if s.liveness_fail_after_s > 0 and up >= s.liveness_fail_after_s:
        return jsonify(status="failing", reason="LIVENESS_FAIL_AFTER", uptime_s=up), 500
    if s.liveness_flap_period_s > 0 and int(up // s.liveness_flap_period_s) % 2 == 1:
        return jsonify(status="failing", reason="LIVENESS_FLAP_PERIOD", uptime_s=up), 500
    return jsonify(status="ok"), 200


@app.get("/ready")
def ready() -> tuple[Response, int]:
    if SETTINGS.mode == "never-ready":
        return jsonify(status="not ready", reason="MODE=never-ready"), 503
    remaining = SETTINGS.ready_delay_s - uptime()
    if remaining > 0:
        return jsonify(status="starting", ready_in_s=round(remaining, 3)), 503
    return jsonify(status="ready"), 200


@app.get("/admin")
def admin() -> Response:
    return jsonify(admin=True, pod=POD, items_backend=store.backend)


@app.post("/items")
def put_item() -> tuple[Response, int]:
    if (request.content_length or 0) > app.config["MAX_CONTENT_LENGTH"]:
        abort(413)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "key" not in body or "value" not in body:
        return jsonify(error='expected a JSON object {"key": ..., "value": ...}', status=400), 400
    key = body["key"]
    if not isinstance(key, str) or not key or len(key) > 512:
        return jsonify(error="key must be a non-empty string of at most 512 chars"), 400
    store.put(key, body["value"])
    return jsonify(key=key, value=body["value"], stored=store.backend), 201


@app.get("/items/<path:key>")
def get_item(key: str) -> tuple[Response, int]:
    found, value = store.get(key)
    if not found:
        return jsonify(error="not found", key=key, status=404), 404
    return jsonify(key=key, value=value), 200


@app.get("/metrics")
def metrics() -> Response:
    return Response(exposition(), content_type="text/plain; version=0.0.4; charset=utf-8")


@app.get("/info")
def info() -> Response:
    return jsonify(
        settings=SETTINGS.public(),
        pod=POD,
        pid=os.getpid(),
        started_at=datetime.fromtimestamp(STARTED_AT, UTC).isoformat(),
        uptime_s=round(uptime(), 3),
        counters=stats.snapshot(),
        memory_grown_mb=round(grower.grown_bytes / MB, 3) if grower else 0.0,
        leaked_fds=len(leak.fds),
        items_backend=store.backend,
    )
