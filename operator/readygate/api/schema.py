"""The ReadinessCheck CRD, generated from the spec dataclasses.

Owns the translation of ``spec``'s classes and their ``fields`` metadata into a structural
OpenAPI v3 schema, the status schema the operator writes, and the CRD object around them
(names, printer columns, status subresource). ``crds/readinesschecks.readygate.io.yaml`` is
this module's output, written by ``readygate crd``; a unit test fails when the file and the
code drift. Validation is OpenAPI (enum, bounds, patterns, lengths) plus CEL rules
(``x-kubernetes-validations``) for what spans fields or needs a duration's value: each with the
message ``kubectl apply`` shows. The rules are declared in ``spec`` (``RULES``), GA since
Kubernetes 1.29; readygate supports the three newest minors.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from readygate.api import report, rerun
from readygate.api import spec as spec_types
from readygate.api.durations import PATTERN as DURATION_PATTERN
from readygate.api.durations import format_duration
from readygate.api.fields import has_default, json_name, meta_of, rules_of
from readygate.api.names import PHASES, RESULTS, VERDICTS
from readygate.api.percent import MAX_LENGTH as PERCENT_CHARS
from readygate.api.percent import PATTERN as PERCENT_PATTERN
from readygate.api.percent import format_percent

GROUP = "readygate.io"
VERSION = "v1alpha1"
KIND = "ReadinessCheck"
PLURAL = "readinesschecks"
SINGULAR = "readinesscheck"
SHORT_NAMES = ("rgc",)
CATEGORIES = ("readygate",)
CRD_NAME = f"{PLURAL}.{GROUP}"



def unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """``(T, True)`` for ``T | None``, else ``(tp, False)``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
        raise TypeError(f"unsupported union {tp!r}")
    return tp, False


def _duration_bounds(meta_min: float | None, meta_max: float | None) -> str:
    parts = []
    if meta_min is not None:
        parts.append(f"at least {format_duration(meta_min)}")
    if meta_max is not None:
        parts.append(f"at most {format_duration(meta_max)}")
    return (" A duration such as 500ms, 30s or 2m; " + " and ".join(parts) + ".") if parts else ""


def type_schema(tp: Any) -> dict[str, Any]:
    """The schema of a Python type used in the spec (without field-level metadata)."""
    tp, _ = unwrap_optional(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return object_schema(tp)
    origin = typing.get_origin(tp)
    if origin is tuple:
        item, ellipsis = typing.get_args(tp)
        if ellipsis is not Ellipsis:
            raise TypeError(f"only tuple[T, ...] is supported, not {tp!r}")
        return {"type": "array", "items": type_schema(item)}
    if origin is dict:
        key, value = typing.get_args(tp)
        if key is not str:
            raise TypeError(f"dict keys must be str, not {key!r}")
        return {"type": "object", "additionalProperties": type_schema(value)}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if tp in simple:
        return {"type": simple[tp]}
    raise TypeError(f"unsupported spec type {tp!r}")


def field_schema(f: dataclasses.Field[Any], tp: Any) -> dict[str, Any]:
    meta = meta_of(f)
    if meta.duration:
        out: dict[str, Any] = {"type": "string", "pattern": DURATION_PATTERN, "maxLength": 32}
        description = meta.description + _duration_bounds(meta.minimum, meta.maximum)
        bounds = _duration_rule(meta.minimum, meta.maximum)
        if bounds is not None:
            out["x-kubernetes-validations"] = [bounds]
    elif meta.percent:
        out = {"type": "string", "pattern": PERCENT_PATTERN, "maxLength": PERCENT_CHARS}
        description = meta.description + _percent_bounds(meta.minimum, meta.maximum)
        bounds = _percent_rule(meta.minimum, meta.maximum)
        if bounds is not None:
            out["x-kubernetes-validations"] = [bounds]
    else:
        out = type_schema(tp)
        description = meta.description
        if meta.minimum is not None:
            out["minimum"] = meta.minimum if out["type"] == "number" else int(meta.minimum)
            if meta.exclusive_minimum:
                out["exclusiveMinimum"] = True
        if meta.maximum is not None:
            out["maximum"] = meta.maximum if out["type"] == "number" else int(meta.maximum)
    out = {"description": description, **out}
    if meta.enum is not None:
        out["enum"] = list(meta.enum)
    if meta.pattern is not None:
        out["pattern"] = meta.pattern
    if meta.max_length is not None:
        out["maxLength"] = meta.max_length
    if meta.max_items is not None:
        out["maxItems"] = meta.max_items
    if meta.item_enum is not None:
        out["items"]["enum"] = list(meta.item_enum)
    if meta.item_pattern is not None:
        out["items"]["pattern"] = meta.item_pattern
    default = _schema_default(f)
    if default is not None:
        out["default"] = default
    return out


def _duration_rule(low: float | None, high: float | None) -> dict[str, str] | None:
    """The bounds of a duration field as a CEL rule (a pattern cannot say them)."""
    parts, words = [], []
    if low is not None and low > 0:
        parts.append(f"duration(self) >= duration('{format_duration(low)}')")
        words.append(f"at least {format_duration(low)}")
    if high is not None:
        parts.append(f"duration(self) <= duration('{format_duration(high)}')")
        words.append(f"at most {format_duration(high)}")
    if not parts:
        return None
    return {"rule": " && ".join(parts), "message": "must be " + " and ".join(words)}


def _percent_bounds(low: float | None, high: float | None) -> str:
    words = [f"at least {format_percent(low)}" if low is not None else "",
             f"at most {format_percent(high)}" if high is not None else ""]
    said = " and ".join(w for w in words if w)
    return (" A percentage such as 99.9% (with the percent sign; a number such as 0.999 is "
            "refused)" + (f"; {said}." if said else "."))


def _percent_rule(low: float | None, high: float | None) -> dict[str, str] | None:
    """The bounds of a percentage field as a CEL rule, checked once the pattern holds."""
    value = "double(self.replace('%', ''))"
    parts, words = [], []
    for op, bound, word in ((">=", low, "at least"), ("<=", high, "at most")):
        if bound is not None:
            number = format_percent(bound)[:-1]
            parts.append(f"{value} {op} {number if '.' in number else number + '.0'}")
            words.append(f"{word} {format_percent(bound)}")
    if not parts:
        return None
    pattern = PERCENT_PATTERN.replace("\\", "\\\\")  # a CEL string literal
    return {"rule": f"!self.matches('{pattern}') || (" + " && ".join(parts) + ")",
            "message": "must be " + " and ".join(words) + ", such as 99.9%"}


def _schema_default(f: dataclasses.Field[Any]) -> Any:
    """The default shown by the API server, for scalars only (objects default in code)."""
    meta = meta_of(f)
    if meta.schema_default is not None:
        return meta.schema_default
    if f.default is dataclasses.MISSING or f.default is None:
        return None
    if meta.duration:
        return format_duration(float(f.default))
    if meta.percent:
        return format_percent(float(f.default))
    if isinstance(f.default, (str, int, float, bool)):
        return f.default
    return None


def object_schema(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        name = json_name(f)
        properties[name] = field_schema(f, hints[f.name])
        if not has_default(f):
            required.append(name)
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    rules = []
    for rule in rules_of(cls):
        entry = {"rule": rule.rule, "message": rule.message}
        if rule.message_expression is not None:
            entry["messageExpression"] = rule.message_expression
        if rule.field_path is not None:
            entry["fieldPath"] = rule.field_path
        rules.append(entry)
    if rules:
        out["x-kubernetes-validations"] = rules
    return out


def _f(kind: str, description: str, **extra: Any) -> dict[str, Any]:
    """A status field: its type and what it means (every status field has a description, so
    ``kubectl explain readinesscheck.status`` says what each one is)."""
    return {"type": kind, "description": description, **extra}


def _strings(description: str, most: int) -> dict[str, Any]:
    return _f("array", description, items={"type": "string"}, maxItems=most)


def _condition_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "A metav1.Condition: Ready, Reconciling, Stalled, and <Check>Passed per "
                       "check.",
        "required": ["type", "status", "lastTransitionTime", "reason", "message"],
        "properties": {
            "type": _f("string", "Ready, Reconciling, Stalled, or <Check>Passed (e.g. "
                                 "LoadPassed).", maxLength=316),
            "status": _f("string", "True, False or Unknown.", enum=["True", "False", "Unknown"]),
            "observedGeneration": _f("integer", "The generation of the spec this condition "
                                                "was set for.", minimum=0),
            "lastTransitionTime": _f("string", "When the status last changed.",
                                     format="date-time"),
            "reason": _f("string", "A CamelCase reason: the phase or the check's result.",
                         maxLength=1024),
            "message": _f("string", "What a person reads: the summary or the check's message.",
                          maxLength=32768),
        },
    }


def status_schema() -> dict[str, Any]:
    check = {
        "type": "object",
        "description": "One check's result with its evidence.",
        "required": ["name", "result"],
        "properties": {
            "name": _f("string", "The check: deploy, readiness, liveness, manifest, security, "
                                 "load, availability, stability, resilience, metrics or "
                                 "persistence.",
                         maxLength=63),
            "result": _f("string", "Passed, Failed, Inconclusive (not enough data — never a "
                                   "silent pass) or Error (could not measure); Pending, "
                                   "Running or Skipped while the run goes on.",
                         enum=list(RESULTS)),
            "message": _f("string", "What was found, in one line."),
            "startedAt": _f("string", "When the check started.", format="date-time"),
            "finishedAt": _f("string", "When the check finished.", format="date-time"),
            "measured": _f("object", "Measured values, numbers with their unit in the key "
                                     "(p95Ms, rps, errorRate, recoverySeconds, ...).",
                           additionalProperties={"type": "number"}),
            "evidence": _strings("The observations behind the result (probe answers, log "
                                 "lines, requests), bounded.", 50),
            "warnings": _strings("Breaches the spec names as warnings (verdict Conditional).",
                                 20),
        },
    }
    gate = {
        "type": "object",
        "description": "The pod readiness gate this check sets, and the pods it judged.",
        "properties": {
            "conditionType": _f("string", "The pod condition type of the gate."),
            "verified": _f("integer", "Pods whose gate is True."),
            "failed": _f("integer", "Pods whose gate is False."),
            "pending": _f("integer", "Pods not judged yet."),
            "pods": _f("array", "Each gated pod and its gate's result (at most 50).", maxItems=50,
                       items={"type": "object", "description": "A gated pod.", "properties": {
                           "pod": _f("string", "The pod's name."),
                           "result": _f("string", "Passed, Failed, Pending or Verifying.",
                                        enum=["Passed", "Failed", "Pending", "Verifying"]),
                           "message": _f("string", "Why, in one line."),
                       }}),
        },
    }
    return {
        "type": "object",
        "description": "Written by the operator only (one status writer).",
        "properties": {
            "observedGeneration": _f("integer", "The spec generation this status is about."),
            "phase": _f("string", "Where the run is: Pending, Deploying, Verifying, then "
                                  "Passed, Failed, Inconclusive or Error.", enum=list(PHASES)),
            "verdict": _f("string", "The verdict of the last finished run: the terminal phase, "
                                    "or Conditional (passed with warnings the spec named).",
                          enum=list(VERDICTS)),
            "warnings": _strings("The warnings behind a Conditional verdict.", 20),
            "notChecked": _strings("Score categories no check measured (they add nothing to "
                                   "the score).", 10),
            "gate": gate,
            "summary": _f("string", "One line a person reads: what passed, or the first "
                                    "thing that did not."),
            "score": _f("integer", "0-100: the weighted share of the categories that were "
                                   "measured and passed.", minimum=0, maximum=100),
            "scoreBreakdown": _f("object", "Points per category (deploy, health, performance, "
                                           "resilience, persistence, security).",
                                 additionalProperties={"type": "integer"}),
            "p95Ms": _f("integer", "The load check's 95th percentile latency, whole "
                                   "milliseconds (the P95 column)."),
            "target": _f("string", "Where the checks were sent (a Service's cluster IP, or a "
                                   "URL and the address it was pinned to)."),
            "runStartedAt": _f("string", "When the current (or last) run started.",
                               format="date-time"),
            "lastVerdictAt": _f("string", "When the last verdict was reached.",
                                format="date-time"),
            "nextRunAt": _f("string", "When spec.schedule runs the check again.",
                            format="date-time"),
            "runs": _f("integer", "Runs started since the check was created."),
            "conditions": _f("array", "kstatus conditions (Ready, Reconciling, Stalled) and one "
                                      "<Check>Passed per check.",
                             items=_condition_schema(), **{
                                 "x-kubernetes-list-type": "map",
                                 "x-kubernetes-list-map-keys": ["type"]}),
            "checks": _f("array", "Each check's result, in the order a run makes them.",
                         items=check, maxItems=16, **{
                             "x-kubernetes-list-type": "map",
                             "x-kubernetes-list-map-keys": ["name"]}),
            "diagnosis": {
                "type": "object",
                "description": "Why the workload does not start (cleared once it is ready).",
                "properties": {
                    "reason": _f("string", "CrashLoopBackOff, OOMKilled, ImagePullBackOff, "
                                           "Unschedulable, FailedCreate, ..."),
                    "message": _f("string", "What explains it: the log line, the exit code, "
                                            "the scheduler's or the admission's message."),
                    "pod": _f("string", "The pod it was seen on."),
                    "container": _f("string", "The container it was seen on."),
                    "exitCode": _f("integer", "The crashed container's exit code."),
                    "restartCount": _f("integer", "The container's restarts when diagnosed."),
                    "detectedAt": _f("string", "When readygate diagnosed it.",
                                     format="date-time"),
                    "crashedAt": _f("string", "When the diagnosed container exited.",
                                    format="date-time"),
                    "logTail": _strings("The crashed container's last log lines (bounded).",
                                        50),
                },
            },
            "history": _strings("The last runs, one line each (run, generation, verdict, "
                                "score, when, summary).", 10),
            "error": {"type": "object", "description": "Why the spec or the target cannot be "
                                                       "used (phase Error).",
                      "properties": {"message": _f("string", "What to fix.")}},
            "charts": report.charts_schema(),
            "baseline": report.baseline_schema(),
            "handledRerun": _f("string", f"The {rerun.ANNOTATION} annotation's value the last "
                                         "run started with; another value starts a run.",
                               maxLength=rerun.TOKEN_CHARS),
        },
    }


PRINTER_COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "Ready", "type": "string",
     "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status",
     "description": "The Ready condition: True after a pass."},
    {"name": "Verdict", "type": "string", "jsonPath": ".status.verdict"},
    {"name": "Score", "type": "integer", "jsonPath": ".status.score"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase", "priority": 1},
    {"name": "P95ms", "type": "integer", "jsonPath": ".status.p95Ms", "priority": 1,
     "description": "95th percentile latency of the load check, whole milliseconds."},
    {"name": "Summary", "type": "string", "jsonPath": ".status.summary", "priority": 1},
)


def crd() -> dict[str, Any]:
    """The whole CustomResourceDefinition, ready to apply."""
    spec_schema = object_schema(spec_types.CheckSpec)
    spec_schema["description"] = (
        "What to verify and how. The semantics of each check are in docs/checks.md of "
        "readygate.")
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
                "categories": list(CATEGORIES),
            },
            "versions": [{
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [dict(c) for c in PRINTER_COLUMNS],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "A ReadinessCheck deploys or points at a workload, measures "
                                   "its liveness, readiness and behaviour under load, and "
                                   "writes the verdict with its evidence into status.",
                    "required": ["spec"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": spec_schema,
                        "status": status_schema(),
                    },
                }},
            }],
        },
    }
