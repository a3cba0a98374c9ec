"""The Flux examples (manifests/gitops/flux/) gate the app on the ReadinessCheck they apply.

Structural: these tests pin what the examples promise: the app Kustomization depends on the
checks Kustomization, which waits on the checks by CEL on the conditions readygate writes (the
recommended recipe, first in the docs) or by kstatus alone (`wait` or `healthChecks`), naming
the CRD's real group, version and kind. The example ReadinessCheck they apply must parse with
the operator's own spec parser. What Flux makes of real objects with these expressions (and
kstatus without them) is tested with Flux's own libraries in tests/gitops/flux_test.go.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from readygate.api.parse import parse_spec

from .artifacts import ROOT

GITOPS = ROOT / "manifests" / "gitops"
FLUX = GITOPS / "flux"
EXAMPLE = GITOPS / "example" / "orders-api-check.yaml"


def _crd() -> tuple[str, str, str]:
    crd = yaml.safe_load((ROOT / "crds" / "readinesschecks.readygate.io.yaml").read_text())
    served = [v["name"] for v in crd["spec"]["versions"] if v.get("served")]
    return crd["spec"]["group"], served[0], crd["spec"]["names"]["kind"]


def _kustomizations(path: Path) -> dict[str, dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert all(d["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1" for d in docs), path
    assert all(d["kind"] == "Kustomization" for d in docs), path
    return {d["metadata"]["name"]: d["spec"] for d in docs}


@pytest.mark.parametrize("path", sorted(FLUX.glob("*.yaml")), ids=lambda p: p.name)
def test_app_waits_for_the_checks(path: Path) -> None:
    found = _kustomizations(path)
    assert set(found) == {"shop-checks", "shop-app"}
    checks, app = found["shop-checks"], found["shop-app"]
    assert app["dependsOn"] == [{"name": "shop-checks"}]
    # dependsOn only waits for health when the dependency health-checks something
    assert checks.get("wait") is True or checks.get("healthChecks"), path
    assert checks["timeout"] == "10m"


def test_flux_variants() -> None:
    assert {p.name for p in FLUX.glob("*.yaml")} == {
        "checks-wait.yaml", "checks-healthchecks.yaml", "checks-healthcheckexprs.yaml"}
    group, version, kind = _crd()
    example = yaml.safe_load(EXAMPLE.read_text())

    wait = _kustomizations(FLUX / "checks-wait.yaml")["shop-checks"]
    assert wait["wait"] is True and "healthChecks" not in wait

    named = _kustomizations(FLUX / "checks-healthchecks.yaml")["shop-checks"]
    assert "wait" not in named, "Flux ignores healthChecks when wait is true"
    assert named["healthChecks"] == [{
        "apiVersion": f"{group}/{version}", "kind": kind,
        "name": example["metadata"]["name"], "namespace": example["metadata"]["namespace"]}]

    cel = _kustomizations(FLUX / "checks-healthcheckexprs.yaml")["shop-checks"]
    (exprs,) = cel["healthCheckExprs"]
    assert (exprs["apiVersion"], exprs["kind"]) == (f"{group}/{version}", kind)
    for key, ctype, status in (("inProgress", "Reconciling", "True"),
                               ("failed", "Stalled", "True"), ("current", "Ready", "True")):
        expr = " ".join(exprs[key].split())
        assert expr == (f"status.?conditions.orValue([]).exists(c, c.type == '{ctype}' "
                        f"&& c.status == '{status}')"), key


def test_example_check_is_a_valid_readinesscheck() -> None:
    group, version, kind = _crd()
    example = yaml.safe_load(EXAMPLE.read_text())
    assert (example["apiVersion"], example["kind"]) == (f"{group}/{version}", kind)
    spec = parse_spec(example["spec"])
    assert spec.load is not None and spec.target.deploy is not None


def _exprs(spec: dict[str, Any]) -> list[dict[str, str]]:
    return [{k: " ".join(v.split()) for k, v in e.items()} for e in spec["healthCheckExprs"]]


def test_docs_lead_with_the_healthcheckexprs_recipe() -> None:
    """docs/gating.md's Flux recipe is checks-healthcheckexprs.yaml's, expressions and all, and
    manifests/gitops/README.md lists that file first; both explain the early window of `wait`."""
    text = (ROOT / "docs" / "gating.md").read_text()
    flux = text[text.index("## Flux"):]
    start = flux.index("```yaml\n") + len("```yaml\n")
    block = flux[start:flux.index("```", start)]
    docs = {d["metadata"]["name"]: d["spec"] for d in yaml.safe_load_all(block) if d}
    shipped = _kustomizations(FLUX / "checks-healthcheckexprs.yaml")
    assert _exprs(docs["shop-checks"]) == _exprs(shipped["shop-checks"])
    assert docs["shop-app"]["dependsOn"] == [{"name": "shop-checks"}]
    assert "Why not `wait: true` alone" in flux
    readme = (GITOPS / "README.md").read_text()
    listed = [line.split("`")[1] for line in readme.splitlines() if line.startswith("| `flux/")]
    assert listed[0] == "flux/checks-healthcheckexprs.yaml", listed
    assert "no status" in readme
