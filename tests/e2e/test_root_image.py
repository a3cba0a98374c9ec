"""An image with no USER — what ``FROM python:3.11-slim`` gives, and what the seed's generated
Flask/Gunicorn service was — deployed by a check into a namespace that enforces the restricted
Pod Security Standard: readygate runs it as a non-root UID, so it is admitted and passes."""

from __future__ import annotations

from .conftest import ROOT_IMAGE, Cluster, Operator, checks_of_obj, is_final


def test_an_image_without_a_user_is_checked_as_a_non_root_uid(
        cluster: Cluster, namespace: str, operator: Operator) -> None:
    cluster.create_check(namespace, "rooty", {
        "target": {"deploy": {"image": ROOT_IMAGE, "imagePullPolicy": "Never", "port": 8080}},
        "liveness": {"period": "1s", "observeFor": "3s"}})
    obj = cluster.wait_check(namespace, "rooty", is_final, timeout=120, what="final")
    status = obj["status"]
    assert status["phase"] == "Passed", status
    assert checks_of_obj(obj)["deploy"]["result"] == "Passed"
    pods = cluster.core.list_namespaced_pod(
        namespace, label_selector="readygate.io/workload=rg-rooty").items
    assert pods and all(p.spec.security_context.run_as_user == 65532 for p in pods)


def test_the_uid_can_be_chosen(cluster: Cluster, namespace: str, operator: Operator) -> None:
    cluster.create_check(namespace, "uid", {
        "target": {"deploy": {"image": ROOT_IMAGE, "imagePullPolicy": "Never", "port": 8080,
                              "securityContext": {"runAsUser": 4242, "runAsGroup": 4242}}},
        "liveness": {"enabled": False}})
    obj = cluster.wait_check(namespace, "uid", is_final, timeout=120, what="final")
    assert obj["status"]["phase"] == "Passed", obj["status"]
    pods = cluster.core.list_namespaced_pod(
        namespace, label_selector="readygate.io/workload=rg-uid").items
    assert pods and all(p.spec.security_context.run_as_user == 4242 for p in pods)
