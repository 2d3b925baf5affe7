"""Emptying hosts by ejection: a hand-checked chain, and valid answers on random fleets."""

import math

import numpy as np
from hypothesis import HealthCheck, given, settings

from tests.builders import chain_fleet, fleet, host, vm
from tests.strategies import problems
from watcher_geyser.solver import Problem, solve
from watcher_geyser.solver.checks import check_placement
from watcher_geyser.solver.eject import empty_by_ejection
from watcher_geyser.solver.greedy import empty_more_hosts
from watcher_geyser.solver.workspace import Workspace


def _occupied(placement: np.ndarray) -> int:
    return int(np.count_nonzero(np.bincount(placement)))


def test_a_small_instance_steps_aside_so_a_large_one_fits():
    # chain_fleet: no host empties as things stand; moving a's 2 GB instance to b makes room for
    # c's 4 GB on a, and c's 1 GB follows to b
    problem = Problem(chain_fleet())
    ws = Workspace(problem)
    start = ws.placement0
    assert _occupied(empty_more_hosts(ws, start, math.inf)) == 3
    after = empty_by_ejection(ws, start, math.inf)
    assert _occupied(after) == 2
    assert check_placement(problem, after) == []
    names = [problem.fleet.hosts[h].name for h in after]
    assert names == ["a", "b", "b", "a", "b"]
    assert start.tolist() == [0, 0, 1, 2, 2]  # the input is left as it was


def test_nothing_to_gain_returns_the_same_placement():
    problem = Problem(fleet([host("a"), host("b")], [vm("v", "a")]))
    ws = Workspace(problem)
    assert empty_by_ejection(ws, ws.placement0, math.inf) is ws.placement0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_hosts=6, max_instances=20))
def test_ejection_keeps_answers_valid_and_never_opens_a_host(problem):
    """Pinned instances, groups, zones, off and disabled hosts, caps: whatever it does is valid."""
    start = solve(problem, method="greedy").placement
    after = empty_by_ejection(Workspace(problem), start, math.inf)
    assert check_placement(problem, after) == []
    assert _occupied(after) <= _occupied(start)
    pinned = ~problem.fleet.movable
    assert np.array_equal(after[pinned], problem.fleet.placement[pinned])
