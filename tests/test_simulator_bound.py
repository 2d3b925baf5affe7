"""The simulator's per-step bounds hold for every placement that serves the demand (property test),
and in realistic fidelity they count RAM and idle power (the bundled sample's bound is near the
energy every consolidating policy draws, not a sixth of it)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from watcher_geyser.power import PowerModel
from watcher_geyser.simulator.bound import StepBound, fewest_covering
from watcher_geyser.simulator.datacenter import DataCenter


def datacenter(hosts: list[tuple[int, float, float, float, float]], vm_ram: list[float]) -> DataCenter:
    n = len(vm_ram)
    return DataCenter(
        name="t",
        host_names=tuple(f"h{i}" for i in range(len(hosts))),
        pes=np.array([h[0] for h in hosts], dtype=np.int64),
        pe_mips=np.full(len(hosts), 1000.0),
        ram_mb=np.array([h[1] for h in hosts]),
        bw_kbit=np.full(len(hosts), 1e6),
        # SPECpower-style curves: idle plus a concave, linear or convex rise to full load
        power=tuple(PowerModel.curve(h[2] + h[3] * np.linspace(0, 1, 11) ** h[4]) for h in hosts),
        vm_names=tuple(f"v{i}" for i in range(n)),
        vm_mips=np.full(n, 1000.0),
        vm_pes=np.ones(n, dtype=np.int64),
        vm_ram_mb=np.array(vm_ram),
        vm_bw_kbit=np.full(n, 1e5),
    )


host = st.tuples(st.integers(1, 8), st.sampled_from([2048.0, 4096.0, 8192.0]), st.floats(50, 200),
                 st.floats(0, 300), st.sampled_from([0.5, 1.0, 2.0]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(host, min_size=1, max_size=8), st.lists(st.tuples(st.floats(128, 4096), st.floats(0, 1)),
       min_size=1, max_size=20), st.randoms(use_true_random=False))
def test_bound_is_below_any_placement_that_serves_the_demand(hosts, vms, rnd):
    dc = datacenter(hosts, [v[0] for v in vms])
    demand = np.array([v[1] for v in vms]) * dc.vm_mips
    # a random placement that fits RAM and serves every VM's demand in full (when one is found)
    free_ram, free_mips = dc.ram_mb.copy(), dc.total_mips.astype(float).copy()
    where = np.empty(len(vms), dtype=int)
    for v in rnd.sample(range(len(vms)), len(vms)):
        fits = np.flatnonzero((free_ram >= dc.vm_ram_mb[v]) & (free_mips >= demand[v]))
        assume(len(fits))
        h = int(rnd.choice(list(fits)))
        where[v] = h
        free_ram[h] -= dc.vm_ram_mb[v]
        free_mips[h] -= demand[v]
    used = np.unique(where)
    util = 1 - free_mips[used] / dc.total_mips[used]
    watts = sum(dc.power[h].watts(u) for h, u in zip(used, util))
    running = np.ones(len(vms), dtype=bool)
    realistic = StepBound(dc, counts_idle=True, enforces_ram=True)
    assert realistic.hosts(float(demand.sum()), running) <= len(used)
    assert realistic.watts(float(demand.sum()), running) <= watts + 1e-6
    # CloudSim's accounting: the same placement, a host at 0 % drawing nothing
    cloudsim = StepBound(dc, counts_idle=False, enforces_ram=False)
    served = sum(dc.power[h].watts(u) for h, u in zip(used, util) if u > 0)
    assert cloudsim.watts(float(demand.sum()), running) <= served + 1e-6


def test_the_cloudsim_bound_charges_the_next_kind_of_host_once_the_most_efficient_are_full():
    """One efficient host (2 x 1000 MIPS, 100 W at full load: 0.05 W/MIPS) and two others
    (0.1 W/MIPS): 3000 MIPS of demand is 2000 at 0.05 and 1000 at 0.1, not 3000 at 0.05."""
    dc = datacenter([(2, 2048.0, 50.0, 50.0, 1.0), (2, 2048.0, 100.0, 100.0, 1.0), (2, 2048.0, 100.0, 100.0, 1.0)],
                    [512.0])
    bound = StepBound(dc, counts_idle=False, enforces_ram=False)
    running = np.ones(1, dtype=bool)
    assert bound.watts(1500.0, running) == pytest.approx(75.0)  # within the efficient host: as before
    assert bound.watts(3000.0, running) == pytest.approx(200.0)  # was 150 W: more efficient hosts than exist
    assert bound.watts(9000.0, running) == pytest.approx(500.0)  # past every host's MIPS: what they all draw


def test_fewest_covering_takes_largest_first():
    caps = np.array([8.0, 4.0, 2.0])
    assert [fewest_covering(x, caps) for x in (0, 1, 8, 9, 12, 14, 99)] == [0, 1, 1, 2, 2, 3, 3]


def test_realistic_bound_counts_ram_and_idle_on_the_sample():
    from watcher_geyser.commands.simulate import simulate_argv

    dvfs, thr = simulate_argv(["--fidelity", "realistic", "--policy", "dvfs", "--policy", "thr-mmt"]).results
    assert dvfs.energy_lower_bound_kwh == thr.energy_lower_bound_kwh
    # RAM binds: the bound is most of what the best policy draws (CPU alone gave about a sixth)
    assert 0.8 * thr.energy_kwh <= thr.energy_lower_bound_kwh <= thr.energy_kwh
    assert max(thr.series.hosts_lower_bound) <= max(thr.series.hosts_on)
