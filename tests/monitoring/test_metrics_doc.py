"""docs/metrics.md lists exactly the metrics readygate.status.metrics registers, with type and
labels."""

from __future__ import annotations

import re

from prometheus_client.metrics import MetricWrapperBase

from readygate.status.metrics import Metrics

from .artifacts import ROOT

DOC = ROOT / "docs" / "metrics.md"
ROW = re.compile(r"^\| `(readygate_[a-z0-9_]+)` \| (\w+) \|([^|]*)\| (.+) \|$")


def _documented() -> dict[str, tuple[str, tuple[str, ...]]]:
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for line in DOC.read_text().splitlines():
        match = ROW.match(line)
        if match:
            name, kind, labels, meaning = match.groups()
            assert name not in out, f"{name} documented twice"
            assert meaning.strip(), name
            out[name] = (kind, tuple(re.findall(r"`(\w+)`", labels)))
    return out


def _registered() -> dict[str, tuple[str, tuple[str, ...]]]:
    metrics = Metrics()
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for attr in vars(metrics).values():
        collectors = attr.values() if isinstance(attr, dict) else [attr]
        for metric in collectors:
            if not isinstance(metric, MetricWrapperBase):
                continue
            kind = str(metric._type)
            name = metric._name + ("_total" if kind == "counter" else "")
            out[name] = (kind, tuple(metric._labelnames))
    return out


def test_every_metric_is_documented_with_its_type_and_labels() -> None:
    registered, documented = _registered(), _documented()
    assert len(registered) >= 19
    assert documented == registered


def test_every_registered_family_was_found() -> None:
    """_registered() sees every family the registry exposes (none hides in another place)."""
    families = {f.name + ("_total" if f.type == "counter" else "")
                for f in Metrics().registry.collect()}
    # prometheus-client's process collector: documented as one row, process_*
    process = {f for f in families if f.startswith("process_")}
    assert "process_resident_memory_bytes" in process and "process_open_fds" in process
    assert "`process_resident_memory_bytes`" in DOC.read_text()
    assert families - process == set(_registered())
