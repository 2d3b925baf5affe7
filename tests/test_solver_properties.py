"""Properties every answer has, whatever the fleet and the back-end: valid and bounded."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.strategies import problems
from watcher_geyser.solver import solve
from watcher_geyser.solver.checks import check_placement
from watcher_geyser.solver.greedy import room_may_cover
from watcher_geyser.solver.problem import PASSES
from watcher_geyser.solver.repack import EPS

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_valid_and_bounded(problem, target):
    fleet = problem.fleet
    assert check_placement(problem, target.placement) == []
    assert len(target.placement) == len(fleet.instances)
    if problem.max_migrations is not None:
        assert target.migrations <= problem.max_migrations
    # proven bounds never exceed what the answer achieves
    assert target.bounds.hosts <= target.hosts_on
    assert target.bounds.watts_w <= target.watts_w + 1e-6
    assert target.bounds.migration_cost_mb <= target.memory_moved_mb + 1e-6
    # pinned instances never move
    pinned = ~fleet.movable
    assert np.array_equal(target.placement[pinned], fleet.placement[pinned])
    # the pass named kept an answer that moves something, or none moved anything
    assert target.found_by in PASSES
    assert (target.found_by == "current") == (target.migrations == 0)


@SETTINGS
@given(problems(), st.sampled_from(["greedy", "decompose"]))
def test_fast_back_ends_give_valid_bounded_answers(problem, method):
    _assert_valid_and_bounded(problem, solve(problem, method=method))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_hosts=4, max_instances=8, time_limit_s=5.0))
def test_exact_back_end_gives_valid_bounded_answers(problem):
    target = solve(problem, method="exact")
    _assert_valid_and_bounded(problem, target)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_hosts=4, max_instances=8, time_limit_s=5.0))
def test_bounds_never_exceed_a_proven_optimum(problem):
    """On fleets small enough to solve exactly, the analytic bounds sit at or under the optimum."""
    from dataclasses import replace

    problem = replace(problem, power_budget_w=None, max_migrations=None)
    target = solve(problem, method="exact")
    if target.status != "OPTIMAL":
        return  # the proof did not finish in time: nothing to compare against
    assert target.bounds.hosts <= target.hosts_on
    assert target.bounds.watts_w <= target.watts_w + 1e-6


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.floats(-2, 8, allow_nan=False), min_size=2, max_size=2), min_size=1, max_size=5),
    st.lists(st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 3.0]), min_size=2, max_size=2), min_size=1,
             max_size=8),
)
def test_emptying_skips_a_host_only_when_its_search_would_fail(room, items):
    # the search empty_more_hosts runs per host (each instance, largest first, into the row it
    # leaves least room in, within EPS); the cheap room test may only skip hosts it fails on
    residual = np.array(room)
    demand = np.array(items)
    placed = 0
    for need in demand[np.argsort(-demand.max(axis=1), kind="stable")]:
        fits = np.flatnonzero((residual >= need - EPS).all(axis=1))
        if len(fits) == 0:
            break
        row = fits[np.argmin((residual[fits] - need).sum(axis=1))]
        residual[row] -= need
        placed += 1
    if placed == len(demand):
        assert room_may_cover(np.array(room), demand.sum(axis=0))
