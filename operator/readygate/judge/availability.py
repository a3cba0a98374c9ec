"""Availability over the load: the fraction of successful requests per window, the worst window,
the whole load, and the error budget consumed, judged against ``spec.availability``. Pure.

The windows come from the load's per-second timeline (``load.result.Second``: requests and
errors by the second they completed in, so sharded loads merge exactly): seconds ``0..w-1`` are
the first window, and so on; a remainder shorter than half a window (the requests still
completing when the schedule ended) joins the last window. A window in which no request
completed is reported, never counted as 100 %. The error budget is ``(1 - objective) x
requests``; the budget consumed is ``failures / budget`` (over 100 %: blown).

Scoring: below the objective over the whole load is Failed; every window at or above it is
Passed. The whole load meeting the objective while some window does not is what
``worstWindow`` says: a warning (Conditional, the default — a brief dip the budget absorbed is
worth knowing, not a failed rollout), a failure, or only reported. Fewer requests than
``minRequests`` is Inconclusive, never a pass.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from readygate.api.names import Result
from readygate.api.percent import format_percent
from readygate.api.results import CheckResult
from readygate.api.spec import AvailabilityCheck
from readygate.load import LoadResult, Second

EPSILON = 1e-9  # 999 of 1000 meets 99.9% whatever the float rounding


@dataclasses.dataclass(frozen=True)
class Window:
    start: int  # seconds from the load's start
    length: int  # seconds
    requests: int
    failures: int

    @property
    def fraction(self) -> float | None:
        """Successful requests / requests; None for a window without requests."""
        return (self.requests - self.failures) / self.requests if self.requests else None

    def meets(self, objective: float) -> bool:
        return self.requests == 0 or _meets(self.requests, self.failures, objective)


def _meets(requests: int, failures: int, objective: float) -> bool:
    return requests - failures >= objective * requests - EPSILON


@dataclasses.dataclass(frozen=True)
class Availability:
    objective: float
    window: int
    windows: tuple[Window, ...]

    @property
    def requests(self) -> int:
        return sum(w.requests for w in self.windows)

    @property
    def failures(self) -> int:
        return sum(w.failures for w in self.windows)

    @property
    def overall(self) -> float | None:
        n = self.requests
        return (n - self.failures) / n if n else None

    @property
    def meets(self) -> bool:
        return _meets(self.requests, self.failures, self.objective)

    @property
    def budget(self) -> float:
        """Failed requests the objective allows over the load."""
        return (1.0 - self.objective) * self.requests

    @property
    def consumed(self) -> float | None:
        """Percent of the error budget the failures used (over 100: blown); None without
        requests."""
        return self.failures / self.budget * 100 if self.requests else None

    @property
    def measured(self) -> tuple[Window, ...]:
        return tuple(w for w in self.windows if w.requests)

    @property
    def empty(self) -> tuple[Window, ...]:
        return tuple(w for w in self.windows if not w.requests)

    @property
    def below(self) -> tuple[Window, ...]:
        return tuple(w for w in self.measured if not w.meets(self.objective))

    @property
    def worst(self) -> Window | None:
        """The window with the lowest fraction (the earliest of equals); None if none had
        requests."""
        measured = self.measured
        if not measured:
            return None
        return min(measured, key=lambda w: (w.fraction, w.start))


def availability_of(timeline: Sequence[Second], objective: float, window: int) -> Availability:
    """Cut the per-second ``timeline`` into windows of ``window`` seconds."""
    window = max(1, int(window))
    if not timeline:
        return Availability(objective, window, ())
    span = max(s.t for s in timeline) + 1
    starts = list(range(0, span, window))
    if len(starts) > 1 and span - starts[-1] < window / 2:
        starts.pop()  # a short remainder (the drain after the schedule) joins the last window
    counts = [[0, 0] for _ in starts]
    for s in timeline:
        i = min(max(s.t, 0) // window, len(starts) - 1)
        counts[i][0] += s.requests
        counts[i][1] += s.errors
    ends = starts[1:] + [span]
    return Availability(objective, window, tuple(
        Window(start, end - start, n, e) for start, end, (n, e) in zip(starts, ends, counts,
                                                                        strict=True)))


def _pct(fraction: float) -> str:
    """A fraction as a percentage, rounded down (a value below an objective never shows as
    equal to it), with more digits near 100 % (99.995%, not 99.99%)."""
    if fraction >= 1.0:
        return "100%"
    digits = 2
    while True:
        scale = 10 ** digits
        shown = math.floor(fraction * 100 * scale + EPSILON) / scale
        all_nines = abs(shown - (100 - 1 / scale)) < EPSILON
        if digits == 6 or not all_nines or abs(fraction * 100 - shown) < EPSILON:
            return f"{shown:.{digits}f}%"
        digits += 1


def _window_text(w: Window) -> str:
    fraction = w.fraction
    share = "no requests" if fraction is None else (
        f"{_pct(fraction)} ({w.failures} of {w.requests} failed)")
    return f"+{w.start}s..+{w.start + w.length}s: {share}"


def judge_availability(spec: AvailabilityCheck, result: LoadResult, *, started_at: str | None,
                       finished_at: str) -> CheckResult:
    a = availability_of(result.timeline, spec.objective, round(spec.window))
    objective = format_percent(spec.objective)
    measured: dict[str, float] = {
        "objective": spec.objective,
        "requests": float(a.requests),
        "failures": float(a.failures),
        "windows": float(len(a.windows)),
        "windowSeconds": float(a.window),
        "emptyWindows": float(len(a.empty)),
        "windowsBelowObjective": float(len(a.below)),
        "errorBudgetRequests": a.budget,
    }
    overall, worst, consumed = a.overall, a.worst, a.consumed
    if overall is not None:
        measured["availability"] = overall
    if consumed is not None:
        measured["errorBudgetConsumedPercent"] = consumed
    if worst is not None and worst.fraction is not None:
        measured["worstWindowAvailability"] = worst.fraction
        measured["worstWindowStartSeconds"] = float(worst.start)
    evidence = tuple(f"window {_window_text(w)} below {objective}" for w in a.below[:10])
    if a.empty:
        evidence += (f"{len(a.empty)} window(s) without requests (not counted): "
                     + ", ".join(f"+{w.start}s" for w in a.empty[:10]),)
    if worst is not None and not a.below:
        evidence += (f"worst window {_window_text(worst)}",)

    def done(result: Result, message: str, warnings: tuple[str, ...] = ()) -> CheckResult:
        return CheckResult(result=result, message=message,
                           started_at=started_at, finished_at=finished_at, measured=measured,
                           evidence=evidence, warnings=warnings)

    if overall is None or a.requests < spec.min_requests:
        return done("Inconclusive", f"inconclusive: {a.requests} requests, fewer than "
                                    f"minRequests {spec.min_requests} to judge {objective}")
    assert consumed is not None and worst is not None and worst.fraction is not None
    empty = f"; {len(a.empty)} of {len(a.windows)} windows without requests" if a.empty else ""
    used = f"{consumed:.0f}" if consumed >= 10 else f"{consumed:.2g}"
    budget = f"{a.budget:.4g}"
    head = (f"availability {_pct(overall)} over {a.requests} requests ({a.failures} failed), "
            f"objective {objective}: {used}% of the error budget "
            f"({budget} request{'' if budget == '1' else 's'}) consumed; worst "
            f"{a.window}s window {_pct(worst.fraction)} at +{worst.start}s{empty}")
    if not a.meets:
        return done("Failed", f"{head}: below the objective")
    if not a.below:
        return done("Passed", head)
    dips = (f"{len(a.below)} of {len(a.measured)} windows below {objective} "
            f"(worst {_pct(worst.fraction)} at +{worst.start}s)")
    if spec.worst_window == "Fail":
        return done("Failed", f"{head}: {dips} (worstWindow: Fail)")
    if spec.worst_window == "Warn":
        return done("Passed", f"{head}: {dips}", warnings=(dips,))
    return done("Passed", f"{head}: {dips}, ignored (worstWindow: Ignore)")
