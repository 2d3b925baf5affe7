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
    decide_deferral,
    parse_deferral,
    parse_duration,
)
from watcher_geyser.scenario import fleet_from_dict, fleet_to_dict
from watcher_geyser.signal import Fallback

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
        ({"geyser:deferrable": "true", "geyser:deadline": "tomorrow"}, ["geyser:deadline", "'tomorrow'", "ISO 8601"]),
        ({"geyser:deferrable": "true", "geyser:deadline": "2026-06-22T06:00:00"}, ["no time zone", "add Z"]),
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
    assert "note: instance 'ci-1': geyser:deadline: 'soon' is not an ISO 8601 time" in err


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
