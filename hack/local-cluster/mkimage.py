#!/usr/bin/env python3
"""Write a single-layer OCI/Docker image as a `docker save` tarball, with the standard library only.

The tarball holds `manifest.json` (with RepoTags), the image config JSON and one `layer.tar`,
which is what `ctr -n k8s.io images import` reads. The layer is the union of an optional base
root filesystem tarball and optional extra directories (later entries win).

    mkimage.py --out OUT.tar --tag readygate.local/x:dev [--base ROOTFS.tar]
               [--add SRC_DIR:DEST_DIR[:UID:GID]]... [--file SRC:DEST[:MODE]]...
               --config '{"Cmd": [...], "User": "10001:10001", ...}'
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile

SKIP_NAMES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git"}
FIXED_TIME = "2024-01-01T00:00:00Z"


def norm(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/").rstrip("/")


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def add_dir_entry(out: tarfile.TarFile, seen: set[str], name: str, uid: int = 0, gid: int = 0,
                  mode: int = 0o755) -> None:
    if not name or name in seen:
        return
    parent = os.path.dirname(name)
    if parent:
        add_dir_entry(out, seen, parent)
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE
    ti.mode = mode
    ti.uid, ti.gid = uid, gid
    ti.mtime = 0
    out.addfile(ti)
    seen.add(name)


def copy_base(out: tarfile.TarFile, seen: set[str], base: str) -> None:
    with tarfile.open(base, "r:*") as src:
        for m in src:
            name = norm(m.name)
            if not name:
                continue
            m.name = name
            if m.islnk():
                m.linkname = norm(m.linkname)
            f = src.extractfile(m) if m.isreg() else None
            out.addfile(m, f)
            seen.add(name)


def add_tree(out: tarfile.TarFile, seen: set[str], src: str, dest: str, uid: int, gid: int) -> None:
    dest = norm(dest)
    add_dir_entry(out, seen, dest, uid, gid)
    for root, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_NAMES and not d.endswith(".egg-info"))
        rel = os.path.relpath(root, src)
        base = dest if rel == "." else f"{dest}/{rel}"
        for d in dirs:
            path = os.path.join(root, d)
            if os.path.islink(path):
                continue  # added below as a file entry
            add_dir_entry(out, seen, f"{base}/{d}", uid, gid, 0o755)
        for fn in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            if fn.endswith((".pyc", ".pyo")) and "__pycache__" in root:
                continue
            path = os.path.join(root, fn)
            ti = out.gettarinfo(path, arcname=f"{base}/{fn}")
            ti.uid, ti.gid, ti.uname, ti.gname = uid, gid, "", ""
            if ti.isreg():
                with open(path, "rb") as f:
                    out.addfile(ti, f)
            else:
                out.addfile(ti)
            seen.add(ti.name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--base")
    ap.add_argument("--add", action="append", default=[], help="SRC_DIR:DEST_DIR[:UID:GID]")
    ap.add_argument("--file", action="append", default=[], help="SRC:DEST[:MODE(octal)]")
    ap.add_argument("--config", default="{}", help="JSON of the image config's `config` object")
    args = ap.parse_args()

    outdir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(outdir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=outdir, prefix=".mkimage.") as tmp:
        layer = os.path.join(tmp, "layer.tar")
        seen: set[str] = set()
        with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as out:
            if args.base:
                copy_base(out, seen, args.base)
            for spec in args.add:
                parts = spec.split(":")
                src, dest = parts[0], parts[1]
                uid = int(parts[2]) if len(parts) > 2 else 0
                gid = int(parts[3]) if len(parts) > 3 else uid
                if os.path.isdir(src):
                    add_tree(out, seen, src, dest, uid, gid)
                else:
                    add_dir_entry(out, seen, norm(dest), uid, gid)
            for spec in args.file:
                parts = spec.split(":")
                src, dest = parts[0], norm(parts[1])
                add_dir_entry(out, seen, os.path.dirname(dest))
                ti = out.gettarinfo(src, arcname=dest)
                ti.uid = ti.gid = 0
                ti.uname = ti.gname = ""
                if len(parts) > 2:
                    ti.mode = int(parts[2], 8)
                with open(src, "rb") as f:
                    out.addfile(ti, f)
        diff_id = sha256_file(layer)
        config = {
            "architecture": "amd64",
            "os": "linux",
            "created": FIXED_TIME,
            "config": json.loads(args.config),
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
            "history": [{"created": FIXED_TIME, "created_by": "hack/local-cluster/mkimage.py"}],
        }
        config_bytes = json.dumps(config, sort_keys=True).encode()
        config_id = hashlib.sha256(config_bytes).hexdigest()
        manifest = [{"Config": f"{config_id}.json", "RepoTags": [args.tag],
                     "Layers": [f"{diff_id}/layer.tar"]}]
        part = args.out + ".part"
        with tarfile.open(part, "w", format=tarfile.PAX_FORMAT) as img:
            def add_bytes(name: str, data: bytes) -> None:
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                ti.mode = 0o644
                img.addfile(ti, io.BytesIO(data))

            ti = tarfile.TarInfo(diff_id)
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            img.addfile(ti)
            img.add(layer, arcname=f"{diff_id}/layer.tar")
            add_bytes(f"{config_id}.json", config_bytes)
            add_bytes("manifest.json", json.dumps(manifest).encode())
        shutil.move(part, args.out)
    print(f"sha256:{config_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
