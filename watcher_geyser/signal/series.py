"""A time series of energy availability: what every source returns and the policy reads.

A ``Series`` is a step function: point ``i`` holds ``values[i]`` from ``times_s[i]`` for
``durations_s[i]`` seconds (epoch seconds, UTC). Storing numpy arrays keeps the policy's
hot path (one ``searchsorted`` and one ``min`` per decision) in microseconds, which the
simulator needs when it decides every five minutes of a simulated month.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from watcher_geyser.inputs import InputError, epoch_s, iso


class SignalError(ValueError):
    """A signal that cannot be read or parsed; the message says what was wrong."""


class Unit(enum.StrEnum):
    """What a series' values measure. Defined once; parsers and the policy share it."""

    WATTS = "watts"  # power available to the fleet, W
    FRACTION = "fraction"  # power available as a fraction of the fleet's peak, 0..1
    RENEWABLE_PCT = "renewable_pct"  # renewable share of the supply, 0..100 %
    CARBON_G_PER_KWH = "gco2_per_kwh"  # carbon intensity of the supply, gCO2/kWh

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]

    @property
    def higher_is_better(self) -> bool:
        """True when a larger value means more (or cleaner) energy is available."""
        return self is not Unit.CARBON_G_PER_KWH

    @classmethod
    def parse(cls, text: str) -> tuple[Unit, float]:
        """``(unit, scale)`` for a unit name or symbol; values are multiplied by ``scale``.

        Accepts the enum values and common spellings: W, kW, MW, watts, fraction, %,
        percent, renewable_pct, gCO2/kWh, gco2, carbon.
        """
        key = text.strip().lower().replace(" ", "")
        if key in _ALIASES:
            return _ALIASES[key]
        known = ", ".join(sorted({"W", "kW", "MW", "fraction", "%", "renewable_pct", "gCO2/kWh"}))
        raise SignalError(f"unknown unit {text!r}; use one of: {known}")


_SYMBOLS = {
    Unit.WATTS: "W",
    Unit.FRACTION: "fraction of fleet peak",
    Unit.RENEWABLE_PCT: "% renewable",
    Unit.CARBON_G_PER_KWH: "gCO2/kWh",
}

_ALIASES: dict[str, tuple[Unit, float]] = {
    "w": (Unit.WATTS, 1.0),
    "watt": (Unit.WATTS, 1.0),
    "watts": (Unit.WATTS, 1.0),
    "kw": (Unit.WATTS, 1e3),
    "kilowatts": (Unit.WATTS, 1e3),
    "mw": (Unit.WATTS, 1e6),
    "megawatts": (Unit.WATTS, 1e6),
    "fraction": (Unit.FRACTION, 1.0),
    "ratio": (Unit.FRACTION, 1.0),
    "%": (Unit.RENEWABLE_PCT, 1.0),
    "percent": (Unit.RENEWABLE_PCT, 1.0),
    "renewable": (Unit.RENEWABLE_PCT, 1.0),
    "renewable_pct": (Unit.RENEWABLE_PCT, 1.0),
    "renewable%": (Unit.RENEWABLE_PCT, 1.0),
    "gco2/kwh": (Unit.CARBON_G_PER_KWH, 1.0),
    "gco2_per_kwh": (Unit.CARBON_G_PER_KWH, 1.0),
    "gco2": (Unit.CARBON_G_PER_KWH, 1.0),
    "gco2eq/kwh": (Unit.CARBON_G_PER_KWH, 1.0),
    "carbon": (Unit.CARBON_G_PER_KWH, 1.0),
    "carbon_intensity": (Unit.CARBON_G_PER_KWH, 1.0),
}

#: Largest value accepted per unit: beyond it a file is more likely wrong than real.
UPPER_LIMITS = {
    Unit.WATTS: 1e10,  # 10 GW
    Unit.FRACTION: 10.0,
    Unit.RENEWABLE_PCT: 100.0,
    Unit.CARBON_G_PER_KWH: 5000.0,
}


@dataclass(frozen=True)
class Series:
    """Values over time as a step function; ``origin`` names where it came from (no secrets).

    Built through ``Series.build``, which validates: at least one point, finite values,
    none negative or above the unit's plausible limit, strictly increasing times, positive
    durations.
    """

    times_s: np.ndarray  # float64[N], epoch seconds UTC, strictly increasing
    durations_s: np.ndarray  # float64[N], > 0 (may be inf for a constant)
    values: np.ndarray  # float64[N], in ``unit``
    unit: Unit
    origin: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def build(
        cls,
        times_s,
        values,
        unit: Unit,
        durations_s=None,
        origin: str = "",
        default_duration_s: float = 3600.0,
        notes: tuple[str, ...] = (),
    ) -> Series:
        """Validate and build; ``durations_s`` defaults to the gap to the next point.

        The last point then lasts as long as the median gap (``default_duration_s`` when
        there is a single point), so a file sampled every 30 min covers 30 min past its
        last row, not forever.
        """
        times = np.asarray(times_s, dtype=np.float64).reshape(-1)
        vals = np.asarray(values, dtype=np.float64).reshape(-1)
        if times.size == 0:
            raise SignalError("the series is empty: no data points")
        if times.size != vals.size:
            raise SignalError(f"{times.size} timestamps but {vals.size} values")
        _check_values(times, vals, unit)
        gaps = np.diff(times)
        if gaps.size and not np.all(gaps > 0):
            i = int(np.argmax(gaps <= 0))
            what = "duplicated" if gaps[i] == 0 else "out of order"
            raise SignalError(
                f"timestamps must strictly increase: point {i + 1} ({iso(times[i + 1])}) is {what} "
                f"after point {i} ({iso(times[i])}); sort the data and remove duplicates"
            )
        if durations_s is None:
            last = float(np.median(gaps)) if gaps.size else float(default_duration_s)
            durs = np.append(gaps, last)
        else:
            durs = np.asarray(durations_s, dtype=np.float64).reshape(-1)
            if durs.size != times.size:
                raise SignalError(f"{times.size} timestamps but {durs.size} durations")
            bad = ~(durs > 0)
            if bad.any():
                i = int(np.argmax(bad))
                raise SignalError(f"point {i} ({iso(times[i])}): duration must be > 0 s, got {durs[i]}")
        for arr in (times, durs, vals):
            arr.setflags(write=False)
        return cls(times, durs, vals, unit, origin, tuple(notes))

    def __len__(self) -> int:
        return int(self.times_s.size)

    @property
    def start_s(self) -> float:
        return float(self.times_s[0])

    @property
    def end_s(self) -> float:
        return float(self.times_s[-1] + self.durations_s[-1])

    def covering(self, t_s: float) -> int | None:
        """Index of the point whose interval holds ``t_s``, or None."""
        i = int(self.times_s.searchsorted(t_s, side="right")) - 1
        if i < 0 or t_s >= self.times_s[i] + self.durations_s[i]:
            return None
        return i

    def window_end(self, i0: int, end_s: float) -> int:
        """``i1`` such that points ``i0 <= i < i1`` overlap ``[times_s[i0], end_s)`` (at least one)."""
        return max(int(self.times_s.searchsorted(end_s, side="left")), i0 + 1)

    def value_at(self, t_s: float) -> float | None:
        i = self.covering(t_s)
        return None if i is None else float(self.values[i])

    def describe(self) -> str:
        return f"{len(self)} point(s) from {iso(self.start_s)} to {iso(self.end_s)} in {self.unit.symbol}"


def _check_values(times: np.ndarray, vals: np.ndarray, unit: Unit) -> None:
    bad_t = ~np.isfinite(times)
    if bad_t.any():
        i = int(np.argmax(bad_t))
        raise SignalError(f"point {i}: timestamp is not a finite number ({times[i]})")
    bad = ~np.isfinite(vals)
    if bad.any():
        i = int(np.argmax(bad))
        raise SignalError(f"point {i} ({iso(times[i])}): value is {vals[i]}, not a finite number")
    neg = vals < 0
    if neg.any():
        i = int(np.argmax(neg))
        raise SignalError(f"point {i} ({iso(times[i])}): value {vals[i]} is negative; {unit.symbol} cannot be")
    limit = UPPER_LIMITS[unit]
    high = vals > limit
    if high.any():
        i = int(np.argmax(high))
        raise SignalError(
            f"point {i} ({iso(times[i])}): value {vals[i]} is above {limit:g} {unit.symbol}; check the declared unit"
        )


def parse_time(value) -> float:
    """Epoch seconds for a time in a signal (``inputs.epoch_s``: ISO 8601, epoch seconds or
    milliseconds); a bad one is a ``SignalError``, which the policy answers with its fallback."""
    try:
        return epoch_s(value, "timestamp")
    except InputError as exc:
        raise SignalError(str(exc)) from None
