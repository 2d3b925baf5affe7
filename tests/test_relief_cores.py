"""Relief for an instance starved on slow cores at home (``solver/relief.py``, ``rules/cores.starved``):
it moves to a host whose cores are fast enough, on hosts that are on first, else one switched on;
where it cannot, the answer names its host with the reason."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from tests.builders import fleet, host, vm
from tests.strategies import problems
from watcher_geyser.planner import ActionKind, plan, problem_limits, replay
from watcher_geyser.solver import Problem, solve
from watcher_geyser.solver.checks import check_placement
from watcher_geyser.solver.relief import SLOW_CORES, relieve, unrelieved_message
from watcher_geyser.solver.rules.cores import covered_need, starved

METHODS = ["greedy", "decompose", "exact"]


def _starved(fast_state: str = "enabled", cpu_util: float = 0.9, **x) -> object:
    """``x`` (4 vcpus over one core) on ``slow`` (cores of 1.0) with a small neighbour; ``fast``
    (cores of 4.0, room for it) is on and holds a small instance, or is off and empty."""
    instances = [vm("x", "slow", vcpus=4, memory_mb=2048, cpu_util=cpu_util, cores=1, **x),
                 vm("y", "slow", vcpus=1, memory_mb=1024, cpu_util=0.1)]
    if fast_state == "enabled":
        instances.append(vm("z", "fast", vcpus=1, memory_mb=1024, cpu_util=0.1))
    hosts = [host("slow", core_size=1.0, idle_w=50), host("fast", core_size=4.0, idle_w=150, state=fast_state)]
    return fleet(hosts, instances)


@pytest.mark.parametrize("method", METHODS)
def test_a_busy_instance_on_slow_cores_moves_to_a_fast_host_with_room(method):
    f = _starved()  # x needs 3.6 per core, slow's cores give 1.0
    assert starved(f).tolist() == [True, False, False]
    problem = Problem(f, max_consolidation_moves=0, workers=1, deterministic=True, time_limit_s=2)
    target = solve(problem, method)
    assert target.placement[0] == 1
    assert target.unrelieved == {}
    assert check_placement(problem, target.placement, unrelieved=target.unrelieved) == []
    assert any("x moved off slow, its cores too slow for it, to fast" in m for m in target.messages)


def test_a_starved_instance_goes_to_an_off_fast_host_switched_on_first():
    f = _starved(fast_state="off")
    problem = Problem(f, workers=1, deterministic=True, time_limit_s=2)
    relief = relieve(problem)
    assert relief.placement.tolist() == [1, 0] and relief.powered_on == (1,) and relief.hot == ()
    target = solve(problem)
    assert target.placement[0] == 1 and target.unrelieved == {}
    moves = plan(target, parallelism=2, per_host_parallelism=1)
    kinds = [[a.kind for a in wave] for wave in moves.waves]
    power_on = next(w for w, wave in enumerate(kinds) if ActionKind.POWER_ON in wave)
    first_move = next(w for w, wave in enumerate(kinds) if any(k.is_migration for k in wave))
    assert power_on < first_move
    result = replay(f, moves, problem_limits(problem))
    assert result.ok, result.violations
    assert result.placement["x"] == "fast"


def test_a_starved_instance_with_nothing_to_switch_on_is_named_with_the_reason():
    target = solve(Problem(_starved(fast_state="off"), allow_power_on=False, workers=1, time_limit_s=2))
    assert target.migrations == 0
    reason = target.unrelieved["slow"]
    assert reason.startswith(SLOW_CORES) and "x needs 3.6" in reason and "switching hosts on is not allowed" in reason
    assert [m for m in target.messages if "host slow" in m] == [unrelieved_message("slow", reason)]
    assert "keeps instances its cores are too slow for" in unrelieved_message("slow", reason)
    assert check_placement(target.problem, target.placement, unrelieved=target.unrelieved) == []
    # and the checker says so when the answer does not name it
    assert any("stays on host slow" in line for line in check_placement(target.problem, target.placement, {}))


@pytest.mark.parametrize(("x", "limits", "why"), [
    ({"locked": True}, {}, "pinned"),
    ({}, {"max_migrations": 0}, "migration cap (max_migrations=0) is used up"),
])
def test_a_starved_instance_that_may_not_move_is_named(x, limits, why):
    target = solve(Problem(_starved(**x), workers=1, time_limit_s=2, **limits))
    assert target.placement[0] == 0
    assert why in target.unrelieved["slow"]


@pytest.mark.parametrize("method", METHODS)
def test_an_instance_within_its_core_size_stays(method):
    f = _starved(cpu_util=0.25)  # 1.0 per core on cores of 1.0: covered
    assert not starved(f).any()
    assert relieve(Problem(f)).moves == 0
    target = solve(Problem(f, max_migrations=0, workers=1, deterministic=True, time_limit_s=2), method)
    assert target.placement.tolist() == f.placement.tolist() and target.unrelieved == {}


def test_a_fleet_without_core_sizes_has_nothing_starved():
    f = fleet([host("a"), host("b")], [vm("x", "a", vcpus=4, cpu_util=1.0, cores=1)])
    assert not starved(f).any()
    assert not relieve(Problem(f)).needed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_hosts=6, max_instances=16, time_limit_s=0.5, core_sizes=True))
def test_after_solve_every_instance_is_within_its_hosts_core_size_or_its_host_is_named(problem):
    f = problem.fleet
    target = solve(problem)
    assert check_placement(problem, target.placement, unrelieved=target.unrelieved) == []
    end = target.placement
    over = f.cpu_per_core > covered_need(f.core_size[end])
    moved = end != f.placement
    assert not (over & moved).any()  # a moved instance never lands on cores too slow for it
    for v in np.flatnonzero(over & starved(f, end)):  # one left at home is named, with a reason
        name = f.hosts[end[v]].name
        assert SLOW_CORES in target.unrelieved[name] and f.instances[v].uuid in target.unrelieved[name]


def test_moving_a_starved_instance_off_a_host_it_empties_is_not_consolidation():
    f = fleet([host("slow", core_size=1.0, idle_w=50), host("fast", core_size=4.0)],
              [vm("x", "slow", vcpus=4, cpu_util=0.9, cores=1), vm("z", "fast", vcpus=1, cpu_util=0.1)])
    problem = Problem(f, max_consolidation_moves=0, workers=1, deterministic=True, time_limit_s=2)
    target = solve(problem)
    assert target.placement.tolist() == [1, 1]
    assert check_placement(problem, target.placement, unrelieved=target.unrelieved) == []
    assert not any(m.startswith("internal:") for m in target.messages)


def test_a_host_both_hot_and_starving_is_named_once():
    # slow runs 2 x 3.6 = 7.2 cores on 4 (hot), and each x needs 3.6 per core on cores of 1.0; nowhere to go
    f = fleet([host("slow", vcpus=4, core_size=1.0), host("other", core_size=1.0)],
              [vm(f"x{i}", "slow", vcpus=4, cpu_util=0.9, cores=1) for i in range(2)])
    target = solve(Problem(f, workers=1, time_limit_s=2))
    reason = target.unrelieved["slow"]
    assert "over" in reason.split(";")[0] and SLOW_CORES in reason and "x0 needs 3.6" in reason
    assert [m for m in target.messages if "host slow" in m] == [unrelieved_message("slow", reason)]
    assert check_placement(target.problem, target.placement, unrelieved=target.unrelieved) == []
