"""The signal policy: scarce, plentiful and failing signals; forecast horizon; hysteresis; state."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher_geyser.scenario import fleet_from_dict
from watcher_geyser.signal import (
    ConstantSource,
    Fallback,
    PolicyConfig,
    PolicyState,
    Series,
    SignalError,
    SignalPolicy,
    Unit,
    fleet_peak_w,
    load_state,
    save_state,
)
from watcher_geyser.solver.problem import Problem

PEAK_W = 10_000.0
T0 = 1_782_000_000.0  # 2026-06-21T00:00Z, give or take
STEP_S = 300.0


def series(values, unit=Unit.WATTS, step_s=STEP_S, start_s=T0) -> Series:
    values = np.asarray(values, dtype=float)
    return Series.build(start_s + step_s * np.arange(values.size), values, unit, np.full(values.size, step_s))


def constant(value, unit=Unit.WATTS) -> Series:
    return ConstantSource(value, unit).read(T0)


def decide(observation, config=None, peak=PEAK_W, now=T0):
    return SignalPolicy(config or PolicyConfig()).decide(observation, now, peak)


def test_scarce_power_packs_tight_caps_watts_and_allows_power_off() -> None:
    d = decide(constant(3000))
    assert d.fallback is None and d.level == 1.0
    assert d.budget_w == 3000 and d.ceiling == pytest.approx(PolicyConfig().tight_ceiling)
    assert d.ceiling > PolicyConfig().neutral_ceiling  # scarce packs harder than no signal
    assert d.consolidate and d.allow_power_off
    assert "3000 W" in d.reason


def test_plentiful_power_relaxes_without_cap_and_keeps_hosts_on() -> None:
    d = decide(constant(12_000))
    assert d.level == 0.0 and d.budget_w == 12_000 and d.ceiling == pytest.approx(PolicyConfig().relaxed_ceiling)
    assert not d.consolidate and not d.allow_power_off


def test_between_thresholds_the_ceiling_passes_through_the_blind_one() -> None:
    config = PolicyConfig()
    d = decide(constant(6500))  # position 0.65, halfway from 0.4 to 0.9
    assert d.level == pytest.approx(0.5) and d.ceiling == pytest.approx(config.neutral_ceiling) and d.budget_w == 6500
    quarter = decide(constant(7750))  # a quarter of the way from plenty: halfway from relaxed to blind
    assert quarter.ceiling == pytest.approx((config.relaxed_ceiling + config.neutral_ceiling) / 2)


def test_scarcity_is_measured_against_what_the_fleet_draws_not_its_peak() -> None:
    """4 kW is 40 % of the peak (scarce by nameplate) but 2x a fleet drawing 2 kW: plentiful."""
    policy = SignalPolicy(PolicyConfig(horizon_s=0))
    plenty = policy.decide(constant(4000), T0, PEAK_W, "s", need_w=2000)
    assert plenty.level == 0.0 and plenty.ceiling == pytest.approx(PolicyConfig().relaxed_ceiling)
    scarce = SignalPolicy(PolicyConfig(horizon_s=0)).decide(constant(1500), T0, PEAK_W, "s", need_w=2000)
    assert scarce.level == 1.0 and scarce.ceiling == pytest.approx(PolicyConfig().tight_ceiling)
    mid = SignalPolicy(PolicyConfig(horizon_s=0)).decide(constant(2500), T0, PEAK_W, "s", need_w=2000)
    assert mid.level == pytest.approx(0.5) and mid.ceiling == pytest.approx(PolicyConfig().neutral_ceiling)


def test_fraction_of_peak_is_turned_into_watts() -> None:
    d = decide(constant(0.3, Unit.FRACTION))
    assert d.budget_w == pytest.approx(3000) and d.level == 1.0


@pytest.mark.parametrize(
    ("value", "unit", "level"),
    [
        (20.0, Unit.RENEWABLE_PCT, 1.0),
        (50.0, Unit.RENEWABLE_PCT, 0.5),
        (90.0, Unit.RENEWABLE_PCT, 0.0),
        (500.0, Unit.CARBON_G_PER_KWH, 1.0),
        (250.0, Unit.CARBON_G_PER_KWH, 0.5),
        (80.0, Unit.CARBON_G_PER_KWH, 0.0),
    ],
)
def test_renewable_share_and_carbon_go_through_their_thresholds(value, unit, level) -> None:
    d = decide(constant(value, unit), peak=None)
    assert d.fallback is None and d.level == pytest.approx(level) and d.budget_w is None
    with_budget = decide(constant(value, unit), PolicyConfig(scarce_budget_fraction=0.6))
    expected = None if level == 0 else PEAK_W * (1 - level * 0.4)
    assert with_budget.budget_w == (None if expected is None else pytest.approx(expected))


def test_horizon_decides_on_the_coming_minimum() -> None:
    values = [9500] * 9 + [2000] * 3 + [9500] * 12  # a drop 45 minutes ahead
    hour = PolicyConfig(horizon_s=3600)
    d = decide(series(values), hour)
    assert d.value == 2000 and d.value_now == 9500 and d.level == 1.0 and "minimum of 12" in d.reason
    now_only = decide(series(values), PolicyConfig(horizon_s=3600, aggregate="now"))
    assert now_only.value == 9500 and now_only.level == 0.0
    mean = decide(series(values), PolicyConfig(horizon_s=3600, aggregate="mean"))
    assert mean.value == pytest.approx((9 * 9500 + 3 * 2000) / 12)
    short = decide(series(values), PolicyConfig(horizon_s=1800))
    assert short.value == 9500


def test_horizon_takes_the_maximum_of_carbon_intensity() -> None:
    d = decide(series([100, 100, 420, 100], Unit.CARBON_G_PER_KWH), peak=None)
    assert d.value == 420 and d.level == 1.0


def test_series_notes_reach_the_decision() -> None:
    s = Series.build([T0], [200.0], Unit.CARBON_G_PER_KWH, [1800.0], notes=("1 of 1 points use the forecast",))
    assert decide(s, peak=None).notes == ("1 of 1 points use the forecast",)


def test_a_forecast_shorter_than_the_horizon_says_so() -> None:
    d = decide(series([5000, 5000]))
    assert d.fallback is None and "covers only 600 s" in d.reason


@pytest.mark.parametrize(
    "observation",
    [SignalError("http://x: HTTP 500"), TimeoutError("took too long"), None, series([5000], start_s=T0 + 3600)],
    ids=["signal-error", "other-exception", "nothing", "series-in-the-future"],
)
def test_failure_without_history_gives_the_safe_default(observation) -> None:
    d = decide(observation, PolicyConfig(safe_ceiling=0.7))
    assert d.fallback is Fallback.SAFE_DEFAULT and d.fallback == "safe_default"
    assert d.budget_w is None and d.ceiling == 0.7
    assert not d.allow_power_off and not d.consolidate
    assert "safe default" in d.reason and "no earlier good value" in d.reason


def test_failure_uses_the_last_good_value_until_its_ttl() -> None:
    policy = SignalPolicy(PolicyConfig(ttl_s=900))
    good = policy.decide(constant(3000), T0, PEAK_W)
    failed = policy.decide(SignalError("connection refused"), T0 + 600, PEAK_W)
    assert failed.fallback is Fallback.LAST_GOOD
    assert (failed.budget_w, failed.ceiling) == (good.budget_w, good.ceiling) and good.allow_power_off
    assert not failed.allow_power_off, "a fallback never switches hosts off"
    assert "connection refused" in failed.reason and "600 s old" in failed.reason
    expired = policy.decide(SignalError("connection refused"), T0 + 901, PEAK_W)
    assert expired.fallback is Fallback.SAFE_DEFAULT and not expired.allow_power_off
    assert "past the 900 s TTL" in expired.reason
    recovered = policy.decide(constant(3000), T0 + 1000, PEAK_W)
    assert recovered.fallback is None and recovered.budget_w == 3000 and not recovered.held


def test_one_source_is_never_the_fallback_or_the_hold_of_another(tmp_path) -> None:
    path = tmp_path / "state.json"
    zero = SignalPolicy(PolicyConfig(min_dwell_s=0), load_state(path, "constant 0 W")[0])
    zero.decide(ConstantSource(0.0).read(T0), T0, PEAK_W, "constant 0 W")
    save_state(path, zero.state)
    # Another source, failing, with the same state file: no last good value of its own.
    prom = SignalPolicy(PolicyConfig(), load_state(path, "prometheus http://p:9090")[0])
    failed = prom.decide(SignalError("prometheus down"), T0 + 60, PEAK_W, "prometheus http://p:9090")
    assert failed.fallback is Fallback.SAFE_DEFAULT and not failed.allow_power_off and failed.budget_w is None
    # A plentiful reading of another source is not held at the first source's budget.
    plenty = SignalPolicy(PolicyConfig(), load_state(path, "file a.csv")[0])
    d = plenty.decide(constant(PEAK_W), T0 + 60, PEAK_W, "file a.csv")
    assert not d.held and d.budget_w == PEAK_W and not d.allow_power_off
    # A policy object reused across sources sets the other's memory aside too, and says so.
    reused = SignalPolicy(PolicyConfig(min_dwell_s=3600))
    reused.decide(constant(1000), T0, PEAK_W, "a")
    other = reused.decide(constant(PEAK_W), T0 + 60, PEAK_W, "b")
    assert not other.held and "set aside" in other.reason
    assert save_state(path, prom.state) is None and load_state(path, "constant 0 W")[0].last_good_value == 0.0


def test_a_zero_or_implausibly_low_reading_switches_nothing_off_until_confirmed() -> None:
    config = PolicyConfig(horizon_s=0, min_dwell_s=1800, suspicious_fraction=0.05)
    policy = SignalPolicy(config)
    first = policy.decide(constant(0), T0, PEAK_W, "meter")
    assert first.fallback is Fallback.UNCONFIRMED and not first.allow_power_off
    assert first.ceiling == config.tight_ceiling and "implausibly low" in first.reason
    still = policy.decide(constant(0.01 * PEAK_W), T0 + 900, PEAK_W, "meter")
    assert not still.allow_power_off
    confirmed = policy.decide(constant(0), T0 + 1800, PEAK_W, "meter")
    assert confirmed.fallback is None and confirmed.allow_power_off
    # A plausible reading right after a suspicious one is not held at the suspicious budget.
    policy = SignalPolicy(config)
    policy.decide(constant(0), T0, PEAK_W, "meter")
    plenty = policy.decide(constant(PEAK_W), T0 + 60, PEAK_W, "meter")
    assert not plenty.held and plenty.budget_w == PEAK_W and not plenty.allow_power_off


def readings(values, step_s=300.0, end=T0) -> Series:
    """A range query's answer: one reading every ``step_s`` up to ``end`` (the last one covers ``end``)."""
    times = end - step_s * np.arange(len(values) - 1, -1, -1)
    return Series.build(times, np.asarray(values, dtype=float), Unit.WATTS, np.full(len(values), step_s))


def test_low_readings_the_series_itself_holds_over_the_dwell_confirm_at_once() -> None:
    config = PolicyConfig(horizon_s=0, min_dwell_s=1800, suspicious_fraction=0.05)
    # seven readings of 0 W, five minutes apart: the source has read 0 for 30 min
    night = SignalPolicy(config).decide(readings([0.0] * 7), T0, PEAK_W, "meter", need_w=4000.0)
    assert night.fallback is None and night.allow_power_off, night.reason
    # too short a run of low readings, a plausible reading within the dwell, a gap: not confirmed
    for series in (readings([0.0] * 6), readings([3000.0, *[0.0] * 6]),
                   Series.build([T0 - 3600, T0 - 300, T0], [0.0, 0.0, 0.0], Unit.WATTS, [600.0, 300.0, 300.0])):
        d = SignalPolicy(config).decide(series, T0, PEAK_W, "meter", need_w=4000.0)
        assert d.fallback is Fallback.UNCONFIRMED and not d.allow_power_off, d.reason


def test_low_is_measured_against_the_fleet_s_draw_when_it_is_known() -> None:
    """At dusk a real 300 W is far under 5 % of the nameplate peak but not of a consolidated fleet's draw."""
    config = PolicyConfig(horizon_s=0, min_dwell_s=1800, suspicious_fraction=0.05)
    dusk = SignalPolicy(config).decide(constant(300.0), T0, PEAK_W, "meter", need_w=4000.0)
    assert dusk.fallback is None, dusk.reason
    blind = SignalPolicy(config).decide(constant(300.0), T0, PEAK_W, "meter")  # no draw: the peak is the yardstick
    assert blind.fallback is Fallback.UNCONFIRMED and "peak" in blind.reason
    glitch = SignalPolicy(config).decide(constant(100.0), T0, PEAK_W, "meter", need_w=4000.0)
    assert glitch.fallback is Fallback.UNCONFIRMED and "draw" in glitch.reason


def test_missing_fleet_peak_is_explained_not_raised() -> None:
    d = decide(constant(3000), peak=None)
    assert d.fallback is Fallback.SAFE_DEFAULT and "fleet_peak_w" in d.reason


def test_decide_never_raises_even_on_a_broken_source() -> None:
    class Broken:
        def read(self, now_s):
            raise ZeroDivisionError("bug")

        def describe(self):
            return "broken"

    d = SignalPolicy().decide_from(Broken(), T0, PEAK_W)
    assert d.fallback is Fallback.SAFE_DEFAULT and "ZeroDivisionError: bug" in d.reason and d.source == "broken"
    assert SignalPolicy().decide("not a series", T0, PEAK_W).fallback is Fallback.SAFE_DEFAULT
    assert "not a finite" in SignalPolicy().decide(constant(5), math.nan, PEAK_W).reason


def noisy_day(seed: int = 7) -> Series:
    """A signal hovering around the middle of the scarce..plenty range with 5 % noise."""
    rng = np.random.default_rng(seed)
    steps = 288
    base = 0.65 + 0.1 * np.sin(np.arange(steps) * 2 * math.pi / 96)
    return series(np.clip(base + rng.normal(0, 0.05, steps), 0, None) * PEAK_W, step_s=STEP_S)


def changes(config: PolicyConfig, s: Series) -> tuple[int, list]:
    policy = SignalPolicy(config)
    decisions = [policy.decide(s, T0 + k * STEP_S, PEAK_W) for k in range(len(s) - 1)]
    ceilings = [d.ceiling for d in decisions]
    return sum(a != b for a, b in zip(ceilings, ceilings[1:])), decisions


def test_hysteresis_holds_on_a_noisy_series() -> None:
    s = noisy_day()
    flapping, _ = changes(PolicyConfig(horizon_s=0, min_dwell_s=0, dead_band=0), s)
    steady, decisions = changes(PolicyConfig(horizon_s=0, min_dwell_s=1800, dead_band=0.1), s)
    assert flapping > 200  # without hysteresis nearly every step changes the ceiling
    assert steady <= 86400 / 1800  # at most one change per dwell period
    change_times = [b.at_s for a, b in zip(decisions, decisions[1:]) if a.ceiling != b.ceiling]
    assert all(b - a >= 1800 for a, b in zip(change_times, change_times[1:]))
    held = [d for d in decisions if d.held]
    assert held and all("dead band" in d.reason or "dwell" in d.reason for d in held)


def test_dead_band_alone_ignores_small_moves_and_follows_large_ones() -> None:
    policy = SignalPolicy(PolicyConfig(horizon_s=0, min_dwell_s=0, dead_band=0.1))
    first = policy.decide(constant(6000), T0, PEAK_W)
    small = policy.decide(constant(6300), T0 + 300, PEAK_W)
    large = policy.decide(constant(4000), T0 + 600, PEAK_W)
    assert small.held and small.ceiling == first.ceiling and small.proposed_ceiling != first.ceiling
    assert not large.held and large.budget_w == 4000


@pytest.mark.parametrize(("near_w", "end_w", "end_level"), [(1020, 0, 1.0), (1480, 5000, 0.0)])
def test_dead_band_never_keeps_a_decision_short_of_an_end(near_w, end_w, end_level) -> None:
    # need 1000 W: scarce at or below 1000 W available, plentiful at or above 1500 W (the defaults);
    # near_w reads within the dead band of the end that end_w reaches
    policy = SignalPolicy(PolicyConfig(horizon_s=0, min_dwell_s=0, dead_band=0.1))
    near = policy.decide(constant(near_w), T0, PEAK_W, need_w=1000)
    end = policy.decide(constant(end_w), T0 + 300, PEAK_W, need_w=1000)
    assert 0 < abs(near.level - end_level) < 0.1
    assert not end.held and end.level == end_level and end.ceiling == PolicyConfig().ceiling_at(end_level)


@settings(max_examples=100, deadline=None)
@given(
    st.floats(0.0, 3000.0),
    st.sampled_from([0.0, 3000.0]),
    st.sampled_from([0.0, 0.1, 0.3]),
    st.sampled_from([0.0, 1800.0]),
)
def test_a_steady_end_reading_is_reached_once_the_dwell_passes(first_w, end_w, dead_band, dwell_s) -> None:
    """Whatever was held before, a supply that stays at nothing (or at plenty) for longer than the
    dwell ends fully scarce (fully plentiful): the dead band only damps moves between neighbours."""
    config = PolicyConfig(horizon_s=0, min_dwell_s=dwell_s, dead_band=dead_band)
    policy = SignalPolicy(config)
    policy.decide(constant(first_w), T0, PEAK_W, need_w=1000)
    steps = [policy.decide(constant(end_w), T0 + k * STEP_S, PEAK_W, need_w=1000) for k in range(1, 9)]
    assert steps[-1].level == (1.0 if end_w == 0.0 else 0.0)
    changes = [a for a, b in zip(steps, steps[1:]) if a.level != b.level]
    assert len(changes) <= 1  # it gets there in one move, never back


def test_tighten_immediately_skips_the_dwell_only_towards_scarcity() -> None:
    config = PolicyConfig(horizon_s=0, min_dwell_s=3600, dead_band=0.05, tighten_immediately=True)
    policy = SignalPolicy(config)
    policy.decide(constant(7000), T0, PEAK_W)
    scarcer = policy.decide(constant(3000), T0 + 300, PEAK_W)
    richer = policy.decide(constant(9000), T0 + 600, PEAK_W)
    assert not scarcer.held and scarcer.budget_w == 3000
    assert richer.held and richer.ceiling == scarcer.ceiling and "minimum dwell" in richer.reason
    assert richer.budget_w == 9000  # the supply is a soft target: it follows the reading, never held


def test_state_round_trips_through_json_and_restores_the_same_decisions(tmp_path) -> None:
    s = noisy_day(seed=3)
    config = PolicyConfig(horizon_s=1800, min_dwell_s=1800)
    straight = SignalPolicy(config)
    expected = [straight.decide(s, T0 + k * STEP_S, PEAK_W) for k in range(100)]
    restored, path = None, tmp_path / "state.json"
    got = []
    for k in range(100):  # a new policy each step, as Watcher re-creates its strategy per audit
        state, note = load_state(path, s.origin)
        assert note is None
        restored = SignalPolicy(config, state)
        got.append(restored.decide(s, T0 + k * STEP_S, PEAK_W))
        assert save_state(path, restored.state) is None
    assert [d.to_dict() for d in got] == [d.to_dict() for d in expected]
    assert json.loads(path.read_text())["version"] == 2


@pytest.mark.parametrize("content", ["{not json", "[]", '{"held_position": "high"}', '{"version": 99}'])
def test_a_corrupt_state_file_starts_afresh_with_a_note(tmp_path, content: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    state, note = load_state(path)
    assert state == PolicyState() and "starting afresh" in note


def test_decision_feeds_the_solver_problem() -> None:
    hosts = [
        {"name": f"h{i}", "vcpus": 32, "memory_mb": 131072, "disk_gb": 1000, "power": {"idle_w": 100, "max_w": 300}}
        for i in range(4)
    ]
    fleet = fleet_from_dict({"hosts": hosts, "instances": []})
    peak = fleet_peak_w(fleet)
    d = SignalPolicy().decide(constant(0.5, Unit.FRACTION), T0, peak)
    problem = Problem(fleet, **d.problem_kwargs())
    assert problem.power_budget_w == pytest.approx(0.5 * peak) and problem.ceiling == d.ceiling
    assert peak == pytest.approx(sum(h.power.max_w for h in fleet.hosts))


def test_config_rejects_inconsistent_thresholds() -> None:
    with pytest.raises(ValueError, match="scarce_fraction < plenty_fraction"):
        PolicyConfig(scarce_fraction=0.9, plenty_fraction=0.5)
    with pytest.raises(ValueError, match="tight_ceiling"):
        PolicyConfig(tight_ceiling=1.5)
    with pytest.raises(ValueError, match="aggregate"):
        PolicyConfig(aggregate="median")


SCALE = {Unit.WATTS: 15_000.0, Unit.FRACTION: 1.5, Unit.RENEWABLE_PCT: 100.0, Unit.CARBON_G_PER_KWH: 600.0}
observations = st.one_of(
    st.builds(
        lambda vals, step, offset, unit: series(np.array(vals) * SCALE[unit], unit, step, T0 + offset),
        st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=30),
        st.sampled_from([60.0, 300.0, 1800.0]),
        st.floats(-7200, 7200),
        st.sampled_from(list(Unit)),
    ),
    st.just(SignalError("down")),
    st.none(),
)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(observations, st.floats(0, 600)), min_size=1, max_size=12),
    st.sampled_from([None, 1.0, 50.0, PEAK_W]),
    st.builds(
        PolicyConfig,
        horizon_s=st.sampled_from([0.0, 900.0, 3600.0]),
        aggregate=st.sampled_from(["worst", "mean", "now"]),
        min_dwell_s=st.sampled_from([0.0, 600.0]),
        dead_band=st.sampled_from([0.0, 0.1]),
        tighten_immediately=st.booleans(),
        ttl_s=st.sampled_from([0.0, 300.0]),
    ),
)
def test_decisions_always_valid(steps, peak, config) -> None:
    policy = SignalPolicy(config)
    now = T0
    for observation, dt in steps:
        now += dt
        d = policy.decide(observation, now, peak)
        assert config.relaxed_ceiling - 1e-9 <= d.ceiling <= config.tight_ceiling + 1e-9
        assert 0.0 <= d.level <= 1.0 and d.reason
        assert d.budget_w is None or d.budget_w >= 0
        if d.fallback is Fallback.SAFE_DEFAULT:
            assert not d.allow_power_off and d.budget_w is None
        assert PolicyState.from_dict(json.loads(json.dumps(policy.state.to_dict()))) == policy.state
        json.dumps(d.to_dict())


EVENT = st.one_of(
    st.tuples(st.just("read"), st.sampled_from(["a", "b"]), st.floats(0, 2 * PEAK_W)),
    st.tuples(st.just("zero"), st.sampled_from(["a", "b"]), st.just(0.0)),
    st.tuples(st.just("fail"), st.sampled_from(["a", "b"]), st.just(0.0)),
)


@settings(max_examples=300, deadline=None)
@given(events=st.lists(st.tuples(EVENT, st.integers(1, 1200)), min_size=1, max_size=30),
       dwell=st.sampled_from([0, 600, 1800]), ttl=st.sampled_from([0, 900, 3600]))
def test_no_fallback_and_no_unconfirmed_low_reading_ever_allows_power_off(tmp_path_factory, events, dwell, ttl):
    """Any interleaving of two sources' readings, zeros and failures, with the state file shared."""
    path = tmp_path_factory.mktemp("state") / "state.json"
    config = PolicyConfig(horizon_s=0, min_dwell_s=dwell, ttl_s=ttl)
    now = T0
    low_since: dict[str, float | None] = {"a": None, "b": None}
    for (kind, source, value), gap_s in events:
        now += gap_s
        policy = SignalPolicy(config, load_state(path, source)[0])
        observation = SignalError(f"{source} down") if kind == "fail" else constant(value)
        d = policy.decide(observation, now, PEAK_W, source)
        save_state(path, policy.state)
        if d.fallback is not None:
            assert not d.allow_power_off, d.reason
        if kind == "fail":
            assert not d.allow_power_off
            continue
        low = value < config.suspicious_fraction * PEAK_W
        if not low:
            low_since[source] = None
        elif low_since[source] is None:
            low_since[source] = now
        if low and now - low_since[source] < dwell:
            assert not d.allow_power_off, d.reason


@settings(max_examples=200, deadline=None)
@given(readings_=st.lists(st.tuples(st.sampled_from([0.0, 50.0, 150.0, 3000.0]), st.integers(60, 900)),
                          min_size=1, max_size=25),
       need_w=st.sampled_from([2000.0, 4000.0]), dwell=st.sampled_from([0, 600, 1800]),
       every=st.integers(1, 4))
def test_a_range_series_confirms_a_low_reading_only_after_the_dwell(readings_, need_w, dwell, every):
    """A source answering with its readings so far (a range query), decided on every few readings:
    power-off is allowed on a low reading only once the readings have been low for the dwell."""
    config = PolicyConfig(horizon_s=0, min_dwell_s=dwell, suspicious_fraction=0.05)
    policy = SignalPolicy(config)
    times, values = [], []
    now = T0
    for i, (value, gap_s) in enumerate(readings_):
        times.append(now)
        values.append(value)
        durations = [*np.diff(times), 900.0]
        if i % every == 0:
            d = policy.decide(Series.build(times, values, Unit.WATTS, durations), now, PEAK_W, "meter", need_w=need_w)
            low = [v < config.suspicious_fraction * need_w or v <= 0 for v in values]
            if low[-1]:
                start = len(low) - 1
                while start > 0 and low[start - 1]:
                    start -= 1
                if now - times[start] < dwell:
                    assert not d.allow_power_off and d.fallback is Fallback.UNCONFIRMED, d.reason
        now += gap_s


@given(level=st.floats(min_value=0.0, max_value=1.0))
def test_every_level_keeps_a_dead_band_between_packing_and_relief(level) -> None:
    """With the defaults a host sheds only well above the ceiling it is packed to, at every scarcity
    level, the scarce end included: a host packed to its limit and hovering there is not emptied
    and refilled step after step (the churn that raised SLATAH when the tight end packed to 100 %
    and relieved at 100 %; docs/design/signal-policy.md). This is the fleet-wide ceiling; each host's
    own (at most this one, lower by its margin) is checked in tests/test_pipeline_margin.py."""
    config = PolicyConfig()
    ceiling = config.ceiling_at(level)
    relief = min(1.0, ceiling + config.relief_margin_at(level))
    band = min(config.relaxed_relief_margin, config.tight_relief_margin, 1 - config.tight_ceiling)
    assert band > 0
    assert relief - ceiling >= band - 1e-9
