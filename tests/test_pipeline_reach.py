"""A target the plan cannot reach is never reported as a saving (``pipeline/reach.py``).

Where the planner leaves moves undone (no safe order), ``pipeline.run`` re-solves with those
instances pinned and keeps the better placement *reached*; every "after" figure is that
placement's, checked here against the replay oracle (``planner.replay``), written apart.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import fleet, host, swap_pair_fleet, vm
from watcher_geyser.commands.plan_report import why_no_actions
from watcher_geyser.fleet import Fleet
from watcher_geyser.pipeline import DEFAULTS, Result, problem, run
from watcher_geyser.pipeline.reach import as_operators, reached_target
from watcher_geyser.planner import Plan, UndoneMove, UndoneReason, problem_limits, replay
from watcher_geyser.solver import Problem, solve
from watcher_geyser.summary import target_summary


def _replayed_watts(fleet: Fleet, result: Result) -> float:
    """The watts of the placement reached by running the plan's waves in order, judged by the oracle."""
    target = result.target
    outcome = replay(target.fleet, result.plan, problem_limits(target.problem),
                     result.plan.parallelism, result.plan.per_host_parallelism)
    assert outcome.violations == [], [str(v) for v in outcome.violations]
    placement = np.array([fleet.host_index(outcome.placement[i.uuid]) for i in fleet.instances], dtype=np.int64)
    return fleet.watts(placement)


def test_the_swap_pair_reports_the_watts_its_plan_reaches_and_says_why():
    """``--method auto`` finds a 3-move target (232 W) whose moves all deadlock; the answer reported is
    one the plan reaches (the current 261 W, nothing moved), with a note naming the moves and why."""
    fleet = swap_pair_fleet()
    result = run(fleet, DEFAULTS.with_solve(method="auto", deterministic=True, time_limit_s=5))
    summary = target_summary(result.target)
    assert summary["watts_after"] == round(_replayed_watts(fleet, result), 1)
    if result.plan.migrations:  # a useful plan: it reaches a saving
        assert summary["watts_after"] < summary["watts_before"]
    else:
        assert summary["watts_after"] == summary["watts_before"] == 260.6
        assert summary["migrations"] == 0 and summary["placement"] == {
            i.uuid: i.host for i in fleet.instances}
        note = next(m for m in result.messages if "cannot be reached in a safe order" in m)
        assert "pinned where they are" in note and "no staging host" in note


def test_a_reachable_target_is_kept_as_the_solver_gave_it():
    """The same pair under ``decompose`` swaps heavy and light in a safe order: nothing undone, nothing re-solved."""
    fleet = swap_pair_fleet()
    result = run(fleet, DEFAULTS.with_solve(method="decompose", deterministic=True, time_limit_s=3))
    assert result.plan.left_undone == [] and result.plan.migrations == 2
    assert not any("safe order" in m for m in result.messages)
    assert target_summary(result.target)["watts_after"] == round(_replayed_watts(fleet, result), 1)


def priced_fleet(seed: int, n_hosts: int, n_instances: int) -> Fleet:
    """Hosts of 16 GB whose cores cost 1, 2 or 3 times as much, filled with instances of 2 to 10 GB at random:
    the solver's targets swap instances between dear and cheap hosts, and about one in five of its
    ``auto`` answers on 2-3 hosts holds a cycle the planner cannot break (no host has room to stage)."""
    rng = np.random.default_rng(seed)
    hosts = [host(f"h{h}", idle_w=100, max_w=float(rng.choice([200, 300, 400]))) for h in range(n_hosts)]
    free = {h.name: h.memory_mb for h in hosts}
    instances = []
    for i in range(n_instances):
        memory = int(rng.choice([2048, 4096, 6144, 8192, 10240]))
        room = [name for name, left in free.items() if left >= memory]
        if room:
            at = room[int(rng.integers(0, len(room)))]
            free[at] -= memory
            instances.append(vm(f"v{i}", at, vcpus=int(rng.choice([1, 2, 4])), memory_mb=memory,
                                cpu_util=float(rng.uniform(0.05, 1.0))))
    return fleet(hosts, instances)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n_hosts=st.integers(2, 3), n_instances=st.integers(4, 14),
       power_off=st.booleans())
def test_reported_after_watts_are_those_the_plan_reaches(seed, n_hosts, n_instances, power_off):
    """On random small fleets whose targets swap and cycle: the "after" watts (``geyser plan``'s table and
    ``--json``) equal the watts of the placement the plan's waves reach, and no wave overloads a host."""
    priced = priced_fleet(seed, n_hosts, n_instances)
    settings_ = DEFAULTS.with_solve(method="auto", deterministic=True, time_limit_s=0.5).with_plan(
        allow_power_off=power_off)
    result = run(priced, settings_)
    assert target_summary(result.target)["watts_after"] == round(_replayed_watts(result.target.fleet, result), 1)
    # the problem reported is the operator's: no instance a re-solve pinned is reported locked
    assert result.target.fleet.movable.tolist() == problem(priced, settings_).fleet.movable.tolist()
    # the bound reported holds for the operator's problem: at most the answer, and at most an unpinned answer
    assert result.target.bounds.watts_w <= result.target.watts_w + 1e-6
    if result.unreached is not None:
        assert result.target.bounds.watts_w <= solve(problem(priced, settings_), method="auto").watts_w + 1e-6


def test_the_swap_pair_reports_the_bound_of_the_operators_problem_and_why_nothing_moves():
    """The re-solve pins the swap where it is; its problem's bound (the current 261 W) is no bound for the
    operator's, whose unpinned answer reaches 232 W on paper: the bound reported is the first solve's, at
    most both, and the closing line says a better target exists but cannot be reached, not "no better one"."""
    fleet = swap_pair_fleet()
    settings_ = DEFAULTS.with_solve(method="auto", deterministic=True, time_limit_s=5)
    unpinned = solve(problem(fleet, settings_), method="auto")
    result = run(fleet, settings_)
    assert result.unreached is not None and "cannot be reached in a safe order" in result.unreached
    assert result.target.bounds.watts_w <= unpinned.watts_w + 1e-6 < result.target.watts_w
    assert result.target.bounds.watts_w <= result.target.watts_w
    if not result.plan.actions:
        why = why_no_actions(fleet, result)
        assert "cannot be reached in a safe order" in why and "found no better one" not in why


def test_after_a_re_solve_the_swap_pair_is_told_in_the_operators_terms():
    """The re-solve's answer is optimal for its pinned problem (every move of the swap held), not for the
    operator's, whose answer saves 29 W more: reported FEASIBLE with what was proven, not OPTIMAL beside a
    positive gap; its problem and fleet are the operator's, none of the swap's instances locked."""
    fleet = swap_pair_fleet()
    settings_ = DEFAULTS.with_solve(method="auto", deterministic=True, time_limit_s=5)
    result = run(fleet, settings_)
    target, summary = result.target, target_summary(result.target)
    assert result.unreached is not None and target.gap > 0
    assert (summary["solver_status"], summary["cpsat_status"]) == ("FEASIBLE", "FEASIBLE")
    assert any(m.startswith("status FEASIBLE, not OPTIMAL: the re-solve's answer is optimal only for the placements "
                            "reachable") for m in result.messages)
    assert target.fleet.movable.all() and not any(i.locked for i in target.fleet.instances)
    assert target.problem.fleet is target.fleet and len(target.fleet.instances) == len(fleet.instances)


def test_a_target_reached_short_of_is_no_longer_optimal():
    """The solver's OPTIMAL target, its moves all left undone: the placement reached (nothing moved) is
    worse by the solver's own objective, so FEASIBLE, the message naming the target as what was optimal."""
    fleet = swap_pair_fleet()
    target = solve(problem(fleet, DEFAULTS.with_solve(deterministic=True)), method="exact")
    assert target.status == "OPTIMAL" and target.migrations
    moves = [UndoneMove(i.uuid, i.name, i.host, target.fleet.hosts[target.placement[v]].name, UndoneReason.DEADLOCK,
                        "blocked in a cycle, no staging host has room")
             for v, i in enumerate(target.fleet.instances) if target.moved[v]]
    reached = as_operators(target, reached_target(target, Plan(waves=[], left_undone=moves)))
    assert reached.migrations == 0 and reached.status == "FEASIBLE" and reached.problem is target.problem
    assert any("the solver's target was optimal" in m for m in reached.messages)
    assert as_operators(target, target).status == "OPTIMAL"  # as good as the optimum: optimal still


def test_a_relief_move_left_undone_leaves_its_host_unrelieved_with_the_planners_reason():
    """'hot' is relieved by the target; if the plan leaves its moves off undone, the placement reached
    keeps it hot: it is named unrelieved with each move and why, and no longer relieved."""
    instances = [vm(f"v{i}", "hot", vcpus=4, memory_mb=2048, cpu_util=1.0) for i in range(6)]
    target = solve(Problem(fleet([host("hot"), host("cool")], instances), ceiling=1.0, cpu_ceiling=1.0,
                           time_limit_s=2), method="greedy")
    assert "hot" in target.relieved and target.migrations
    moves = [UndoneMove(i.uuid, i.name, "hot", target.fleet.hosts[target.placement[v]].name, UndoneReason.DEADLOCK,
                        "blocked in a cycle, no staging host has room")
             for v, i in enumerate(target.fleet.instances) if target.moved[v]]
    reached = reached_target(target, Plan(waves=[], left_undone=moves))
    assert reached.migrations == 0 and reached.relieved == ()
    assert "left undone" in reached.unrelieved["hot"] and moves[0].instance_name in reached.unrelieved["hot"]
    assert any(m.startswith("host hot stays above its relief limit") for m in reached.messages)
    assert reached.bounds.watts_w <= reached.watts_w and reached.bounds.hosts <= reached.hosts_on
    assert reached.bounds.migration_cost_mb <= reached.memory_moved_mb
