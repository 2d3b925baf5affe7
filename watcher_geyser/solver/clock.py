"""The solver's sense of time: a wall clock, or a work clock when answers must repeat.

Anytime search stops where the clock says, so in normal mode the answer depends on how
busy the machine is. In deterministic mode (``Problem.deterministic``) nothing reads the
wall clock: CP-SAT runs one worker under a work limit (``max_deterministic_time``, CP-SAT's
own machine-independent measure of effort) instead of a time limit, and the numpy stages
run to completion instead of stopping at a deadline. The same input then gives the same
answer on any machine, at the cost of one core instead of several and a wall time that
follows the machine's speed instead of the limit (on a loaded machine it can run past it).
"""

from __future__ import annotations

import math
import time

# CP-SAT's deterministic time runs slower than wall time on one worker: one unit took about
# one to two seconds of wall time here. Half a unit per second of limit keeps the usual run
# within its limit on a quiet machine.
WORK_UNITS_PER_SECOND = 0.5


def validate_time_limit(seconds: float, name: str = "time_limit_s") -> float:
    """``seconds`` when it is a finite number above 0; otherwise a ValueError naming the fix."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of seconds above 0, got {seconds!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number of seconds above 0 (for example 10), got {seconds!r}")
    return value


class Clock:
    """Seconds left for a solve. ``deterministic`` counts the budgets handed out instead of
    reading the wall clock, so every branch taken on time is the same on every run."""

    def __init__(self, limit_s: float, deterministic: bool = False) -> None:
        self.limit_s = limit_s
        self.deterministic = deterministic
        self.started = time.monotonic()
        self._spent = 0.0

    def elapsed(self) -> float:
        return self._spent if self.deterministic else time.monotonic() - self.started

    def left(self) -> float:
        return max(self.limit_s - self.elapsed(), 0.0)

    def expired(self) -> bool:
        return self.left() <= 0

    def spend(self, seconds: float) -> None:
        """Record a budget handed to a stage (deterministic mode counts these as time)."""
        self._spent += max(seconds, 0.0)

    @property
    def deadline(self) -> float:
        """A ``time.monotonic()`` deadline for loops that check it: never, when deterministic."""
        return math.inf if self.deterministic else self.started + self.limit_s
