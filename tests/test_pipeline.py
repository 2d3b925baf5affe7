"""The one request path: settings, the decision mapping, power-off gating, the cycle budget."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import fleet, host, vm
from watcher_geyser import defaults
from watcher_geyser.pipeline import DEFAULTS, CycleBudget, Settings, anchor, apply_decision, problem, run
from watcher_geyser.pipeline.request import without_off_hosts
from watcher_geyser.signal import Decision, Fallback
from watcher_geyser.solver.relief import unrelieved_message


def decision(ceiling: float, budget_w: float | None = None, power_off: bool = True, fallback=None,
             level: float = 1.0) -> Decision:
    return Decision(at_s=0.0, budget_w=budget_w, ceiling=ceiling, level=level, consolidate=True,
                    allow_power_off=power_off, value=None, value_now=None, unit=None, source="test",
                    fallback=fallback, held=False, reason="test")


def test_defaults_are_written_once():
    assert DEFAULTS.solve.time_limit_s == defaults.TIME_LIMIT_S
    assert DEFAULTS.limits.cpu_ceiling == defaults.CPU_CEILING
    assert (DEFAULTS.plan.parallelism, DEFAULTS.plan.per_host_parallelism) == (2, 1)
    assert DEFAULTS.limits.relief_ceiling == pytest.approx(1.0)


def test_the_signal_moves_the_cpu_ceiling_not_allocation():
    s = apply_decision(Settings().with_limits(ceiling=0.9), decision(0.7, budget_w=500))
    assert (s.limits.cpu_ceiling, s.limits.ceiling, s.limits.supply_w) == (0.7, 0.9, 500)
    assert s.limits.relief_ceiling == pytest.approx(min(1.0, 0.7 + defaults.RELIEF_MARGIN))


def test_without_a_cpu_measure_scarcity_moves_allocation_up_to_the_operators_ceiling():
    base = Settings().with_limits(cpu_ceiling=None, ceiling=0.9)
    assert apply_decision(base, decision(0.5, level=0.0)).limits.ceiling == pytest.approx(0.5)
    assert apply_decision(base, decision(0.65, level=0.5)).limits.ceiling == pytest.approx(0.7)
    assert apply_decision(base, decision(1.0, level=1.0)).limits.ceiling == pytest.approx(0.9)


@given(level=st.floats(0.0, 1.0), tight=st.floats(0.5, 1.0), op=st.floats(0.3, 1.0))
def test_without_a_cpu_measure_a_scarce_signal_never_packs_looser_than_blind(level, tight, op):
    """At full scarcity allocation is packed as a blind run packs it (the operator's ceiling), whatever
    the policy's tight CPU ceiling; a scarcer decision never asks for a looser allocation ceiling."""
    base = Settings().with_limits(cpu_ceiling=None, ceiling=op)
    at = apply_decision(base, decision(tight, level=level)).limits.ceiling
    assert at <= op + 1e-12
    assert apply_decision(base, decision(tight, level=1.0)).limits.ceiling == pytest.approx(op)
    assert apply_decision(base, decision(tight, level=min(1.0, level + 0.1))).limits.ceiling >= at - 1e-12


def test_the_signal_ceiling_is_kept_within_its_bounds():
    base = Settings().with_limits(signal_ceiling_min=0.6, signal_ceiling_max=0.9)
    assert apply_decision(base, decision(0.3)).limits.cpu_ceiling == 0.6
    assert apply_decision(base, decision(1.0)).limits.cpu_ceiling == 0.9


@pytest.mark.parametrize("fallback", [Fallback.LAST_GOOD, Fallback.SAFE_DEFAULT])
def test_a_fallback_decision_never_allows_power_off(fallback):
    s = apply_decision(Settings().with_plan(allow_power_off=True), decision(1.0, power_off=True, fallback=fallback))
    assert not s.plan.allow_power_off
    assert any("fell back" in n for n in s.notes)


def test_power_off_needs_the_caller_and_the_decision():
    on = Settings().with_plan(allow_power_off=True)
    assert apply_decision(on, decision(1.0, power_off=True)).plan.allow_power_off
    assert not apply_decision(on, decision(1.0, power_off=False)).plan.allow_power_off
    assert not apply_decision(Settings(), decision(1.0, power_off=True)).plan.allow_power_off


def test_problem_carries_every_limit():
    f = fleet([host("h0"), host("h1")], [vm("a", "h0"), vm("b", "h1")])
    s = apply_decision(Settings().with_limits(max_migrations=3), decision(0.8, budget_w=250))
    p = problem(f, s)
    assert (p.cpu_ceiling, p.power_budget_w, p.max_migrations) == (0.8, 250, 3)
    assert p.cpu_relief_ceiling == pytest.approx(min(1.0, 0.8 + defaults.RELIEF_MARGIN))
    assert p.time_limit_s == defaults.TIME_LIMIT_S


def test_run_packs_and_plans_power_off_only_when_allowed():
    f = fleet([host("h0"), host("h1")], [vm("a", "h0"), vm("b", "h1")])
    fast = Settings().with_solve(time_limit_s=2)
    off = run(f, fast.with_plan(allow_power_off=True))
    kept = run(f, fast)
    assert off.target.hosts_on == kept.target.hosts_on == 1
    assert off.plan.to_json()["actions"]["power_off"] == 1
    assert kept.plan.to_json()["actions"]["power_off"] == 0


def test_a_host_out_of_power_cycles_is_not_emptied_but_may_be_relieved():
    f = fleet([host("h0"), host("h1"), host("h2")],
              [vm("a", "h0"), vm("b", "h1"), vm("c", "h1", cpu_util=0.05), vm("d", "h2")])
    anchored = anchor(f, frozenset({"h1"}))
    pinned = [i.uuid for i in anchored.instances if i.locked]
    assert pinned == ["c"]  # the least busy one anchors the host; the others may still leave
    result = run(f, Settings().with_solve(time_limit_s=2).with_limits(keep_on=frozenset({"h1"})))
    assert result.target.fleet.occupied(result.target.placement)[1]



def _held_on_empty(budget: int = 2):
    """h0 and h1 busy, h2 empty and on, its two switch-offs of the day spent (switched on by hand since)."""
    f = fleet([host("h0"), host("h1"), host("h2")], [vm("a", "h0"), vm("b", "h1")])
    hold = CycleBudget(budget).hold(10 * 3600.0, [("h0", True), ("h1", True), ("h2", True)],
                                    {"h2": [3600.0 * (k + 1) for k in range(budget)]})
    return f, hold


def _host_actions(result, name: str) -> list[str]:
    return [a.kind.value for wave in result.plan.waves for a in wave if a.host == name and not a.kind.is_migration]


def test_an_empty_host_the_budget_holds_on_stays_on_and_enabled_and_the_plan_says_why():
    f, hold = _held_on_empty()
    assert set(hold.held_on) == {"h2"}
    fast = Settings().with_solve(time_limit_s=2).with_plan(allow_power_off=True)
    free = run(f, fast)  # no history: h2 goes off (disabled first), and so does the host emptied
    assert "power_off" in _host_actions(free, "h2")
    held = run(f, hold.apply(fast))
    assert _host_actions(held, "h2") == []  # neither disabled nor switched off: on, and room for what comes
    offs = [a.host for wave in held.plan.waves for a in wave if a.kind.value == "power_off"]
    assert len(offs) == 1 and offs[0] in {"h0", "h1"}  # the host consolidation empties still goes off
    assert "host h2 stays on: no switch-off left in 24 h (budget 2)" in held.messages
    # without power-off, an empty host is disabled as before, held or not, and nothing is noted
    kept = run(f, hold.apply(fast.with_plan(allow_power_off=False)))
    assert _host_actions(kept, "h2") == ["disable"]
    assert not [m for m in kept.messages if "stays on" in m]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(["empty", "one", "two"]), min_size=2, max_size=5), st.data())
def test_no_plan_switches_off_or_disables_a_host_held_on(loads, data):
    """Whatever the fleet, no host of ``keep_on`` gets a ``power_off`` or a ``disable`` when power-off is allowed."""
    hosts = [host(f"h{i}") for i in range(len(loads))]
    count = {"empty": 0, "one": 1, "two": 2}
    vms = [vm(f"v{i}{k}", f"h{i}") for i, load in enumerate(loads) for k in range(count[load])]
    keep_on = frozenset(data.draw(st.sets(st.sampled_from([h.name for h in hosts]))))
    result = run(fleet(hosts, vms), Settings().with_solve(time_limit_s=1, deterministic=True)
                 .with_plan(allow_power_off=True).with_limits(keep_on=keep_on))
    actions = [a for wave in result.plan.waves for a in wave]
    assert not [a for a in actions if a.host in keep_on and a.kind.value in {"power_off", "disable"}]
    # and only those: every other host empty now that receives nothing still goes off
    received = {a.destination for a in actions if a.kind.is_migration}
    spare = {f"h{i}" for i, load in enumerate(loads) if load == "empty"} - keep_on - received
    assert spare <= {a.host for a in actions if a.kind.value == "power_off"}

def test_a_host_out_of_power_cycles_that_is_off_is_never_switched_on():
    f = fleet([host("h0"), host("h1", state="off"), host("h2", state="off")],
              [vm(name, "h0", cpu_util=1.0, vcpus=6) for name in "abc"])  # 18 busy cores on 16
    result = run(f, Settings().with_solve(time_limit_s=2).with_limits(keep_off=frozenset({"h1"})))
    names = [h.name for h in result.target.fleet.hosts]
    assert "h1" not in names  # left out of the problem
    assert result.target.moved.any()  # relief still found room, on h2


def test_a_held_off_host_that_would_have_relieved_a_hot_one_is_named_in_its_reason():
    f = fleet([host("h0"), host("h1", state="off")], [vm(name, "h0", cpu_util=1.0, vcpus=6) for name in "abc"])
    result = run(f, Settings().with_solve(time_limit_s=2).with_limits(keep_off=frozenset({"h1"})))
    assert not result.target.moved.any()
    reason = result.target.unrelieved["h0"]
    assert "power cycles for the day spent: h1" in reason
    assert [m for m in result.messages if "h0" in m] == [unrelieved_message("h0", reason)]  # one note for h0


def test_a_cycle_is_a_switch_off_and_a_host_is_held_off_until_its_oldest_leaves_the_window():
    budget = CycleBudget(max_per_day=2)
    day = 86400.0
    hold = budget.hold(10 * 3600.0, [("a", False), ("b", True), ("c", False), ("d", False)],
                       {"a": [3600.0, 7200.0], "b": [3600.0, 7200.0], "c": [7200.0], "d": [-day, 3600.0]})
    assert dict(hold.held_off) == {"a": pytest.approx(day - 9 * 3600.0)}  # free when 01:00's switch-off is 24 h old
    assert set(hold.held_on) == {"b"}  # on with none left: someone switched it on outside the rule
    assert budget.free_in_s([3600.0, 7200.0], 3600.0 + day) == 0.0  # (t - 24 h, t]: the window is open at its start
    settings = hold.apply(Settings())
    assert settings.limits.keep_off == {"a"} and settings.limits.keep_on == {"b"}
    assert any("held off, not switched on: a (15.0 h more)" in n for n in settings.notes)
    with pytest.raises(ValueError, match="max_per_day"):
        CycleBudget(max_per_day=0)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.floats(min_value=1.0, max_value=7200.0),
                          st.lists(st.booleans(), min_size=4, max_size=4)), min_size=1, max_size=150),
       st.integers(min_value=1, max_value=3))
def test_switching_on_only_hosts_with_a_switch_off_left_keeps_any_switch_off_within_budget(steps, budget):
    """Property: whatever switches hosts off (at random times, for any reason), a driver that
    switches on only the hosts the budget does not hold off makes at most ``budget``
    switch-offs per host in any 24 h window."""
    cycles = CycleBudget(max_per_day=budget)
    names = [f"h{i}" for i in range(4)]
    on = dict.fromkeys(names, True)
    offs: dict[str, list[float]] = {n: [] for n in names}
    now_s = 0.0
    for gap_s, wanted in steps:
        now_s += gap_s
        hold = cycles.hold(now_s, on.items(), offs)
        for name, want in zip(names, wanted):
            if want and not on[name] and name in hold.held_off:
                want = False  # the solver, relief and the scheduler leave it off
            if on[name] and not want:
                offs[name].append(now_s)  # a switch-off, whatever its reason: never refused
            on[name] = want
    for times in offs.values():
        t = np.array(times)
        for end in t:
            assert ((t > end - 86400) & (t <= end)).sum() <= budget


LIMIT_FIELDS = ("ceiling", "cpu_ceiling", "cpu_relief_ceiling", "cpu_host_ceilings", "power_budget_w",
                "max_migrations", "max_consolidation_moves", "allow_power_on", "relieve", "watts_tolerance",
                "swap_payback_s")


@pytest.mark.parametrize("d", [decision(1.0, budget_w=300), decision(0.7, budget_w=5000, power_off=False),
                               decision(0.95, fallback=Fallback.SAFE_DEFAULT),
                               replace(decision(0.95, budget_w=100), host_margin_k=defaults.HOST_MARGIN_K)])
def test_plugin_and_simulator_ask_the_solver_the_same_from_the_same_fleet_and_decision(d):
    from watcher_geyser.simulator.geyser_policy import SIM_SETTINGS
    from watcher_geyser.strategies.params import AuditParams

    f = fleet([host("h0"), host("h1"), host("h2", state="off")], [vm("a", "h0"), vm("b", "h1")])
    plugin = apply_decision(AuditParams(power_off=True).settings(2, 2, 1), d)
    simulator = apply_decision(SIM_SETTINGS, d)
    p, q = problem(f, plugin), problem(f, simulator)
    assert [getattr(p, n) for n in LIMIT_FIELDS] == [getattr(q, n) for n in LIMIT_FIELDS]
    assert plugin.plan.allow_power_off == simulator.plan.allow_power_off == (d.allow_power_off and d.fallback is None)


def test_the_decisions_relief_margin_moves_the_relief_ceiling_and_none_keeps_the_callers():
    assert apply_decision(Settings(), replace(decision(0.6), relief_margin=0.1)).limits.relief_ceiling == \
        pytest.approx(0.7)
    assert apply_decision(Settings().with_limits(relief_margin=0.3), decision(0.6)).limits.relief_margin == 0.3


def settings_at(supply_w: float, need_w: float = 2000.0) -> Settings:
    """The default settings with a default policy's decision for a constant supply."""
    from watcher_geyser.signal import PolicyConfig, Series, SignalPolicy, Unit

    series = Series.build(np.array([0.0, 86400.0]), np.array([supply_w, supply_w]), Unit.WATTS)
    d = SignalPolicy(PolicyConfig(horizon_s=0)).decide(series, 600.0, 10_000.0, "test", need_w=need_w)
    return apply_decision(DEFAULTS.with_plan(allow_power_off=True), d)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.0, 20_000.0), st.floats(0.0, 20_000.0), st.floats(100.0, 10_000.0))
def test_a_scarcer_supply_never_gives_a_looser_ceiling_or_a_later_relief(a_w, b_w, need_w):
    scarcer, richer = settings_at(min(a_w, b_w), need_w), settings_at(max(a_w, b_w), need_w)
    assert scarcer.limits.cpu_ceiling >= richer.limits.cpu_ceiling
    assert scarcer.limits.relief_ceiling >= richer.limits.relief_ceiling
    assert scarcer.limits.relief_ceiling >= scarcer.limits.cpu_ceiling


    scarce, plenty = settings_at(500.0), settings_at(5000.0)
    assert scarce.limits.cpu_ceiling > DEFAULTS.limits.cpu_ceiling > plenty.limits.cpu_ceiling
    assert scarce.plan.allow_power_off and not plenty.plan.allow_power_off
    assert (scarce.limits.supply_w, plenty.limits.supply_w) == (500.0, 5000.0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([(8, 80, 160), (16, 100, 250), (32, 150, 400)]),
                          st.sampled_from(["az1", "az2"]), st.booleans(), st.booleans()), min_size=1, max_size=12))
def test_a_fleet_without_held_off_hosts_has_the_arrays_of_a_fresh_build(specs):
    # hosts of three generations (cores, idle W, max W) in two zones, some off and held off:
    # the arrays the smaller fleet takes from the whole one are those a fresh build computes
    hosts = [host(f"h{i}", vcpus=c, idle_w=idle, max_w=peak, zone=z, state="off" if off else "enabled")
             for i, ((c, idle, peak), z, off, _) in enumerate(specs)]
    instances = [vm(f"v{i}", h.name, vcpus=1) for i, h in enumerate(hosts) if h.powered]
    whole = fleet(hosts, instances)
    held = frozenset(h.name for h, (_, _, _, held) in zip(hosts, specs) if held)
    kept = without_off_hosts(whole, held)
    fresh = fleet(list(kept.hosts), list(kept.instances))
    for name in ("capacity", "physical_cores", "idle_w", "max_w", "dynamic_slope_w_per_core", "host_zone"):
        np.testing.assert_array_equal(getattr(kept, name), getattr(fresh, name), err_msg=name)
    assert {m: list(at) for m, at in kept.power_groups} == {m: list(at) for m, at in fresh.power_groups}
    placement = np.arange(len(kept.instances)) % len(kept.hosts) if kept.instances else kept.placement
    assert kept.watts(placement) == fresh.watts(placement)


def test_a_fleet_whose_every_host_is_off_and_held_off_is_answered_empty():
    f = fleet([host("h0", state="off"), host("h1", state="off")], [])
    result = run(f, Settings().with_solve(time_limit_s=1).with_limits(keep_off=frozenset({"h0", "h1"})))
    assert result.target.fleet.hosts == ()  # both left out: nothing could switch them on
    assert result.plan.to_json()["actions"] == dict.fromkeys(result.plan.to_json()["actions"], 0)
    assert any("holds no host" in m for m in result.messages)
