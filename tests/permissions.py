"""What readygate's ServiceAccount may do: the one list the install tests hold manifests/ to.

``tests/unit/test_install_manifests.py`` compares the RBAC files (and docs/operator.md's table)
with it; ``tests/e2e/test_in_cluster.py`` compares what the API server answers to
``kubectl auth can-i --list`` with it. Why each verb is needed: docs/operator.md, "RBAC".
A permission is ``(apiGroup, resource, verb)``; the core group is ``""``; a subresource is
written ``resource/subresource``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Permission = tuple[str, str, str]
Rules = Mapping[tuple[str, str], tuple[str, ...]]

# Namespaced: granted in every namespace (cluster-wide install) or in the one watched namespace
# (single-namespace install: a Role there).
NAMESPACED: Rules = {
    ("readygate.io", "readinesschecks"): ("get", "list", "watch", "patch"),
    ("readygate.io", "readinesschecks/status"): ("get", "patch"),
    ("", "events"): ("create", "patch"),
    ("events.k8s.io", "events"): ("create",),
    ("apps", "deployments"): ("get", "list", "create", "update", "watch"),
    ("apps", "statefulsets"): ("get", "list", "watch"),
    ("", "services"): ("get", "list", "create", "update"),
    ("discovery.k8s.io", "endpointslices"): ("list",),
    ("", "pods"): ("get", "list", "delete", "watch"),
    ("", "pods/status"): ("patch",),
    ("", "pods/log"): ("get",),
    ("", "secrets"): ("get", "create", "delete"),
    ("batch", "jobs"): ("get", "list", "create", "delete", "watch"),
}
# Cluster-scoped resources every install needs (the ClusterRole readygate-nodes of the
# single-namespace install).
CLUSTER_SCOPED: Rules = {
    ("", "nodes"): ("get",),
    ("", "nodes/stats"): ("get",),
}
# Only the cluster-wide install: kopf lists and watches namespaces to match --namespace patterns.
CLUSTER_WIDE_ONLY: Rules = {
    ("", "namespaces"): ("list", "watch"),
}
# The single-namespace install's only permission in its own namespace: reading its own pod.
SELF: Rules = {
    ("", "pods"): ("get",),
}


def expand(rules: Rules) -> set[Permission]:
    return {(group, resource, verb) for (group, resource), verbs in rules.items()
            for verb in verbs}


ALL_NAMESPACED = expand(NAMESPACED)
CLUSTER = expand(CLUSTER_SCOPED)
NAMESPACES = expand(CLUSTER_WIDE_ONLY)
CLUSTER_WIDE_INSTALL = ALL_NAMESPACED | CLUSTER | NAMESPACES
OWN_POD = expand(SELF)
SINGLE_NAMESPACE_INSTALL = ALL_NAMESPACED | CLUSTER


def from_policy_rules(rules: Iterable[Mapping[str, Any]]) -> set[Permission]:
    """The permissions of RBAC ``rules`` (a Role's or ClusterRole's), expanded one per verb."""
    out: set[Permission] = set()
    for rule in rules:
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                for verb in rule.get("verbs") or []:
                    out.add((str(group), str(resource), str(verb)))
    return out


def wildcards(rules: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Rules with a ``*`` anywhere, or any nonResourceURLs (an operator needs none)."""
    bad = []
    for rule in rules:
        values = [*rule.get("apiGroups", []), *rule.get("resources", []),
                  *rule.get("verbs", []), *rule.get("resourceNames", [])]
        if any("*" in str(v) for v in values) or rule.get("nonResourceURLs"):
            bad.append(rule)
    return bad
