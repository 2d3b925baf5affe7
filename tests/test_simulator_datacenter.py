"""Data-centre presets: the three-gen family (a fleet the engine was not tuned on) is what it says."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher_geyser.commands.simulate import bundled_sample
from watcher_geyser.simulator.baselines import make_policy
from watcher_geyser.simulator.datacenter import PRESETS, THREE_GEN_HOSTS, three_gen, with_vm_sizes
from watcher_geyser.simulator.engine import simulate
from watcher_geyser.simulator.fidelity import fidelity
from watcher_geyser.simulator.traces import read_planetlab


@given(vms=st.integers(1, 60), vms_per_host=st.floats(0.25, 8.0))
def test_three_gen_hands_out_generations_in_turn_at_the_asked_depth(vms, vms_per_host):
    dc = three_gen([f"vm-{i}" for i in range(vms)], vms_per_host)
    assert dc.hosts == max(3, math.ceil(vms / vms_per_host))
    for h in range(dc.hosts):
        kind = THREE_GEN_HOSTS[h % 3]
        assert (dc.pes[h], dc.pe_mips[h], dc.ram_mb[h], dc.power[h]) == (kind.pes, kind.pe_mips, kind.ram_mb,
                                                                         kind.power)
    assert len(dc.vm_names) == vms


def test_three_gen_refuses_a_depth_that_is_not_positive():
    with pytest.raises(ValueError, match="vms_per_host"):
        three_gen(["vm-0"], 0.0)


def test_geyser_replays_on_three_gen_and_uses_less_energy_than_thr_mmt():
    trace = read_planetlab(bundled_sample(), limit=60)
    dc = with_vm_sizes(PRESETS["three-gen"](trace.names), trace.vm_mips, trace.vm_ram_mb)
    geyser, thr = (simulate(trace, dc, make_policy(name), fidelity("cloudsim")) for name in ("geyser", "thr-mmt"))
    assert geyser.vms_unplaced == 0
    assert geyser.energy_lower_bound_kwh <= geyser.energy_kwh < thr.energy_kwh
    assert geyser.series.hosts_on[-1] < dc.hosts // 2
