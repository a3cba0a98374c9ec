"""Run the security fuzz targets (tests/security/fuzz_targets.py) for longer than the test
command does: ``python bench/fuzz.py [EXAMPLES]`` (default 20,000 per target). Prints how many
inputs each target took per second and exits non-zero on the first failing input."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.security.fuzz_targets import URL_INPUTS, check_policy, check_spec, specs


def main() -> int:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    long = settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))

    @long
    @given(specs())
    def spec_target(data: Any) -> None:
        check_spec(data)

    @long
    @given(URL_INPUTS)
    def policy_target(inputs: tuple[str, list[str], list[str]]) -> None:
        check_policy(*inputs)

    for name, target in (("parse_spec", spec_target), ("target policy", policy_target)):
        t0 = time.perf_counter()
        target()
        took = time.perf_counter() - t0
        print(f"{name}: {examples} inputs in {took:.1f}s ({examples / took:.0f}/s), no failure")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
