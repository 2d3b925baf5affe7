"""Deterministic mode repeats its answer; time limits that are not finite and positive are refused."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from watcher_geyser.cli import main
from watcher_geyser.fleetgen import generate_family, generate_fleet
from watcher_geyser.planner import plan, problem_limits, replay
from watcher_geyser.scenario import save_scenario
from watcher_geyser.solver import Problem, solve
from watcher_geyser.solver.checks import check_placement

BAD_LIMITS = [math.inf, math.nan, -1.0, 0.0]


@pytest.mark.parametrize("method", ["auto", "decompose", "exact"])
def test_deterministic_mode_gives_identical_placements_twice(method):
    fleet = generate_fleet(40, 240, mixed=True, seed=5, zones=2, server_groups=4, locked_share=0.05)
    problem = Problem(fleet, time_limit_s=1.0, deterministic=True)
    first, second = solve(problem, method), solve(problem, method)
    assert check_placement(problem, first.placement) == []
    assert np.array_equal(first.placement, second.placement)
    assert (first.status, first.bounds) == (second.status, second.bounds)


@pytest.mark.parametrize("limit", BAD_LIMITS)
def test_problem_refuses_time_limits_that_are_not_finite_and_positive(limit):
    fleet = generate_fleet(4, 8, seed=1)
    with pytest.raises(ValueError, match="time_limit_s must be a finite number of seconds above 0"):
        Problem(fleet, time_limit_s=limit)


@pytest.mark.parametrize("text", ["inf", "nan", "-1", "0"])
def test_geyser_plan_refuses_bad_time_limits_in_one_line(tmp_path, capsys, text):
    path = tmp_path / "s.json"
    save_scenario(generate_fleet(4, 8, seed=1), path)
    assert main(["plan", str(path), "--time-limit", text]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "--time-limit must be a finite number" in captured.err


def test_geyser_plan_deterministic_twice_gives_the_same_json(tmp_path, capsys):
    path = tmp_path / "s.json"
    save_scenario(generate_fleet(30, 200, mixed=True, seed=2), path)
    answers = []
    for _ in range(2):
        assert main(["plan", str(path), "--deterministic", "--time-limit", "1", "--json"]) == 0
        answer = json.loads(capsys.readouterr().out)
        for key in [k for k in answer if k.endswith("_seconds")]:
            answer.pop(key)  # wall times differ, nothing else may
        answers.append(answer)
    assert answers[0] == answers[1]


@pytest.mark.parametrize("family", ["deep", "zones", "tight"])
def test_anytime_a_longer_limit_is_never_worse_and_both_answers_are_valid(family):
    fleet = generate_family(family, 120, 720, seed=3)
    short, long = (solve(Problem(fleet, time_limit_s=limit, workers=1)) for limit in (0.5, 5.0))
    for target in (short, long):
        assert check_placement(target.problem, target.placement) == []
        assert replay(fleet, plan(target), problem_limits(target.problem)).violations == []
        assert target.watts_w >= target.bounds.watts_w - 1e-6
    better = long.watts_w < short.watts_w - 1e-6
    same = abs(long.watts_w - short.watts_w) <= 1e-6 and long.memory_moved_mb <= short.memory_moved_mb
    assert better or same, (long.watts_w, long.memory_moved_mb, short.watts_w, short.memory_moved_mb)


def test_a_far_answer_says_how_far_and_why_and_never_reads_optimal():
    from tests.builders import fleet, host, vm

    # no two of these fit together (each pair passes one dimension), yet in each dimension alone
    # two hosts would hold all three: the bound says two, any answer keeps three
    hosts = [host(f"h{i}", vcpus=20, memory_mb=10240) for i in range(4)]
    shapes = [(12, 4608), (9, 6144), (9, 4608)]
    instances = [vm(f"v{i}", f"h{i}", vcpus=c, memory_mb=m) for i, (c, m) in enumerate(shapes)]
    target = solve(Problem(fleet(hosts, instances), time_limit_s=2), "decompose")
    assert target.hosts_on == 3 and target.bounds.hosts == 2
    assert target.status != "OPTIMAL" and target.cpsat_status != "OPTIMAL"
    notes = [m for m in target.messages if "above its watts lower bound" in m]
    assert len(notes) == 1 and "capacity" in notes[0]
