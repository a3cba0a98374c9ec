"""Label selectors are converted whole (matchExpressions too) and an empty one is refused, so a
restart or a disruption can never select every pod of a namespace (kube.selectors)."""

from __future__ import annotations

from typing import Any

import pytest

from readygate.kube.selectors import SelectorError, from_map, label_selector


@pytest.mark.parametrize(("selector", "query"), [
    ({"matchLabels": {"app": "db", "tier": "x"}}, "app=db,tier=x"),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["db", "db2"]}]},
     "app in (db,db2)"),
    ({"matchLabels": {"a": "1"},
      "matchExpressions": [{"key": "b", "operator": "NotIn", "values": ["2"]},
                           {"key": "c", "operator": "Exists"},
                           {"key": "d", "operator": "DoesNotExist"}]},
     "a=1,b notin (2),c,!d"),
])
def test_a_selector_is_converted_whole(selector: dict[str, Any], query: str) -> None:
    assert label_selector(selector) == query


@pytest.mark.parametrize("selector", [
    None, {}, {"matchLabels": {}}, {"matchExpressions": []},
    {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
    {"matchExpressions": [{"key": "a", "operator": "Near"}]},
    {"matchLabels": {"a": "x,b=y"}},  # an injected second requirement
    {"matchLabels": {"a b": "x"}},
    {"matchExpressions": ["app"]},
])
def test_empty_or_hostile_selectors_are_refused(selector: Any) -> None:
    with pytest.raises(SelectorError):
        label_selector(selector)


def test_a_service_map_with_no_labels_selects_nothing_rather_than_everything() -> None:
    with pytest.raises(SelectorError, match="empty"):
        from_map({})
    assert from_map({"app": "web"}) == "app=web"
