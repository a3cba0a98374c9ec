"""``readygate check -f check.yaml --url URL``: a ReadinessCheck's load check outside any cluster.

The file is parsed by the operator's own ``parse`` and mapped by the operator's own
``judge.load``, so a CI pipeline gets the verdict the operator would give for the same spec.
Headers from Secrets are given as ``--secret NAME/KEY=VALUE`` or the environment variable
``READYGATE_SECRET_<NAME>_<KEY>`` (upper case, other characters as ``_``). Link-local and
metadata addresses are refused here too. Exit codes: 0 Passed (or Conditional), 1 Failed,
2 usage error (an invalid file or spec), 3 Inconclusive, 4 could not measure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from readygate.api.clock import utc_now
from readygate.api.parse import SpecError, parse_spec
from readygate.api.spec import SecretKeyRef
from readygate.api.urls import split_url
from readygate.judge.load import check_result, plan_for
from readygate.judge.targets import url_refusal
from readygate.load import LoadError, judge
from readygate.load.cli import EXIT, EXIT_ERROR, EXIT_USAGE, camel, render_table, run_plan


def _env_name(ref: SecretKeyRef) -> str:
    return "READYGATE_SECRET_" + re.sub(r"[^A-Z0-9]", "_", f"{ref.name}_{ref.key}".upper())


def _pick(docs: Sequence[Any], name: str | None) -> Mapping[str, Any]:
    checks = [d for d in docs if isinstance(d, Mapping) and d.get("kind") == "ReadinessCheck"]
    if name:
        checks = [d for d in checks if (d.get("metadata") or {}).get("name") == name]
    if len(checks) != 1:
        found = len(checks)
        raise SystemExit(f"readygate check: expected exactly one ReadinessCheck"
                         f"{' named ' + name if name else ''} in the file, found {found}"
                         + ("; choose one with --name" if found > 1 else ""))
    return checks[0]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="readygate check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-f", "--file", required=True, help="YAML with a ReadinessCheck")
    parser.add_argument("--url", required=True, help="base URL of the service, http(s)://host:port")
    parser.add_argument("--name", help="which ReadinessCheck, when the file has several")
    parser.add_argument("--processes", type=int, default=1, help="load worker processes")
    parser.add_argument("--secret", action="append", default=[], metavar="NAME/KEY=VALUE")
    parser.add_argument("--output", choices=("table", "json"), default="table")
    parser.add_argument("--progress", action="store_true", help="progress line on stderr")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))

    with open(args.file, encoding="utf-8") as fh:
        doc = _pick(list(yaml.safe_load_all(fh)), args.name)
    try:
        spec = parse_spec(doc.get("spec"))
    except SpecError as exc:
        print(f"readygate check: {args.file}: invalid spec:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_USAGE
    if spec.load is None:
        print(f"readygate check: {args.file}: the check has no spec.load", file=sys.stderr)
        return EXIT_USAGE
    # The URL is the user's own choice (no allow-list here), but metadata and link-local
    # addresses are refused as in the operator, and the load connects to the address checked.
    try:
        _, host, port = split_url(args.url)
        resolved = list(dict.fromkeys(str(i[4][0]) for i in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM)))
    except ValueError as exc:
        print(f"readygate check: refused: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError:
        resolved = []
    entries = [f"{a}/{128 if ':' in a else 32}" for a in resolved if "%" not in a]
    refusal = url_refusal(args.url, resolved, entries)
    if refusal:
        print(f"readygate check: refused: {refusal}", file=sys.stderr)
        return EXIT_USAGE
    given = dict(s.split("=", 1) for s in args.secret if "=" in s)

    def secret(ref: SecretKeyRef) -> str:
        value: str | None = given.get(f"{ref.name}/{ref.key}") or os.environ.get(_env_name(ref))
        if value is None:
            raise SystemExit(f"readygate check: a header needs Secret {ref.name} key {ref.key}: "
                             f"pass --secret {ref.name}/{ref.key}=VALUE or set {_env_name(ref)}")
        return value

    started = utc_now()
    try:
        plan = plan_for(spec.load, args.url.rstrip("/"), secret, connect_to=resolved[0])
        result = run_plan(plan, args.processes, None)
    except LoadError as exc:
        detail = getattr(exc, "detail", "")  # a worker's own error output: the user's terminal
        print(f"readygate check: {type(exc).__name__}: {exc}" + (f": {detail}" if detail else ""),
              file=sys.stderr)
        return EXIT_ERROR
    judgement = judge(result, plan.thresholds)
    check = check_result(result, judgement, started_at=started, finished_at=utc_now(),
                         warn_only=spec.load.warn_only)
    if args.output == "json":
        print(json.dumps(camel({"check": check.to_status(), "judgement": judgement.to_dict()}),
                         indent=1))
    else:
        print(render_table(plan, result, judgement, args.processes))
        print(f"  check       load {check.result}: {check.message}")
        for warning in check.warnings:
            print(f"  warning     {warning}")
    return EXIT.get(check.result, EXIT_ERROR)
