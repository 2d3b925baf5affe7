"""The anytime search's CP-SAT neighbourhoods: one that cannot free a host by volume is never solved."""

from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, event, given, settings

from tests.builders import fleet, host, vm
from tests.strategies import problems
from watcher_geyser.solver import Problem
from watcher_geyser.solver.anytime import _scaled, _solve_neighbourhood, improve_neighbourhoods, may_free_a_host
from watcher_geyser.solver.checks import check_placement
from watcher_geyser.solver.clock import Clock
from watcher_geyser.solver.workspace import Workspace


def _three_hosts(per_host: int) -> Problem:
    """Three 16 GB hosts, each holding ``per_host`` 4 GB instances."""
    hosts = [host(f"h{h}") for h in range(3)]
    instances = [vm(f"vm-{h}-{k}", f"h{h}", memory_mb=4096) for h in range(3) for k in range(per_host)]
    return Problem(fleet(hosts, instances), deterministic=True, time_limit_s=5.0)


def _fewer_hosts(problem: Problem, placement: np.ndarray):
    """A referee taking a valid placement with fewer hosts on than ``placement``."""
    before = int(problem.fleet.occupied(placement).sum())

    def accept(candidate: np.ndarray) -> bool:
        return not check_placement(problem, candidate) and problem.fleet.occupied(candidate).sum() < before

    return accept


def test_a_neighbourhood_that_cannot_free_a_host_by_volume_is_not_solved():
    # 36 GB on three 16 GB hosts: no two hold it, so no model is built and no time is spent
    # (before, each of the three neighbourhoods took its 0.3 s budget to find nothing)
    problem = _three_hosts(per_host=3)
    ws = Workspace(problem)
    demand, capacity = _scaled(ws)
    assert not may_free_a_host(demand.sum(axis=0), capacity, 3)
    clock = Clock(problem.time_limit_s, deterministic=True)
    after = improve_neighbourhoods(ws, ws.placement0, clock, _fewer_hosts(problem, ws.placement0))
    assert after is ws.placement0
    assert clock.left() == problem.time_limit_s


def test_a_neighbourhood_that_can_free_a_host_still_does():
    # 24 GB on three 16 GB hosts: two hold it, and the model finds how
    problem = _three_hosts(per_host=2)
    ws = Workspace(problem)
    demand, capacity = _scaled(ws)
    assert may_free_a_host(demand.sum(axis=0), capacity, 3)
    clock = Clock(problem.time_limit_s, deterministic=True)
    after = improve_neighbourhoods(ws, ws.placement0, clock, _fewer_hosts(problem, ws.placement0))
    assert problem.fleet.occupied(after).sum() == 2
    assert check_placement(problem, after) == []


def test_one_host_holding_everything_cannot_free_one():
    # the model asks for at most (hosts holding instances now - 1) on: none, with instances to place
    assert not may_free_a_host(np.array([1, 1]), np.array([[10, 10], [10, 10]]), 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_hosts=5, max_instances=12))
def test_the_volume_test_never_rules_out_a_neighbourhood_the_model_can_solve(problem):
    # every occupied host and the instances on them outside server groups: when the model finds an
    # answer (one host fewer), the volume test must have said it might
    problem = replace(problem, deterministic=True)
    ws = Workspace(problem)
    free = ws.group < 0
    hosts = np.unique(ws.placement0[free])
    items = np.flatnonzero(free)
    if len(items) == 0:
        return
    demand, capacity = _scaled(ws)
    found = _solve_neighbourhood(ws, ws.placement0, items, hosts, demand[items], capacity[hosts], 5.0)
    event("the model frees a host" if found is not None else "no answer")
    if found is not None:
        assert may_free_a_host(demand[items].sum(axis=0), capacity[hosts], len(hosts))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_hosts=6, max_instances=14))
def test_the_search_never_worsens_the_answer(problem):
    # whatever it skips or solves, the answer it hands back is the one it was given or one the referee took
    problem = replace(problem, deterministic=True, max_migrations=None, max_consolidation_moves=None)
    ws = Workspace(problem)
    clock = Clock(3.0, deterministic=True)
    after = improve_neighbourhoods(ws, ws.placement0, clock, _fewer_hosts(problem, ws.placement0))
    event("a host freed" if after is not ws.placement0 else "as it was")
    if after is not ws.placement0:
        assert check_placement(problem, after) == []
        assert problem.fleet.occupied(after).sum() < problem.fleet.occupied(ws.placement0).sum()
    assert clock.left() >= 0
