"""The payback rule (``solver/payback.py``): no answer holds a move that neither frees a host, relieves
one, nor pays back its migration within ``swap_payback_s``: where the exact model runs ``pay_back``
sees to it, and the decomposition's passes make no such move."""

from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.strategies import few_flavour_problems, problems
from watcher_geyser.fleet import Fleet
from watcher_geyser.power import PowerModel
from watcher_geyser.records import Host, Instance
from watcher_geyser.solver import Problem, solve
from watcher_geyser.solver.checks import check_placement
from watcher_geyser.solver.payback import exempt_moves, pay_back, unpaid_moves
from watcher_geyser.solver.relief import relieve

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MONTH_S = 30 * 86400.0


def _two_hosts(dear_w: float) -> Fleet:
    """Two hosts that must both stay on (each holds a 12 GB instance the other has no room for);
    a 4 GB instance using half a core sits on the one whose power line is ``dear_w`` at full load
    (the other's is 150 W over the same idle): moving it saves (dear_w - 150) / 8 x 0.5 W."""
    hosts = [
        Host("dear", vcpus=8, memory_mb=16384, disk_gb=100, power=PowerModel.linear(100, dear_w)),
        Host("cheap", vcpus=8, memory_mb=20480, disk_gb=100, power=PowerModel.linear(100, 150)),
    ]
    instances = [
        Instance("big-a", "big-a", "dear", vcpus=2, memory_mb=12288, disk_gb=10, cpu_util=0.1),
        Instance("big-b", "big-b", "cheap", vcpus=2, memory_mb=12288, disk_gb=10, cpu_util=0.1),
        Instance("small", "small", "dear", vcpus=1, memory_mb=4096, disk_gb=10, cpu_util=0.5),
    ]
    return Fleet.build(hosts, instances)


def test_exact_keeps_a_move_home_that_saves_less_than_it_costs():
    """0.0625 W saved against 4 GB copied (0.095 W over six hours): it stays, and the answer says why."""
    problem = Problem(_two_hosts(151.0), time_limit_s=5.0, deterministic=True)
    target = solve(problem, "exact")
    assert target.migrations == 0
    assert any("did not pay back" in m for m in target.messages)
    assert target.bounds.watts_w <= target.watts_w + 1e-6


def test_exact_makes_the_move_when_it_pays_back():
    """The same move over a month pays (0.0008 W needed); a dear host 50 W dearer pays in six hours."""
    for fleet, payback_s in ((_two_hosts(151.0), MONTH_S), (_two_hosts(200.0), 6 * 3600.0)):
        target = solve(Problem(fleet, swap_payback_s=payback_s, time_limit_s=5.0, deterministic=True), "exact")
        assert target.migrations == 1
        assert target.fleet.hosts[target.placement[2]].name == "cheap"


def test_unpaid_moves_names_the_move_and_pay_back_sends_it_home():
    problem = Problem(_two_hosts(151.0))
    moved = problem.fleet.placement.copy()
    moved[2] = 1
    (members, saved_w), = unpaid_moves(problem, moved)
    assert members.tolist() == [2] and 0 < saved_w < 0.095
    assert np.array_equal(pay_back(problem, moved), problem.fleet.placement)
    assert unpaid_moves(replace(problem, swap_payback_s=MONTH_S), moved) == []


@SETTINGS
@given(problems(max_hosts=4, max_instances=8, time_limit_s=3.0), st.sampled_from(["exact", "auto", "decompose"]))
def test_no_move_fails_the_payback_rule(problem, method):
    """Every move of the answer frees a host, relieves a hot one, is needed for room, or pays back;
    the answer stays valid (the relief rule included) and its bound a bound. Where the exact model
    runs, ``pay_back`` sees to it; the decomposition's answers hold it without (its swap pass moves a
    heavy instance alone where it fits, so no light one moves for nothing: ``swap.py``)."""
    target = solve(problem, method)
    assert unpaid_moves(problem, target.placement, target.unrelieved) == []
    assert check_placement(problem, target.placement, target.unrelieved) == []
    assert target.bounds.watts_w <= target.watts_w + 1e-6


@SETTINGS
@given(few_flavour_problems())
def test_the_decomposition_makes_no_unpaid_move_where_swaps_are_found(problem):
    """The property above, on fleets made for the swap pass: it failed here when a swap moved a light
    instance that could have stayed home (the heavy one alone fitting on its host)."""
    target = solve(problem, "decompose")
    assert unpaid_moves(problem, target.placement, target.unrelieved) == []
    assert check_placement(problem, target.placement, target.unrelieved) == []


@SETTINGS
@given(st.one_of(problems(max_hosts=5, max_instances=12), problems(max_hosts=5, max_instances=12, core_sizes=True)))
def test_relief_moves_are_never_sent_home(problem):
    """Relief's moves (off hot hosts, and off cores too slow) are exempt: ``pay_back`` keeps every one,
    whatever the payback time."""
    relief = relieve(problem)
    moved = relief.placement != problem.fleet.placement
    for payback_s in (0.0, problem.swap_payback_s):
        paid_problem = replace(problem, swap_payback_s=payback_s)
        assert exempt_moves(paid_problem, relief.placement)[moved].all()
        paid = pay_back(paid_problem, relief.placement)
        assert np.array_equal(paid[moved], relief.placement[moved])


@SETTINGS
@given(problems(max_hosts=5, max_instances=12), st.data())
def test_pay_back_keeps_any_valid_answer_valid_and_never_switches_a_host_on(problem, data):
    """On any valid placement (here: random moves that pass the rules), ``pay_back`` leaves no unpaid
    move, keeps exempt moves, stays valid, moves no more, and holds no host the placement did not."""
    fleet = problem.fleet
    n_hosts, n_instances = len(fleet.hosts), len(fleet.instances)
    placement = fleet.placement.copy()
    if n_instances:
        for v in data.draw(st.lists(st.integers(0, n_instances - 1), max_size=6)):
            trial = placement.copy()
            trial[v] = data.draw(st.integers(0, n_hosts - 1))
            if not check_placement(problem, trial):
                placement = trial
    paid = pay_back(problem, placement)
    assert check_placement(problem, paid) == []
    assert unpaid_moves(problem, paid) == []
    exempt = exempt_moves(problem, placement)
    assert np.array_equal(paid[exempt], placement[exempt])
    assert ((paid != fleet.placement) <= (placement != fleet.placement)).all()
    assert (fleet.occupied(paid) <= fleet.occupied(placement)).all()
