"""``readygate load URL ...``: the load engine from a shell or a CI pipeline.

Owns argument parsing (durations like ``30s``/``2m``/``200ms``, error rates like ``1%``), the
live progress line on stderr (only when stderr is a TTY or with ``--progress``), the final
table (or ``--output json``) on stdout and the exit code: 0 Passed, 1 Failed, 2 Inconclusive or
an error. Builds a ``LoadPlan`` (``plan.py``), runs it in this process or in worker processes
(``workers.py``) and judges it (``thresholds.py``). The package CLI (``readygate.cli.main``)
dispatches ``readygate load`` here with the arguments after ``load``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO
from urllib.parse import urlsplit

from . import durations
from .engine import Progress, run_load
from .errors import LoadError, PlanError
from .plan import LoadPlan, RequestTemplate, Stage, StressPlan
from .result import LoadResult
from .thresholds import Judgement, Thresholds, judge
from .workers import run_processes

__all__ = ["EXIT", "build_plan", "camel", "main", "parse_duration", "parse_rate_fraction",
           "render_table", "run_plan"]

# Exit codes, each distinct (docs/cli.md): a verdict, or why there is none.
EXIT_PASSED, EXIT_FAILED, EXIT_USAGE, EXIT_INCONCLUSIVE, EXIT_ERROR = 0, 1, 2, 3, 4
EXIT = {"Passed": EXIT_PASSED, "Conditional": EXIT_PASSED, "Failed": EXIT_FAILED,
        "Inconclusive": EXIT_INCONCLUSIVE, "Error": EXIT_ERROR}
# The defaults of the ReadinessCheck API's spec.load, so a file and the command line agree.
DEFAULT_CONNECTIONS = 256
DEFAULT_TIMEOUT = 5.0
DEFAULT_DURATION = 30.0


def parse_duration(text: str) -> float:
    """'30s', '2m', '1m30s', '200ms', '1.5' (seconds) -> seconds: the API's own parser."""
    try:
        return durations.parse_duration(text, bare_seconds=True)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def camel(value: object) -> object:
    """JSON for people and pipelines in one key style, the Kubernetes one (``errorRate``)."""
    if isinstance(value, dict):
        return {_camel_key(str(k)): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def _camel_key(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def parse_rate_fraction(text: str) -> float:
    """'1%' or '0.01' -> 0.01."""
    t = text.strip()
    try:
        return float(t[:-1]) / 100.0 if t.endswith("%") else float(t)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a fraction: {text!r} (try 1% or 0.01)") from exc


def _status_ranges(text: str) -> tuple[tuple[int, int], ...]:
    out = []
    for part in text.split(","):
        part = part.strip().lower()
        if re.fullmatch(r"[1-5]xx", part):
            out.append((int(part[0]) * 100, int(part[0]) * 100 + 99))
        elif "-" in part:
            lo, hi = part.split("-", 1)
            out.append((int(lo), int(hi)))
        else:
            out.append((int(part), int(part)))
    return tuple(out)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="readygate load",
        description="Load-test an HTTP(S) URL with an open (--rate) or closed (--users) model "
                    "and judge it against latency, error-rate and throughput thresholds. "
                    "Exit codes: 0 passed, 1 failed, 2 usage error, 3 inconclusive, "
                    "4 could not measure. Defaults are those of a ReadinessCheck's spec.load.")
    p.add_argument("url", help="http(s)://host[:port]/path")
    model = p.add_mutually_exclusive_group()
    model.add_argument("-r", "--rate", type=float,
                       help="open model: requests per second (default model)")
    model.add_argument("-u", "--users", type=int,
                       help="closed model: concurrent users back to back")
    p.add_argument("-d", "--duration", type=parse_duration, default=DEFAULT_DURATION,
                   help="e.g. 30s, 2m, 1m30s (default 30s)")
    p.add_argument("--stage", action="append", default=[], metavar="DURATION:TARGET",
                   help="ramp to TARGET (req/s or users) over DURATION; repeatable")
    p.add_argument("--stress", metavar="START:STEP:MAX:STEP_DURATION",
                   help="step the rate up until the thresholds break; report the knee")
    p.add_argument("-p", "--processes", type=int, default=1,
                   help="worker processes (default 1)")
    p.add_argument("-c", "--connections", type=int, default=DEFAULT_CONNECTIONS,
                   help=f"open model: max requests in flight (default {DEFAULT_CONNECTIONS})")
    p.add_argument("--max-rate", type=float,
                   help="closed model: pace the users to at most this many req/s")
    p.add_argument("-m", "--method", default="GET")
    p.add_argument("--header", "-H", action="append", default=[], metavar="'K: V'")
    body = p.add_mutually_exclusive_group()
    body.add_argument("--body", help="request body (text)")
    body.add_argument("--body-file", help="request body from a file")
    p.add_argument("--expect-status", default="200-399", help="e.g. 2xx,404 (default 200-399)")
    p.add_argument("-t", "--timeout", type=parse_duration, default=DEFAULT_TIMEOUT,
                   help="per request (default 5s)")
    p.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    p.add_argument("--ca-file", help="CA bundle to verify TLS certificates with")
    p.add_argument("--connect-to", metavar="ADDRESS",
                   help="connect here instead of resolving the URL's host, which stays the "
                        "Host header and the TLS name (like curl --connect-to)")
    for q in ("p50", "p95", "p99", "p999"):
        p.add_argument(f"--{q}", type=parse_duration, help=f"{q} latency limit, e.g. 200ms")
    p.add_argument("--max-error-rate", type=parse_rate_fraction, help="e.g. 1%% or 0.01")
    p.add_argument("--min-throughput", type=float, help="req/s")
    p.add_argument("--min-samples", type=int, help="fewer requests -> Inconclusive")
    p.add_argument("-o", "--output", choices=("table", "json"), default="table")
    p.add_argument("--progress", action="store_true", help="progress line even if not a TTY")
    return p


def build_plan(args: argparse.Namespace) -> LoadPlan:
    url = urlsplit(args.url)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise PlanError(f"URL must be http(s)://host[:port]/path, got {args.url!r}")
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    headers = []
    for h in args.header:
        k, sep, v = h.partition(":")
        if not sep:
            raise PlanError(f"header must look like 'Name: value', got {h!r}")
        headers.append((k.strip(), v.strip()))
    body: bytes | None = args.body.encode() if args.body is not None else None
    if args.body_file:
        with open(args.body_file, "rb") as f:
            body = f.read()
    try:
        expect = _status_ranges(args.expect_status)
        stages = []
        for s in args.stage:
            d, _, target = s.rpartition(":")
            stages.append(Stage(parse_duration(d), float(target)))
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise PlanError(str(exc)) from exc
    thresholds = Thresholds(p50=args.p50, p95=args.p95, p99=args.p99, p999=args.p999,
                            max_error_rate=args.max_error_rate,
                            min_throughput=args.min_throughput, min_samples=args.min_samples)
    stress = None
    if args.stress:
        try:
            a, b, c, d = args.stress.split(":")
            stress = StressPlan(float(a), float(b), float(c), parse_duration(d), thresholds)
        except (ValueError, argparse.ArgumentTypeError) as exc:
            raise PlanError(f"--stress wants START:STEP:MAX:STEP_DURATION, got {args.stress!r}"
                            ) from exc
    closed = args.users is not None
    rate = args.rate
    if not closed and rate is None and not stages and stress is None:
        raise PlanError("give --rate R (open model) or --users N (closed model)")
    return LoadPlan(
        base_url=f"{url.scheme}://{url.netloc}", model="closed" if closed else "open",
        rate=None if closed else rate, users=args.users, duration=args.duration,
        stages=tuple(stages),
        requests=(RequestTemplate(method=args.method.upper(), path=path, headers=tuple(headers),
                                  body=body, expect_status=expect),),
        timeout=args.timeout, connections=args.connections, insecure=args.insecure,
        ca_file=args.ca_file, connect_to=args.connect_to, stress=stress,
        thresholds=thresholds, max_rate=args.max_rate if closed else None)


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:.2f}ms"


def render_table(plan: LoadPlan, result: LoadResult, j: Judgement, processes: int) -> str:
    what = (f"{result.target_rate:g} req/s target" if plan.model == "open" and
            result.target_rate is not None else f"{result.users} users")
    if result.stress is not None:
        what = "stress"
    lines = [f"readygate load: {plan.model} model, {what}, {result.duration:.1f} s, "
             f"{processes} process{'es' if processes > 1 else ''}"]
    errs = ", ".join(f"{k}={v}" for k, v in sorted(result.errors.items())) or "none"
    lines.append(f"  requests    {result.requests}  (errors {result.error_count}: {errs})")
    lines.append(f"  throughput  {result.throughput:.1f} req/s   error rate "
                 f"{result.error_rate * 100:.2f}%   late {result.late}   "
                 f"dropped {result.dropped}")
    s = result.latency.summary()
    lines.append("  latency     " + "  ".join(
        f"{k} {_ms(s.get(k))}" for k in ("p50", "p90", "p95", "p99", "p999", "max", "mean")))
    if result.corrected is not None:
        raw = result.histogram.summary()
        lines.append(f"              (closed model, coordinated-omission corrected; "
                     f"uncorrected p99 {_ms(raw.get('p99'))})")
    elif plan.model == "open":
        lines.append("              (open model, measured from the intended send time)")
    if result.stress is not None:
        for st in result.stress.steps:
            lines.append(f"  step {st.rate:>9g} req/s  {st.verdict:<12} p99 {_ms(st.p99)}  "
                         f"errors {st.error_rate * 100:.2f}%  {st.throughput:.1f} req/s")
    lines.append(f"  verdict     {j.result}: {j.summary}")
    return "\n".join(lines)


class _ProgressLine:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.last = (0.0, 0)

    def __call__(self, p: Progress) -> None:
        if p.requests < 0:  # worker processes report only at the end
            self.stream.write(f"\r[{p.elapsed:6.1f}s/{p.duration:g}s] {p.in_flight} worker "
                              "processes running ")
            self.stream.flush()
            return
        t0, n0 = self.last
        rate = (p.requests - n0) / (p.elapsed - t0) if p.elapsed > t0 else 0.0
        self.last = (p.elapsed, p.requests)
        self.stream.write(f"\r[{p.elapsed:6.1f}s/{p.duration:g}s] {p.requests} requests  "
                          f"{rate:8.0f} req/s  {p.errors} errors  {p.in_flight} in flight ")
        self.stream.flush()


def run_plan(plan: LoadPlan, processes: int, progress: Callable[[Progress], None] | None
         ) -> LoadResult:
    if processes == 1 and plan.stress is None:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(run_load(plan, on_progress=progress))
    stop = threading.Event()
    if progress is not None:
        started = time.monotonic()

        def tick() -> None:
            while not stop.wait(1.0):
                progress(Progress(time.monotonic() - started, plan.total_duration, -1, 0,
                                  processes))

        threading.Thread(target=tick, daemon=True).start()
    try:
        return run_processes(plan, processes)
    finally:
        stop.set()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "load":
        argv = argv[1:]
    args = _parser().parse_args(argv)
    show = args.progress or sys.stderr.isatty()
    try:
        plan = build_plan(args)
        result = run_plan(plan, args.processes, _ProgressLine(sys.stderr) if show else None)
    except LoadError as exc:
        if show:
            sys.stderr.write("\n")
        detail = getattr(exc, "detail", "")  # a worker's own error output: the user's terminal
        print(f"readygate load: {type(exc).__name__}: {exc}" + (f": {detail}" if detail else ""),
              file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, PlanError) else EXIT_ERROR
    except KeyboardInterrupt:
        print("\nreadygate load: interrupted", file=sys.stderr)
        return EXIT_ERROR
    if show:
        sys.stderr.write("\n")
    j = judge(result, plan.thresholds)
    if args.output == "json":
        print(json.dumps(camel({"judgement": j.to_dict(), "result": result.to_dict()}),
                         indent=1))
    else:
        print(render_table(plan, result, j, args.processes))
    return EXIT[j.result]
