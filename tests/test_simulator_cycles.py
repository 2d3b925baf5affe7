"""The power-cycle budget holds in the replay, whatever switches hosts off.

Property: over random traces (instances that rise, fall and finish), random supplies and
random shares of deferrable VMs, in both fidelities, geyser never makes a host switch off
more than its budget in any window, counted on the engine's own record (what
``host_power_cycles_max`` reports). The window is shortened to an hour so that a replay of
a few hours slides it several times.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from watcher_geyser.pipeline import CycleBudget
from watcher_geyser.signal import PolicyConfig, Series, Unit
from watcher_geyser.simulator.datacenter import planetlab
from watcher_geyser.simulator.deferral import DeferralAnswer, DeferralBook, DeferralSetup
from watcher_geyser.simulator.engine import Engine
from watcher_geyser.simulator.fidelity import fidelity
from watcher_geyser.simulator.geyser_policy import GeyserPolicy, SignalFeed
from watcher_geyser.simulator.metrics import power_cycles_per_day
from watcher_geyser.simulator.state import SimState
from watcher_geyser.simulator.traces import Trace

STEP_S = 300.0
STEPS = 24  # two hours
WINDOW_S = 3600.0
VMS, HOSTS = 8, 6
START_S = 1_750_000_000.0

LEVELS = st.sampled_from([0.0, 0.05, 0.2, 0.5, 0.9, 1.0])


def worst_in_window(times: list[float], window_s: float) -> int:
    t = np.asarray(times)
    return max((int(((t > end - window_s) & (t <= end)).sum()) for end in t), default=0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(util=arrays(np.float64, (VMS, STEPS), elements=LEVELS),
       supply_w=st.lists(st.sampled_from([0.0, 150.0, 600.0, 3000.0]), min_size=STEPS, max_size=STEPS),
       mode=st.sampled_from(["cloudsim", "realistic"]),
       deferrable=st.sampled_from([0.0, 0.5]),
       budget=st.integers(min_value=1, max_value=2),
       follow=st.booleans())
def test_no_host_switches_off_more_than_its_budget_in_any_window(util, supply_w, mode, deferrable, budget, follow):
    names = tuple(f"vm-{i}" for i in range(VMS))
    trace = Trace(names, util, STEP_S, "hypothesis")
    dc = planetlab(names, hosts=HOSTS)
    times = START_S + STEP_S * np.arange(STEPS + 24)
    series = Series.build(times, supply_w + supply_w[-1:] * 24, Unit.WATTS, origin="hypothesis")
    feed = SignalFeed(series, START_S, PolicyConfig(min_dwell_s=0.0, dead_band=0.0, horizon_s=STEP_S))
    policy = GeyserPolicy(signal=feed if follow else None, budget=CycleBudget(budget, WINDOW_S))
    setup = DeferralSetup.seeded(VMS, deferrable, max_deferral_s=1800.0, seed=1)
    engine = Engine(trace, dc, policy, fidelity(mode), feed.available_w, None, setup)
    result = engine.run()
    for host, offs in zip(dc.host_names, engine.meter.host_off_times_s):
        assert worst_in_window(offs, WINDOW_S) <= budget, f"{host} switched off at {offs} (budget {budget})"
    meter = engine.meter
    assert result.host_power_cycles_max == power_cycles_per_day(meter.host_off_times_s, meter.host_ever_on,
                                                                STEPS * STEP_S)[0]


def test_deferred_work_never_comes_back_on_a_host_held_off():
    """Nova's part in the replay: a VM brought back goes to an off host only if the budget lets it switch on."""
    names = ("vm-0", "vm-1")
    trace = Trace(names, np.full((2, 4), 0.5), STEP_S, "test")
    dc = planetlab(names, hosts=3)
    state = SimState(dc, trace, fidelity("cloudsim"))
    state.place(0, 0)
    state.place(1, 0)
    book = DeferralBook(state, DeferralSetup(np.array([True, True])), 3 * STEP_S)
    free = dc.total_mips.astype(np.float64) - np.array([2 * dc.vm_mips[0], 0, 0])
    assert book.apply(DeferralAnswer([0, 1], []), STEP_S, free) == 2  # host-000 is empty now: off
    free = dc.total_mips.astype(np.float64)
    book.apply(DeferralAnswer([], [0], held_off=frozenset({0})), 2 * STEP_S, free)
    assert int(state.vm_host[0]) == 1  # not host-000, the first off host, which is held off
    book.apply(DeferralAnswer([], [1], held_off=frozenset({0, 2})), 2 * STEP_S, free - np.array([0, 1e9, 0]))
    assert book.shelved[1]  # no host may take it: it waits (and would be a named deadline miss)


def test_the_budget_is_a_policy_parameter_on_the_command_line():
    from watcher_geyser.simulator.baselines import make_policy

    assert make_policy("geyser:max_cycles=1").budget == CycleBudget(1)
    assert make_policy("geyser").budget == CycleBudget()
    with pytest.raises(ValueError, match="max_cycles"):
        make_policy("geyser:max_cycles=0")
