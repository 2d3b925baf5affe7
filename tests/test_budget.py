"""The power budget is a soft target: watts above the supply are dear, watts under it cheap."""

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.builders import fleet, host, vm
from tests.strategies import fleets
from watcher_geyser.solver import Problem, solve
from watcher_geyser.solver.checks import check_placement, hot_hosts

METHODS = ["greedy", "decompose", "exact"]


def _three_hosts():
    return fleet([host(f"h{i}") for i in range(3)], [vm(f"v{i}", f"h{i}") for i in range(3)])


@pytest.mark.parametrize("method", METHODS)
def test_plentiful_supply_buys_no_watt_savings_with_migrations(method):
    f = _three_hosts()
    assert solve(Problem(f, time_limit_s=3), method=method).hosts_on == 1  # no budget: fewest watts
    target = solve(Problem(f, power_budget_w=1000, time_limit_s=3), method=method)
    assert target.migrations == 0 and target.hosts_on == 3
    assert not any("power budget" in m for m in target.messages)


@pytest.mark.parametrize("method", METHODS)
def test_a_supply_between_packings_is_met_with_the_fewest_moves(method):
    f = _three_hosts()
    two_hosts_w = 2 * 100 + 3 * 0.2 * 100 / 16 * 2  # idle of two hosts plus the instances' CPU
    target = solve(Problem(f, power_budget_w=two_hosts_w + 5, time_limit_s=3), method=method)
    assert target.watts_w <= two_hosts_w + 5
    assert target.hosts_on == 2 and target.migrations == 1


@pytest.mark.parametrize("method", METHODS)
def test_scarce_supply_packs_as_hard_as_the_ceiling_allows_and_says_by_how_much(method):
    target = solve(Problem(_three_hosts(), power_budget_w=50, time_limit_s=3), method=method)
    assert target.hosts_on == 1
    over = target.watts_w - 50
    assert any(f"{over:.0f} W above it" in m and "power budget 50 W cannot be met" in m for m in target.messages)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets(max_hosts=6, max_instances=14), st.floats(0, 3000))
def test_the_budget_never_costs_watts_above_the_supply_and_a_met_supply_moves_nothing(f, supply_w):
    blind = solve(Problem(f, time_limit_s=1, workers=1), method="greedy")
    problem = Problem(f, power_budget_w=supply_w, time_limit_s=1, workers=1)
    target = solve(problem, method="greedy")
    assert check_placement(problem, target.placement, unrelieved=target.unrelieved) == []
    assert max(0.0, target.watts_w - supply_w) <= max(0.0, blind.watts_w - supply_w) + 1e-6
    if f.watts() <= supply_w and not hot_hosts(problem).any():
        assert target.migrations == 0


@pytest.mark.parametrize("method", ["auto", "decompose", "exact"])
def test_a_supply_covering_the_fleet_as_it_stands_starts_no_search(method):
    """No answer can beat the current placement there: every answer's first term is at least the
    supply and every other answer moves something. CP-SAT is not started (a replayed sunny day's
    steps spent their whole limit on neighbourhoods that could not win), unless a watts tolerance
    lets an answer just above the supply win on hosts on."""
    f = _three_hosts()
    target = solve(Problem(f, power_budget_w=1000, time_limit_s=3), method=method)
    assert target.migrations == 0 and target.status == "CURRENT" and target.cpsat_status == "SKIPPED"
    tolerant = solve(Problem(f, power_budget_w=1000, watts_tolerance=0.05, time_limit_s=3), method=method)
    assert tolerant.migrations == 0 and tolerant.cpsat_status != "SKIPPED"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets(max_hosts=6, max_instances=14), st.floats(0, 1))
def test_a_met_supply_moves_nothing_and_a_skipped_search_loses_nothing(f, spare):
    """The skip's claim, checked against the search it skips: with the supply met and nothing to
    relieve, the searched answer (a tolerance of 1e-9 keeps CP-SAT running) moves nothing either."""
    supply_w = f.watts() * (1 + spare)
    problem = Problem(f, power_budget_w=supply_w, time_limit_s=0.5, workers=1, deterministic=True)
    assume(not hot_hosts(problem).any())
    skipped = solve(problem, method="decompose")
    searched = solve(Problem(f, power_budget_w=supply_w, watts_tolerance=1e-9, time_limit_s=0.5, workers=1,
                             deterministic=True), method="decompose")
    assert skipped.migrations == 0 and searched.migrations == 0
    assert skipped.cpsat_status in ("SKIPPED", "NOT_RUN")
