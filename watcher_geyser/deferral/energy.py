"""What the deferral rule reads about energy: the signal's scarcity, and with a watts signal the supply itself.

``Energy`` carries the signal policy's scarcity ``level`` and ``fallback`` (every signal has
them), and, when the signal is in watts (or a fraction of the fleet's peak), what deferral
needs to move work in time: the supply now (``supply_w``), what the fleet draws now
(``need_w``), what one running instance costs on average (``per_instance_w``) and the
supply ahead (``Forecast``). Built the same way by the Watcher strategy and the simulator
(``Energy.from_decision``), so both run the same rule on the same numbers.

Pure: imports nothing from OpenStack.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from watcher_geyser.signal.decision import Decision, Fallback
from watcher_geyser.signal.series import Series, Unit

#: How far ahead a forecast is kept: beyond any deadline the rule weighs (a day of deferral, and margin).
FORECAST_SPAN_S = 48 * 3600.0


@dataclass(frozen=True)
class Forecast:
    """Available watts ahead as a step function: ``watts[i]`` from ``starts_s[i]`` until the next
    start, the last until ``end_s``. Nothing is known after ``end_s``."""

    starts_s: tuple[float, ...]
    watts: tuple[float, ...]
    end_s: float

    @classmethod
    def from_series(cls, series: Series, now_s: float, fleet_peak_w: float | None = None,
                    span_s: float = FORECAST_SPAN_S) -> Forecast | None:
        """The part of a watts (or fraction) series from ``now_s`` on; None for other units or
        when the series does not cover ``now_s``."""
        if series.unit is Unit.FRACTION and fleet_peak_w:
            scale = float(fleet_peak_w)
        elif series.unit is Unit.WATTS:
            scale = 1.0
        else:
            return None
        first = series.covering(now_s)
        if first is None:
            return None
        last = series.window_end(first, now_s + span_s)
        starts = [now_s, *series.times_s[first + 1:last].tolist()]
        ends = series.times_s[first:last] + series.durations_s[first:last]
        # a gap between two points ends the forecast: nothing is known past it
        gaps = np.flatnonzero(series.times_s[first + 1:last] > ends[:-1] + 1e-9)
        stop = int(gaps[0]) + 1 if len(gaps) else len(starts)
        values = (series.values[first:last] * scale).tolist()[:stop]
        end_s = float(min(ends[stop - 1], now_s + span_s))
        return cls(tuple(float(t) for t in starts[:stop]), tuple(float(w) for w in values), end_s)

    def lowest(self, from_s: float, until_s: float) -> float | None:
        """The least watts forecast over ``[from_s, until_s]``, or None when the forecast does not reach ``until_s``
        (nor ``from_s`` when both are its end: nothing is known from ``end_s`` on)."""
        if until_s > self.end_s or from_s < self.starts_s[0]:
            return None
        ends = (*self.starts_s[1:], self.end_s)
        return min((w for start, end, w in zip(self.starts_s, ends, self.watts) if end > from_s and start <= until_s),
                   default=None)

    def at(self, t_s: float) -> float | None:
        """The watts forecast at ``t_s``, or None outside ``[starts_s[0], end_s)``."""
        if not self.starts_s[0] <= t_s < self.end_s:
            return None
        return self.watts[bisect.bisect_right(self.starts_s, t_s) - 1]

    def covered_s(self, from_s: float, until_s: float, need_w: float) -> float:
        """Seconds of ``[from_s, until_s)`` when at least ``need_w`` is forecast (what lies past the
        forecast's end counts as not covered: nothing is known there)."""
        total = 0.0
        ends = (*self.starts_s[1:], self.end_s)
        for start, end, watts in zip(self.starts_s, ends, self.watts):
            if watts >= need_w:
                total += max(min(end, until_s) - max(start, from_s), 0.0)
        return total

    def first_covered(self, from_s: float, until_s: float, need_w: float) -> float | None:
        """The earliest time in ``[from_s, until_s]`` when at least ``need_w`` is forecast, or None."""
        for i, (start, watts) in enumerate(zip(self.starts_s, self.watts)):
            end = self.starts_s[i + 1] if i + 1 < len(self.starts_s) else self.end_s
            if end <= from_s or watts < need_w:
                continue
            at = max(start, from_s)
            return at if at <= until_s else None
        return None


@dataclass(frozen=True)
class Energy:
    """The part of a signal decision the rule reads (docs/design/deferral.md).

    ``level`` and ``fallback`` always; the watts fields only for a watts (or fraction) signal
    read without fallback, with the fleet's draw known. Without them the rule falls back to
    the scarcity levels (carbon intensity, renewable share).
    """

    level: float  # scarcity, 0 plenty .. 1 scarce
    fallback: Fallback | None = None  # set: the level is a substitute, the signal could not be read
    supply_w: float | None = None  # available watts now
    need_w: float | None = None  # what the fleet draws now
    per_instance_w: float | None = None  # what a running instance costs on average (need_w / instances running)
    forecast: Forecast | None = None  # available watts ahead

    def __post_init__(self) -> None:
        for name in ("supply_w", "need_w", "per_instance_w"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number of watts >= 0, got {value}")

    @property
    def knows_supply(self) -> bool:
        """True when the rule can weigh the supply against the draw (watts signal, readable, draw known)."""
        return (self.fallback is None and self.supply_w is not None and self.need_w is not None
                and self.per_instance_w is not None and self.per_instance_w > 0)

    @classmethod
    def from_decision(cls, decision: Decision, series: Series | None = None, need_w: float | None = None,
                      instances: int = 0, fleet_peak_w: float | None = None,
                      host_w: float | None = None) -> Energy:
        """The rule's view of a decision; with the series read and the fleet's draw, its watts fields too.

        ``instances``: how many instances run now (the draw is shared among them). When none
        runs, the first to come back switches a host on: ``host_w`` (the least a host draws when
        on) is then the price of one. A fallback decision gets only its level and fallback: an
        unreadable signal never shelves.
        """
        if decision.fallback is not None or decision.value_now is None or series is None:
            return cls(decision.level, decision.fallback)
        forecast = Forecast.from_series(series, decision.at_s, fleet_peak_w)
        if forecast is None or need_w is None or not math.isfinite(need_w) or need_w < 0:
            return cls(decision.level, decision.fallback)
        if instances > 0 and need_w > 0:
            per_instance_w = float(need_w) / instances
        elif host_w is not None and math.isfinite(host_w) and host_w > 0:
            per_instance_w = float(host_w)
        else:
            return cls(decision.level, decision.fallback)
        return cls(decision.level, None, forecast.watts[0], float(need_w), per_instance_w, forecast)

    @classmethod
    def blind(cls) -> Energy:
        """No signal at all: behave as the safe default (run everything)."""
        return cls(0.0, Fallback.SAFE_DEFAULT)
