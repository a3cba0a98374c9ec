"""readygate.load — the load engine: open and closed models, honest percentiles, a CLI.

A self-contained library (it never imports kopf or kubernetes, not even transitively) that runs
a ``LoadPlan`` against an HTTP(S) service and returns a ``LoadResult``; ``judge`` turns a
result and ``Thresholds`` into a ``Judgement`` (Passed / Failed / Inconclusive). Layers, bottom
up: ``histogram`` (mergeable log buckets) · ``schedule`` (pure due times, stages, shards) ·
``plan`` (frozen typed plan, safety caps) · ``result`` / ``thresholds`` (data and verdicts) ·
``transport`` (the seam) with ``client`` (asyncio.Protocol + httptools) and ``fake`` (tests) ·
``recorder`` / ``engine`` / ``stress`` (running on one event loop) · ``workers`` and
``__main__`` (processes, child processes, Job pods) · ``cli``.

Exception tree (target faults are data, counted in the result; only operator faults raise)::

    LoadError
     +-- PlanError (also ValueError)      invalid plan, threshold or CLI argument
     |    +-- CapExceeded                 beyond MAX_RATE / MAX_USERS / MAX_DURATION / ...
     +-- ResultError (also ValueError)    a result or histogram document that does not parse
     +-- WorkerError                      a worker/child process crashed or overran its time
     +-- ConnectError(kind)               transport -> engine only; never escapes a run
"""

from __future__ import annotations

from .engine import Progress, run_load
from .errors import CapExceeded, ConnectError, LoadError, PlanError, ResultError, WorkerError
from .histogram import RELATIVE_ERROR, Histogram
from .plan import (
    MAX_CONNECTIONS,
    MAX_DURATION,
    MAX_PROCESSES,
    MAX_RATE,
    MAX_TIMEOUT,
    MAX_USERS,
    LoadPlan,
    RequestTemplate,
    Stage,
    StressPlan,
    spike_stages,
)
from .result import LoadResult, Second, StressReport, StressStep, merge_results
from .thresholds import Failure, Judgement, Thresholds, judge
from .transport import Channel, Listener, Transport
from .workers import run_in_new_loop, run_load_subprocess, run_processes, worker_command

__all__ = [
    "MAX_CONNECTIONS",
    "MAX_DURATION",
    "MAX_PROCESSES",
    "MAX_RATE",
    "MAX_TIMEOUT",
    "MAX_USERS",
    "RELATIVE_ERROR",
    "CapExceeded",
    "Channel",
    "ConnectError",
    "Failure",
    "Histogram",
    "Judgement",
    "Listener",
    "LoadError",
    "LoadPlan",
    "LoadResult",
    "PlanError",
    "Progress",
    "RequestTemplate",
    "ResultError",
    "Second",
    "Stage",
    "StressPlan",
    "StressReport",
    "StressStep",
    "Thresholds",
    "Transport",
    "WorkerError",
    "judge",
    "merge_results",
    "run_in_new_loop",
    "run_load",
    "run_load_subprocess",
    "run_processes",
    "spike_stages",
    "worker_command",
]
