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

    @contextlib.contextmanager
    def reserve(self, rate: float) -> Iterator[None]:
        if self.in_use + rate > self.limit:
            raise LoadRefused(
                f"the operator is already sending {self.in_use:g} req/s of its global cap "
                f"{self.limit:g} req/s (READYGATE_MAX_TOTAL_RATE); this check needs {rate:g}")
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
