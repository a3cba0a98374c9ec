"""``kubectl readygate``: the ReadinessCheck commands a person types, with their own kubeconfig.

    kubectl readygate report NAME [-n NS] [--format md|html] [-o FILE]   the readiness report
    kubectl readygate report --file check.yaml [...]                      ... of a saved object
    kubectl readygate get [NAME] [-n NS | -A]                            the scorecard
    kubectl readygate rerun NAME [-n NS] [--wait] [--timeout 10m]        run it again now

Installed as the ``kubectl-readygate`` command, so kubectl finds it as a plugin; ``readygate
report|get|rerun`` are the same commands. The namespace is ``-n``, else the kubeconfig context's,
else ``default``. ``rerun`` sets the ``readygate.io/rerun`` annotation to a new token (the time,
or ``--token``); the operator starts a run when the token differs from the one its last run
started with (``status.handledRerun``), without a spec change. It needs ``patch`` on
readinesschecks, as editing a check does.

Exit codes: 0 done; 2 a usage error, a file that does not parse, or a check that cannot be read
(not found, forbidden, no cluster). ``rerun --wait`` exits with the new run's verdict as
``readygate check`` does: 0 Passed or Conditional, 1 Failed, 3 Inconclusive, 4 Error or no
verdict within ``--timeout``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from readygate.api.clock import utc_now
from readygate.api.durations import parse_duration
from readygate.api.names import TERMINAL_PHASES
from readygate.api.rerun import ANNOTATION, TOKEN_CHARS
from readygate.kube.client import Kube, KubeError, NotFound, load_user_config
from readygate.load.cli import EXIT as VERDICT_EXIT  # the one table of exit codes
from readygate.load.cli import EXIT_ERROR as EXIT_NO_VERDICT
from readygate.load.cli import EXIT_PASSED as EXIT_OK
from readygate.load.cli import EXIT_USAGE
from readygate.report import render_html, render_markdown
from readygate.report.fmt import terminal
from readygate.report.table import checks as checks_table
from readygate.report.table import scorecards


class Refusal(Exception):
    """What to tell the user before exiting with ``EXIT_USAGE``."""


def _cluster_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", "--namespace", help="the check's namespace (default: the kubeconfig "
                                             "context's, else default)")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: KUBECONFIG, ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context (default: the current one)")


def parser(prog: str = "kubectl readygate") -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog=prog, description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="the readiness report of a check, Markdown or HTML")
    rep.add_argument("name", nargs="?", help="the ReadinessCheck")
    _cluster_args(rep)
    rep.add_argument("-f", "--file", help="render a saved object (YAML or JSON; `-` for stdin) "
                                          "instead of reading the cluster")
    rep.add_argument("--format", choices=("md", "html"),
                     help="md or html (default: from the -o file's suffix, else md)")
    rep.add_argument("-o", "--output", help="write to this file (default: stdout)")
    get = sub.add_parser("get", help="the scorecard of checks")
    get.add_argument("name", nargs="?", help="one ReadinessCheck (and its checks)")
    _cluster_args(get)
    get.add_argument("-A", "--all-namespaces", action="store_true",
                     help="the checks of every namespace")
    get.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table")
    rerun = sub.add_parser("rerun", help="run a check again now, without changing its spec")
    rerun.add_argument("name", help="the ReadinessCheck")
    _cluster_args(rerun)
    rerun.add_argument("--token", help="the annotation's value (default: the time, to the "
                                       "millisecond); the same token twice runs once")
    rerun.add_argument("--wait", action="store_true",
                       help="wait for the new run's verdict and exit with it")
    rerun.add_argument("--timeout", default="10m", help="how long --wait waits (default 10m)")
    return top


def _load_file(path: str, name: str | None) -> Mapping[str, Any]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        docs = list(yaml.safe_load_all(text))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise Refusal(f"cannot read {path}: {exc}") from exc
    items: list[Any] = []
    for doc in docs:
        if isinstance(doc, Mapping) and doc.get("kind") == "List":
            items += [d for d in doc.get("items") or [] if isinstance(d, Mapping)]
        elif isinstance(doc, Mapping):
            items.append(doc)
    found: list[Mapping[str, Any]] = [d for d in items if d.get("kind") == "ReadinessCheck"
             and (name is None or (d.get("metadata") or {}).get("name") == name)]
    if len(found) != 1:
        raise Refusal(f"{path}: expected one ReadinessCheck{' named ' + name if name else ''}, "
                      f"found {len(found)}")
    return found[0]


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    return "html" if args.output and args.output.lower().endswith((".html", ".htm")) else "md"


def _write(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


class Session:
    """The user's cluster: the kubeconfig's credentials and namespace."""

    def __init__(self, args: argparse.Namespace) -> None:
        default = load_user_config(args.kubeconfig, args.context)
        self.namespace: str = args.namespace or default
        self.kube = Kube(workers=2)

    def close(self) -> None:
        self.kube.close()

    async def get(self, name: str) -> dict[str, Any]:
        try:
            return await self.kube.get_check(self.namespace, name)
        except NotFound:
            raise Refusal(f"readinesscheck {name!r} not found in namespace "
                          f"{self.namespace!r}") from None


def _session(args: argparse.Namespace) -> Session:
    try:
        return Session(args)
    except KubeError as exc:
        raise Refusal(str(exc)) from exc


async def _report(args: argparse.Namespace) -> int:
    if args.file:
        obj: Mapping[str, Any] = _load_file(args.file, args.name)
    else:
        if not args.name:
            raise Refusal("name a ReadinessCheck, or give --file")
        s = _session(args)
        try:
            obj = await s.get(args.name)
        finally:
            s.close()
    render = render_html if _format(args) == "html" else render_markdown
    _write(render(obj, generated_at=utc_now()), args.output)
    if args.output:
        print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK


async def _get(args: argparse.Namespace) -> int:
    s = _session(args)
    try:
        if args.name:
            objs = [await s.get(args.name)]
        else:
            objs = await s.kube.list_checks(None if args.all_namespaces else s.namespace)
    finally:
        s.close()
    objs.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    if args.output == "json":
        sys.stdout.write(json.dumps(objs if not args.name else objs[0], indent=2) + "\n")
    elif args.output == "yaml":
        sys.stdout.write(yaml.safe_dump(objs if not args.name else objs[0], sort_keys=False))
    elif not objs:
        print(f"No ReadinessChecks in namespace {s.namespace}." if not args.all_namespaces
              else "No ReadinessChecks.")
    else:
        sys.stdout.write(scorecards(objs, namespaces=args.all_namespaces))
        if args.name:
            sys.stdout.write("\n" + checks_table(objs[0]))
    return EXIT_OK


def new_token() -> str:
    now = datetime.datetime.now(datetime.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


async def _rerun(args: argparse.Namespace) -> int:
    token = (args.token or new_token()).strip()
    if not token or len(token) > TOKEN_CHARS:
        raise Refusal(f"--token must be 1 to {TOKEN_CHARS} characters")
    try:
        timeout = parse_duration(args.timeout)
    except ValueError as exc:
        raise Refusal(f"--timeout: {exc}") from exc
    s = _session(args)
    try:
        before = await s.get(args.name)
        status = before.get("status") or {}
        if status.get("handledRerun") == token:
            raise Refusal(f"token {token!r} was handled already; give another --token")
        await s.kube.annotate_check(s.namespace, args.name, {ANNOTATION: token})
        runs = int(status.get("runs") or 0)
        busy = status.get("phase") not in TERMINAL_PHASES and status.get("phase") is not None
        print(f"readinesscheck {s.namespace}/{args.name}: rerun requested ({ANNOTATION}={token})"
              + ("; the run in progress finishes first" if busy else ""))
        if not args.wait:
            return EXIT_OK
        return await _wait(s, args.name, token, runs, timeout)
    finally:
        s.close()


async def _wait(s: Session, name: str, token: str, runs: int, within: float) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        status = (await s.get(name)).get("status") or {}
        if (status.get("handledRerun") == token and int(status.get("runs") or 0) > runs
                and status.get("phase") in TERMINAL_PHASES):
            verdict = str(status.get("verdict") or status.get("phase"))
            print(terminal(f"run {status.get('runs')}: {verdict}, score {status.get('score')}: "
                           f"{status.get('summary', '')}", 1000))
            return VERDICT_EXIT.get(verdict, EXIT_NO_VERDICT)
        await asyncio.sleep(1.0)
    print(f"no verdict of the rerun within {within:.0f}s", file=sys.stderr)
    return EXIT_NO_VERDICT


COMMANDS = {"report": _report, "get": _get, "rerun": _rerun}


def main(argv: Sequence[str] | None = None, prog: str = "kubectl readygate") -> int:
    args = parser(prog).parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return asyncio.run(COMMANDS[args.command](args))
    except Refusal as exc:
        print(f"{prog} {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KubeError as exc:
        print(f"{prog} {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
