"""``readygate check -f check.yaml --url URL``: a whole ReadinessCheck against a URL, outside any
cluster — readiness, liveness, security, load (with its availability) and the service's own
metrics, with the operator's verdict, score and messages.

It is the operator's own run: the same parser, runner, stages, judges and status computation,
with the check's target set to the URL and the API replaced by ``kube.offline`` (the status is
kept in memory; Secrets come from ``--secret NAME/KEY=VALUE`` or ``READYGATE_SECRET_<NAME>_<KEY>``,
upper case, other characters as ``_``). What needs a cluster — deploying, pod readiness gates,
killing pods (resilience), restarting a workload (persistence), kubelet memory (stability), the
pod template (manifest), a schedule — is left out and listed as not run. The URL is the user's
own choice, but link-local and metadata addresses are refused as in the operator, and every
request goes to the address that was checked.

Outputs: a table (default) or ``--output json`` (the status the operator would write) on
stdout; ``--junit FILE`` (one testcase per check), ``--report FILE`` (the readiness report, HTML,
or Markdown for a ``.md`` file). Exit codes: 0 Passed (or Conditional), 1 Failed, 2 usage error
(bad flags, an invalid file or spec, a refused URL; nothing was sent), 3 Inconclusive, 4 Error
(could not measure).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import re
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from readygate.api.parse import SpecError, parse_spec
from readygate.api.settings import Settings, SettingsError, from_env
from readygate.api.spec import CheckSpec, SecretKeyRef, Target
from readygate.api.urls import split_url
from readygate.judge.targets import url_refusal
from readygate.kube.offline import Offline
from readygate.kube.watchcache import WatchCache
from readygate.load.cli import EXIT, EXIT_ERROR, EXIT_USAGE
from readygate.load.pacer import Pacer
from readygate.run.context import Runtime
from readygate.run.lag import LagMonitor
from readygate.run.loadrunner import run_load_check
from readygate.run.prober import Prober
from readygate.run.ratebudget import RateBudget
from readygate.run.runner import CheckRunner
from readygate.status.metrics import Metrics
from readygate.status.writer import StatusWriter

# spec sections that need a cluster: (field, why it is not run here)
CLUSTER_ONLY = (
    ("resilience", "resilience deletes pods"),
    ("persistence", "persistence restarts a workload"),
    ("stability", "stability reads container memory from the kubelet"),
    ("manifest", "manifest judges a pod template"),
    ("gate", "a pod readiness gate needs pods"),
    ("schedule", "a schedule needs the operator"),
)


class UsageError(Exception):
    """Bad flags, an invalid file or spec, a refused URL: exit 2, nothing sent."""


def _env_name(ref_name: str, ref_key: str) -> str:
    return "READYGATE_SECRET_" + re.sub(r"[^A-Z0-9]", "_", f"{ref_name}_{ref_key}".upper())


def _pick(docs: Sequence[Any], name: str | None) -> Mapping[str, Any]:
    checks = [d for d in docs if isinstance(d, Mapping) and d.get("kind") == "ReadinessCheck"]
    if name:
        checks = [d for d in checks if (d.get("metadata") or {}).get("name") == name]
    if len(checks) != 1:
        found = len(checks)
        raise UsageError(f"expected exactly one ReadinessCheck"
                         f"{' named ' + name if name else ''} in the file, found {found}"
                         + ("; choose one with --name" if found > 1 else ""))
    return checks[0]


def _secret_refs(spec: CheckSpec) -> list[SecretKeyRef]:
    refs: list[SecretKeyRef] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretKeyRef):
            refs.append(value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                walk(getattr(value, f.name))
        elif isinstance(value, (tuple, list)):
            for item in value:
                walk(item)
    walk(spec)
    return refs


def local_spec(spec: CheckSpec, url: str) -> tuple[CheckSpec, list[str]]:
    """The spec as run here: its target is ``url``, sections that need a cluster are dropped;
    and the list of what was dropped, with why."""
    dropped = [f"{name}: {why}" for name, why in CLUSTER_ONLY
               if getattr(spec, name, None) is not None]
    changes: dict[str, Any] = {name: None for name, _ in CLUSTER_ONLY if hasattr(spec, name)}
    changes["target"] = Target(url=url)
    return dataclasses.replace(spec, **changes), dropped


def _allowlist(url: str) -> tuple[str, ...]:
    """The URL's own addresses, as CIDRs: what the user names is allowed, but a metadata or
    link-local address is refused all the same (``url_refusal``)."""
    try:
        _, host, port = split_url(url)
    except ValueError as exc:
        raise UsageError(f"refused: {exc}") from None
    try:
        resolved = list(dict.fromkeys(str(i[4][0]) for i in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM)))
    except OSError:
        resolved = []
    entries = tuple(f"{a}/{128 if ':' in a else 32}" for a in resolved if "%" not in a)
    refusal = url_refusal(url, resolved, entries)
    if refusal:
        raise UsageError(f"refused: {refusal}")
    return entries


async def run_check(doc: Mapping[str, Any], spec: CheckSpec,
                    secrets: Mapping[tuple[str, str], str], allowlist: tuple[str, ...],
                    prometheus: Settings | None = None) -> dict[str, Any]:
    """Run ``spec`` (already local) as the operator would; the ReadinessCheck it leaves.
    ``prometheus``: the settings its Prometheus URL and namespace label are taken from."""
    settings = dataclasses.replace(prometheus or Settings(), url_allowlist=allowlist,
                                   metrics_port=0)
    hint = (" (pass --secret {name}/{key}=VALUE or set READYGATE_SECRET_<NAME>_<KEY>)")
    kube = Offline(doc, secrets, secret_hint=hint)
    lag = LagMonitor()
    lag_task = asyncio.create_task(lag.run())
    metrics = Metrics()
    runtime = Runtime(settings=settings, kube=kube,
                      prober=Prober(pacer=Pacer(settings.probe_rate, burst=10.0), lag=lag),
                      rate_budget=RateBudget(settings.load_rate, cap=settings.max_total_rate),
                      metrics=metrics, cache=WatchCache(kube), load_runner=run_load_check)
    meta = kube.obj["metadata"]
    snapshot = {"metadata": dict(meta), "spec": kube.obj["spec"]}
    writer = StatusWriter(kube, meta["namespace"], meta["name"], {}, metrics=metrics,
                          resource_version=meta["resourceVersion"])
    try:
        await CheckRunner(runtime, snapshot, spec, writer, run=1, reason="NewGeneration").execute()
    finally:
        lag_task.cancel()
        await runtime.cache.close()
        kube.close()
    return dict(kube.obj)


def _table(obj: Mapping[str, Any], dropped: Sequence[str]) -> str:
    status = obj.get("status") or {}
    lines = [f"{obj['metadata']['name']}: {status.get('verdict', '?')} "
             f"(score {status.get('score', '?')}) — {status.get('target', '')}"]
    for entry in status.get("checks") or []:
        lines.append(f"  {entry.get('name', ''):<12} {entry.get('result', ''):<13} "
                     f"{entry.get('message', '')}")
        lines += [f"  {'':<12} {'warning':<13} {w}" for w in entry.get("warnings") or []]
    diagnosis = status.get("diagnosis")
    if diagnosis:
        lines.append(f"  diagnosis    {diagnosis.get('reason')}: {diagnosis.get('message')}")
    for what in dropped:
        lines.append(f"  not run      {what} (needs a cluster)")
    return "\n".join(lines)


def _write_report(path: str, obj: Mapping[str, Any]) -> None:
    from readygate.report import render_html, render_markdown

    markdown = path.endswith((".md", ".markdown"))
    text = render_markdown(obj) if markdown else render_html(obj)
    Path(path).write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="readygate check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-f", "--file", required=True, help="YAML with a ReadinessCheck")
    parser.add_argument("--url", required=True, help="base URL of the service, http(s)://host:port")
    parser.add_argument("--name", help="which ReadinessCheck, when the file has several")
    parser.add_argument("--secret", action="append", default=[], metavar="NAME/KEY=VALUE")
    parser.add_argument("--output", "-o", choices=("table", "json"), default="table")
    parser.add_argument("--junit", metavar="FILE", help="write JUnit XML, one case per check")
    parser.add_argument("--report", metavar="FILE",
                        help="write the readiness report (HTML; Markdown for .md)")
    parser.add_argument("--prometheus", metavar="URL",
                        default=os.environ.get("READYGATE_PROMETHEUS_URL"),
                        help="Prometheus for the metrics check's promql rules (default: "
                             "READYGATE_PROMETHEUS_URL)")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        doc, spec, dropped, secrets, allowlist = _prepare(args)
        label = "READYGATE_PROMETHEUS_NAMESPACE_LABEL"
        prometheus = from_env({"READYGATE_PROMETHEUS_URL": args.prometheus or "",
                               label: os.environ.get(label, "")})
    except (UsageError, SettingsError) as exc:
        print(f"readygate check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    obj = asyncio.run(run_check(doc, spec, secrets, allowlist, prometheus))
    status = obj.get("status") or {}
    if args.output == "json":
        print(json.dumps({"verdict": status.get("verdict"), "score": status.get("score"),
                          "notRun": dropped, "status": status}, indent=1))
    else:
        print(_table(obj, dropped))
    if args.junit:
        from readygate.cli.junit import junit

        Path(args.junit).write_text(junit(obj), encoding="utf-8")
    if args.report:
        _write_report(args.report, obj)
    return EXIT.get(str(status.get("verdict")), EXIT_ERROR)


def _prepare(args: argparse.Namespace) -> tuple[Mapping[str, Any], CheckSpec, list[str],
                                                 dict[tuple[str, str], str], tuple[str, ...]]:
    try:
        with open(args.file, encoding="utf-8") as fh:
            docs = list(yaml.safe_load_all(fh))
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{args.file}: {exc}") from None
    doc = _pick(docs, args.name)
    try:
        spec = parse_spec(doc.get("spec"))
    except SpecError as exc:
        raise UsageError(f"{args.file}: invalid spec:\n" + "\n".join(
            f"  - {p}" for p in exc.problems)) from None
    allowlist = _allowlist(args.url)
    local, dropped = local_spec(spec, args.url)
    given: dict[tuple[str, str], str] = {}
    for item in args.secret:
        ref, sep, value = item.partition("=")
        name, slash, key = ref.partition("/")
        if not sep or not slash or not name or not key:
            raise UsageError(f"--secret {item.split('=', 1)[0]}=...: write NAME/KEY=VALUE")
        given[(name, key)] = value
    for ref in _secret_refs(local):
        env = os.environ.get(_env_name(ref.name, ref.key))
        if (ref.name, ref.key) not in given and env is not None:
            given[(ref.name, ref.key)] = env
    return doc, local, dropped, given, allowlist
