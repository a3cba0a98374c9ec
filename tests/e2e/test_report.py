"""The readiness report and ``kubectl readygate`` on the real cluster: a check that passes (a short
load with a memory soak and a pod deleted under it, so every chart has data) and one whose
workload crashes at import. ``kubectl readygate`` runs as kubectl's plugin (the
``kubectl-readygate`` command on PATH): ``rerun`` starts a second run without a spec change,
``report`` writes Markdown and HTML (screenshotted and read back in headless chromium, in
out/e2e/report-*), ``get`` prints the scorecard.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..browser import Elements, dump_dom, png_facts, screenshot
from ..statusview import checks_of
from .conftest import OUT, Cluster, Operator, condition, is_final, workload

BIN = Path(sys.executable).parent  # the venv's bin: kubectl-readygate is installed there
PASSING: dict[str, Any] = {
    "target": workload(replicas=2),
    "liveness": {"period": "1s", "observeFor": "3s"},
    "load": {"rate": 40, "duration": "24s",
             "thresholds": {"p95": "2s", "maxErrorRate": 0.3, "minSamples": 500}},
    "stability": {"maxMemoryGrowth": "128Mi", "sampleEvery": "2s"},
    "resilience": {"killPods": 1, "after": "8s", "maxRecovery": "60s"},
}
FAILING: dict[str, Any] = {"target": workload({"MODE": "crash-import"}),
                           "readiness": {"within": "90s"}}


def plugin(cluster: Cluster, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``kubectl readygate ARGS``: kubectl finds the plugin on PATH and runs it."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "KUBECONFIG": str(cluster.kubeconfig)}
    return subprocess.run([cluster.kubectl_bin, "readygate", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def _report(cluster: Cluster, namespace: str, name: str) -> tuple[str, Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    md, page = OUT / f"report-{name}.md", OUT / f"report-{name}.html"
    for path in (md, page):
        done = plugin(cluster, "report", name, "-n", namespace, "-o", str(path))
        assert done.returncode == 0, done.stderr
    return md.read_text(encoding="utf-8"), page


def test_report_and_rerun_on_the_cluster(cluster: Cluster, namespace: str,
                                         operator: Operator) -> None:
    cluster.create_check(namespace, "good", PASSING)
    cluster.create_check(namespace, "broken", FAILING)
    good = cluster.wait_check(namespace, "good", is_final, timeout=180, what="final")
    broken = cluster.wait_check(namespace, "broken", is_final, timeout=120, what="final")
    status = good["status"]
    assert status["phase"] == "Passed", status["summary"]
    assert broken["status"]["phase"] == "Failed"

    # the chart data: bounded, on the load's clock, with the disruption
    charts = status["charts"]
    load = charts["load"]
    assert 20 <= len(load["t"]) <= 60 and load["stepSeconds"] == 1
    assert sum(load["requests"]) == checks_of(status)["load"]["measured"]["requests"]
    assert len(charts["memory"]["t"]) >= 5 and "/" in charts["memory"]["of"]
    assert 8 <= charts["disruption"]["killedAt"] <= 20
    assert "baseline" not in status  # nothing passed before the first run

    # kubectl readygate rerun: a second run without a spec change, then its verdict
    ready_since = condition(good, "Ready")["lastTransitionTime"]
    done = plugin(cluster, "rerun", "good", "-n", namespace, "--wait", "--timeout", "4m")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rerun requested (readygate.io/rerun=" in done.stdout
    assert "run 2: Passed" in done.stdout
    again = cluster.get_check(namespace, "good")
    token = again["metadata"]["annotations"]["readygate.io/rerun"]
    status = again["status"]
    assert status["runs"] == 2 and status["handledRerun"] == token
    assert again["metadata"]["generation"] == good["metadata"]["generation"]
    assert again["spec"] == good["spec"]
    assert condition(again, "Ready")["lastTransitionTime"] == ready_since  # never flipped
    baseline = status["baseline"]
    assert baseline["run"] == 1 and baseline["verdict"] == "Passed"
    assert "p95Ms" in {k for c in baseline["checks"] for k in c.get("measured", {})}
    # the same token again starts nothing; the operator has nothing to do
    same = plugin(cluster, "rerun", "good", "-n", namespace, "--token", token)
    assert same.returncode == 2 and "handled already" in same.stderr

    # the reports, as files, looked at in a browser
    text, page = _report(cluster, namespace, "good")
    assert f"# Readiness report: {namespace}/good" in text
    assert "Compared with run 1 (Passed" in text and "| load | p95 |" in text
    assert "Pods deleted at " in text
    png = screenshot(page, OUT / "report-good.png")
    width, _, ink = png_facts(png)
    assert width == 1000 and ink > 0.005
    dom = Elements(dump_dom(page))
    assert {a.get("data-chart") for tag, a in dom.attrs if tag == "svg"} == {
        "latency", "throughput", "errors", "memory"}
    assert dom.count["path.series"] >= 5 and dom.count["rect.disruption"] == 4

    text, page = _report(cluster, namespace, "broken")
    assert "ModuleNotFoundError: No module named 'autocoder'" in text
    assert "**CrashLoopBackOff**" in text
    png = screenshot(page, OUT / "report-broken.png", height=2600)
    assert png_facts(png)[2] > 0.005
    dom = Elements(dump_dom(page))
    assert dom.count["pre.log"] == 1 and dom.count["svg.chart"] == 0
    assert "ModuleNotFoundError: No module named 'autocoder'" in " ".join(dom.text)

    # the same report from the saved object, offline (kubectl readygate get -o yaml > file)
    saved = plugin(cluster, "get", "good", "-n", namespace, "-o", "yaml")
    assert saved.returncode == 0, saved.stderr
    (OUT / "report-good.yaml").write_text(saved.stdout, encoding="utf-8")
    offline = plugin(cluster, "report", "--file", str(OUT / "report-good.yaml"))
    assert offline.returncode == 0, offline.stderr
    cut = lambda md: md.rsplit("*Generated by", 1)[0]  # noqa: E731
    assert cut(offline.stdout) == cut((OUT / "report-good.md").read_text(encoding="utf-8"))

    # kubectl readygate get: the scorecard
    table = plugin(cluster, "get", "-n", namespace)
    assert table.returncode == 0, table.stderr
    rows = {line.split()[0]: line.split() for line in table.stdout.splitlines()[1:]}
    assert rows["good"][1:3] == ["Passed", str(status["score"])]
    assert rows["broken"][1] == "Failed"
    one = plugin(cluster, "get", "broken", "-n", namespace)
    assert "readiness" in one.stdout and "CrashLoopBackOff" in one.stdout
    missing = plugin(cluster, "report", "nope", "-n", namespace)
    assert missing.returncode == 2 and "not found" in missing.stderr
