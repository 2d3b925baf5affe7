"""Deferrable instances: metadata parsing and the shelve / bring-back rule (pure core)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher_geyser.deferral import (
    Candidate,
    Deferral,
    DeferralConfig,
    Energy,
    Forecast,
    decide_deferral,
    parse_deferral,
    parse_duration,
)
from watcher_geyser.scenario import fleet_from_dict, fleet_to_dict
from watcher_geyser.signal import Fallback, Series, Unit

T0 = 1_782_000_000.0  # 2026-06-21T00:00Z, give or take
HOUR = 3600.0


# --- metadata ------------------------------------------------------------------------------


def test_opt_in_with_deadline_and_runtime():
    deferral, notes = parse_deferral(
        {"geyser:deferrable": "True", "geyser:deadline": "2026-06-22T06:00:00Z", "geyser:runtime": "2h"}
    )
    assert notes == ()
    assert deferral.runtime_s == 2 * HOUR
    assert deferral.resume_by_s(0.0) == deferral.deadline_s - 2 * HOUR


def test_max_deferral_counts_from_when_geyser_shelved_it():
    running, _ = parse_deferral({"geyser:deferrable": "true", "geyser:max_deferral": "8h"})
    assert running.resume_by_s(T0) == T0 + 8 * HOUR
    shelved, _ = parse_deferral(
        {"geyser:deferrable": "true", "geyser:max_deferral": "8h", "geyser:shelved_at": "2026-06-21T00:00:00+00:00"}
    )
    assert shelved.resume_by_s(T0 + 99 * HOUR) == shelved.shelved_at_s + 8 * HOUR


def test_the_earlier_bound_applies():
    deferral, _ = parse_deferral(
        {"geyser:deferrable": "yes", "geyser:max_deferral": "1d", "geyser:deadline": "2026-06-21T03:00:00Z"}
    )
    assert deferral.resume_by_s(deferral.deadline_s - 10 * HOUR) == deferral.deadline_s


@pytest.mark.parametrize(
    ("metadata", "words"),
    [
        ({"geyser:deferrable": "true", "geyser:deadline": "tomorrow"},
         ["geyser:deadline: text of 8 character(s) is not an ISO 8601 time", "2026-11-26T03:10:00Z"]),
        ({"geyser:deferrable": "true", "geyser:deadline": "2026-06-22T06:00:00"},
         ["geyser:deadline: the time has no time zone", "add Z"]),
        ({"geyser:deferrable": "true", "geyser:deadline": "2026-13-01T00:00:00Z"},
         ["geyser:deadline: text of 20 character(s) is not an ISO 8601 time"]),
        ({"geyser:deferrable": "true", "geyser:deadline": "1782000000"},  # epoch text: a guess refused
         ["geyser:deadline: text of 10 character(s) is not an ISO 8601 time", "with its zone"]),
        ({"geyser:deferrable": "true", "geyser:deadline": 1782000000},
         ["geyser:deadline: 1782000000 is not ISO 8601 text"]),
        ({"geyser:deferrable": "true", "geyser:max_deferral": "8h", "geyser:shelved_at": "1960-01-01T00:00:00Z"},
         ["geyser:shelved_at:", "not a time between 1970 and 9999"]),
        ({"geyser:deferrable": "true", "geyser:max_deferral": "8h", "geyser:shelved_at": ""},
         ["geyser:shelved_at: missing or not a time"]),
        ({"geyser:deferrable": "true", "geyser:max_deferral": "8 hours"}, ["geyser:max_deferral", "e.g. 8h"]),
        ({"geyser:deferrable": "true"}, ["needs geyser:deadline", "geyser:max_deferral"]),
        ({"geyser:deferrable": "maybe", "geyser:max_deferral": "8h"}, ["'maybe'", "true or false"]),
    ],
)
def test_malformed_opt_in_is_a_note_and_not_deferrable(metadata, words):
    deferral, notes = parse_deferral(metadata, "instance 'ci-1'")
    assert deferral is None
    assert len(notes) == 1 and notes[0].startswith("instance 'ci-1': ")
    assert "treated as not deferrable" in notes[0]
    for word in words:
        assert word in notes[0]


def test_not_opted_in_is_silent():
    assert parse_deferral({"geyser:deferrable": "false", "geyser:deadline": "junk"}) == (None, ())
    assert parse_deferral({"role": "web"}) == (None, ())
    assert parse_deferral(None) == (None, ())


def test_durations():
    assert parse_duration("90m") == 5400 and parse_duration("1.5d") == 1.5 * 86400 and parse_duration("30S") == 30
    with pytest.raises(ValueError, match="number followed by s, m, h or d"):
        parse_duration("-3h")


def _scenario(metadata):
    return {
        "hosts": [{"name": "h1", "vcpus": 8, "memory_mb": 8192, "disk_gb": 10, "power": {"idle_w": 100, "max_w": 200}}],
        "instances": [
            {"uuid": "ci-1", "host": "h1", "vcpus": 1, "memory_mb": 512, "disk_gb": 1, "metadata": metadata}
        ],
    }


def test_scenario_carries_deferral_and_notes():
    opt_in = {"geyser:deferrable": "true", "geyser:max_deferral": "12h", "geyser:runtime": "1h"}
    fleet = fleet_from_dict(_scenario(opt_in))
    assert fleet.instances[0].deferrable and fleet.instances[0].deferral.max_deferral_s == 12 * HOUR
    assert fleet_from_dict(fleet_to_dict(fleet)) == fleet
    bad = fleet_from_dict(_scenario({"geyser:deferrable": "true", "geyser:deadline": "2026-13-01T00:00:00Z"}))
    assert not bad.instances[0].deferrable
    assert bad.notes and "instance 'ci-1': geyser:deadline" in bad.notes[0]


# --- the rule --------------------------------------------------------------------------------


def test_scarce_energy_shelves_what_can_wait_and_plenty_brings_it_back():
    config = DeferralConfig()
    cands = [Candidate("long", False, T0 + 10 * HOUR), Candidate("short", False, T0 + 0.5 * HOUR)]
    plan = decide_deferral(cands, Energy(1.0), T0, config)
    assert plan.shelve == ("long",) and plan.resume == ()
    back = decide_deferral([Candidate("long", True, T0 + 10 * HOUR)], Energy(0.1), T0 + HOUR, config)
    assert back.resume == ("long",) and "energy returned" in back.reasons["long"]


def test_between_the_levels_nothing_changes():
    cands = [Candidate("a", False, T0 + 10 * HOUR), Candidate("b", True, T0 + 10 * HOUR)]
    plan = decide_deferral(cands, Energy(0.5), T0)
    assert plan.shelve == () and plan.resume == ()


def test_near_deadline_comes_back_under_scarce_energy():
    plan = decide_deferral([Candidate("a", True, T0 + 600)], Energy(1.0), T0)
    assert plan.resume == ("a",) and "whatever the signal says" in plan.reasons["a"]


def test_unreadable_signal_shelves_nothing():
    cands = [Candidate("a", False, T0 + 10 * HOUR), Candidate("b", True, T0 + 10 * HOUR)]
    last_good = decide_deferral(cands, Energy(1.0, Fallback.LAST_GOOD), T0)
    assert last_good.shelve == () and last_good.resume == ()
    safe = decide_deferral(cands, Energy(1.0, Fallback.SAFE_DEFAULT), T0)
    assert safe.shelve == () and safe.resume == ("b",)


def test_past_deadline_is_named_late():
    plan = decide_deferral([Candidate("a", True, T0 - HOUR)], Energy(1.0), T0)
    assert plan.resume == ("a",) and plan.late == ("a",)


def test_config_is_checked():
    with pytest.raises(ValueError, match="resume_level < shelve_level"):
        DeferralConfig(shelve_level=0.2, resume_level=0.5)


# --- property: run the rule over time ----------------------------------------------------------

energies = st.one_of(
    st.builds(Energy, st.floats(0, 1)),
    st.builds(Energy, st.floats(0, 1), st.sampled_from([Fallback.LAST_GOOD, Fallback.SAFE_DEFAULT])),
)


@settings(max_examples=200, deadline=None)
@given(
    deadlines_h=st.lists(st.floats(0, 48), min_size=1, max_size=6),
    runtimes_h=st.lists(st.floats(0, 6), min_size=6, max_size=6),
    signal=st.lists(energies, min_size=1, max_size=80),
    interval_s=st.sampled_from([300.0, 600.0, 900.0]),
)
def test_rule_over_time_keeps_every_deadline_and_never_shelves_on_fallback(deadlines_h, runtimes_h, signal, interval_s):
    """Decisions every ``interval_s`` (<= lead_s): nothing is shelved on a fallback reading, and no
    instance is ever held shelved past the moment its remaining work must start again."""
    config = DeferralConfig(lead_s=900.0, min_shelve_s=1800.0)
    specs = {
        f"vm{i}": Deferral(deadline_s=T0 + d * HOUR, runtime_s=runtimes_h[i] * HOUR)
        for i, d in enumerate(deadlines_h)
    }
    shelved: dict[str, float] = {}  # uuid -> when shelved
    for step, energy in enumerate(signal):
        now = T0 + step * interval_s
        # every instance geyser holds shelved is still within its promise at each decision
        for uuid in shelved:
            assert now <= specs[uuid].resume_by_s(now) + 1e-6, f"{uuid} held shelved past its deadline"
        cands = [Candidate(u, u in shelved, specs[u].resume_by_s(now)) for u in specs]
        plan = decide_deferral(cands, energy, now, config)
        if energy.fallback is not None:
            assert plan.shelve == ()
        assert not set(plan.shelve) & set(plan.resume)
        assert plan.late == ()  # feasible inputs: nothing it shelved is ever late
        for uuid in plan.resume:
            assert uuid in shelved
            del shelved[uuid]
        for uuid in plan.shelve:
            assert uuid not in shelved
            # shelved only with room to wait: its deadline is not within the next decision's reach
            assert specs[uuid].resume_by_s(now) - now >= config.lead_s + config.min_shelve_s
            shelved[uuid] = now
    # one more decision after the last: everything still shelved is still on time
    now = T0 + len(signal) * interval_s
    for uuid in shelved:
        assert now <= specs[uuid].resume_by_s(now) + 1e-6


def test_geyser_plan_prints_the_note(tmp_path, capsys):
    import json

    from watcher_geyser.cli import main

    path = tmp_path / "cloud.json"
    path.write_text(json.dumps(_scenario({"geyser:deferrable": "true", "geyser:deadline": "soon"})))
    assert main(["plan", str(path), "--json"]) == 0
    err = capsys.readouterr().err
    assert "note: instance 'ci-1': geyser:deadline: text of 4 character(s) is not an ISO 8601 time" in err


def test_defer_in_fleet_takes_shelved_instances_out_and_brings_back_geysers():
    from watcher_geyser.deferral.fleet import Shelved, defer_in_fleet

    data = _scenario({"geyser:deferrable": "true", "geyser:max_deferral": "8h"})
    data["instances"].append({"uuid": "web-1", "host": "h1", "vcpus": 1, "memory_mb": 512, "disk_gb": 1})
    data["instances"].append(
        {"uuid": "ci-locked", "host": "h1", "vcpus": 1, "memory_mb": 512, "disk_gb": 1, "locked": True,
         "metadata": {"geyser:deferrable": "true", "geyser:max_deferral": "8h"}}
    )
    fleet = fleet_from_dict(data)
    back = Shelved("ci-9", "ci-9", Deferral(max_deferral_s=8 * HOUR, shelved_at_s=T0 - 7.9 * HOUR))
    result = defer_in_fleet(fleet, [back], Energy(1.0), T0)
    assert result.shelve == [("ci-1", "ci-1")]  # the locked one stays
    assert result.resume == [("ci-9", "ci-9")]  # deadline near, whatever the signal
    assert [i.uuid for i in result.fleet.instances] == ["web-1", "ci-locked"]
    assert any(n.startswith("shelve ci-1: energy scarce") for n in result.notes)
    blind = defer_in_fleet(fleet, [], Energy.blind(), T0)
    assert blind.shelve == [] and blind.fleet is fleet


# --- the rule with the supply in watts ----------------------------------------------------------


def _forecast(*points: tuple[float, float], end_h: float = 48.0) -> Forecast:
    """(hours from T0, watts) steps, known until ``end_h``."""
    return Forecast(tuple(T0 + h * HOUR for h, _ in points), tuple(float(w) for _, w in points), T0 + end_h * HOUR)


def _watts(supply_w: float, need_w: float, per_w: float = 10.0, forecast: Forecast | None = None) -> Energy:
    level = 1.0 if supply_w < need_w else 0.0
    return Energy(level, None, supply_w, need_w, per_w, forecast)


SUNRISE_IN_8H = _forecast((0, 0.0), (8, 5000.0), (18, 0.0))


def test_uncovered_draw_shelves_as_much_as_the_deficit_longest_wait_first():
    cands = [Candidate(f"vm{i}", False, T0 + (10 + i) * HOUR) for i in range(10)]
    # 1000 W drawn, 960 W supplied: 40 W short, 10 W an instance: four wait, those that may wait longest
    plan = decide_deferral(cands, _watts(960.0, 1000.0, 10.0, SUNRISE_IN_8H), T0)
    assert plan.shelve == ("vm9", "vm8", "vm7", "vm6")
    assert "40 W above the supply" in plan.reasons["vm9"]
    assert "forecast to cover it and the 9 before it in 8.0 h" in plan.reasons["vm9"]
    # a covered draw shelves nothing, however high the scarcity level says
    assert decide_deferral(cands, Energy(1.0, None, 1000.0, 1000.0, 10.0, SUNRISE_IN_8H), T0).shelve == ()


def test_no_shelving_when_no_covered_window_comes_before_the_deadline():
    cands = [Candidate("soon", False, T0 + 6 * HOUR), Candidate("later", False, T0 + 12 * HOUR)]
    plan = decide_deferral(cands, _watts(0.0, 1000.0, 10.0, SUNRISE_IN_8H), T0)
    assert plan.shelve == ("later",)  # "soon" would come back at 5 h 45, still in the dark
    # a forecast that ends before the deadline: the deadline brings it back, shelving is allowed
    short = _forecast((0, 0.0), end_h=3.0)
    assert decide_deferral(cands, _watts(0.0, 1000.0, 10.0, short), T0).shelve == ("later", "soon")
    # a constant scarce supply forecast for ever: waiting pays nothing
    never = _forecast((0, 100.0))
    assert decide_deferral(cands, _watts(100.0, 1000.0, 10.0, never), T0).shelve == ()


def test_the_supply_brings_back_what_it_covers_nearest_deadline_first():
    waiting = [Candidate(f"vm{i}", True, T0 + (20 - i) * HOUR) for i in range(6)]
    # 0.9 x 1000 W - 850 W = 50 W to spare: five instances at 10 W
    plan = decide_deferral(waiting, _watts(1000.0, 850.0, 10.0, SUNRISE_IN_8H), T0)
    assert plan.resume == ("vm5", "vm4", "vm3", "vm2", "vm1")
    assert "the supply covers it" in plan.reasons["vm5"]
    # inside the margin (the draw is covered but not with 10 % to spare): nothing changes
    held = decide_deferral(waiting, _watts(1000.0, 950.0, 10.0, SUNRISE_IN_8H), T0)
    assert held.shelve == () and held.resume == ()


def test_a_rising_supply_is_its_own_margin_and_closes_a_short_deficit():
    waiting = [Candidate(f"vm{i}", True, T0 + (20 - i) * HOUR) for i in range(20)]
    rising = _forecast((0, 1000.0), (0.25, 1500.0), (0.5, 2000.0))  # a morning: +1 kW in 30 min
    # 1000 W now, the fleet draws 850 W: the whole 150 W pays for 15 (not 0.9 x 1000 - 850 = 50 W, 5)
    plan = decide_deferral(waiting, _watts(1000.0, 850.0, 10.0, rising), T0)
    assert len(plan.resume) == 15 and "forecast to rise past the margin" in plan.reasons[plan.resume[0]]
    flat = _forecast((0, 1000.0), (10, 0.0))  # a flat noon: the margin holds, five come back
    assert len(decide_deferral(waiting, _watts(1000.0, 850.0, 10.0, flat), T0).resume) == 5
    dipping = _forecast((0, 1000.0), (0.1, 900.0), (0.5, 2000.0))  # a dip before the rise: the margin holds
    assert len(decide_deferral(waiting, _watts(1000.0, 850.0, 10.0, dipping), T0).resume) == 5
    # a deficit the rising supply closes within min_shelve_s shelves nothing; a falling one does
    running = [Candidate(f"r{i}", False, T0 + 20 * HOUR) for i in range(10)]
    assert decide_deferral(running, _watts(1000.0, 1040.0, 10.0, rising), T0).shelve == ()
    dusk = _forecast((0, 1000.0), (0.25, 500.0), (1, 0.0), (14, 5000.0))
    assert len(decide_deferral(running, _watts(1000.0, 1040.0, 10.0, dusk), T0).shelve) == 4


def test_the_deadline_wins_over_the_supply():
    plan = decide_deferral([Candidate("a", True, T0 + 600)], _watts(0.0, 1000.0, 10.0, SUNRISE_IN_8H), T0)
    assert plan.resume == ("a",) and "whatever the signal says" in plan.reasons["a"]


def test_energy_from_a_watts_decision_carries_the_supply_and_its_forecast():
    from watcher_geyser.signal import SignalPolicy

    series = Series.build([T0 - HOUR, T0 + 2 * HOUR, T0 + 10 * HOUR], [100.0, 4000.0, 0.0], Unit.WATTS)
    decision = SignalPolicy().decide(series, T0, 1000.0, "test", need_w=800.0)
    energy = Energy.from_decision(decision, series, 800.0, 40)
    assert energy.knows_supply and energy.supply_w == 100.0 and energy.per_instance_w == 20.0
    assert energy.forecast.starts_s == (T0, T0 + 2 * HOUR, T0 + 10 * HOUR)
    assert energy.forecast.first_covered(T0, T0 + 24 * HOUR, 800.0) == T0 + 2 * HOUR
    # carbon intensity: the level rule; a fallback: only level and fallback (nothing shelves)
    carbon = Series.build([T0 - HOUR], [500.0], Unit.CARBON_G_PER_KWH, [10 * HOUR])
    assert not Energy.from_decision(SignalPolicy().decide(carbon, T0, 10_000.0, "c"), carbon, 800.0, 40).knows_supply
    stale = Series.build([T0 - 10 * HOUR], [100.0], Unit.WATTS, [HOUR])
    fallback = SignalPolicy().decide(stale, T0, 10_000.0, "s", need_w=800.0)
    assert fallback.fallback is not None
    energy = Energy.from_decision(fallback, stale, 800.0, 40)
    assert not energy.knows_supply and decide_deferral(
        [Candidate("a", False, T0 + 20 * HOUR)], energy, T0).shelve == ()


def test_a_forecast_stops_at_a_gap():
    series = Series.build([T0, T0 + HOUR, T0 + 5 * HOUR], [0.0, 10.0, 9000.0], Unit.WATTS, [HOUR, HOUR, HOUR])
    forecast = Forecast.from_series(series, T0 + 600)
    assert forecast.starts_s == (T0 + 600, T0 + HOUR) and forecast.end_s == T0 + 2 * HOUR
    assert forecast.first_covered(T0, T0 + 24 * HOUR, 100.0) is None


supplies = st.one_of(
    st.builds(lambda s, n: _watts(s, n, 10.0, _forecast((0, s), (4, 2 * n), end_h=30.0)),
              st.floats(0, 2000), st.floats(1, 2000)),
    st.builds(Energy, st.floats(0, 1), st.sampled_from([Fallback.LAST_GOOD, Fallback.SAFE_DEFAULT])),
)


@settings(max_examples=200, deadline=None)
@given(
    deadlines_h=st.lists(st.floats(0, 48), min_size=1, max_size=8),
    signal=st.lists(supplies, min_size=1, max_size=80),
    interval_s=st.sampled_from([300.0, 600.0, 900.0]),
)
def test_supply_rule_over_time_keeps_every_deadline_and_never_shelves_on_fallback(deadlines_h, signal, interval_s):
    """The watts rule, decided every ``interval_s``: nothing shelved on a fallback, nothing held past
    its latest safe start, nothing shelved and brought back in one decision."""
    config = DeferralConfig(lead_s=900.0, min_shelve_s=1800.0)
    specs = {f"vm{i}": Deferral(max_deferral_s=d * HOUR) for i, d in enumerate(deadlines_h)}
    shelved: dict[str, float] = {}
    for step, energy in enumerate(signal):
        now = T0 + step * interval_s
        for uuid, since in shelved.items():
            assert now <= since + specs[uuid].max_deferral_s + 1e-6, f"{uuid} held shelved past its deadline"
        cands = [Candidate(u, u in shelved, since + specs[u].max_deferral_s if (since := shelved.get(u)) is not None
                           else now + specs[u].max_deferral_s) for u in specs]
        plan = decide_deferral(cands, energy, now, config)
        if energy.fallback is not None:
            assert plan.shelve == ()  # an unreadable signal never shelves
        elif energy.supply_w >= energy.need_w:
            assert plan.shelve == ()  # a covered draw never shelves
        assert not set(plan.shelve) & set(plan.resume) and plan.late == ()
        for uuid in plan.resume:
            del shelved[uuid]
        for uuid in plan.shelve:
            shelved[uuid] = now


def test_with_nothing_running_a_host_s_watts_price_the_first_to_come_back():
    from watcher_geyser.signal import SignalPolicy

    series = Series.build([T0 - HOUR], [500.0], Unit.WATTS, [10 * HOUR])
    decision = SignalPolicy().decide(series, T0, 1000.0, "test", need_w=None)
    energy = Energy.from_decision(decision, series, 0.0, 0, 1000.0, host_w=100.0)
    assert energy.knows_supply and energy.per_instance_w == 100.0
    waiting = [Candidate(f"vm{i}", True, T0 + 10 * HOUR) for i in range(9)]
    assert len(decide_deferral(waiting, energy, T0).resume) == 4  # 0.9 x 500 W pays for four hosts' worth
    assert not Energy.from_decision(decision, series, 0.0, 0, 1000.0).knows_supply  # no price: the levels


# --- the sunny window, shared (deferral/window.py) ----------------------------------------------

DUSK_THEN_WEAK_MORNING = _forecast((0, 900.0), (1, 0.0), (14, 600.0), (16, 1500.0), (22, 0.0), end_h=40.0)


def test_work_that_reaches_tomorrows_window_waits_even_if_its_deadline_falls_before_it():
    # 1000 W drawn at dusk, 100 deferrable at 5 W: the base is 500 W. The supply covers the whole
    # draw only from 16 h; an instance due back at 15 h is forecast no covered time before then
    running = [Candidate("long", False, T0 + 15.25 * HOUR, runtime_s=6 * HOUR)]
    energy = _watts(900.0, 1000.0, 5.0, DUSK_THEN_WEAK_MORNING)
    plan = decide_deferral(running, energy, T0, DeferralConfig())
    # back by its deadline at 15 h in the dark, its 6 h of work then runs in the sun from 16 h
    assert plan.shelve == ("long",) and "longer covered" in plan.reasons["long"]
    # its work ends before the sun: waiting only moves it from one dark hour to another
    short = [Candidate("short", False, T0 + 12 * HOUR, runtime_s=1 * HOUR)]
    assert decide_deferral(short, energy, T0).shelve == ()
    # without the running time its work needs, only a covered time before its deadline counts
    unknown = [Candidate("unknown", False, T0 + 15.25 * HOUR)]
    assert decide_deferral(unknown, energy, T0).shelve == ()


def test_the_surplus_is_shared_in_turn_not_counted_once_per_instance():
    # base 0 W (everything running is deferrable), 10 W each; the morning surplus holds 30
    forecast = _forecast((0, 0.0), (8, 300.0), (18, 0.0))
    shelved = [Candidate(f"s{i:02d}", True, T0 + 20 * HOUR) for i in range(30)]
    running = [Candidate(f"r{i:02d}", False, T0 + (21 + i) * HOUR) for i in range(5)]
    energy = Energy(1.0, None, 0.0, 50.0, 10.0, forecast)
    # each running one alone would see room in the morning; the 30 shelved before it take it all
    assert decide_deferral([*shelved, *running], energy, T0).shelve == ()
    # 25 shelved: the five running ones are the 26th to 30th in turn, and all fit
    assert sorted(decide_deferral([*shelved[:25], *running], energy, T0).shelve) == [f"r{i:02d}" for i in range(5)]
    # 27 shelved: three would fit, but the two that do not run on through the window and take
    # its room too, so none of the five is promised covered time
    assert decide_deferral([*shelved[:27], *running], energy, T0).shelve == ()


@settings(max_examples=300, deadline=None)
@given(
    watts=st.lists(st.floats(0, 3000), min_size=1, max_size=12),
    base_w=st.floats(0, 2000),
    unit_w=st.floats(1, 200),
    latest_h=st.lists(st.floats(0, 30), min_size=1, max_size=40),
)
def test_the_surplus_promised_never_exceeds_the_surplus_forecast(watts, base_w, unit_w, latest_h):
    """Instances promised in turn: at each promised time, those promised by then fit in the surplus."""
    from watcher_geyser.deferral.window import Window

    forecast = Forecast(tuple(T0 + 2 * i * HOUR for i in range(len(watts))), tuple(watts), T0 + 2 * len(watts) * HOUR)
    window = Window(forecast, base_w, unit_w)
    latest = sorted(T0 + h * HOUR for h in latest_h)
    promised = [window.promise(k, T0, at) for k, at in enumerate(latest, start=1)]
    for at in promised:
        if at is None:
            continue
        by_then = sum(1 for other in promised if other is not None and other <= at)
        assert by_then * unit_w <= forecast.at(at) - base_w + 1e-6  # the instances promised by then fit


runtimes = st.one_of(st.none(), st.floats(0, 30 * HOUR))


@settings(max_examples=200, deadline=None)
@given(
    deadlines_h=st.lists(st.floats(0, 40), min_size=1, max_size=8),
    runtimes_s=st.lists(runtimes, min_size=8, max_size=8),
    supply_w=st.floats(0, 2000), need_w=st.floats(1, 2000),
    forecast_w=st.lists(st.floats(0, 3000), min_size=1, max_size=10),
)
def test_never_shelved_where_the_forecast_never_covers_it(deadlines_h, runtimes_s, supply_w, need_w, forecast_w):
    """No instance is shelved when, from now to its latest safe start plus the running time its
    work needs, the forecast never covers the fleet's draw without its deferrable work and it."""
    forecast = Forecast(tuple(T0 + 4 * i * HOUR for i in range(len(forecast_w))), tuple(forecast_w),
                        T0 + 48 * HOUR)
    energy = Energy(1.0, None, supply_w, need_w, 10.0, forecast)
    config = DeferralConfig()
    cands = [Candidate(f"vm{i}", False, T0 + d * HOUR, runtimes_s[i]) for i, d in enumerate(deadlines_h)]
    plan = decide_deferral(cands, energy, T0, config)
    base_w = max(need_w - len(cands) * 10.0, 0.0)
    for c in cands:
        if c.uuid not in plan.shelve:
            continue
        until_s = c.resume_by_s - config.lead_s + (c.runtime_s or 0.0)
        assert forecast.covered_s(T0, until_s, base_w + 10.0) > 0, plan.reasons[c.uuid]


@given(st.lists(st.floats(0, 1e5), min_size=1, max_size=6), st.floats(0, 8), st.floats(0, 8))
def test_forecast_lowest_answers_every_window_or_none(watts, a_h, b_h):
    """A window at the forecast's very end (from = until = end_s, met by `geyser simulate --deferrable 0.3
    --repeat-day 2` under a solar signal) raised on an empty min(); nothing is known there: None."""
    forecast = Forecast(tuple(T0 + i * HOUR for i in range(len(watts))), tuple(watts), T0 + len(watts) * HOUR)
    from_s, until_s = sorted((T0 + a_h * HOUR, T0 + b_h * HOUR))
    lowest = forecast.lowest(from_s, until_s)
    if until_s > forecast.end_s or from_s >= forecast.end_s:
        assert lowest is None
    else:
        assert lowest in watts
    assert forecast.lowest(forecast.end_s, forecast.end_s) is None
