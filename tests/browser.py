"""A real headless browser for the report's tests: Debian's ``chromium`` (hack/bootstrap installs
it) takes a screenshot of a page and dumps the DOM it built, and this module reads both back:
the PNG's size and how much of it is drawn, and the elements of the DOM by tag and class.
Fails — never skips — when the browser is missing.
"""

from __future__ import annotations

import collections
import html.parser
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import pytest

WIDTH = 1000


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("no chromium: the report's browser tests need it (hack/bootstrap installs "
                "Debian's chromium package)", pytrace=False)


def _run(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="rg-chromium-") as profile:
        cmd = [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
               *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc


def screenshot(page: Path, png: Path, height: int = 4000) -> Path:
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    _run(f"--window-size={WIDTH},{height}", f"--screenshot={png}", page.resolve().as_uri())
    assert png.exists(), f"chromium wrote no screenshot of {page}"
    return png


def dump_dom(page: Path) -> str:
    return _run("--dump-dom", page.resolve().as_uri()).stdout


def png_facts(png: Path) -> tuple[int, int, float]:
    """(width, height, ink) of a PNG as chromium writes it: ``ink`` is the share of non-zero
    bytes in its filtered scanlines — about 0 for a blank page (every row repeats the one
    above or its own first pixel), a few percent for a page of text and charts."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG"
    pos, idat = 8, b""
    width = height = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    return width, height, 1 - raw.count(0) / len(raw) if raw else 0.0


class Elements(html.parser.HTMLParser):
    """Counts of ``tag`` and ``tag.class`` in a DOM, and the text it shows."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.count: collections.Counter[str] = collections.Counter()
        self.attrs: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(dom)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.count[tag] += 1
        found = dict(attrs)
        self.attrs.append((tag, found))
        for cls in (found.get("class") or "").split():
            self.count[f"{tag}.{cls}"] += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)
