"""A low reading a gradual fall reached (a dusk) is confirmed at once; a sudden drop (a broken meter) waits."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher_geyser.deferral import Candidate, Energy, decide_deferral
from watcher_geyser.inputs import epoch_s
from watcher_geyser.signal import Fallback, PolicyConfig, PolicyState, Series, SignalPolicy, Unit
from watcher_geyser.signal.suspicion import FALL_FROM_MARKS, FALL_STEP_SHARE, gradual_fall

PEAK_W = 100_800.0  # 800 PlanetLab hosts at full load
NEED_W = 4000.0  # a consolidated fleet's draw: the low mark is 5 % of it, 200 W
MARK_W = 0.05 * NEED_W
T0 = 1_782_000_000.0
STEP_S = 300.0
DWELL_S = 1800.0
CONFIG = PolicyConfig(horizon_s=0, min_dwell_s=DWELL_S, suspicious_fraction=0.05)


def range_answer(values, end_s, step_s=STEP_S) -> Series:
    """What a range query returns at ``end_s``: the readings so far, the last one covering ``end_s``."""
    values = np.asarray(values, dtype=float)
    times = end_s - step_s * np.arange(values.size - 1, -1, -1)
    return Series.build(times, values, Unit.WATTS, np.full(values.size, step_s))


def replay(values, config=CONFIG, step_s=STEP_S, whole=False):
    """Decide at every reading of ``values`` (one every ``step_s``), as a range query answers (the
    readings so far) or, with ``whole``, on the whole series at once (a file, a model's day)."""
    policy = SignalPolicy(config)
    full = range_answer(values, T0 + step_s * (len(values) - 1), step_s)
    decisions = []
    for k in range(len(values)):
        now = T0 + step_s * k
        series = full if whole else range_answer(values[:k + 1], now, step_s)
        decisions.append(policy.decide(series, now, PEAK_W, "meter", need_w=NEED_W))
    return decisions


def smooth_dusk(start_w=3000.0, steps=24) -> list[float]:
    """A supply falling as a cosine to 0 over two hours, then night."""
    x = np.linspace(0.0, np.pi / 2, steps)
    return [*(start_w * np.cos(x)), *[0.0] * 12]


def test_a_smooth_dusk_confirms_its_low_readings_at_once() -> None:
    values = smooth_dusk()
    for whole in (False, True):
        decisions = replay(values, whole=whole)
        low = [d for d, v in zip(decisions, values, strict=True) if v < MARK_W]
        assert low and all(d.fallback is None and d.allow_power_off for d in low), [d.reason for d in low]
        assert "gradual fall" in low[0].reason and "confirmed at once" in low[0].reason


def test_a_clear_sky_dusk_confirms_at_once() -> None:
    """The solar model's own dusk (midsummer, early March, midwinter), read five minutes at a time."""
    pytest.importorskip("pvlib")
    from watcher_geyser.signal import SolarSite, solar_series

    for day in ("2026-06-21", "2026-03-03", "2026-12-21"):
        start = epoch_s(f"{day}T00:00:00Z", "day")
        supply = solar_series(SolarSite(52.1, 5.1, peak_w=21_000), start, start + 86400)
        policy = SignalPolicy(PolicyConfig(min_dwell_s=DWELL_S))  # the default horizon: the worst of 15 minutes
        evening = [t for t in supply.times_s if t >= start + 12 * 3600]
        decisions = [policy.decide(supply, t, PEAK_W, "solar", need_w=NEED_W) for t in evening]
        assert not [d.reason for d in decisions if d.fallback is not None]
        assert any("gradual fall" in d.reason for d in decisions)


def test_a_step_from_plausible_to_zero_waits_the_dwell() -> None:
    values = [3000.0] * 12 + [0.0] * 10
    for whole in (False, True):
        decisions = replay(values, whole=whole)
        for k, d in enumerate(decisions[12:]):
            if k * STEP_S < DWELL_S:
                assert d.fallback is Fallback.UNCONFIRMED and not d.allow_power_off, d.reason
                assert "sudden drop" in d.reason and "broken meter" in d.reason
            else:
                assert d.fallback is None and d.allow_power_off, d.reason


def test_a_drop_from_far_above_the_mark_waits_even_after_a_fall() -> None:
    """A fall to 700 W in steps of a fifth, then 0 at once: the step into the low run starts at
    3.5 times the mark, as a meter that breaks during an evening would."""
    values = [3000.0, 2500.0, 2000.0, 1500.0, 1100.0, 700.0, 0.0, 0.0]
    d = replay(values)[6]
    assert d.fallback is Fallback.UNCONFIRMED and f"{FALL_FROM_MARKS:g} x" in d.reason, d.reason


def test_noise_around_the_mark_does_not_flap() -> None:
    """A supply that falls to the mark and wavers 10 % about it: power-off allowed at every step
    (the old rule held each dip under the mark as unconfirmed, and flapped)."""
    rng = np.random.default_rng(3)
    values = [*np.linspace(1000.0, 1.1 * MARK_W, 12), *(MARK_W * (1 + rng.uniform(-0.1, 0.1, 24)))]
    decisions = replay(values)
    assert sum(v < MARK_W for v in values) >= 6
    assert all(d.allow_power_off and d.fallback is None for d in decisions), [d.reason for d in decisions]


def test_too_coarse_a_series_keeps_the_dwell() -> None:
    """Fifteen-minute readings show two steps in a 30-minute dwell: too few to tell a fall from a drop."""
    values = [3000.0, 2000.0, 1000.0, 500.0, 150.0, 0.0, 0.0, 0.0]
    d = replay(values, step_s=900.0)[4]
    assert d.fallback is Fallback.UNCONFIRMED and "too few" in d.reason, d.reason


def test_a_confirmed_low_run_stays_confirmed_when_the_fall_leaves_the_range() -> None:
    """A range query 40 minutes long: the fall that confirmed the run drops out of it before the
    run is a dwell long; the policy remembers (and the memory survives a state file)."""
    values = smooth_dusk()
    policy = SignalPolicy(CONFIG)
    for k, _ in enumerate(values):
        now = T0 + STEP_S * k
        window = values[max(0, k - 8):k + 1]
        d = policy.decide(range_answer(window, now), now, PEAK_W, "meter", need_w=NEED_W)
        if values[k] < MARK_W:
            assert d.fallback is None, d.reason
        policy = SignalPolicy(CONFIG, PolicyState.from_dict(json.loads(json.dumps(policy.state.to_dict()))))


def test_a_forecast_that_falls_gradually_to_a_low_point_confirms_it() -> None:
    """With a horizon, the low point may lie ahead: the forecast's own fall is judged."""
    config = PolicyConfig(horizon_s=900, min_dwell_s=DWELL_S, suspicious_fraction=0.05)
    falling = range_answer(smooth_dusk(), T0 + STEP_S * 35)
    first_low = int(np.argmax(falling.values < MARK_W))
    now = float(falling.times_s[first_low - 2])  # ten minutes before the supply reaches the mark
    d = SignalPolicy(config).decide(falling, now, PEAK_W, "forecast", need_w=NEED_W)
    assert d.value < MARK_W and d.fallback is None and "gradual fall" in d.reason, d.reason
    dropping = range_answer([3000.0] * 12 + [0.0] * 4, T0 + STEP_S * 15)
    d = SignalPolicy(config).decide(dropping, T0 + STEP_S * 10, PEAK_W, "forecast", need_w=NEED_W)
    assert d.fallback is Fallback.UNCONFIRMED and "sudden drop" in d.reason, d.reason


def test_deferral_shelves_at_a_gradual_dusk_and_not_on_a_sudden_drop() -> None:
    """The deferral rule reads the same confirmation (the decision's fallback): one rule, one place."""
    night = [0.0] * 150  # and the sun is back twelve hours later: waiting pays
    for values, shelves in ((smooth_dusk()[:26] + night + [5000.0] * 30, True),
                            ([3000.0] * 26 + night + [5000.0] * 30, False)):
        series = range_answer(values, T0 + STEP_S * (len(values) - 1))
        now = float(series.times_s[26])
        decision = SignalPolicy(CONFIG).decide(series, now, PEAK_W, "meter", need_w=NEED_W)
        energy = Energy.from_decision(decision, series, NEED_W, 40)
        plan = decide_deferral([Candidate("a", False, now + 24 * 3600)], energy, now)
        assert bool(plan.shelve) is shelves, (decision.reason, plan.reasons)


@settings(max_examples=200, deadline=None)
@given(history=st.lists(st.floats(1.0, 20.0), min_size=1, max_size=15),
       before=st.floats(FALL_FROM_MARKS, 20.0),
       lows=st.lists(st.floats(0.0, 0.999), min_size=1, max_size=12),
       whole=st.booleans())
def test_a_drop_from_a_plausible_value_in_one_step_never_switches_off_before_the_dwell(history, before, lows, whole):
    """Any plausible history (readings at or over the mark, in marks), the last reading at least
    FALL_FROM_MARKS marks, then low readings: no power-off until the low run is a dwell long."""
    values = [MARK_W * v for v in (*history, before, *lows)]
    first = len(history) + 1
    for k, d in enumerate(replay(values, whole=whole)):
        if k >= first and (k - first) * STEP_S < DWELL_S:
            assert not d.allow_power_off and d.fallback is Fallback.UNCONFIRMED, d.reason


@settings(max_examples=200, deadline=None)
@given(level=st.floats(1.0, 50.0), drop=st.floats(FALL_STEP_SHARE + 1e-6, 1.0), steps=st.integers(6, 12))
def test_a_steady_level_that_drops_under_the_mark_waits_the_dwell(level, drop, steps):
    """A level held over the dwell (any, in marks), then a drop of more than FALL_STEP_SHARE of it
    to under the mark: a broken meter's shape, whatever the level."""
    reached = min(level * (1.0 - drop), 0.999)
    series = range_answer([MARK_W * level] * steps + [MARK_W * reached], T0)
    fell, how = gradual_fall(series, steps, MARK_W, DWELL_S)
    assert not fell and "sudden drop" in how
    d = SignalPolicy(CONFIG).decide(series, T0, PEAK_W, "meter", need_w=NEED_W)
    assert d.fallback is Fallback.UNCONFIRMED and not d.allow_power_off, d.reason
