"""Entry point of worker processes and Kubernetes Job pods: ``python -m readygate.load``.

Reads a plan as JSON (stdin by default, ``--plan-json FILE|-|'{...}'`` or ``--plan-env VAR``),
optionally restricts it to a shard (``--shard i/n``; ``--shard auto/n`` takes i from the
``JOB_COMPLETION_INDEX`` of an Indexed Job), runs it (``--processes P`` fans out on this
machine) and prints the result JSON as one line on stdout. Exit 0 on a result, 2 on an invalid
plan or a failed worker (the reason on stderr). ``python -m readygate.load load URL ...`` runs
the CLI of ``cli.py`` instead. Neighbours: ``workers.py`` starts this module; ``result.py``
parses what it prints.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .errors import LoadError
from .plan import LoadPlan
from .workers import run_processes


def _read_plan(args: argparse.Namespace) -> LoadPlan:
    if args.plan_env:
        text = os.environ.get(args.plan_env, "")
    elif args.plan_json in (None, "-"):
        text = sys.stdin.read()
    elif args.plan_json.lstrip().startswith("{"):
        text = args.plan_json
    else:
        with open(args.plan_json, encoding="utf-8") as f:
            text = f.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoadError(f"plan is not JSON: {exc}") from exc
    plan = LoadPlan.from_dict(data)
    if args.shard:
        index, _, count = args.shard.partition("/")
        if index == "auto":
            index = os.environ.get("JOB_COMPLETION_INDEX", "")
        try:
            plan = plan.for_shard(int(index), int(count))
        except ValueError as exc:
            raise LoadError(f"invalid --shard {args.shard!r}") from exc
    return plan


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "load":
        from .cli import main as cli_main

        return cli_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m readygate.load",
                                     description="Run a load plan (JSON) and print the result.")
    parser.add_argument("--plan-json", help="file, '-' (stdin, the default) or inline JSON")
    parser.add_argument("--plan-env", help="read the plan JSON from this environment variable")
    parser.add_argument("--shard", help="i/n: run only shard i of n (auto/n: JOB_COMPLETION_INDEX)")
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        plan = _read_plan(args)
        result = run_processes(plan, args.processes)
    except LoadError as exc:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)}), file=sys.stderr)
        return 2
    sys.stdout.write(json.dumps(result.to_dict(), separators=(",", ":")) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
