"""The transport seam between the engine and the wire.

A ``Transport`` opens ``Channel``s (one connection each, one request in flight at a time); a
channel reports back to its ``Listener`` (the engine) with ``on_response`` or ``on_lost``. The
engine keeps its per-request bookkeeping in the channel's slots (``busy``, ``t_start``,
``t_sent``, ``index``). ``client.py`` implements the seam with asyncio.Protocol + httptools;
``fake.py`` implements it in memory for tests (like httpx's MockTransport). A transport raises
``ConnectError(kind)`` when a connection cannot be opened; everything else is reported, not
raised.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Channel", "Listener", "Transport"]


class Channel:
    """One connection. Subclasses implement ``send`` and ``abort``."""

    __slots__ = ("busy", "closed", "index", "t_sent", "t_start", "user")

    def __init__(self) -> None:
        self.busy = False  # a request is in flight
        self.closed = False  # aborted or lost; never reused
        self.index = 0  # template index of the request in flight
        self.t_start = 0  # ns: latency is measured from here (intended or actual send time)
        self.t_sent = 0  # ns: when the request was actually written (timeouts run from here)
        self.user = -1  # closed model: the user owning this channel

    def send(self, index: int) -> None:
        """Write request template ``index``; the answer arrives via the listener."""
        raise NotImplementedError

    def abort(self) -> None:
        """Close at once, without a callback to the listener."""
        raise NotImplementedError


class Listener(Protocol):
    def on_response(self, channel: Channel, status: int, keep_alive: bool) -> None: ...

    def on_lost(self, channel: Channel, kind: str) -> None: ...


class Transport(Protocol):
    async def connect(self, listener: Listener) -> Channel: ...

    def close(self) -> None: ...
