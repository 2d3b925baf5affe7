"""``Target.found_by``: the pass whose answer the portfolio kept, on fleets where it is known."""

from tests.builders import chain_fleet, fleet, host, vm
from watcher_geyser.solver import Problem, solve


def test_a_fleet_only_ejection_empties_reports_ejection():
    # no host empties into the others' room as things stand; only a chain does (``chain_fleet``)
    # the decomposition (the simulator's and the large fleets' path) with time for ejection
    target = solve(Problem(chain_fleet(), time_limit_s=2.0, deterministic=True), method="decompose")
    assert target.hosts_on == 2
    assert target.found_by == "ejection"


def test_without_time_for_ejection_nothing_moves_and_the_current_placement_is_reported():
    # below EJECTION_MIN_SECONDS no chain is tried: the greedy finds nothing, the placement stands
    target = solve(Problem(chain_fleet(), time_limit_s=0.1, deterministic=True), method="decompose")
    assert target.migrations == 0
    assert target.found_by == "current"


def test_the_exact_model_reports_itself_on_a_small_fleet():
    target = solve(Problem(chain_fleet(), time_limit_s=2.0, deterministic=True), method="auto")
    assert target.hosts_on == 2
    assert target.found_by == "exact"


def test_a_trivially_optimal_fleet_reports_the_greedy():
    # one instance per host, both fit on one: the greedy empties a host and meets every bound
    target = solve(Problem(fleet([host("a"), host("b")], [vm("v", "a"), vm("w", "b")]), time_limit_s=2.0,
                           deterministic=True))
    assert target.hosts_on == 1
    assert target.found_by == "greedy"
    assert target.cpsat_status == "SKIPPED"


def test_relief_alone_reports_relief():
    # a's 6 + 6 GB exceed its 10 GB: relief moves one to b, and nothing better is left to find
    hosts = [host("a", memory_mb=10240), host("b", memory_mb=10240)]
    target = solve(Problem(fleet(hosts, [vm("x", "a", memory_mb=6144), vm("y", "a", memory_mb=6144)]),
                           time_limit_s=1.0, deterministic=True))
    assert target.relieved == ("a",)
    assert target.found_by == "relief"
