"""The Dockerfile, read as text: multi-stage, pinned, non-root, no build tools in the final image,
and the same content as the image hack/local-cluster/images builds for the local cluster."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
UID = 10001
LIB = "/opt/readygate/lib"
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|make|build-essential|python3-dev|python3-pip|"
                         r"python3-venv|pip3?|git|curl|wget)\b")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    logical = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines()
                                             if not line.lstrip().startswith("#")))
    out = []
    for line in logical.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for ins in _instructions():
        if ins[0] == "FROM":
            stages.append([])
        assert stages, "an instruction before the first FROM"
        stages[-1].append(ins)
    return stages


def test_multi_stage_with_every_base_pinned() -> None:
    stages = _stages()
    assert len(stages) >= 2
    for stage in stages:
        image = stage[0][1].split()[0]
        assert image != "scratch"
        pinned = re.search(r"@sha256:[0-9a-f]{64}$", image) or re.search(
            r":[\w.-]*\b20\d{6}\b[\w.-]*$", image)  # a digest, or a dated tag
        assert pinned, f"{image}: pin a digest or a dated tag"
        assert not image.endswith(":latest")


def test_final_stage_has_no_build_tools_and_runs_as_10001() -> None:
    final = _stages()[-1]
    runs = " ".join(args for ins, args in final if ins == "RUN")
    installed = " ".join(re.findall(r"apt-get install ([^&;]*)", runs))
    assert not BUILD_TOOLS.search(installed), installed
    assert "pip" not in runs
    users = [args for ins, args in final if ins == "USER"]
    assert users == [f"{UID}:{UID}"], users  # numeric: the kubelet can verify runAsNonRoot
    copies = [args for ins, args in final if ins == "COPY"]
    assert copies == [f"--from=build {LIB} {LIB}"], copies


def test_build_stage_installs_the_package_into_the_library_dir() -> None:
    build = _stages()[0]
    assert build[0][1].endswith(" AS build")
    runs = " ".join(args for ins, args in build if ins == "RUN")
    assert re.search(rf"pip install .*--target {LIB} \.", runs), runs


def test_runtime_environment_and_entrypoint() -> None:
    final = _stages()[-1]
    env = " ".join(args for ins, args in final if ins == "ENV")
    assert f"PYTHONPATH={LIB}" in env
    assert ("ENTRYPOINT", '["python3", "-m", "readygate"]') in final
    assert ("CMD", '["run"]') in final
    ports = {p for ins, args in final if ins == "EXPOSE" for p in args.split()}
    assert ports == {"8080", "9090"}


def test_same_content_as_the_local_cluster_image() -> None:
    """hack/local-cluster/images builds readygate.local/operator:dev without Docker: bookworm,
    python3, the package pip-installed with --target into /opt/readygate/lib, uid 10001."""
    script = (ROOT / "hack" / "local-cluster" / "images").read_text()
    base_recipe = re.search(r'^BASE_RECIPE="([^"]*)"', script, re.MULTILINE)
    assert base_recipe and "bookworm" in base_recipe[1] and "python3" in base_recipe[1]
    assert f"app {UID}:{UID}" in base_recipe[1]
    assert all("bookworm" in stage[0][1] for stage in _stages())
    body = script[script.index("build_operator() {"):]
    body = body[:body.index("\n}\n")]
    assert re.search(r'pip install .*--target "\$tmp/lib"', body, re.DOTALL)
    assert f'"$tmp/lib:{LIB.lstrip("/")}:0:0"' in body
    config = re.search(r"--config \"(\{.*?\})\" >/dev/null", body, re.DOTALL)
    assert config, body
    cfg = json.loads(config[1].replace('\\"', '"').replace("$PATH_ENV", "PATH=..."))
    assert cfg["User"] == f"{UID}:{UID}"
    assert f"PYTHONPATH={LIB}" in cfg["Env"]
    assert cfg["Entrypoint"] == ["python3", "-m", "readygate"] and cfg["Cmd"] == ["run"]


def test_manifests_run_the_image_as_its_user() -> None:
    dep = yaml.safe_load((ROOT / "manifests" / "base" / "deployment.yaml").read_text())
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == UID
    assert pod["containers"][0]["securityContext"]["runAsUser"] == UID
