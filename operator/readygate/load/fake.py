"""An in-memory transport for tests (the seam of ``transport.py``, like httpx's MockTransport).

``FakeTransport(handler)`` answers each request by calling ``handler(template_index)``, which
returns ``(status, delay_seconds)`` for a response after that delay, ``"hang"`` for a request
that is never answered (the engine's timeout must catch it) or ``"reset"`` for a connection
dropped mid-request. ``refuse`` makes every connect fail with a ``ConnectError`` of that kind.
Counters (``sent``, ``connects``) let tests compare client-side and "server-side" numbers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .errors import ConnectError
from .transport import Channel, Listener

__all__ = ["FakeTransport", "Outcome"]

Outcome = tuple[int, float] | str


class _FakeChannel(Channel):
    __slots__ = ("listener", "owner", "timer")

    def __init__(self, owner: FakeTransport, listener: Listener) -> None:
        super().__init__()
        self.owner = owner
        self.listener = listener
        self.timer: asyncio.Handle | None = None

    def send(self, index: int) -> None:
        self.index = index
        self.owner.sent += 1
        outcome = self.owner.handler(index)
        loop = asyncio.get_running_loop()
        if outcome == "hang":
            return
        if outcome == "reset":
            self.timer = loop.call_soon(self._lost)
            return
        assert not isinstance(outcome, str), outcome
        status, delay = outcome
        self.timer = loop.call_later(delay, self._respond, status)

    def _respond(self, status: int) -> None:
        if not self.closed:
            self.listener.on_response(self, status, True)

    def _lost(self) -> None:
        if not self.closed:
            self.closed = True
            self.listener.on_lost(self, "reset")

    def abort(self) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()


class FakeTransport:
    def __init__(self, handler: Callable[[int], Outcome], refuse: str | None = None) -> None:
        self.handler = handler
        self.refuse = refuse
        self.sent = 0
        self.connects = 0

    async def connect(self, listener: Listener) -> Channel:
        self.connects += 1
        await asyncio.sleep(0)
        if self.refuse:
            raise ConnectError(self.refuse)
        return _FakeChannel(self, listener)

    def close(self) -> None:
        pass
