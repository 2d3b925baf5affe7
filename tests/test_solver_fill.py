"""The scaling paths of the packing keep every rule: anti-affinity in rounds, the reopen repair."""

from __future__ import annotations

import pytest

from watcher_geyser.fleetgen import generate_family
from watcher_geyser.solver import Problem, solve
from watcher_geyser.solver import repack as repack_module
from watcher_geyser.solver.checks import check_placement


@pytest.mark.parametrize("one_by_one", [0, 10**6])
def test_anti_affinity_members_in_rounds_or_one_by_one_keep_the_rules(monkeypatch, one_by_one):
    monkeypatch.setattr(repack_module, "ONE_BY_ONE_MEMBERS", one_by_one)
    fleet = generate_family("zones", 150, 900, seed=4)
    target = solve(Problem(fleet, time_limit_s=1.0, workers=1), "greedy")
    assert check_placement(target.problem, target.placement) == []
    assert target.hosts_on <= 1.05 * target.bounds.hosts + 1


@pytest.mark.parametrize("family", ["deep", "generations", "tight", "tight-deep"])
def test_the_first_answer_is_valid_and_near_its_bound_at_depth(family):
    fleet = generate_family(family, 60 if family == "tight-deep" else 300, 1800, seed=2)
    target = solve(Problem(fleet, time_limit_s=1.0, workers=1), "greedy")
    assert check_placement(target.problem, target.placement) == []
    assert target.watts_w <= 1.10 * target.bounds.watts_w
