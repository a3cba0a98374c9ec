"""Judging stability during a soak: container memory growth and restarts while the load ran.
Pure.

The acting side samples the kubelet's ``/stats/summary`` every ``sampleEvery`` and hands the
samples here: ``memory_of`` picks the target's containers out of a summary, ``judge_stability``
compares the first and last working-set sample of each container that was there at the first
sample (growth), and counts restarts from the pods' status at the start and the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from readygate.api.quantity import format_bytes, parse_quantity
from readygate.api.results import CheckResult
from readygate.api.spec import StabilityCheck

MemorySample = tuple[float, dict[str, float]]  # (seconds since start, container -> bytes)


def memory_of(summary: Mapping[str, Any], namespace: str,
              pods: Iterable[str]) -> dict[str, float]:
    """``pod/container`` -> working-set bytes of the given pods, from a kubelet summary."""
    wanted = set(pods)
    out: dict[str, float] = {}
    for pod in summary.get("pods") or []:
        ref = pod.get("podRef") or {}
        if ref.get("namespace") != namespace or ref.get("name") not in wanted:
            continue
        for c in pod.get("containers") or []:
            ws = (c.get("memory") or {}).get("workingSetBytes")
            if isinstance(ws, (int, float)):
                out[f"{ref['name']}/{c.get('name')}"] = float(ws)
    return out


def judge_stability(spec: StabilityCheck, samples: Sequence[MemorySample], restarts: int, *,
                    started_at: str, finished_at: str) -> CheckResult:
    # Growth is judged on the containers of the first sample: a pod that started during the
    # load (a replacement after the resilience check deleted one) would count its own start-up.
    first: dict[str, float] = dict(samples[0][1]) if samples else {}
    last: dict[str, float] = {}
    peak: dict[str, float] = {}
    for _, values in samples:
        for key, value in values.items():
            if key not in first:
                continue
            last[key] = value
            peak[key] = max(peak.get(key, 0.0), value)
    growth = {k: last[k] - first[k] for k in last}
    measured: dict[str, float] = {"samples": float(len(samples)), "restarts": float(restarts)}
    evidence: list[str] = []
    worst = max(growth, key=lambda k: growth[k]) if growth else None
    if worst is not None:
        measured["memoryGrowthBytes"] = growth[worst]
        measured["memoryStartBytes"] = first[worst]
        measured["memoryPeakBytes"] = peak[worst]
        evidence = [f"{k}: {format_bytes(first[k])} -> {format_bytes(last[k])} "
                    f"(peak {format_bytes(peak[k])})" for k in sorted(growth)][:10]
    reasons = []
    if restarts > spec.max_restarts:
        reasons.append(f"{restarts} container restart(s) during the load (at most "
                       f"{spec.max_restarts})")
    if spec.max_memory_growth is not None and worst is not None:
        bound = parse_quantity(spec.max_memory_growth)
        if growth[worst] > bound:
            reasons.append(f"memory of {worst} grew by {format_bytes(growth[worst])} during the "
                           f"load (bound {spec.max_memory_growth})")
    if reasons:
        return CheckResult(result="Failed", message="; ".join(reasons), started_at=started_at,
                           finished_at=finished_at, measured=measured, evidence=tuple(evidence))
    if len(samples) < 2 or worst is None:
        return CheckResult(result="Inconclusive",
                           message="fewer than two memory samples of the target's containers "
                                   "(is the kubelet's /stats/summary reachable?)",
                           started_at=started_at, finished_at=finished_at, measured=measured,
                           evidence=tuple(evidence))
    return CheckResult(
        result="Passed",
        message=(f"memory grew by at most {format_bytes(growth[worst])} over "
                 f"{samples[-1][0] - samples[0][0]:.0f}s of load; {restarts} restart(s)"),
        started_at=started_at, finished_at=finished_at, measured=measured,
        evidence=tuple(evidence))
