"""Stall benchmark: what p99 does each model report when the service freezes once?

Not a test: it prints numbers. Starts bench/loopback.py on 127.0.0.1 (pinned to core 0), a
server that answers in 50 ms and freezes once for 1 s a few seconds after the first request,
then runs readygate's open model at 200 req/s and (against a fresh server) its closed model with
10 users (the same offered load: 10 / 50 ms = 200 req/s), the generator pinned to core 1. It
prints the p99 each reports next to the truth: the p99 of the latencies an ideal client sending
on the open schedule would see, computed from the server's measured freeze window
(``loopback.stall_truth``). The closed model is shown raw and with its coordinated-omission
correction. p90 is shown too: there the open model's cap on connections (``--connections``)
shows, as the backlog after the freeze waits for a connection; the ideal client has no cap.

    .venv/bin/python bench/stall.py [--duration 10] [--freeze-after 4] [--connections 50]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "operator"))

from readygate.load import LoadPlan, LoadResult, run_in_new_loop  # noqa: E402

_spec = importlib.util.spec_from_file_location("rg_loopback", ROOT / "loopback.py")
assert _spec is not None and _spec.loader is not None
loopback: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(loopback)

SERVICE = 0.05
RATE = 200.0
USERS = 10


def start_server(freeze_after: float) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, str(ROOT / "loopback.py"), "--delay", str(SERVICE),
           "--freeze-after", str(freeze_after), "--freeze-for", "1.0", "--lifetime", "300"]
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        cmd = ["taskset", "-c", "0", *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline().split()[1])
    return proc, f"http://127.0.0.1:{port}"


def freeze_window(url: str) -> list[float]:
    with urllib.request.urlopen(url + "/__stats", timeout=5) as r:
        stats: dict[str, Any] = json.loads(r.read())
    if not stats["freeze"]:
        raise SystemExit("the server did not freeze during the run; raise --duration")
    return list(stats["freeze"])


def truth(result: LoadResult, duration: float, freeze: list[float]) -> list[float]:
    """Latencies an ideal client on the open schedule would have seen in this run."""
    intended = [result.started + k / RATE for k in range(int(RATE * duration))]
    return list(loopback.stall_truth(intended, SERVICE, freeze))


def main() -> None:
    p = argparse.ArgumentParser(description="p99 under a 1 s stall: open vs closed vs truth")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--freeze-after", type=float, default=4.0)
    p.add_argument("--connections", type=int, default=50, help="open model's cap (default 50)")
    args = p.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    print(f"# service {SERVICE * 1000:.0f} ms, one 1 s freeze {args.freeze_after:g} s into a "
          f"{args.duration:g} s run; open {RATE:g} req/s ({args.connections} connections) vs "
          f"closed {USERS} users")

    proc, url = start_server(args.freeze_after)
    try:
        open_r = run_in_new_loop(LoadPlan(url, rate=RATE, duration=args.duration,
                                          connections=args.connections))
        open_truth = truth(open_r, args.duration, freeze_window(url))
    finally:
        proc.kill()
        proc.wait()
    proc, url = start_server(args.freeze_after)
    try:
        closed_r = run_in_new_loop(LoadPlan(url, model="closed", users=USERS,
                                            duration=args.duration))
        closed_truth = truth(closed_r, args.duration, freeze_window(url))
    finally:
        proc.kill()
        proc.wait()

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:8.1f} ms"

    def err(v: float | None, t: float) -> str:
        return "" if v is None else f"({(v - t) / t * 100:+.1f} % vs truth)"

    o99 = open_r.latency.percentile(0.99)
    t99 = float(loopback.nearest_rank(open_truth, 0.99))
    for q in (0.99, 0.90):  # p90 as well: a model that hides the queue shows it there
        name = f"p{q * 100:.0f}"
        o = open_r.latency.percentile(q)
        raw = closed_r.histogram.percentile(q)
        cor = closed_r.latency.percentile(q)
        ot = float(loopback.nearest_rank(open_truth, q))
        ct = float(loopback.nearest_rank(closed_truth, q))
        print(f"open model   {name} {ms(o)}   truth {ms(ot)}  {err(o, ot)}"
              + (f"   requests {open_r.requests}, errors {open_r.error_count}, "
                 f"late {open_r.late}" if q == 0.99 else ""))
        print(f"closed raw   {name} {ms(raw)}   truth {ms(ct)}  {err(raw, ct)}"
              + (f"   requests {closed_r.requests}" if q == 0.99 else ""))
        print(f"closed corr. {name} {ms(cor)}   truth {ms(ct)}  {err(cor, ct)}")
    if open_r.late:
        print(f"# {open_r.late} open-model sends waited for one of the {args.connections} "
              "connections after the freeze: that queue is in its latencies (from the intended "
              "time) but not in the ideal client's; it vanishes with --connections "
              f"{int(RATE * (1.0 + SERVICE)) + 10}")
    met = o99 is not None and abs(o99 - t99) <= 0.10 * t99
    print(f"# criterion (issue 4): open-model p99 within 10 % of the truth: "
          f"{'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
