"""Accounting on tiny fleets, checked against figures computed by hand."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher_geyser.fleet import Fleet
from watcher_geyser.power import PowerModel
from watcher_geyser.simulator.baselines import DecisionStats, first_fit, make_policy
from watcher_geyser.simulator.datacenter import DataCenter
from watcher_geyser.simulator.engine import simulate
from watcher_geyser.simulator.fidelity import CLOUDSIM, REALISTIC
from watcher_geyser.simulator.fleet import fleet_from_view, migrations_to
from watcher_geyser.simulator.state import Migration
from watcher_geyser.simulator.traces import Trace

LINEAR = PowerModel.linear(100.0, 200.0)  # 100 W idle, 200 W full: P(u) = 100 + 100 u


def tiny_dc(hosts: int = 2, vms: int = 2, ram_mb: float = 625.0, host_ram_mb: float = 4096.0) -> DataCenter:
    """Hosts of one 1000-MIPS core; VMs of 1000 MIPS and ``ram_mb`` (625 MB moves in 10 s)."""
    return DataCenter(
        name="tiny",
        host_names=tuple(f"h{i}" for i in range(hosts)),
        pes=np.ones(hosts, dtype=np.int64),
        pe_mips=np.full(hosts, 1000.0),
        ram_mb=np.full(hosts, host_ram_mb),
        bw_kbit=np.full(hosts, 1_000_000.0),
        power=(LINEAR,) * hosts,
        vm_names=tuple(f"v{i}" for i in range(vms)),
        vm_mips=np.full(vms, 1000.0),
        vm_pes=np.ones(vms, dtype=np.int64),
        vm_ram_mb=np.full(vms, ram_mb),
        vm_bw_kbit=np.full(vms, 100_000.0),
    )


def trace(rows) -> Trace:
    util = np.array(rows, dtype=float)
    return Trace(tuple(f"v{i}" for i in range(len(rows))), util, 300.0, "hand")


@dataclass
class MoveOnce:
    """Starts VM 0 -> host 1 at the first decision, then nothing."""

    name: str = "move-once"
    charges_full_power: bool = False
    switches_off_empty_hosts: bool = True
    stats: DecisionStats = field(default_factory=DecisionStats)
    fleets: list = field(default_factory=list)

    def initial_placement(self, state) -> None:
        first_fit(state)

    def decide(self, view):
        self.fleets.append(fleet_from_view(view))
        return [Migration(0, 1)] if view.step == 1 else []


def test_dvfs_energy_by_hand_realistic():
    # host 0 runs v0 at 50 % (150 W), host 1 runs v1 at 20 %, 40 %, 40 % (120, 140, 140 W)
    r = simulate(trace([[0.5, 0.5, 0.5], [0.2, 0.4, 0.4]]), tiny_dc(), make_policy("dvfs"), REALISTIC)
    assert r.energy_kwh * 3.6e6 == pytest.approx(150 * 600 + 130 * 300 + 140 * 300)
    assert r.migrations == 0 and r.slatah == 0 and r.pdm == 0
    # lower bound: one host must be on (100 W idle) plus the demand at 0.1 W/MIPS above idle;
    # demand 700, 900, 900 MIPS: (170 + 190)/2 x 300 + 190 x 300
    assert r.energy_lower_bound_kwh * 3.6e6 == pytest.approx((170 + 190) / 2 * 300 + 190 * 300)
    assert r.series.hosts_on == [2, 2] and r.series.hosts_lower_bound == [1, 1]


def test_cloudsim_skips_first_interval_and_counts_npa_at_full_power():
    rows = [[0.5, 0.5, 0.5], [0.2, 0.4, 0.4]]
    r = simulate(trace(rows), tiny_dc(), make_policy("dvfs"), CLOUDSIM)
    assert r.energy_kwh * 3.6e6 == pytest.approx(300 * (150 + 140))  # only [300.1, 600.1] is charged
    npa = simulate(trace(rows), tiny_dc(), make_policy("npa"), CLOUDSIM)
    assert npa.energy_kwh * 3.6e6 == pytest.approx(2 * 200 * 600)


def test_cloudsim_retires_vms_at_exactly_zero_demand():
    # v0 reads 0 at 300.1 s (samples 1 and 2 are 0): retired; v1 reads 0 + 0.3 x 0.1/300 > 0: kept
    rows = [[0.5, 0.0, 0.0, 0.5], [0.5, 0.0, 0.3, 0.5]]
    r = simulate(trace(rows), tiny_dc(), make_policy("dvfs"), CLOUDSIM)
    assert r.series.vms_running == [1, 1, 1]
    assert r.host_shutdowns == 1  # host 0 goes idle when v0 is retired


def test_migration_energy_sla_and_pdm_by_hand():
    policy = MoveOnce()
    r = simulate(trace([[0.5, 0.5, 0.5], [0.2, 0.4, 0.4]]), tiny_dc(), policy, REALISTIC)
    assert r.migrations == 1 and r.series.migrations == [1, 0]
    # [0,300]: 150 W + 120..140 W; [300,310] migrating (dest counts 10 %: 45 %): 150 + 145 W;
    # [310,600]: host 0 off, host 1 at 90 %: 190 W
    joules = 150 * 300 + 130 * 300 + 150 * 10 + 145 * 10 + 190 * 290
    assert r.energy_kwh * 3.6e6 == pytest.approx(joules)
    # PDM: 10 % of 500 MIPS for 10 s over all requested MIPS x s (v0: 500 x 600, v1: 200 x 300 + 400 x 300)
    assert r.pdm == pytest.approx(500 / (300_000 + 180_000))
    # SLATAH: host 1 gets 10 % of the incoming VM for 10 s; active time 310 s (host 0) + 600 s (host 1)
    assert r.slatah == pytest.approx(10 / 910)
    # per step, SLATAH's terms: the migration's 10 s overloaded fall in the second step's row
    assert r.series.violation_host_s == pytest.approx([0, 10]) and sum(r.series.host_s) == pytest.approx(910)
    assert r.slav == pytest.approx(r.slatah * r.pdm) and r.esv == pytest.approx(r.energy_kwh * r.slav)
    assert r.host_power_offs == 1


def test_fleet_seam_matches_simulator_utilisation():
    policy = MoveOnce()
    simulate(trace([[0.5, 0.5, 0.5], [0.2, 0.4, 0.4]]), tiny_dc(), policy, CLOUDSIM)
    fleet = policy.fleets[0]
    util = fleet.cpu_load() / fleet.physical_cores
    np.testing.assert_allclose(util, [0.5, 0.4 + 0.0 * 0.1 / 300])
    assert [i.host for i in fleet.instances] == ["h0", "h1"]
    after = policy.fleets[1]
    assert [i.host for i in after.instances] == ["h1", "h1"] and not any(i.locked for i in after.instances)


def test_fleet_seam_gives_core_sizes_and_pes():
    # a host's core size is its MIPS per core in the fleet's units, a VM's cores its PEs: the
    # solver then sees CloudSim's core cap (req > vm_pes x pe_mips) as need per core > core size
    policy = MoveOnce()
    dc = tiny_dc()
    dc = DataCenter(**{**dc.__dict__, "pes": np.array([1, 4]), "pe_mips": np.array([1000.0, 500.0]),
                       "vm_pes": np.array([1, 2])})
    simulate(trace([[0.6, 0.6, 0.6], [0.9, 0.9, 0.9]]), dc, policy, CLOUDSIM)
    fleet = policy.fleets[0]
    np.testing.assert_allclose(fleet.core_size, [100.0, 50.0])
    assert [i.cores for i in fleet.instances] == [1, 2]
    np.testing.assert_allclose(fleet.cpu_per_core, [60.0, 45.0])  # 0.6 x 1000 MIPS on one PE, 0.9 x 1000 on two
    capped = fleet.cpu_per_core[:, None] > fleet.core_size[None, :]
    assert capped.tolist() == [[False, True], [False, False]]  # v0 on h1's 500-MIPS cores


def test_fleet_seam_shares_host_arrays_equal_to_a_fresh_build():
    # hosts change state between steps (h0 is emptied and off at the second decision); the
    # arrays only the hosts decide come from the run's first fleet, the rest are this step's
    policy = MoveOnce()
    simulate(trace([[0.5, 0.5, 0.5], [0.2, 0.4, 0.4]]), tiny_dc(), policy, REALISTIC)
    first, after = policy.fleets
    assert after.hosts != first.hosts and after.__dict__["capacity"] is first.__dict__["capacity"]
    fresh = Fleet.build(after.hosts, after.instances)
    for name in ("capacity", "physical_cores", "idle_w", "max_w", "host_zone", "dynamic_slope_w_per_core", "core_size"):
        np.testing.assert_array_equal(getattr(after, name), getattr(fresh, name), err_msg=name)
    assert after.watts(powered=after.powered) == fresh.watts(powered=fresh.powered)
    np.testing.assert_array_equal(after.powered, fresh.powered)
    with pytest.raises(ValueError, match="different hosts"):
        Fleet.build(after.hosts[:1], []).share_host_arrays(first)


def test_migrations_to_diffs_placement():
    policy = MoveOnce()
    simulate(trace([[0.5, 0.5, 0.5], [0.2, 0.4, 0.4]]), tiny_dc(), policy, CLOUDSIM)

    class View:
        pass

    from watcher_geyser.simulator.state import SimState

    view = View()
    view.state = SimState(tiny_dc(), trace([[0.5, 0.5, 0.5], [0.2, 0.4, 0.4]]), CLOUDSIM)
    first_fit(view.state)
    assert migrations_to(view, policy.fleets[0], np.array([1, 1])) == [Migration(0, 1)]


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 100), min_size=6, max_size=6), min_size=2, max_size=8),
    st.sampled_from(["thr-mmt", "lr-mmt", "dvfs"]),
)
def test_realistic_invariants(rows, policy_name):
    util = np.array(rows, dtype=float) / 100
    dc = tiny_dc(hosts=6, vms=len(rows), ram_mb=1500.0, host_ram_mb=4096.0)
    from watcher_geyser.simulator.engine import Engine

    engine = Engine(trace(util), dc, make_policy(policy_name), REALISTIC)
    r = engine.run()
    state = engine.state
    placed = sorted(v for vms in state.host_vms for v in vms)
    assert placed == sorted(np.flatnonzero(state.alive).tolist())  # every VM on exactly one host
    for h, vms in enumerate(state.host_vms):
        assert dc.vm_ram_mb[vms].sum() <= dc.ram_mb[h]  # realistic fidelity never overcommits RAM
    assert sum(r.series.migrations) == r.migrations
    assert np.isfinite(r.energy_kwh) and r.energy_kwh >= 0
    assert 0 <= r.slatah <= 1 and 0 <= r.pdm <= 1


def test_realistic_boot_delays_migrations_to_an_off_host():
    @dataclass
    class MoveTwoToOffHost(MoveOnce):
        def decide(self, view):
            return [Migration(0, 2), Migration(1, 2)] if view.step == 1 else []

    dc = tiny_dc(hosts=3)
    r = simulate(trace([[0.5, 0.5, 0.5], [0.2, 0.4, 0.4]]), dc, MoveTwoToOffHost(), REALISTIC)
    assert r.migrations == 2 and r.host_power_ons == 1
    # host 2 boots 120 s at full power (idle counted as powered, the rest as boot energy); both moves
    # start when it is ready and last 10 s, so hosts 0 and 1 (150 W, 140 W) stay on until 430 s
    first_interval = 150 * 300 + 130 * 300
    sources = (150 + 140) * 130
    boot_extra = (200 - 100) * 120
    host2_waiting = 109 * 130  # powered, reserving 10 % of both VMs (5 % + 4 %) from 300 s to 430 s
    host2_after = 190 * 170  # both VMs (90 %) from 430 s to 600 s
    expected = first_interval + sources + boot_extra + host2_waiting + host2_after
    assert r.energy_kwh * 3.6e6 == pytest.approx(expected)


def test_waves_start_one_after_another():
    @dataclass
    class SwapInWaves(MoveOnce):
        switches_off_empty_hosts: bool = False

        def decide(self, view):
            if view.step != 1:
                return []
            return [[Migration(0, 1)], [Migration(1, 0)]]

    from watcher_geyser.simulator.engine import Engine

    engine = Engine(trace([[0.5, 0.5, 0.5], [0.2, 0.4, 0.4]]), tiny_dc(), SwapInWaves(), REALISTIC)
    r = engine.run()
    assert r.migrations == 2 and r.series.migrations == [2, 0] and r.migrations_dropped == 0
    assert engine.state.vm_host.tolist() == [1, 0]
    # [300, 310]: v0 moves (host 0 at 50 %, host 1 at 40 % + 5 %); [310, 320]: v1 moves back
    # (host 0 at 4 %, host 1 at 50 % + 40 %); then host 0 at 40 %, host 1 at 50 %
    joules = (150 * 300 + 130 * 300) + (150 + 145) * 10 + (104 + 190) * 10 + (140 + 150) * 280
    assert r.energy_kwh * 3.6e6 == pytest.approx(joules)


_STEP_S, _DAY_S = 300.0, 3600.0  # twelve intervals a "day" keeps the examples small


@st.composite
def replay_past_its_day(draw):
    """Decision times (intervals' ends, CloudSim's 0.1 s offset) over one day and a tail of 0..12 more
    intervals, with a draw and a supply per interval."""
    n = 11 + draw(st.integers(0, 12))
    watts = st.floats(0.0, 1000.0, allow_nan=False)
    times = [k * _STEP_S + 0.1 for k in range(1, n + 1)]
    return times, draw(st.lists(watts, min_size=n, max_size=n)), draw(st.lists(watts, min_size=n, max_size=n))


@given(replay_past_its_day())
def test_folding_charges_the_tail_against_the_day_and_at_most_its_energy(replay):
    from watcher_geyser.simulator.metrics import day_folded_above_supply_kwh, energy_above_supply_kwh

    times, power, supply = replay
    day = [t <= _DAY_S for t in times]
    within = energy_above_supply_kwh([p for p, d in zip(power, day) if d], [s for s, d in zip(supply, day) if d],
                                     _STEP_S)
    tail_kwh = sum(p for p, d in zip(power, day) if not d) * _STEP_S / 3.6e6
    folded = day_folded_above_supply_kwh(times, power, supply, _STEP_S, _DAY_S)
    assert within - 1e-9 <= folded <= within + tail_kwh + 1e-9
    if all(day):  # a replay that ends with its day: the plain figure
        assert folded == pytest.approx(energy_above_supply_kwh(power, supply, _STEP_S))


def test_folding_puts_tomorrows_draw_against_todays_supply():
    from watcher_geyser.simulator.metrics import day_folded_above_supply_kwh

    # one interval of work today, covered; the same again tomorrow at that hour, under tomorrow's 1 kW
    times = [_STEP_S + 0.1, _DAY_S + _STEP_S + 0.1]
    folded = day_folded_above_supply_kwh(times, [1000.0, 1000.0], [1000.0, 1000.0], _STEP_S, _DAY_S)
    assert folded == pytest.approx(1000.0 * _STEP_S / 3.6e6)  # the second kW has no supply left
