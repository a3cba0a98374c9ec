"""Running a plan in processes: a fresh uvloop loop in this process, several worker processes
on one machine (each with its shard of the rate and its own event loop, histograms merged), or
one child process that keeps the load off the caller's event loop.

Owns ``run_in_new_loop``, ``run_processes`` (synchronous; call it outside any running loop) and
``run_load_subprocess`` (async; what the operator awaits: the child runs ``python -m
readygate.load`` with the plan as JSON on stdin and prints the result JSON on stdout; the child
is killed, with its whole process group, when the await is cancelled or overruns ``timeout``).
Worker processes are started the same way with ``--shard i/n``; ``__main__.py`` is their entry
point; results are merged by ``result.merge_results``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from .errors import CapExceeded, WorkerError
from .plan import MAX_PROCESSES, LoadPlan
from .result import LoadResult, merge_results
from .stress import run_stress

__all__ = ["run_in_new_loop", "run_load_subprocess", "run_processes", "worker_command"]

STARTUP_DELAY = 1.5  # seconds the workers get to start before the shared start time
MARGIN = 30.0  # seconds beyond the plan's duration + timeout before a worker is killed


def run_in_new_loop(plan: LoadPlan) -> LoadResult:
    """Run ``plan`` here on a fresh uvloop event loop (asyncio's when uvloop is missing)."""
    from .engine import run_load

    factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        pass
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(run_load(plan))


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # the folder holding readygate/
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def worker_command(*args: str) -> list[str]:
    """The command line of a worker: ``python -m readygate.load ARGS``."""
    return [sys.executable, "-m", "readygate.load", *args]


def default_timeout(plan: LoadPlan) -> float:
    return plan.total_duration + plan.timeout + STARTUP_DELAY + MARGIN


def _check_processes(processes: int) -> None:
    if not 1 <= processes <= MAX_PROCESSES:
        raise CapExceeded(f"processes must be in 1..{MAX_PROCESSES}, got {processes}")


def _parse(out: bytes, err: bytes, code: int | None, who: str) -> LoadResult:
    if code != 0:
        # The error output stays out of the message (which may reach a status): it can quote
        # a header value. Callers that may show it read ``detail``.
        tail = err.decode(errors="replace").strip().splitlines()[-5:]
        raise WorkerError(f"{who} exited with {code}", detail=" | ".join(tail))
    lines = out.decode().strip().splitlines()
    if not lines:
        raise WorkerError(f"{who} printed no result")
    return LoadResult.from_dict(json.loads(lines[-1]))


def run_processes(plan: LoadPlan, processes: int, timeout: float | None = None) -> LoadResult:
    """Run ``plan`` split over ``processes`` worker processes and merge their results.

    With one process it runs here on a new uvloop loop. Not to be called from a running loop.
    """
    _check_processes(processes)
    if plan.stress is not None:
        return run_stress(plan, lambda step: run_processes(step, processes, timeout))
    if processes == 1:
        return run_in_new_loop(plan)
    start_at = time.time() + STARTUP_DELAY
    limit = time.monotonic() + (timeout or default_timeout(plan))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        index, count = plan.shard  # already a shard (a Job pod's)? split it further, exactly
        for i in range(processes):
            shard_plan = replace(plan, start_at=start_at,
                                 shard=(index + i * count, count * processes))
            p = subprocess.Popen(worker_command(), stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=_child_env())  # same process group: killed with us
            assert p.stdin is not None
            p.stdin.write(json.dumps(shard_plan.to_dict()).encode())
            p.stdin.close()
            p.stdin = None  # written and closed: communicate() must not touch it again
            procs.append(p)
        results = []
        for i, p in enumerate(procs):
            try:
                out, err = p.communicate(timeout=max(0.1, limit - time.monotonic()))
            except subprocess.TimeoutExpired as exc:
                raise WorkerError(f"worker {i}/{processes} overran its time") from exc
            results.append(_parse(out, err, p.returncode, f"worker {i}/{processes}"))
        return merge_results(results)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


async def run_load_subprocess(plan: LoadPlan, processes: int = 1,
                              timeout: float | None = None,  # noqa: ASYNC109 - contract
                              ) -> LoadResult:
    """Run ``plan`` in a child process (which may fan out to ``processes`` workers).

    Bounded by ``timeout`` (default: the plan's duration + timeout + a margin); cancelling the
    await kills the child and its workers. Raises WorkerError on a crash or an overrun.
    """
    _check_processes(processes)
    limit = timeout or default_timeout(plan) + (STARTUP_DELAY if processes > 1 else 0.0)
    proc = await asyncio.create_subprocess_exec(
        *worker_command("--processes", str(processes)),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=_child_env(), start_new_session=True)
    try:
        async with asyncio.timeout(limit):
            out, err = await proc.communicate(json.dumps(plan.to_dict()).encode())
    except TimeoutError as exc:
        raise WorkerError(f"load child overran its {limit:.0f} s budget and was killed") from exc
    finally:
        if proc.returncode is None:
            _kill_group(proc.pid)
            await proc.wait()
    return _parse(out, err, proc.returncode, "load child")
