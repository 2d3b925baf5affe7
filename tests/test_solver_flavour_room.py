"""The flavour table's quick search must give the emptying pass's answer, bit for bit."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from tests.strategies import problems
from watcher_geyser.fleetgen import generate_family
from watcher_geyser.solver import Problem, solve
from watcher_geyser.solver.checks import check_placement
from watcher_geyser.solver.greedy import empty_more_hosts, move_budget
from watcher_geyser.solver.workspace import Workspace

EVERY_HOST = 10**6  # as polish: try every host (the table is built only for such passes)


def _both(ws, start):
    """Both searches as polish calls them: within the migration cap's budget, when there is one."""
    budget = move_budget(ws, start)
    quick = empty_more_hosts(ws, start, math.inf, max_failures=EVERY_HOST, max_new_moves=budget)
    plain = empty_more_hosts(ws, start, math.inf, max_failures=EVERY_HOST, max_new_moves=budget, quick=False)
    return quick, plain


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_hosts=10, max_instances=40))
def test_the_quick_pass_empties_what_the_plain_pass_empties(problem):
    """Zones, pinned and grouped instances, off and disabled hosts, measured CPU or not, from
    the fleet's own placement and from the greedy answer: the same placement, and valid."""
    ws = Workspace(problem)
    for start in (ws.placement0, solve(problem, method="greedy").placement):
        quick, plain = _both(ws, start)
        assert np.array_equal(quick, plain)
        if not check_placement(problem, start):
            assert check_placement(problem, quick) == []


@pytest.mark.parametrize("family", ["tight", "identical"])
def test_the_quick_pass_on_a_packed_generated_fleet(family):
    # hundreds of hosts: most are given up by the table, some emptied, the rest searched
    problem = Problem(generate_family(family, 300, 3000 if family == "tight" else 1800, seed=3))
    ws = Workspace(problem)
    start = solve(problem, method="greedy").placement
    quick, plain = _both(ws, start)
    assert np.array_equal(quick, plain)
    assert check_placement(problem, quick) == []
