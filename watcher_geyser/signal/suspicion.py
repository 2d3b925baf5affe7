"""What a series says about an implausibly low reading: how long it has been low, and how it got there.

The signal policy holds a watts (or fraction) reading under ``suspicious_fraction`` of the
fleet's draw as *unconfirmed* (no host switched off) until it has lasted ``min_dwell_s``,
because a broken meter reads 0 W. But every real dusk is such a reading too, and a dusk
does not look like a broken meter:

- a **broken meter drops at once**: a plausible reading, then 0 or near 0, in one step;
- a **supply that runs out falls**: over the half hour before a clear-sky PV array
  (``solar_series``, 52.1 N 5.1 E, five-minute steps) crosses a mark of 35 W to 2 kW (5 %
  of a fleet drawing 0.7 to 40 kW), no step loses more than 0.20 (midsummer), 0.25 (3 March)
  or 0.28 (midwinter) of the level the half hour began at, and the reading just before the
  crossing is at most 1.7, 2.7 and 2.4 times the mark.

So a low reading is confirmed at once when the series' own readings reached it by a
**gradual fall** (``gradual_fall``): over the dwell before the first low reading of the
run, at least ``FALL_MIN_STEPS`` joined steps, none falling by more than
``FALL_STEP_SHARE`` of the level the dwell began at, and the reading just before the low
one under ``FALL_FROM_MARKS`` times the low mark. Why these: a broken meter's one step
takes the whole level or nearly (a share of 0.9 or more for a reading near 0), a dusk's
steepest takes 0.28; a half sits between, with a margin near 2 on either side, and leaves
room for a real supply's noise around the mark (a 20 % dip is a share of 0.33). A step into
the low run from three times the mark or more always waits the dwell, whatever came
before: a dusk crosses from just above the mark. Three steps are the fewest that show a
shape: a series sampled every 15 minutes or more shows no fall within a 30-minute dwell
and keeps the dwell, as before.

Why not "an earlier forecast predicted it": a ``Series`` does not say which of its points
are forecast and which were measured (solar, file and HTTP sources return one step
function over past and future alike; Prometheus returns only the past), so a file of
recorded meter readings whose 0 W row was in it all along would "predict" its own glitch.
A forecast that leads to the low reading by a gradual fall is confirmed by the same rule,
from the window ahead (``first_low``).

Pure: numpy on the series' arrays, no state; the policy keeps the memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from watcher_geyser.signal.series import Series

FALL_STEP_SHARE = 0.5  # largest fall in one step, as a share of the level the dwell began at
FALL_FROM_MARKS = 3.0  # the reading before the low one is under this many times the low mark
FALL_MIN_STEPS = 3  # steps over the dwell before the low reading, fewest that show a fall


def is_low(value: float, low: float) -> bool:
    """A reading under the low mark, or 0 (a mark of 0 still holds 0 W as low)."""
    return bool(value < low or value <= 0)


@dataclass(frozen=True)
class LowRun:
    """The run of low readings that holds the reading now, as the series shows it.

    ``start`` is its first point's index; ``readings`` counts its points up to now;
    ``after_plausible`` says a plausible reading comes just before it, joined (else the
    series does not say what came before)."""

    start: int
    start_s: float
    readings: int
    after_plausible: bool


def _joined(series: Series, k: int) -> bool:
    """Point ``k - 1`` runs up to point ``k``: no gap between them."""
    return bool(series.times_s[k - 1] + series.durations_s[k - 1] >= series.times_s[k] - 1e-9)


def low_run(series: Series, i: int, low: float) -> LowRun | None:
    """The run of low readings, without a gap, that ends at point ``i`` (the one covering now);
    None when point ``i`` is not low. One reading alone never confirms itself, however long
    it claims to hold: the caller counts ``readings``."""
    values = series.values
    if not is_low(values[i], low):
        return None
    j = i
    while j > 0 and is_low(values[j - 1], low) and _joined(series, j):
        j -= 1
    after_plausible = bool(j > 0 and _joined(series, j) and not is_low(values[j - 1], low))
    return LowRun(j, float(series.times_s[j]), i - j + 1, after_plausible)


def first_low(series: Series, i0: int, i1: int, low: float) -> int | None:
    """Index of the first low point among ``i0 <= k < i1`` (the window read), or None."""
    for k in range(i0, min(i1, len(series))):
        if is_low(series.values[k], low):
            return k
    return None


def gradual_fall(series: Series, j: int, low: float, dwell_s: float, symbol: str = "") -> tuple[bool, str]:
    """(whether the series reached its low point ``j`` by a gradual fall, how it did, in words).

    ``j`` is the first point of a low run (the point before it is plausible). The readings
    looked at are those from the one covering ``times_s[j] - dwell_s`` up to ``j``, joined;
    the rule is in the module docstring."""
    unit = f" {symbol}" if symbol else ""
    if j <= 0:
        return False, "the series holds no reading before the low one, so it does not show how it fell"
    m = series.covering(float(series.times_s[j]) - dwell_s)
    if m is None or m >= j:
        return False, f"the series does not reach back {dwell_s:g} s before the low reading"
    if j - m < FALL_MIN_STEPS:
        return False, (f"the series holds {j - m} step(s) over the {dwell_s:g} s before the low reading, "
                       f"too few (under {FALL_MIN_STEPS}) to show how it fell")
    if not all(_joined(series, k) for k in range(m + 1, j + 1)):
        return False, f"the readings over the {dwell_s:g} s before the low one have a gap"
    values = series.values[m:j + 1]
    start, before, reached = float(values[0]), float(values[-2]), float(values[-1])
    biggest = float((values[:-1] - values[1:]).max())
    if biggest > FALL_STEP_SHARE * start:
        return False, (f"a sudden drop, as a broken meter's: {biggest:g}{unit} in one step, over "
                       f"{FALL_STEP_SHARE:.2g} of the {start:g}{unit} read {dwell_s:g} s before the low reading")
    if before >= FALL_FROM_MARKS * low:
        return False, (f"a sudden drop, as a broken meter's: from {before:g}{unit} (at least {FALL_FROM_MARKS:g} x "
                       f"the low mark {low:g}{unit}) to {reached:g}{unit} in one step")
    return True, (f"a gradual fall, as a supply's at dusk: from {start:g}{unit} to {reached:g}{unit} over "
                  f"{j - m} steps in {dwell_s:g} s, none over {FALL_STEP_SHARE:.2g} of {start:g}{unit}")
