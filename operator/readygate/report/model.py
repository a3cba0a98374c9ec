"""A ReadinessCheck object read into what the report shows: ``read(obj) -> Report``. Pure.

The object is whatever the API server (or a saved file) holds; its status is written by the
operator, but anyone allowed to write the object could put anything there, so every field is
read defensively: a missing or mistyped value becomes None or empty, never an exception, and
only finite numbers are kept. The typed spec (``api.parse``) supplies the thresholds; a spec
that does not parse leaves them out. ``facts`` derives the tables from a ``Report``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from readygate.api.parse import parse_spec
from readygate.api.report import METRICS_SERIES, SERIES_NAME_CHARS
from readygate.api.results import EVIDENCE_CHARS, clip
from readygate.api.spec import CheckSpec
from readygate.report.fmt import num

LIST_ITEMS = 100  # items of any list read from the object, at most (status bounds are lower)


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    result: str
    message: str
    started_at: str | None
    finished_at: str | None
    measured: dict[str, float]
    evidence: tuple[str, ...]
    warnings: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    reason: str
    message: str
    pod: str | None
    container: str | None
    exit_code: float | None
    restart_count: float | None
    detected_at: str | None
    crashed_at: str | None
    log_tail: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class LoadSeries:
    step: float
    t: tuple[float, ...]
    requests: tuple[float, ...]
    errors: tuple[float, ...]
    p50: tuple[float | None, ...]
    p95: tuple[float | None, ...]
    p99: tuple[float | None, ...]


@dataclasses.dataclass(frozen=True)
class MemorySeries:
    of: str
    t: tuple[float, ...]
    bytes: tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class MetricsSeries:
    of: str
    t: tuple[float, ...]
    series: tuple[tuple[str, tuple[float | None, ...]], ...]  # (selector, values)


@dataclasses.dataclass(frozen=True)
class Baseline:
    run: float | None
    verdict: str
    score: float | None
    finished_at: str | None
    checks: dict[str, tuple[str, dict[str, float]]]  # name -> (result, measured)


@dataclasses.dataclass(frozen=True)
class Report:
    namespace: str
    name: str
    generation: float | None
    observed_generation: float | None
    phase: str | None
    verdict: str | None
    score: float | None
    breakdown: dict[str, float]
    summary: str
    target: str | None
    runs: float | None
    run_started_at: str | None
    last_verdict_at: str | None
    next_run_at: str | None
    checks: tuple[Check, ...]
    diagnosis: Diagnosis | None
    not_checked: tuple[str, ...]
    warnings: tuple[str, ...]
    history: tuple[str, ...]
    error: str | None
    load: LoadSeries | None
    memory: MemorySeries | None
    load_started_at: str | None
    killed_at: float | None
    recovered_at: float | None
    baseline: Baseline | None
    spec: CheckSpec | None
    metrics: MetricsSeries | None = None

    @property
    def finished(self) -> bool:
        return self.phase in ("Passed", "Failed", "Inconclusive", "Error")


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _strs(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(v) for v in value[:LIST_ITEMS] if isinstance(v, (str, int, float)))


def _numbers(value: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, raw in list(_map(value).items())[:LIST_ITEMS]:
        n = num(raw)
        if isinstance(key, str) and n is not None:
            out[key] = n
    return out


def _series(value: Any, nullable: bool = False) -> tuple[Any, ...]:
    if not isinstance(value, list):
        return ()
    out = [num(v) for v in value[:LIST_ITEMS]]
    return tuple(out if nullable else [v if v is not None else 0.0 for v in out])


def _check(entry: Mapping[str, Any]) -> Check:
    return Check(name=str(entry.get("name")), result=_str(entry.get("result")) or "Unknown",
                 message=_str(entry.get("message")) or "",
                 started_at=_str(entry.get("startedAt")),
                 finished_at=_str(entry.get("finishedAt")),
                 measured=_numbers(entry.get("measured")), evidence=_strs(entry.get("evidence")),
                 warnings=_strs(entry.get("warnings")))


def _diagnosis(value: Any) -> Diagnosis | None:
    d = _map(value)
    if not d:
        return None
    return Diagnosis(reason=_str(d.get("reason")) or "Unknown",
                     message=_str(d.get("message")) or "", pod=_str(d.get("pod")),
                     container=_str(d.get("container")), exit_code=num(d.get("exitCode")),
                     restart_count=num(d.get("restartCount")),
                     detected_at=_str(d.get("detectedAt")), crashed_at=_str(d.get("crashedAt")),
                     log_tail=_strs(d.get("logTail")))


def _load(value: Any) -> LoadSeries | None:
    d = _map(value)
    t = _series(d.get("t"))
    if not t:
        return None
    n = len(t)

    def cut(key: str, nullable: bool = False) -> tuple[Any, ...]:
        values = _series(d.get(key), nullable)
        return tuple(values[:n]) + ((None if nullable else 0.0),) * (n - len(values))

    return LoadSeries(step=max(1.0, num(d.get("stepSeconds")) or 1.0), t=t,
                      requests=cut("requests"), errors=cut("errors"), p50=cut("p50Ms", True),
                      p95=cut("p95Ms", True), p99=cut("p99Ms", True))


def _memory(value: Any) -> MemorySeries | None:
    d = _map(value)
    t, values = _series(d.get("t")), _series(d.get("bytes"))
    n = min(len(t), len(values))
    if not n:
        return None
    return MemorySeries(of=_str(d.get("of")) or "?", t=t[:n], bytes=values[:n])


def _metrics(value: Any) -> MetricsSeries | None:
    d = _map(value)
    t = _series(d.get("t"))
    entries = d.get("series")
    series = []
    for entry in (entries if isinstance(entries, list) else [])[:METRICS_SERIES]:
        e = _map(entry)
        values = _series(e.get("values"), nullable=True)[:len(t)]
        name = _str(e.get("name"))
        if name:
            series.append((clip(name, SERIES_NAME_CHARS),
                           values + (None,) * (len(t) - len(values))))
    if not t or not series:
        return None
    return MetricsSeries(of=clip(_str(d.get("of")) or "?", EVIDENCE_CHARS), t=t,
                         series=tuple(series))


def _baseline(value: Any) -> Baseline | None:
    d = _map(value)
    verdict = _str(d.get("verdict"))
    if not verdict:
        return None
    checks: dict[str, tuple[str, dict[str, float]]] = {}
    entries = d.get("checks")
    for entry in (entries if isinstance(entries, list) else [])[:LIST_ITEMS]:
        e = _map(entry)
        if isinstance(e.get("name"), str):
            checks[e["name"]] = (_str(e.get("result")) or "", _numbers(e.get("measured")))
    return Baseline(run=num(d.get("run")), verdict=verdict, score=num(d.get("score")),
                    finished_at=_str(d.get("finishedAt")), checks=checks)


def _spec(value: Any) -> CheckSpec | None:
    try:
        return parse_spec(value)
    except Exception:  # an invalid (or hostile) spec: the report shows no thresholds
        return None


def read(obj: Mapping[str, Any]) -> Report:
    meta, status = _map(obj.get("metadata")), _map(obj.get("status"))
    charts = _map(status.get("charts"))
    disruption = _map(charts.get("disruption"))
    entries = status.get("checks")
    checks = tuple(_check(e) for e in (entries if isinstance(entries, list) else [])[:LIST_ITEMS]
                   if isinstance(e, Mapping))
    return Report(
        namespace=_str(meta.get("namespace")) or "default", name=_str(meta.get("name")) or "?",
        generation=num(meta.get("generation")),
        observed_generation=num(status.get("observedGeneration")),
        phase=_str(status.get("phase")), verdict=_str(status.get("verdict")),
        score=num(status.get("score")), breakdown=_numbers(status.get("scoreBreakdown")),
        summary=_str(status.get("summary")) or "", target=_str(status.get("target")),
        runs=num(status.get("runs")), run_started_at=_str(status.get("runStartedAt")),
        last_verdict_at=_str(status.get("lastVerdictAt")),
        next_run_at=_str(status.get("nextRunAt")), checks=checks,
        diagnosis=_diagnosis(status.get("diagnosis")),
        not_checked=_strs(status.get("notChecked")), warnings=_strs(status.get("warnings")),
        history=_strs(status.get("history")),
        error=_str(_map(status.get("error")).get("message")),
        load=_load(charts.get("load")), memory=_memory(charts.get("memory")),
        load_started_at=_str(charts.get("loadStartedAt")),
        killed_at=num(disruption.get("killedAt")),
        recovered_at=num(disruption.get("recoveredAt")),
        baseline=_baseline(status.get("baseline")), spec=_spec(obj.get("spec")),
        metrics=_metrics(charts.get("metrics")))
