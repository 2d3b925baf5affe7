"""Every policy accounted against the supply: uncovered energy, power cycles, deferral hook, policy specs.

Figures are computed by hand on the tiny fleets of ``test_simulator_metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.test_simulator_metrics import MoveOnce, tiny_dc, trace
from watcher_geyser.simulator.baselines import POLICIES, make_policy
from watcher_geyser.simulator.engine import Engine, simulate
from watcher_geyser.simulator.fidelity import CLOUDSIM, REALISTIC
from watcher_geyser.simulator.metrics import energy_above_supply_kwh, power_cycles_per_day, supply_at_midpoints
from watcher_geyser.simulator.policy_params import parse_policy
from watcher_geyser.simulator.state import Migration

ROWS = [[0.5, 0.5, 0.5], [0.2, 0.4, 0.4]]  # dvfs, realistic: 280 W over [0, 300], 290 W over [300, 600]


def step_supply(t_s: float) -> float:
    """300 W before 300 s, 200 W after: a step exactly at the sample boundary."""
    return 300.0 if t_s < 300.0 else 200.0


def test_uncovered_energy_with_a_step_supply_by_hand():
    r = simulate(trace(ROWS), tiny_dc(), make_policy("dvfs"), REALISTIC, step_supply)
    # [0, 300]: 280 W under 300 W, nothing uncovered; [300, 600]: 290 W over 200 W, 90 W x 300 s
    # (read at the interval's end, the first interval would wrongly count 80 W x 300 s)
    assert r.series.available_w == [300.0, 200.0]
    assert r.energy_above_signal_kwh * 3.6e6 == pytest.approx(90 * 300)
    assert r.energy_covered_share == pytest.approx(1 - 90 * 300 / (280 * 300 + 290 * 300))


def test_every_policy_is_accounted_against_the_supply():
    for name in ("npa", "dvfs", "thr-mmt", "lr-mmt"):
        r = simulate(trace(ROWS), tiny_dc(), make_policy(name), REALISTIC, step_supply)
        assert r.energy_above_signal_kwh is not None and 0 <= r.energy_covered_share <= 1, name
        s = r.summary()
        for key in ("slatah", "slav", "host_power_cycles_max", "host_power_cycles_mean", "deferred_vm_hours",
                    "deadline_misses"):
            assert key in s, (name, key)
    plain = simulate(trace(ROWS), tiny_dc(), make_policy("dvfs"), REALISTIC)
    assert plain.energy_above_signal_kwh is None and plain.energy_covered_share is None


def test_bench_helpers_match_the_engine():
    r = simulate(trace(ROWS), tiny_dc(), make_policy("dvfs"), CLOUDSIM, step_supply)
    supply = supply_at_midpoints(r.series.time_s, 300.0, step_supply)
    assert supply.tolist() == r.series.available_w
    assert energy_above_supply_kwh(r.series.power_w, supply, 300.0) == pytest.approx(r.energy_above_signal_kwh)


@dataclass
class Shuttle(MoveOnce):
    """VM 1 goes to host 0 at step 1, back to host 1 at step 2, to host 0 again at step 3."""

    def decide(self, view):
        return [Migration(1, 0 if view.step % 2 else 1)] if view.step <= 3 else []


def test_a_host_cycling_off_and_on_is_counted():
    rows = [[0.3] * 5, [0.3] * 5]  # two light VMs, one per host at the start; 5 samples = 1500 s
    r = simulate(trace(rows), tiny_dc(), Shuttle(), REALISTIC)
    assert r.migrations == 3
    # host 1: off (step 1), on (step 2, boots), off (step 3): two switch-offs; host 0 never off.
    # The run is shorter than a day: the worst 24 h window holds both, the mean is per host ever on
    assert (r.host_power_cycles_max, r.host_power_cycles_mean) == (2.0, 1.0)
    # cloudsim fidelity: a host is on while it runs something, so the same shuttle counts the same
    c = simulate(trace(rows), tiny_dc(), Shuttle(), CLOUDSIM)
    assert (c.host_power_cycles_max, c.host_power_cycles_mean) == (2.0, 1.0)


def test_a_host_never_on_is_no_switch_off_and_the_table_shows_switch_offs():
    """CloudSim starts every host "active", so a host idle at its first record is one of its shutdowns;
    it never switched off, so it is no cycle: the table shows the switch-offs the cycles are made of."""
    from watcher_geyser.simulator.report import table

    rows = [[0.3] * 5, [0.3] * 5]
    for fid in (REALISTIC, CLOUDSIM):
        r = simulate(trace(rows), tiny_dc(hosts=3), Shuttle(), fid)
        # h1 switches off twice (the first ends the on-period it started in); h2 is never on
        assert r.host_power_offs == sum(map(len, r.host_off_times_s)) == 2
        assert r.host_shutdowns == 3  # CloudSim's count adds h2
        assert r.host_ever_on == (True, True, False)
        assert (r.host_power_cycles_max, r.host_power_cycles_mean) == (2.0, 1.0)
        head, _, row = table([r]).splitlines()
        column = [c.strip() for c in head.split("  ") if c.strip()]  # headers may hold one space
        values = row.split()
        assert "shutdowns" not in column
        assert values[column.index("switch-offs")] == "2" and values[column.index("cycles/host/day")] == "2.0"


def test_a_host_on_at_the_start_and_switched_off_is_one_cycle():
    r = simulate(trace([[0.3] * 3]), tiny_dc(hosts=2, vms=1), MoveOnce(), REALISTIC)
    # v0 starts on h0 and moves to h1: h0's first on-period ends by a switch-off, h1 stays on
    assert r.host_off_times_s[0] and not r.host_off_times_s[1]
    assert (r.host_power_offs, r.host_power_cycles_max, r.host_power_cycles_mean) == (1, 1.0, 0.5)


def test_power_cycles_worst_day_window_and_mean_per_day():
    day = 86400.0
    ever = np.array([True, True, False, False])
    # host 0: three switch-offs over two days, at most two within any 24 h; host 1: none
    offs = [[1000.0, 50000.0, 1000.0 + day], [], [], []]
    assert power_cycles_per_day(offs, ever, 2 * day) == (2.0, 3 / 2 / 2)
    # the third inside the first one's day: three in one window
    offs = [[1000.0, 50000.0, day + 999.0], [], [], []]
    assert power_cycles_per_day(offs, ever, 2 * day)[0] == 3.0
    assert power_cycles_per_day([[], [], [], []], np.zeros(4, dtype=bool), day) == (0.0, 0.0)


@given(st.lists(st.floats(0, 5 * 86400.0), max_size=12))
def test_worst_window_is_between_per_day_average_and_total(times):
    times = sorted(times)
    worst, _ = power_cycles_per_day([times], np.array([True]), 5 * 86400.0)
    assert worst <= len(times)
    assert worst >= (1 if times else 0) and worst * 6 >= len(times)  # six windows of a day cover [0, 5 days]


def test_no_deferral_means_zero_deferred_hours_and_misses():
    # the deferral figures themselves are checked in test_simulator_deferral
    r = Engine(trace(ROWS), tiny_dc(), make_policy("dvfs"), REALISTIC).run()
    assert (r.deferred_vm_hours, r.deadline_misses) == (0.0, 0)


# --- policy specs -------------------------------------------------------------------------


def test_policy_spec_sets_the_policy_and_names_the_run():
    thr = make_policy("thr-mmt:threshold=0.9")
    assert thr.name == "thr-mmt:threshold=0.9" and thr.detector.threshold == 0.9
    lr = make_policy("lr-mmt:safety=1.4,fallback=0.6")
    assert lr.detector.safety == 1.4 and lr.detector.fallback.threshold == 0.6
    assert make_policy("thr-mmt").name == "thr-mmt" and make_policy("thr-mmt").detector.threshold == 0.8
    spec = parse_policy("geyser:ceiling=0.85,signal=off,max_moves=5", list(POLICIES))
    assert spec.kwargs == {"cpu_ceiling": 0.85, "follow_signal": False, "max_consolidation_moves": 5}


def test_geyser_spec_builds_a_blind_geyser():
    pytest.importorskip("ortools")
    g = make_policy("geyser:ceiling=0.85,signal=off")
    assert g.settings.limits.cpu_ceiling == 0.85 and g.follow_signal is False
    assert g.name == "geyser:ceiling=0.85,signal=off"
    assert make_policy("geyser:swap_payback_s=0").settings.limits.swap_payback_s == 0.0  # the operator's setting


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("thr-mmt:thresh=0.9", ["unknown key 'thresh'", "valid keys: threshold"]),
        ("thr-mmt:threshold=abc", ["threshold='abc' is not a number", "(threshold: overload threshold"]),
        ("thr-mmt:threshold=1.5", ["outside (0, 1]"]),
        ("thr-mmt:threshold", ["needs a value"]),
        ("dvfs:x=1", ["takes no parameters"]),
        ("geyser:signal=maybe", ["not on or off", "(signal: follow --signal"]),
        ("geyser:parallelism=0", ["parallelism=0 is outside [1, inf) (parallelism: migrations running at once"]),
        ("geyser:paralelism=2", ["did you mean 'parallelism'?", "`geyser simulate --help` says what each sets"]),
        ("geyser:swap_payback_s=-1", ["swap_payback_s=", "outside"]),
        ("thr-mmx", ["unknown policy 'thr-mmx'", "thr-mmt"]),
    ],
)
def test_bad_policy_specs_name_the_fix(spec, words):
    with pytest.raises(ValueError) as info:
        parse_policy(spec, list(POLICIES))
    for word in words:
        assert word in str(info.value)


@given(st.floats(-2.0, 3.0, allow_nan=False))
def test_threshold_accepted_exactly_in_its_range(x):
    text = repr(x)
    if 0 < x <= 1:
        assert parse_policy(f"thr-mmt:threshold={text}", list(POLICIES)).kwargs == {"threshold": x}
    else:
        with pytest.raises(ValueError, match="outside"):
            parse_policy(f"thr-mmt:threshold={text}", list(POLICIES))
