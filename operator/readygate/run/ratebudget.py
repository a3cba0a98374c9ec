"""The operator's total outgoing load rate, shared by every running load check.

A check reserves the peak rate of its plan before its load starts and gives it back when the
load ends; a reservation beyond ``READYGATE_MAX_TOTAL_RATE`` is refused with the reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator


@dataclasses.dataclass
class RateBudget:
    """The operator's total outgoing load rate (req/s), shared by every running load check.

    ``on_change`` (e.g. a gauge's ``set``) hears the rate in use after every change.
    """

    limit: float
    in_use: float = 0.0
    on_change: Callable[[float], None] | None = None
    cap: float | None = None  # the global cap the limit was taken from (for the message)

    @contextlib.contextmanager
    def reserve(self, rate: float) -> Iterator[None]:
        if self.in_use + rate > self.limit:
            whence = (f"its global cap {self.cap:g} req/s (READYGATE_MAX_TOTAL_RATE) less the "
                      f"probes' share" if self.cap is not None else "its global cap")
            raise LoadRefused(
                f"this check's load needs {rate:g} req/s, but the operator already sends "
                f"{self.in_use:g} of the {self.limit:g} req/s {whence} leaves for load")
        self._set(self.in_use + rate)
        try:
            yield
        finally:
            self._set(self.in_use - rate)

    def _set(self, value: float) -> None:
        self.in_use = value
        if self.on_change is not None:
            self.on_change(value)


class LoadRefused(Exception):
    pass
