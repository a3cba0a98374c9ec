"""The developer tools hack/tools builds from hack/tools/go.mod: helm and kustomize.

``hack/bootstrap`` (run by ``hack/test``) builds them into ``~/.cache/readygate/tools/<key>/bin``;
the tests only look them up (``hack/tools/build --check``, instant) and fail — never skip, never
build for minutes inside a test — when they are not there.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "hack" / "tools" / "build"


@functools.cache
def _bin_dir() -> Path | str:
    proc = subprocess.run([str(BUILD), "--check"], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        return f"{proc.stderr.strip()} (hack/bootstrap builds them: hack/tools/build)"
    return Path(proc.stdout.strip())


def tool(name: str) -> str:
    """The path of ``helm`` or ``kustomize``; fails the test when it has not been built."""
    found = _bin_dir()
    if isinstance(found, str):
        pytest.fail(f"no {name}: {found}", pytrace=False)
    path = found / name
    if not path.is_file():
        pytest.fail(f"no {name} in {found}", pytrace=False)
    return str(path)
