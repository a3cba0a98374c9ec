"""Throughput benchmark: readygate's load engine vs wrk (and hey) against a loopback nginx.

Not a test: it prints numbers. Starts nginx (Debian's nginx-light) bound to 127.0.0.1 with one
worker pinned to core 0 (taskset), then, one after the other, each generator pinned to core 1
with the same connections and duration: wrk, hey (when installed), readygate's closed model
(users = connections, one process). It prints req/s and the ratio of each to wrk measured in the
same run. Then it measures readygate with 2 worker processes vs 1: on this 2-core machine
nginx cannot have a core of its own then, so that part runs nginx with 2 workers and the
generator unpinned, all sharing both cores, and also reports requests per CPU-second of the
generator processes (which shows the scaling the engine would get on cores of its own).

    apt-get -o DPkg::Lock::Timeout=900 install -y nginx-light wrk hey
    .venv/bin/python bench/throughput.py [--duration 10] [--connections 50]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NGINX_CONF = """
worker_processes {workers};
{affinity}
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{ return 200 "hello, readygate\\n"; }}
  }}
}}
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Nginx:
    def __init__(self, workers: int, pin: str | None) -> None:
        self.dir = tempfile.mkdtemp(prefix="rg-bench-nginx-")
        self.port = free_port()
        conf = Path(self.dir) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(workers=workers, dir=self.dir, port=self.port,
                                          affinity=""))
        cmd = [shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(conf), "-p", self.dir,
               "-e", f"{self.dir}/error.log"]
        if pin is not None:
            cmd = ["taskset", "-c", pin, *cmd]
        self.proc = subprocess.Popen(cmd)
        self.url = f"http://127.0.0.1:{self.port}/"
        for _ in range(100):
            try:
                import urllib.request

                urllib.request.urlopen(self.url, timeout=1).read()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("nginx did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_wrk(url: str, conns: int, duration: int, pin: str) -> float:
    out = subprocess.run(["taskset", "-c", pin, "wrk", "-t1", f"-c{conns}", f"-d{duration}s",
                          url], capture_output=True, text=True, timeout=duration + 60).stdout
    m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    return float(m.group(1)) if m else 0.0


def run_hey(url: str, conns: int, duration: int, pin: str) -> float:
    out = subprocess.run(["taskset", "-c", pin, "hey", "-z", f"{duration}s", "-c", str(conns),
                          "-cpus", "1", url], capture_output=True, text=True,
                         timeout=duration + 60).stdout
    m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    return float(m.group(1)) if m else 0.0


def run_readygate(url: str, conns: int, duration: int, pin: str | None, processes: int = 1
                  ) -> tuple[float, float, int]:
    """(req/s, generator CPU seconds, errors) of `readygate load --users conns`."""
    cmd = [sys.executable, "-m", "readygate.load", "load", url, "--users", str(conns),
           "--duration", f"{duration}s", "--processes", str(processes), "--output", "json"]
    if pin is not None:
        cmd = ["taskset", "-c", pin, *cmd]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "operator"))
    cpu0 = children_cpu()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120, env=env)
    cpu = children_cpu() - cpu0
    doc = json.loads(out.stdout)["result"]
    responses = doc["requests"] - sum(v for k, v in doc["errors"].items()
                                      if not k.startswith("status:"))
    return responses / doc["duration"], cpu, sum(doc["errors"].values())


def main() -> None:
    p = argparse.ArgumentParser(description="readygate load engine vs wrk/hey on loopback")
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--connections", type=int, default=50)
    args = p.parse_args()
    d, c = args.duration, args.connections
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        raise SystemExit("nginx not found: apt-get install -y nginx-light wrk hey")
    print(f"# {os.cpu_count()} cores; nginx 1 worker on core 0, generators on core 1; "
          f"{c} connections, {d} s each; other work on this machine adds noise")
    ng = Nginx(1, "0")
    rows: list[tuple[str, float]] = []
    try:
        if shutil.which("wrk"):
            rows.append(("wrk", run_wrk(ng.url, c, d, "1")))
        else:
            print("# wrk not installed: apt-get install -y wrk (no reference, no ratios)")
        if shutil.which("hey"):
            rows.append(("hey", run_hey(ng.url, c, d, "1")))
        else:
            print("# hey not installed (apt-get install -y hey); skipped")
        rps, cpu, errors = run_readygate(ng.url, c, d, "1")
        rows.append(("readygate (1 process)", rps))
        print("# k6 is not packaged for Debian here; skipped")
    finally:
        ng.stop()
    ref = dict(rows).get("wrk")
    for name, rps in rows:
        ratio = f"{rps / ref:.2f}x wrk" if ref else "-"
        print(f"{name:<24} {rps:>10.0f} req/s   {ratio}")
    print(f"# readygate errors: {errors}; generator CPU {cpu:.1f} s for {d} s "
          f"({rps * d / max(cpu, 1e-9):.0f} req per CPU-second)")

    print("# 2 processes vs 1: nginx with 2 workers and readygate unpinned, sharing both cores")
    ng = Nginx(2, None)
    try:
        one, cpu1, _ = run_readygate(ng.url, c, d, None, 1)
        two, cpu2, _ = run_readygate(ng.url, c, d, None, 2)
    finally:
        ng.stop()
    eff1, eff2 = one * d / max(cpu1, 1e-9), two * d / max(cpu2, 1e-9)
    print(f"readygate 1 process      {one:>10.0f} req/s   generator CPU {cpu1:5.1f} s   "
          f"{eff1:>7.0f} req/CPU-s")
    print(f"readygate 2 processes    {two:>10.0f} req/s   generator CPU {cpu2:5.1f} s   "
          f"{eff2:>7.0f} req/CPU-s")
    print(f"ratio 2 vs 1 processes   {two / one:.2f}x req/s (shared cores); "
          f"{eff2 / eff1:.2f}x efficiency per CPU-second")


if __name__ == "__main__":
    main()
