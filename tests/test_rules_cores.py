"""The core-size rule (``solver/rules/cores.py``): a moved instance ends only on a host whose
cores are fast enough for the CPU it needs per core; an instance may stay where it is."""

import logging
import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import fleet, host, vm
from tests.planner_support import host as planner_host
from tests.planner_support import target_of
from tests.planner_support import vm as planner_vm
from tests.strategies import problems
from watcher_geyser.fleet import Fleet
from watcher_geyser.planner import plan
from watcher_geyser.scenario import ScenarioError, fleet_from_dict, fleet_to_dict
from watcher_geyser.solver import Problem, solve
from watcher_geyser.solver.anytime import polish
from watcher_geyser.solver.checks import check_core_size, check_placement
from watcher_geyser.solver.clock import Clock
from watcher_geyser.solver.eject import empty_by_ejection
from watcher_geyser.solver.greedy import solve_greedy
from watcher_geyser.solver.relief import relieve
from watcher_geyser.solver.rules.cores import core_tiers
from watcher_geyser.solver.swap import swap_for_flatter_curves
from watcher_geyser.solver.workspace import Workspace


def _two_hosts(cpu_util: float, vcpus: int) -> Fleet:
    """``src`` holds one instance; ``slow``, the only other host, holds one small locked instance
    and has room for it, but its cores give 1.0 each (``src``'s: no limit)."""
    return fleet(
        [host("src", vcpus=16, idle_w=150), host("slow", vcpus=16, idle_w=100, core_size=1.0)],
        [
            vm("x", "src", vcpus=vcpus, memory_mb=2048, cpu_util=cpu_util, cores=1),
            vm("y", "slow", vcpus=1, memory_mb=2048, cpu_util=0.1, locked=True),
        ],
    )


@pytest.mark.parametrize("method", ["greedy", "decompose", "exact", "auto"])
def test_a_busy_instance_is_not_moved_onto_slow_cores_and_a_small_one_is(method):
    busy = Problem(_two_hosts(cpu_util=0.9, vcpus=4), workers=1, deterministic=True)  # 3.6 per core
    small = Problem(_two_hosts(cpu_util=0.5, vcpus=2), workers=1, deterministic=True)  # 1.0 per core: fits
    assert solve(busy, method).placement.tolist() == [0, 1]  # src stays on: x has nowhere to go
    assert solve(small, method).placement.tolist() == [1, 1]  # src emptied onto slow


def test_relief_does_not_shed_onto_slow_cores_and_says_why():
    hot = fleet(
        [host("src", vcpus=4, idle_w=150), host("slow", vcpus=16, idle_w=100, core_size=1.0)],
        [vm(f"x{i}", "src", vcpus=2, cpu_util=0.9, cores=1) for i in range(3)]  # 5.4 cores on 4: hot
        + [vm("y", "slow", vcpus=1, cpu_util=0.1, locked=True)],
    )
    target = solve(Problem(hot, workers=1, deterministic=True))
    assert target.placement.tolist() == [0, 0, 0, 1]
    assert "cores too slow" in target.unrelieved["src"]


def test_the_checker_names_a_moved_instance_on_slow_cores_and_lets_one_stay():
    busy = _two_hosts(cpu_util=0.9, vcpus=4)
    problem = Problem(busy, workers=1)
    moved = np.array([1, 1])
    assert check_core_size(problem, moved) == [
        "instance x moves to host slow, whose cores give 1 each, below the 3.6 it needs per core"
    ]
    assert any("below the 3.6 it needs per core" in line for line in check_placement(problem, moved))
    # the same instance already on the slow host may stay there
    home = fleet([host("src", vcpus=16), host("slow", vcpus=16, core_size=1.0)],
                 [vm("x", "slow", vcpus=4, cpu_util=0.9, cores=1)])
    assert check_core_size(Problem(home, workers=1), np.array([1])) == []


def test_tiers_order_hosts_by_core_size_and_instances_by_the_least_that_covers_them():
    tiered = fleet(
        [host("a", core_size=2.0), host("b"), host("c", core_size=1.0), host("d", core_size=2.0)],
        [vm("v0", "a", vcpus=1, cpu_util=0.5), vm("v1", "a", vcpus=2, cpu_util=0.75, cores=1),
         vm("v2", "a", vcpus=4, cpu_util=1.0, cores=1), vm("v3", "a", vcpus=2, cpu_util=1.0, cores=2)],
    )
    host_tier, tier = core_tiers(tiered)
    assert host_tier.tolist() == [1, 2, 0, 1]
    assert tier.tolist() == [0, 1, 2, 0]  # 0.5, 1.5, 4.0 and 1.0 per core


def _violations(problem: Problem, placement: np.ndarray) -> list[str]:
    fleet_ = problem.fleet
    moved = placement != fleet_.placement
    slow = fleet_.cpu_per_core > fleet_.core_size[placement] * (1 + 1e-9) + 1e-9
    return [fleet_.instances[v].uuid for v in np.flatnonzero(moved & slow)]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])  # caplog cleared each time
@given(problems(max_hosts=8, max_instances=30, time_limit_s=0.5, core_sizes=True),
       st.sampled_from(["greedy", "decompose", "exact", "auto"]))
def test_no_back_end_moves_an_instance_onto_cores_too_slow_for_it(caplog, problem, method):
    """Whichever back-end answered, and no back-end's answer was discarded for breaking it (the
    portfolio checks every answer: a pass breaking the rule would be hidden by that)."""
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        target = solve(problem, method)
    assert _violations(problem, target.placement) == []
    discarded = [r.getMessage() for r in caplog.records if "discarded an invalid" in r.getMessage()]
    discarded += [m for m in target.messages if "discarded an invalid" in m]
    assert not [m for m in discarded if "needs per core" in m]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_hosts=10, max_instances=40, core_sizes=True))
def test_every_pass_keeps_the_rule(problem):
    """The greedy (fill, repair, emptying), ejection, polish and swaps, each on its own."""
    ws = Workspace(problem)
    greedy = solve_greedy(ws, math.inf).placement
    assert _violations(problem, greedy) == []
    for placement in (ws.placement0, greedy):
        assert _violations(problem, empty_by_ejection(ws, placement, math.inf)) == []
        assert _violations(problem, polish(ws, placement, Clock(1.0, deterministic=True))) == []
        assert _violations(problem, swap_for_flatter_curves(ws, placement, math.inf)) == []
    assert _violations(problem, relieve(problem).placement) == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_hosts=8, max_instances=30, time_limit_s=0.5))
def test_cores_fast_enough_for_everything_change_nothing(problem):
    """A fleet whose hosts' cores all cover every instance takes the decisions of one with no
    core sizes: the rule's masks are all true."""
    fast = Fleet.build([replace(h, core_size=1e6) for h in problem.fleet.hosts],
                       problem.fleet.instances, problem.fleet.server_groups, problem.fleet.default_cpu_util)
    deterministic = Problem(problem.fleet, workers=1, deterministic=True, time_limit_s=0.5)
    same = Problem(fast, workers=1, deterministic=True, time_limit_s=0.5)
    for method in ("greedy", "decompose"):
        assert solve(same, method).placement.tolist() == solve(deterministic, method).placement.tolist()


def _cycle(big2_util: float) -> list:
    """Two full hosts swapping 12 GB instances, the third host (the only staging room) slow-cored:
    ``big1`` needs 1.8 per core, ``big2`` ``2 * big2_util``; C's cores give 1.0 each."""
    return [
        planner_host("A"), planner_host("B"), planner_host("C", core_size=1.0),
    ], [
        planner_vm("big1", "A", vcpus=2, memory_mb=12288, cpu_util=0.9, cores=1),
        planner_vm("big2", "B", vcpus=2, memory_mb=12288, cpu_util=big2_util, cores=1),
    ]


def test_a_swap_cycle_is_staged_through_slow_cores_only_by_an_instance_they_fit():
    hosts, instances = _cycle(big2_util=0.1)
    target = target_of(Fleet.build(hosts, instances), {"big1": "B", "big2": "A"})
    result = plan(target)
    assert result.left_undone == []
    staged = [(a.instance, a.destination) for a in result.actions if a.staging]
    assert staged == [("big2", "C")]  # big1 (1.8 per core) never goes through C


def test_a_swap_cycle_only_slow_cores_could_break_is_left_undone():
    hosts, instances = _cycle(big2_util=0.9)
    target = target_of(Fleet.build(hosts, instances), {"big1": "B", "big2": "A"})
    result = plan(target)
    assert not [a for a in result.actions if a.staging]
    assert {u.instance for u in result.left_undone} == {"big1", "big2"}


def test_a_scenario_carries_core_sizes_and_cores_and_refuses_bad_ones():
    with_cores = _two_hosts(cpu_util=0.9, vcpus=4)
    again = fleet_from_dict(fleet_to_dict(with_cores))
    assert [h.core_size for h in again.hosts] == [None, 1.0] and [i.cores for i in again.instances] == [1, None]
    assert again == with_cores
    bad = fleet_to_dict(with_cores)
    bad["hosts"][1]["core_size"] = 0
    with pytest.raises(ScenarioError, match="core_size"):
        fleet_from_dict(bad)
    bad = fleet_to_dict(with_cores)
    bad["instances"][0]["cores"] = 1.5
    with pytest.raises(ScenarioError, match="cores"):
        fleet_from_dict(bad)
