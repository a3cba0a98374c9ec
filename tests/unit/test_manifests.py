"""The Deployment and Service built for a deploy target."""

from __future__ import annotations

from readygate.api.parse import parse_spec
from readygate.kube import manifests

CHECK = {"metadata": {"name": "web.v2", "namespace": "team", "uid": "u-1"}}


def build(**deploy: object) -> tuple[dict, dict]:  # type: ignore[type-arg]
    spec = parse_spec({"target": {"deploy": {"image": "img:1", **deploy}}})
    return manifests.deployment(CHECK, spec), manifests.service(CHECK, spec)


def test_names_are_dns_labels_and_deterministic() -> None:
    assert manifests.workload_name("web-v2") == "rg-web-v2"
    # names the API allows that would map to the same label get a hash of their own
    assert manifests.workload_name("web.v2").startswith("rg-web-v2-")
    assert len({manifests.workload_name(n) for n in ("a.b", "a-b", "a.b.", "A-b")}) == 4
    assert manifests.load_secret_name("a.b", 1) != manifests.load_secret_name("a-b", 1)
    long = manifests.workload_name("a" * 200)
    assert len(long) <= 63 and long == manifests.workload_name("a" * 200)
    assert long != manifests.workload_name("a" * 199)


def test_deployment_is_owned_restricted_and_hashed() -> None:
    dep, svc = build(replicas=2, env=[{"name": "A", "value": "1"},
                                      {"name": "T", "valueFrom": {"secretKeyRef": {
                                          "name": "s", "key": "k"}}}])
    assert dep["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert dep["metadata"]["ownerReferences"][0]["controller"] is True
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["securityContext"]["runAsNonRoot"] and c["securityContext"]["readOnlyRootFilesystem"]
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    # an image without a USER would run as root: it runs as a non-root UID instead
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"],
            pod["securityContext"]["fsGroup"]) == (65532, 65532, 65532)
    assert c["env"][1] == {"name": "T", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
    assert dep["spec"]["replicas"] == 2
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert manifests.spec_hash(dep) != build(replicas=3)[0]["metadata"]["annotations"][
        manifests.ANNOTATION_HASH]
    assert manifests.spec_hash(dep) == manifests.spec_hash(build(replicas=2, env=[
        {"name": "A", "value": "1"},
        {"name": "T", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}])[0])


def test_default_resources() -> None:
    dep, _ = build()
    res = dep["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert res == {"requests": manifests.DEFAULT_REQUESTS, "limits": manifests.DEFAULT_LIMITS}


def test_the_security_context_can_be_set_within_restricted() -> None:
    dep, _ = build(securityContext={"runAsUser": 1000, "runAsGroup": 0, "fsGroup": 2000,
                                    "readOnlyRootFilesystem": False})
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 1000
    assert pod["securityContext"]["runAsGroup"] == 0 and pod["securityContext"]["fsGroup"] == 2000
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is False


def test_root_is_refused() -> None:
    import pytest

    from readygate.api.parse import SpecError

    with pytest.raises(SpecError, match="runAsUser: must be at least 1"):
        build(securityContext={"runAsUser": 0})
