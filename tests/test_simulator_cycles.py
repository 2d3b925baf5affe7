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

The replay also runs the plan's own power-offs (``decision.power_offs``): a host emptied by
shelving goes off in the plan's wave that powers it off, not only when it is a migration's
source, which the property tests above exercise too (geyser's plans, deferrable VMs).
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


def _supplied_fleet(util: np.ndarray, supply_w: list[float], hosts: int, tail_steps: int):
    """The trace of ``util`` (one row a VM), a PlanetLab data centre of ``hosts`` and a feed of
    ``supply_w`` a step, its last value held ``tail_steps`` more so forecasts past the end read it."""
    names = tuple(f"vm-{i}" for i in range(util.shape[0]))
    trace = Trace(names, util, STEP_S, "hypothesis")
    dc = planetlab(names, hosts=hosts)
    times = START_S + STEP_S * np.arange(util.shape[1] + tail_steps)
    series = Series.build(times, supply_w + supply_w[-1:] * tail_steps, Unit.WATTS, origin="hypothesis")
    feed = SignalFeed(series, START_S, PolicyConfig(min_dwell_s=0.0, dead_band=0.0, horizon_s=STEP_S))
    return trace, dc, feed


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
    trace, dc, feed = _supplied_fleet(util, supply_w, HOSTS, tail_steps=24)
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
    trace, dc, feed = _supplied_fleet(util, supply_w, REAL_HOSTS, tail_steps=48)
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


@dataclass
class ShelveThenPlan(OnePlan):
    """Shelves VM 1 (alone on h1) at the first decision, so h1 is empty but powered, and answers
    ``plan`` with ``power_offs`` as the geyser policy reads them from its plan (entry i once i
    waves have ended); brings VM 1 back at the fourth decision (the book's Nova places it)."""

    offs: list[set[int]] = field(default_factory=list)
    power_offs: list[set[int]] = field(default_factory=list)  # the last plan's, as the engine reads them

    def decide(self, view):
        self.power_offs = self.offs if view.step == 1 else [set()]
        return super().decide(view)

    def defer(self, view, book):
        step = view.step
        return DeferralAnswer([1] if step == 1 else [], [1] if step == 4 else [])


def _shelve_replay(plan, power_offs, plans="run-to-end", switches_off=True):
    dc = replace(tiny_dc(hosts=3, vms=3, host_ram_mb=80_000.0), vm_ram_mb=np.full(3, 625.0))
    policy = ShelveThenPlan(hosts=(0, 1, 2), plan=plan, offs=power_offs, switches_off_empty_hosts=switches_off)
    setup = DeferralSetup(np.array([False, True, False]), 24 * 3600.0)
    engine = Engine(Trace(dc.vm_names, np.full((3, 8), 0.3), STEP_S, "hand"), dc, policy,
                    fidelity("realistic", plans), deferral=setup)
    return engine, engine.run()


def test_a_host_emptied_by_shelving_goes_off_when_the_plan_powers_it_off_not_when_a_migration_leaves_it():
    """h1 is emptied by shelving, not by a migration: before, the replay left it on (idle, 100 W)
    until the VM came back; Watcher's plan powers it off in its wave (``planner.hostactions``)."""
    wave_s = 10.0  # 625 MB at 62.5 MB/s
    plan = [[Migration(0, 2)], [Migration(2, 0)]]
    engine, result = _shelve_replay(plan, [set(), set(), {1}])  # after the last wave
    assert engine.meter.host_off_times_s[1] == [STEP_S + 2 * wave_s]
    engine, _ = _shelve_replay(plan, [set(), {1}, set()])  # with the second wave
    assert engine.meter.host_off_times_s[1] == [STEP_S + wave_s]
    engine, plain = _shelve_replay([], [{1}])  # a plan of host actions only: at the decision
    assert engine.meter.host_off_times_s[1] == [STEP_S]
    # off, h1 draws nothing until VM 1 comes back at the fourth decision (booting it): 3 intervals
    # at 100 W idle less than a plan that leaves it on
    _, left_on = _shelve_replay([], [set()])
    assert (left_on.energy_kwh - plain.energy_kwh) * 3.6e6 == pytest.approx(3 * STEP_S * 100.0)
    assert plain.host_power_ons == 1 and left_on.host_power_ons == 0


def test_a_plan_that_may_not_power_off_leaves_the_emptied_host_on():
    """The decision forbids power-off (``allow_power_off`` false: ``switches_off_empty_hosts``)."""
    engine, _ = _shelve_replay([], [{1}], switches_off=False)
    assert engine.meter.host_off_times_s[1] == []


def test_a_dropped_waves_power_offs_are_dropped_with_it():
    """``--plans drop``: a power-off due after a wave the next decision drops never runs (the next
    plan has its own). v0's 20,000 MB take 320 s, so wave 2 is still pending at 600 s."""
    dc_plan = [[Migration(0, 2)], [Migration(2, 0)]]
    engine, result = _shelve_replay(dc_plan, [set(), set(), {1}], plans="drop")
    assert engine.meter.host_off_times_s[1] == [STEP_S + 2 * 10.0]  # the plan ended in its interval
    dc = replace(tiny_dc(hosts=3, vms=3, host_ram_mb=80_000.0), vm_ram_mb=np.array([20_000.0, 625.0, 625.0]))
    policy = ShelveThenPlan(hosts=(0, 1, 2), plan=[[Migration(0, 2)], [Migration(2, 0)]], offs=[set(), set(), {1}])
    engine = Engine(Trace(dc.vm_names, np.full((3, 8), 0.3), STEP_S, "hand"), dc, policy,
                    fidelity("realistic", "drop"), deferral=DeferralSetup(np.array([False, True, False]), 86400.0))
    result = engine.run()
    assert result.migrations_dropped == 1 and engine.meter.host_off_times_s[1] == []


def test_cloudsim_replays_ignore_the_plans_power_offs():
    """An empty host draws nothing in ``cloudsim`` already; its replay stays CloudSim's."""
    dc = replace(tiny_dc(hosts=3, vms=3, host_ram_mb=80_000.0), vm_ram_mb=np.full(3, 625.0))
    runs = []
    for offs in ([set()], [{1}]):
        policy = ShelveThenPlan(hosts=(0, 1, 2), plan=[], offs=offs)
        engine = Engine(Trace(dc.vm_names, np.full((3, 8), 0.3), STEP_S, "hand"), dc, policy,
                        fidelity("cloudsim"), deferral=DeferralSetup(np.array([False, True, False]), 86400.0))
        runs.append((engine.run(), engine.meter.host_off_times_s))
    assert runs[0][0].series.as_dict() | {"step_s": []} == runs[1][0].series.as_dict() | {"step_s": []}
    assert runs[0][1] == runs[1][1]


def test_geysers_realistic_replay_switches_off_the_hosts_its_plan_finds_empty():
    """The geyser policy's own plans: dark for the first hour, then enough supply, 4 of 6 VMs
    deferrable. Shelving empties hosts the plan does not migrate from; a host a decision's plan
    finds empty (after the decision's shelving) and may power off is off by the next decision,
    unless it runs or receives a VM again or the power-cycle budget holds it on. Before the replay
    ran the plan's power-offs, the shelved VMs' hosts stayed on and idle until their VMs came back
    (4 of them at each decision of the dark hour)."""
    from watcher_geyser.signal.series import parse_time

    vms = 6
    names = tuple(f"vm-{i}" for i in range(vms))
    util = np.random.default_rng(3).uniform(0.05, 0.6, size=(vms, 14))
    trace = Trace(names, util, STEP_S, "random")
    dc = planetlab(names, hosts=vms)
    start_s = parse_time("2026-06-21T00:00:00Z")
    supply_w = [0.0] * 5 + [5000.0] * 10
    times = start_s + np.arange(len(supply_w)) * 3 * STEP_S - STEP_S
    feed = SignalFeed(Series.build(times, supply_w, Unit.WATTS, np.full(len(supply_w), 3 * STEP_S), origin="t"),
                      start_s)
    policy = GeyserPolicy(signal=feed)
    policy.settings = policy.settings.with_solve(deterministic=True)
    found: list[set[int]] = [set()]  # the hosts the last plan found empty, if it could power them off
    left_on: list[tuple[int, set[int]]] = []
    defer, decide = policy.defer, policy.decide

    def empty_on(state) -> set[int]:
        incoming = {m.dst for m in state.inflight}
        return {h for h in range(dc.hosts) if state.powered[h] and not state.host_vms[h] and h not in incoming}

    def deferring(view, book, plan_s=0.0):  # a decision's first call, before it shelves anything
        if plan_s == 0:
            still = found[0] & empty_on(view.state) - _held_on(policy, view)
            if still:
                left_on.append((view.step, still))
        return defer(view, book, plan_s)

    def deciding(view):
        waves = decide(view)
        found[0] = empty_on(view.state) if policy.switches_off_empty_hosts else set()
        return waves

    policy.defer, policy.decide = deferring, deciding
    setup = DeferralSetup(np.array([True, True, True, True, False, False]), 3 * 3600.0)
    engine = Engine(trace, dc, policy, fidelity("realistic"), feed.available_w, None, setup)
    result = engine.run()
    assert result.deferred_vm_hours > 0  # hosts were emptied by shelving
    assert left_on == []


def _held_on(policy: GeyserPolicy, view) -> set[int]:
    hosts = {name: h for h, name in enumerate(view.state.dc.host_names)}
    return {hosts[name] for name in policy.hold(view).held_on}
