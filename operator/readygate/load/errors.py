"""The load engine's exception tree (drawn in the package docstring).

Only *operator-side* faults are exceptions here: an invalid or over-cap plan, a worker process
that crashed or overran its time, a result document that cannot be parsed. Faults of the target
(refused connections, timeouts, 5xx, garbage on the wire) are never raised out of a run: the
engine (``engine.py``) counts them by kind in the ``LoadResult``. ``ConnectError`` is the one
exception that crosses the transport seam (``transport.py``); the engine catches it and turns it
into a counted error.
"""

from __future__ import annotations

__all__ = [
    "CapExceeded",
    "ConnectError",
    "LoadError",
    "PlanError",
    "ResultError",
    "WorkerError",
]


class LoadError(Exception):
    """Base class of every exception raised by ``readygate.load``."""


class PlanError(LoadError, ValueError):
    """The plan (or a threshold, or a CLI argument) is invalid; fix the input."""


class CapExceeded(PlanError):
    """The plan asks for more than a safety cap (MAX_RATE, MAX_USERS, ...) allows."""


class ResultError(LoadError, ValueError):
    """A serialized result or histogram could not be parsed or merged."""


class WorkerError(LoadError):
    """A worker process failed, printed no result, or was killed for overrunning its time.

    ``detail`` holds the worker's last lines of error output, kept apart from the message: they
    may quote a request's header values, so only a caller that may show them (the CLI) does."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class ConnectError(LoadError):
    """Raised by a transport when a connection cannot be opened; ``kind`` names the cause."""

    def __init__(self, kind: str, message: str = "") -> None:
        super().__init__(message or kind)
        self.kind = kind
