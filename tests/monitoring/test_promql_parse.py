"""Prometheus' own parser reads every query readygate confines to a namespace (api.promql):
each rewrite of tests/unit/test_promql.py, as a recording rule's expression, passes
``promtool check rules`` of Debian's Prometheus (2.42) and of a recent release (3.x, which
alone knows quoted metric names such as ``{"my.metric"}`` and the ``anchored`` modifier)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from readygate.api.promql import confine

from ..unit.test_promql import NS, REWRITES
from .artifacts import promtool
from .gotools import BUILD_TEST_TIMEOUT, recent_promtool


@pytest.mark.timeout(BUILD_TEST_TIMEOUT)
@pytest.mark.parametrize("which", ["debian", "recent"])
def test_prometheus_parses_every_confined_query(tmp_path: Path, which: str) -> None:
    # a rule's expression holds no comment; quoted names and range modifiers are Prometheus 3's
    newer = ('{"', "anchored")
    queries = [q for q, _ in REWRITES
               if "#" not in q and (which == "recent" or not any(n in q for n in newer))]
    rules = [{"record": f"readygate:confined:{i}", "expr": confine(q, "namespace", NS)}
             for i, q in enumerate(queries)]
    path = tmp_path / "confined.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "confined", "rules": rules}]}))
    proc = promtool("check", "rules", str(path), cwd=tmp_path,
                    binary=recent_promtool() if which == "recent" else None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(rules)} rules found" in proc.stdout
