"""Hostile specs, Secret values and bodies: each is refused with a message naming the field and
the fix, or made harmless — never an exception (api.parse, api.headers, judge.persistence)."""

from __future__ import annotations

from typing import Any

import pytest

from readygate.api.headers import HeaderValueError, header_value
from readygate.api.parse import SpecError, parse_spec
from readygate.api.spec import HttpCall, SecretKeyRef
from readygate.judge.answers import Answer
from readygate.judge.persistence import Restart, judge_persistence

DEPLOY = {"deploy": {"image": "img:1"}}


def _load(**extra: Any) -> dict[str, Any]:
    return {"target": DEPLOY, "load": {"rate": 10, **extra}}


@pytest.mark.parametrize(("spec", "field", "why"), [
    ({"target": {"url": "http://a.example.com:99999/"}}, "spec.target.url", "not a valid URL"),
    ({"target": {"url": "http://[::1/"}}, "spec.target.url", "not a valid URL"),
    ({"target": {"url": "http://" + "a" * 64 + ".example.com/"}}, "spec.target.url",
     "label"),
    ({"target": {"url": "http://..example.com/"}}, "spec.target.url", "label"),
    ({"target": {"url": "http://\uff45\uff58.com/"}}, "spec.target.url", "xn--"),
    ({"target": {"url": "http://u:p@a.example.com/"}}, "spec.target.url", "credentials"),
    (_load(requests=[{"headers": [{"name": "Host", "value": "admin.internal"}]}]),
     "spec.load.requests[0].headers[0].name", "Host is set by readygate"),
    (_load(requests=[{"headers": [{"name": "hOsT", "value": "x"}]}]),
     "spec.load.requests[0].headers[0].name", "set by readygate"),
    (_load(requests=[{"headers": [{"name": "Transfer-Encoding", "value": "chunked"}]}]),
     "spec.load.requests[0].headers[0].name", "set by readygate"),
    (_load(requests=[{"headers": [{"name": "X-A", "value": "a\r\nHost: evil"}]}]),
     "spec.load.requests[0].headers[0].value", "does not match"),
    (_load(requests=[{"headers": [{"name": "X-A", "value": "caf\u00e9"}]}]),
     "spec.load.requests[0].headers[0].value", "does not match"),
    ({"target": DEPLOY, "persistence": {
        "write": {"path": "/w/{token}", "headers": [{"name": "Host", "value": "x"}]},
        "readBack": {"path": "/r"}}},
     "spec.persistence.write.headers[0].name", "set by readygate"),
    ({"target": DEPLOY, "load": {"rate": float("nan")}}, "spec.load.rate", "finite"),
    ({"target": DEPLOY, "load": {"rate": float("inf")}}, "spec.load.rate", "finite"),
    ({"target": DEPLOY, "load": {"model": "closed", "users": 2, "maxRate": float("nan")}},
     "spec.load.maxRate", "finite"),
])
def test_hostile_specs_are_refused_naming_the_field(spec: dict[str, Any], field: str,
                                                    why: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec)
    assert any(p.startswith(field) and why in p for p in caught.value.problems), \
        caught.value.problems


REF = SecretKeyRef(name="api-token", key="value")


@pytest.mark.parametrize("value", ["tok\r\nX-Injected: 1", "tok\x00en", "t\u00f6ken",
                                   "line1\nline2\n", "\x7f"])
def test_hostile_secret_values_are_refused_without_showing_them(value: str) -> None:
    with pytest.raises(HeaderValueError) as caught:
        header_value(REF, value)
    message = str(caught.value)
    assert "Secret api-token key value" in message
    assert value.strip() not in message


def test_a_trailing_newline_from_a_file_is_dropped() -> None:
    assert header_value(REF, "Bearer abc\n") == "Bearer abc"
    assert header_value(REF, "Bearer abc\r\n") == "Bearer abc"
    assert header_value(REF, "Bearer\tabc") == "Bearer\tabc"


def test_a_url_targets_body_is_not_copied_into_evidence() -> None:
    write = HttpCall(method="POST", path="/items", body="{token}")
    read = HttpCall(path="/items/{token}")
    secret_body = '{"AccessKeyId": "ASIA...", "SecretAccessKey": "hunter2hunter2"}'
    lost = Answer(status=404, body=secret_body)
    kept = Answer(status=200, body="tok")
    for redact, shown in ((True, False), (False, True)):
        result = judge_persistence(write, read, "tok", wrote=kept, before=kept,
                                   restart=Restart("Deployment x", 1, 2.0), after=lost,
                                   within=60, started_at="a", finished_at="b", redact=redact)
        text = result.message + " ".join(result.evidence)
        assert ("hunter2" in text) is shown, text
        assert result.result == "Failed"
