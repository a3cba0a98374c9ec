"""Header values from Secrets, checked before they are sent. Pure.

A literal value in a spec is held to ``spec.HEADER_VALUE`` by the schema and ``parse``; a value
read from a Secret arrives later, at run time, so it is checked here: one trailing newline (what
``kubectl create secret --from-file`` keeps from an ``echo``) is dropped, and anything else that
is not visible ASCII, a space or a tab is refused — with the Secret named, never the value shown.
"""

from __future__ import annotations

import re

from readygate.api.spec import HEADER_VALUE, SecretKeyRef

_VALID = re.compile(HEADER_VALUE)


class HeaderValueError(ValueError):
    """A Secret's value cannot be sent as a header; the message names the Secret, not the value."""


def header_value(ref: SecretKeyRef, value: str) -> str:
    if value.endswith("\r\n"):
        value = value[:-2]
    elif value.endswith("\n"):
        value = value[:-1]
    if not _VALID.fullmatch(value):
        raise HeaderValueError(
            f"the value of Secret {ref.name} key {ref.key} is not a valid header value: it "
            "holds control characters, a line break or non-ASCII text (the value is not shown)")
    return value
