"""The joint watts bound: hand-checked where it beats the separate bounds, and never above an optimum."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from tests.builders import fleet, host, vm
from tests.strategies import problems
from watcher_geyser import bounds
from watcher_geyser.fleet import VCPU
from watcher_geyser.joint_bound import (
    SECONDS_PER_COLUMN,
    TIME_SHARE,
    _column_count,
    _host_classes,
    _host_keys,
    _instance_classes,
    _instance_keys,
    joint_watts_lower_bound,
)
from watcher_geyser.solver import Problem, solve
from watcher_geyser.solver.limits import CPU_CORES, held_limits


def _joint(f, hosts_bound):
    carry, per_core_w = bounds.load_prices(f, f.capacity[:, VCPU], f.physical_cores)
    return joint_watts_lower_bound(f, f.capacity, carry, per_core_w, True, hosts_bound)


def test_joint_bound_keeps_the_load_on_hosts_that_can_hold_it():
    # the small host is flattest per core (10 W) and cheapest to keep on (100 W), but only the
    # big one (120 W idle, 12.5 W per core) holds the 32 GB instance: separately the bounds say
    # 100 + 4 x 10 = 140 W; together, fractionally, a third of it on 2/3 of the small host and the
    # rest on 1/3 of the big one: 2/3 x 100 + 1/3 x 120 + 4/3 x 10 + 8/3 x 12.5 = 153.3 W (the answer: 170 W)
    hosts = [
        host("small", vcpus=8, memory_mb=16384, idle_w=100, max_w=180),
        host("big", vcpus=16, memory_mb=65536, idle_w=120, max_w=320),
    ]
    f = fleet(hosts, [vm("v", "big", vcpus=4, memory_mb=32768, cpu_util=1.0)])
    hb = bounds.hosts_lower_bound(f, f.capacity)
    assert bounds.watts_lower_bound(f, f.capacity, hosts_bound=hb, cpu_limits=f.physical_cores) == pytest.approx(140.0)
    assert _joint(f, hb) == pytest.approx(460 / 3)
    assert solve(Problem(f, cpu_ceiling=1.0, time_limit_s=5.0, workers=1)).watts_w == pytest.approx(170.0)


def test_joint_bound_without_instances_is_zero():
    f = fleet([host("h")], [])
    assert _joint(f, 0) == 0.0


def _joint_for(problem) -> float:
    f = problem.fleet
    held = held_limits(f, problem.ceiling, problem.cpu_packing)
    limits = held[:, :CPU_CORES]
    cpu_limits = None if problem.cpu_ceiling is None else held[:, CPU_CORES]
    hb = bounds.hosts_lower_bound(f, limits, problem.allow_power_on)
    carry, per_core_w = bounds.load_prices(f, limits[:, VCPU], cpu_limits)
    return joint_watts_lower_bound(f, limits, carry, per_core_w, problem.allow_power_on, hb or 0)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_hosts=4, max_instances=8, time_limit_s=5.0))
def test_joint_bound_never_exceeds_a_proven_optimum(problem):
    """Mixed power curves, pinned instances, zones, off and disabled hosts: the programme is a
    relaxation, so on fleets small enough to prove its bound sits at or under the optimum."""
    problem = replace(problem, power_budget_w=None, max_migrations=None)
    target = solve(problem, method="exact")
    if target.status != "OPTIMAL":
        return  # the proof did not finish in time: nothing to compare against
    assert _joint_for(problem) <= target.watts_w + 1e-6


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_hosts=8, max_instances=40))
def test_joint_bound_never_exceeds_any_valid_answer(problem):
    """Larger fleets, where flavours repeat and split into bands of measured CPU."""
    target = solve(problem, method="greedy")
    assert _joint_for(problem) <= target.watts_w + 1e-6


def test_joint_bound_is_skipped_when_it_would_eat_the_solve_s_time():
    # the hand-checked fleet's programme (2 host classes x 1 instance class) fits a 10 s solve's
    # share; a limit so short that even 2 columns exceed it skips the programme (0.0: the separate
    # bounds stand), as a replayed day's 0.15 s steps do for its 800 hosts
    hosts = [
        host("small", vcpus=8, memory_mb=16384, idle_w=100, max_w=180),
        host("big", vcpus=16, memory_mb=65536, idle_w=120, max_w=320),
    ]
    f = fleet(hosts, [vm("v", "big", vcpus=4, memory_mb=32768, cpu_util=1.0)])
    carry, per_core_w = bounds.load_prices(f, f.capacity[:, VCPU], f.physical_cores)
    hb = bounds.hosts_lower_bound(f, f.capacity)
    assert joint_watts_lower_bound(f, f.capacity, carry, per_core_w, True, hb, time_limit_s=10.0) > 0
    short = 2 * SECONDS_PER_COLUMN / TIME_SHARE / 2
    assert joint_watts_lower_bound(f, f.capacity, carry, per_core_w, True, hb, time_limit_s=short) == 0.0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_hosts=8, max_instances=40))
def test_the_cheap_column_count_is_the_programme_s(problem):
    """The programme is skipped by size before its classes are built: the count it decides on
    must be the count of the columns it would have built (zones, flavours, bands)."""
    f = problem.fleet
    if not f.instances:
        return
    usable = bounds.candidate_hosts(f, problem.allow_power_on) | bounds.pinned_hosts(f)
    if not usable.any():
        return
    limits = f.capacity
    carry, per_core_w = bounds.load_prices(f, limits[:, VCPU], None)
    host_keys, item_keys = _host_keys(f, usable), _instance_keys(f)
    hosts = _host_classes(f, limits, carry, per_core_w, usable, bounds.pinned_hosts(f), host_keys)
    items = _instance_classes(f, item_keys)
    built = sum(1 for i in items for h in hosts if i.zone == h.zone)
    assert _column_count(host_keys[0][:, 0], item_keys[0][:, 0], np.bincount(item_keys[1])) == built
