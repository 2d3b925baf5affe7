"""The power-cycle budget holds in the replay, whatever switches hosts off.

Property: over random traces (instances that rise, fall and finish), random supplies and
random shares of deferrable VMs, in both fidelities, geyser never makes a host switch off
more than its budget in any window, counted on the engine's own record (what
``host_power_cycles_max`` reports). The window is shortened to an hour so that a replay of
a few hours slides it several times.

The budget counts on a plan making at most one switch-off per host, after the host's last
migration, as Watcher's plan does (``planner.hostactions``): the replay keeps a host the plan
empties on while a later wave still sends it a VM (``Engine._switch_off_idle``). Before, a
staging host emptied and filled again within one plan was switched off at each visit: on
20110303 (realistic, 150 kW solar, 30 % deferrable, 24 h) one host made 4 switch-offs in 24 h.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tests.test_simulator_metrics import MoveOnce, tiny_dc
from watcher_geyser.defaults import MAX_POWER_CYCLES_PER_DAY
from watcher_geyser.pipeline import CycleBudget
from watcher_geyser.pipeline.cycles import DAY_S
from watcher_geyser.signal import PolicyConfig, Series, Unit
from watcher_geyser.simulator.datacenter import planetlab
from watcher_geyser.simulator.deferral import DeferralAnswer, DeferralBook, DeferralSetup
from watcher_geyser.simulator.engine import Engine
from watcher_geyser.simulator.fidelity import fidelity
from watcher_geyser.simulator.geyser_policy import GeyserPolicy, SignalFeed
from watcher_geyser.simulator.metrics import power_cycles_per_day
from watcher_geyser.simulator.state import Migration, SimState
from watcher_geyser.simulator.traces import Trace

STEP_S = 300.0
STEPS = 24  # two hours
WINDOW_S = 3600.0
VMS, HOSTS = 8, 6
START_S = 1_750_000_000.0

LEVELS = st.sampled_from([0.0, 0.05, 0.2, 0.5, 0.9, 1.0])
REAL_VMS, REAL_HOSTS, REAL_STEPS = 10, 8, 36  # three hours


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


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(util=arrays(np.float64, (REAL_VMS, REAL_STEPS), elements=LEVELS),
       supply_w=st.lists(st.sampled_from([0.0, 150.0, 600.0, 3000.0]), min_size=REAL_STEPS, max_size=REAL_STEPS),
       deferrable=st.sampled_from([0.3, 0.6]),
       deadline_s=st.sampled_from([1800.0, 7200.0]))
def test_realistic_replays_with_deferral_keep_the_days_budget_on_the_engines_record(util, supply_w, deferrable,
                                                                                    deadline_s):
    """Realistic fidelity, plans run to their end at Watcher's parallelism (2 at a time, 1 per host),
    deferrable VMs and a supply that moves: no host switches off more than
    ``MAX_POWER_CYCLES_PER_DAY`` times in any 24 h window (the replay is shorter than a day, so
    that is the whole run). Few VMs on many small hosts: plans that empty a host and fill it
    again (one VM out and another in, 1 per host: two waves) are common, and each such host was
    switched off and booted in between before ``Engine._switch_off_idle`` kept it on."""
    names = tuple(f"vm-{i}" for i in range(REAL_VMS))
    trace = Trace(names, util, STEP_S, "hypothesis")
    dc = planetlab(names, hosts=REAL_HOSTS)
    times = START_S + STEP_S * np.arange(REAL_STEPS + 48)
    series = Series.build(times, supply_w + supply_w[-1:] * 48, Unit.WATTS, origin="hypothesis")
    feed = SignalFeed(series, START_S, PolicyConfig(min_dwell_s=0.0, dead_band=0.0, horizon_s=STEP_S))
    policy = GeyserPolicy(signal=feed)
    setup = DeferralSetup.seeded(REAL_VMS, deferrable, max_deferral_s=deadline_s, seed=2)
    engine = Engine(trace, dc, policy, fidelity("realistic"), feed.available_w, None, setup)
    engine.run()
    for host, offs in zip(dc.host_names, engine.meter.host_off_times_s):
        assert worst_in_window(offs, DAY_S) <= MAX_POWER_CYCLES_PER_DAY, f"{host} switched off at {offs}"


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


@dataclass
class OnePlan(MoveOnce):
    """Starts one user's placement (``hosts[v]``: VM v's host) and answers ``plan`` (waves) at the first decision."""

    hosts: tuple[int, ...] = ()
    plan: list[list[Migration]] = field(default_factory=list)

    def initial_placement(self, state) -> None:
        for v, h in enumerate(self.hosts):
            state.place(v, h)

    def decide(self, view):
        return [list(w) for w in self.plan] if view.step == 1 else []


def _one_plan_replay(plan, hosts, ram_mb=(625.0, 625.0, 625.0), plans="run-to-end", samples=6):
    vms = len(hosts)
    dc = replace(tiny_dc(hosts=3, vms=vms, host_ram_mb=80_000.0), vm_ram_mb=np.array(ram_mb[:vms]))
    util = np.full((vms, samples), 0.3)
    engine = Engine(Trace(dc.vm_names, util, STEP_S, "hand"), dc, OnePlan(hosts=hosts, plan=plan),
                    fidelity("realistic", plans))
    return engine, engine.run()


def test_a_staging_host_the_plan_empties_and_fills_again_is_switched_off_once_after_its_last_visit():
    """The sequence found on 20110303: v1 leaves h1 (wave 1), v0 is staged on h1 (wave 2) and leaves
    it (wave 3). Watcher's plan powers h1 off after wave 3; the replay switched it off after wave 1,
    booted it (120 s at full power) for wave 2 and switched it off again after wave 3: two
    switch-offs and a boot in one plan."""
    plan = [[Migration(1, 2)], [Migration(0, 1)], [Migration(0, 2)]]
    engine, result = _one_plan_replay(plan, hosts=(0, 1, 2))
    offs = engine.meter.host_off_times_s
    wave_s = 10.0  # 625 MB at 62.5 MB/s
    assert offs[1] == [STEP_S + 3 * wave_s]  # once, when v0 has left it again
    assert offs[0] == [STEP_S + 2 * wave_s] and offs[2] == []
    assert result.host_power_ons == 0  # h1 stayed on: no boot
    assert engine.state.vm_host.tolist() == [2, 2, 2]


def test_a_host_kept_on_for_a_wave_that_is_dropped_is_switched_off_by_the_decision_that_drops_it():
    """With ``--plans drop`` the wave h1 waited for never starts: h1 goes off at the next decision
    (600 s), not at once (310 s) and not never. v0's 20,000 MB take 320 s, so wave 2 (310-630 s)
    is still running at 600 s and wave 3 is dropped then."""
    plan = [[Migration(1, 2)], [Migration(0, 2)], [Migration(0, 1)]]
    engine, result = _one_plan_replay(plan, hosts=(0, 1, 2), ram_mb=(20_000.0, 625.0, 625.0), plans="drop")
    assert result.migrations_dropped == 1
    assert engine.meter.host_off_times_s[1] == [2 * STEP_S]
    assert engine.meter.host_off_times_s[0] == [STEP_S + 10.0 + 320.0]  # v0 left it: nothing more comes


@settings(max_examples=60, deadline=None)
@given(data=st.data(), plans=st.sampled_from(["run-to-end", "drop"]))
def test_a_plan_switches_each_host_off_at_most_once_and_never_on_after(data, plans):
    """Any plan of waves (random VMs to random hosts, Watcher's 1 per host aside): while it runs no
    host is switched off twice, and none is booted after its switch-off (off -> on -> off within
    one plan), which is what lets the budget count a plan's switch-offs one per host."""
    hosts = tuple(data.draw(st.lists(st.integers(0, 2), min_size=3, max_size=3), label="placement"))
    move = st.builds(Migration, st.integers(0, 2), st.integers(0, 2))
    plan = data.draw(st.lists(st.lists(move, min_size=1, max_size=2, unique_by=lambda m: m.vm), min_size=1,
                              max_size=6), label="waves")
    engine, result = _one_plan_replay(plan, hosts, samples=12)
    for host, offs in enumerate(engine.meter.host_off_times_s):
        assert len(offs) <= 1, f"h{host} switched off at {offs} within one plan"
    assert result.host_power_ons <= sum(1 for h in range(3) if h not in hosts)  # only hosts off from the start
