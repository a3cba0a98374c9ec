"""The story of a check as a current cluster tells it: ``kubectl events --for`` (the
events.k8s.io view) and ``kubectl wait`` on the condition and on a JSONPath, against the real
API server."""

from __future__ import annotations

from .conftest import Cluster, Operator, is_final, workload


def test_events_and_waits_as_kubectl_shows_them(cluster: Cluster, namespace: str,
                                                operator: Operator) -> None:
    cluster.create_check(namespace, "told", {"target": workload(),
                                             "liveness": {"period": "1s", "observeFor": "2s"}})
    waited = cluster.kubectl("wait", "-n", namespace, "--for=condition=Ready", "--timeout=120s",
                             "readinesscheck/told", timeout=150)
    assert "condition met" in waited.stdout, waited.stdout
    jsonpath = cluster.kubectl("wait", "-n", namespace, "--for=jsonpath={.status.verdict}=Passed",
                               "--timeout=30s", "readinesscheck/told", timeout=60)
    assert "condition met" in jsonpath.stdout, jsonpath.stdout
    obj = cluster.get_check(namespace, "told")
    assert is_final(obj) and obj["status"]["phase"] == "Passed"
    # the phase transitions, as Events on the check, through the events.k8s.io API
    listed = cluster.kubectl("get", "events.v1.events.k8s.io", "-n", namespace, "-o",
                             "jsonpath={range .items[*]}{.regarding.kind}/{.regarding.name} "
                             "{.reason}{'\\n'}{end}").stdout
    assert "ReadinessCheck/told Passed" in listed, listed
    told = cluster.kubectl("events", "-n", namespace, "--for", "readinesscheck/told").stdout
    assert "Passed" in told and "deploy ok" in told, told
