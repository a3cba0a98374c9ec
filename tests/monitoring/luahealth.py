"""Runs the Argo CD health check (manifests/gitops/argocd/health.lua) with a real Lua 5.1.

Argo CD hands a health script the resource as the global ``obj`` (a Lua table decoded from the
object's JSON) and reads ``hs.status`` / ``hs.message`` from the table it returns. ``to_lua``
turns a Kubernetes object into a Lua table literal; ``run_health`` runs ``lua5.1`` (Debian's
``lua5.1``, installed by hack/bootstrap) on a small driver that loads the script, sandboxes it
like Argo CD does for health scripts (base functions and ``table`` only; ``os.time`` and
``os.date`` only through ``require("os")``; no ``string``, ``math``, ``io`` or global ``os``:
see tests/gitops/argocd_test.go, which runs the script in gopher-lua with Argo CD's own set of
libraries) and prints the result. Used by tests/monitoring/test_argocd_health.py (stored
testdata) and tests/e2e/test_monitoring.py (objects straight from the cluster).
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "manifests" / "gitops" / "argocd"
HEALTH_LUA = ARGOCD / "health.lua"
STATUSES = ("Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown")

_DRIVER = """
local chunk = assert(loadfile(%s))
local safe_os = {time = os.time, date = os.date}
local function safe_require(name)
  if name == "os" then return safe_os end
  error("module '" .. tostring(name) .. "' not found")
end
local env = {obj = obj, ipairs = ipairs, pairs = pairs, next = next, select = select,
             type = type, tostring = tostring, tonumber = tonumber, error = error,
             pcall = pcall, unpack = unpack, table = table, require = safe_require}
setfenv(chunk, env)
local hs = chunk()
if type(hs) ~= "table" then error("the health script returned " .. type(hs)) end
io.write(tostring(hs.status), "\\n", tostring(hs.message))
"""


@dataclasses.dataclass(frozen=True)
class Health:
    status: str
    message: str


def lua_binary() -> str:
    found = shutil.which("lua5.1")
    if found is None:
        raise AssertionError("lua5.1 is not installed: run hack/bootstrap (Debian package lua5.1)")
    return found


def _string(text: str) -> str:
    out = []
    for byte in text.encode("utf-8"):
        if byte in (0x22, 0x5C):  # " and backslash
            out.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:  # control characters and UTF-8 bytes: decimal escapes, always three digits
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def to_lua(value: Any) -> str:
    """A Lua 5.1 expression for a JSON-like value (dicts and lists become tables)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"no Lua literal for {value!r}")
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dict):
        items = (f"[{_string(str(k))}]={to_lua(v)}" for k, v in value.items() if v is not None)
        return "{" + ",".join(items) + "}"
    if isinstance(value, (list, tuple)):
        return "{" + ",".join(to_lua(v) for v in value) + "}"
    raise TypeError(f"no Lua literal for {type(value).__name__}")


def run_health(obj: dict[str, Any], script: Path = HEALTH_LUA) -> Health:
    """The health Argo CD would report for ``obj``, computed by ``script`` under lua5.1."""
    program = f"obj = {to_lua(obj)}\n" + _DRIVER % _string(str(script))
    proc = subprocess.run([lua_binary(), "-"], input=program.encode("utf-8"),
                          capture_output=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"lua5.1 failed ({proc.returncode}): "
                             f"{proc.stderr.decode('utf-8', 'replace')}")
    status, _, message = proc.stdout.decode("utf-8").partition("\n")
    if status not in STATUSES:
        raise AssertionError(f"health.lua returned status {status!r}, not one of {STATUSES}")
    return Health(status, message)
