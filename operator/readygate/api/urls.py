"""What an http(s) URL in a spec must look like, checked in code. Pure.

``split_url`` is the one place a URL is taken apart: by ``parse`` (so a bad URL is refused when
the spec is read, with the fix), by the target policy (``judge.targets``) and by the CLI.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

MAX_HOST = 253
LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def split_url(url: str) -> tuple[SplitResult, str, int]:
    """(parts, host in lower-case ASCII, port) of an http(s) URL, or ValueError saying why not.

    Checked here, not only by the schema's pattern: a port out of range, a broken IPv6 literal,
    an empty or over-long label, a host that is not ASCII (write its xn-- form), credentials in
    the URL (they would end up in status) are each refused with the fix.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{url!r}: the scheme must be http or https")
    if "@" in parts.netloc:
        raise ValueError(f"{url!r}: credentials in a URL are not accepted (they would be shown "
                         "in status); send them as a header from a Secret")
    host = parts.hostname or ""
    if not host:
        raise ValueError(f"{url!r} has no host")
    if not host.isascii():
        raise ValueError(f"{url!r}: the host {host!r} is not ASCII; write it in its IDNA "
                         "(xn--...) form")
    if port is not None and port == 0:
        raise ValueError(f"{url!r}: port 0 is not a port")
    if not _is_ip(host):
        labels = host.rstrip(".").split(".")
        if len(host) > MAX_HOST:
            raise ValueError(f"{url!r}: the host is longer than {MAX_HOST} characters")
        for label in labels:
            if not LABEL.match(label):
                raise ValueError(f"{url!r}: {label!r} is not a valid host name label (1-63 "
                                 "letters, digits or hyphens, not starting or ending with one)")
    default = 443 if parts.scheme == "https" else 80
    return parts, host.rstrip("."), port or default


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
