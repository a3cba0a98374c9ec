"""Every ReadinessCheck shipped as an example parses with the operator's own parser, so the demo
and the docs never show a spec the operator would mark Error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from readygate.api.parse import parse_spec

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted([*ROOT.glob("examples/**/*.yaml"), *ROOT.glob("manifests/gitops/example/*.yaml")])


def checks() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in FILES:
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "ReadinessCheck":
                out.append((f"{path.relative_to(ROOT)}:{doc['metadata']['name']}", doc))
    return out


@pytest.mark.parametrize(("where", "doc"), checks(), ids=[w for w, _ in checks()])
def test_example_parses(where: str, doc: dict[str, Any]) -> None:
    assert doc["apiVersion"] == "readygate.io/v1alpha1"
    parse_spec(doc["spec"])


def test_the_demo_shows_every_kind_of_verdict() -> None:
    names = {w.rsplit(":", 1)[1] for w, _ in checks() if w.startswith("examples/demo/")}
    assert {"healthy-api", "generated-service", "orders-api", "in-memory-store"} <= names
