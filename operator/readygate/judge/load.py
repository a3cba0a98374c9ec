"""The bridge between a ReadinessCheck's ``spec.load`` and the load engine. Pure.

``plan_for`` turns a ``spec.LoadCheck`` (plus the base URL and the resolved values of headers
from Secrets) into the engine's ``LoadPlan``; ``check_result`` turns the engine's ``LoadResult``
and ``Judgement`` into the ``CheckResult`` that goes into status, with the measured values under
unit-suffixed names (``p95Ms``, ``rps``, ``errorRate``). The operator (``run.loadrunner``) and the
CLI (``cli.check``) both use these two functions, so one spec gives one verdict in either place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from readygate.api.results import CheckResult
from readygate.api.spec import LoadCheck, SecretKeyRef
from readygate.load import (
    Judgement,
    LoadPlan,
    LoadResult,
    RequestTemplate,
    Stage,
    StressPlan,
    Thresholds,
)

SecretLookup = Callable[[SecretKeyRef], str]


def thresholds_for(load: LoadCheck) -> Thresholds:
    t = load.thresholds
    return Thresholds(p50=t.p50, p95=t.p95, p99=t.p99, p999=t.p999,
                      max_error_rate=t.max_error_rate, min_throughput=t.min_throughput,
                      min_samples=t.min_samples)


def secret_refs(load: LoadCheck) -> list[SecretKeyRef]:
    return [h.value_from.secret_key_ref for r in load.requests for h in r.headers
            if h.value_from is not None]


def plan_for(load: LoadCheck, base_url: str, secret: SecretLookup,
             connect_to: str | None = None) -> LoadPlan:
    requests = []
    for req in load.requests:
        headers: list[tuple[str, str]] = []
        for h in req.headers:
            if h.value is not None:
                headers.append((h.name, h.value))
            elif h.value_from is not None:
                headers.append((h.name, secret(h.value_from.secret_key_ref)))
        expect = tuple((s, s) for s in req.expect_status) or ((200, 399),)
        requests.append(RequestTemplate(
            method=req.method, path=req.path, headers=tuple(headers),
            body=req.body.encode() if req.body is not None else None, weight=req.weight,
            expect_status=expect))
    thresholds = thresholds_for(load)
    stress = None
    if load.stress is not None:
        s = load.stress
        stress = StressPlan(start_rate=s.start, step_rate=s.step, max_rate=s.max,
                            step_duration=s.step_duration, thresholds=thresholds)
    open_model = load.model == "open"
    peak = (load.stress.max if load.stress is not None else
            max([load.rate or 0.0] + [st.target for st in load.stages]))
    return LoadPlan(
        base_url=base_url, model="open" if open_model else "closed",
        rate=load.rate, users=load.users, duration=load.duration,
        stages=tuple(Stage(duration=s.duration, target=s.target) for s in load.stages),
        requests=tuple(requests) or (RequestTemplate(),), timeout=load.timeout,
        connections=load.connections, connect_to=connect_to, stress=stress,
        thresholds=thresholds, max_rate=peak if open_model else load.max_rate)


_SECONDS_TO_MS = ("p50", "p90", "p95", "p99", "p999", "max", "mean")


# spec.load.warnOnly names -> the engine's threshold names
_ENGINE_NAMES = {"p50": "p50", "p95": "p95", "p99": "p99", "p999": "p999",
                 "maxErrorRate": "max_error_rate", "minThroughput": "min_throughput"}


def check_result(result: LoadResult, judgement: Judgement, *, started_at: str,
                 finished_at: str, warn_only: Sequence[str] = ()) -> CheckResult:
    m = judgement.measured
    measured: dict[str, float] = {f"{k}Ms": m[k] * 1000 for k in _SECONDS_TO_MS if k in m}
    measured.update({
        "requests": float(result.requests), "errors": float(result.error_count),
        "errorRate": result.error_rate, "rps": result.throughput,
        "late": float(result.late), "dropped": float(result.dropped),
        "durationSeconds": result.duration,
    })
    if result.target_rate is not None:
        measured["targetRps"] = result.target_rate
    if result.stress is not None and result.stress.knee is not None:
        measured["kneeRps"] = result.stress.knee
    evidence = tuple(f"errors {kind}: {n}" for kind, n in sorted(result.errors.items()))
    evidence += tuple(f.message for f in judgement.failures)
    head = (f"{result.requests} requests at {result.throughput:.1f} req/s, "
            f"p95 {measured.get('p95Ms', 0):.1f}ms, p99 {measured.get('p99Ms', 0):.1f}ms, "
            f"errors {result.error_rate * 100:.2f}%")
    soft = {_ENGINE_NAMES[n] for n in warn_only}
    hard = [f for f in judgement.failures if f.threshold not in soft]
    warnings = tuple(f.message for f in judgement.failures if f.threshold in soft)
    verdict = judgement.result
    if verdict == "Failed" and not hard:
        verdict = "Passed"  # only thresholds named as warnings broke: Conditional
    if verdict == "Failed":
        message = "; ".join(f.message for f in hard) + f" ({head})"
    elif verdict == "Inconclusive":
        reason = judgement.reason.removeprefix("inconclusive: ")
        message = f"inconclusive: {reason} ({head})"
    elif result.stress is not None:
        message = f"{judgement.reason} ({head})"  # knee at N req/s, broke at M
    else:
        message = head
    return CheckResult(result=verdict, message=message, started_at=started_at,
                       finished_at=finished_at, measured=measured, evidence=evidence[:50],
                       warnings=warnings)
