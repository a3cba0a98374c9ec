"""The fuzz targets of ``fuzz_targets`` for a bounded number of examples (bench/fuzz.py runs
them for longer): refused with a message, or accepted and safe — never an exception."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from .fuzz_targets import URL_INPUTS, check_policy, check_spec, specs

BOUNDED = settings(max_examples=400, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow])


@BOUNDED
@given(specs())
def test_parse_refuses_or_accepts_never_raises(data: Any) -> None:
    check_spec(data)


@BOUNDED
@given(URL_INPUTS)
def test_the_target_policy_refuses_or_admits_safely(inputs: tuple[str, list[str], list[str]],
                                                     ) -> None:
    check_policy(*inputs)
