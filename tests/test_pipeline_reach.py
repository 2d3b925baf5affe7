"""A target the plan cannot reach is never reported as a saving (``pipeline/reach.py``).

Where the planner leaves moves undone (no safe order), ``pipeline.run`` re-solves with those
instances pinned and keeps the better placement *reached*; every "after" figure is that
placement's, checked here against the replay oracle (``planner.replay``), written apart.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import fleet, host, swap_pair_fleet, vm
from watcher_geyser.fleet import Fleet
from watcher_geyser.pipeline import DEFAULTS, Result, run
from watcher_geyser.planner import problem_limits, replay
from watcher_geyser.summary import target_summary


def _replayed_watts(fleet: Fleet, result: Result) -> float:
    """The watts of the placement reached by running the plan's waves in order, judged by the oracle."""
    target = result.target
    outcome = replay(target.fleet, result.plan, problem_limits(target.problem),
                     result.plan.parallelism, result.plan.per_host_parallelism)
    assert outcome.violations == [], [str(v) for v in outcome.violations]
    placement = np.array([fleet.host_index(outcome.placement[i.uuid]) for i in fleet.instances], dtype=np.int64)
    return fleet.watts(placement)


def test_the_swap_pair_reports_the_watts_its_plan_reaches_and_says_why():
    """``--method auto`` finds a 3-move target (232 W) whose moves all deadlock; the answer reported is
    one the plan reaches (the current 261 W, nothing moved), with a note naming the moves and why."""
    fleet = swap_pair_fleet()
    result = run(fleet, DEFAULTS.with_solve(method="auto", deterministic=True, time_limit_s=5))
    summary = target_summary(result.target)
    assert summary["watts_after"] == round(_replayed_watts(fleet, result), 1)
    if result.plan.migrations:  # a useful plan: it reaches a saving
        assert summary["watts_after"] < summary["watts_before"]
    else:
        assert summary["watts_after"] == summary["watts_before"] == 260.6
        assert summary["migrations"] == 0 and summary["placement"] == {
            i.uuid: i.host for i in fleet.instances}
        note = next(m for m in result.messages if "cannot be reached in a safe order" in m)
        assert "pinned where they are" in note and "no staging host" in note


def test_a_reachable_target_is_kept_as_the_solver_gave_it():
    """The same pair under ``decompose`` swaps heavy and light in a safe order: nothing undone, nothing re-solved."""
    fleet = swap_pair_fleet()
    result = run(fleet, DEFAULTS.with_solve(method="decompose", deterministic=True, time_limit_s=3))
    assert result.plan.left_undone == [] and result.plan.migrations == 2
    assert not any("safe order" in m for m in result.messages)
    assert target_summary(result.target)["watts_after"] == round(_replayed_watts(fleet, result), 1)


def priced_fleet(seed: int, n_hosts: int, n_instances: int) -> Fleet:
    """Hosts of 16 GB whose cores cost 1, 2 or 3 times as much, filled with instances of 2 to 10 GB at random:
    the solver's targets swap instances between dear and cheap hosts, and about one in five of its
    ``auto`` answers on 2-3 hosts holds a cycle the planner cannot break (no host has room to stage)."""
    rng = np.random.default_rng(seed)
    hosts = [host(f"h{h}", idle_w=100, max_w=float(rng.choice([200, 300, 400]))) for h in range(n_hosts)]
    free = {h.name: h.memory_mb for h in hosts}
    instances = []
    for i in range(n_instances):
        memory = int(rng.choice([2048, 4096, 6144, 8192, 10240]))
        room = [name for name, left in free.items() if left >= memory]
        if room:
            at = room[int(rng.integers(0, len(room)))]
            free[at] -= memory
            instances.append(vm(f"v{i}", at, vcpus=int(rng.choice([1, 2, 4])), memory_mb=memory,
                                cpu_util=float(rng.uniform(0.05, 1.0))))
    return fleet(hosts, instances)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n_hosts=st.integers(2, 3), n_instances=st.integers(4, 14),
       power_off=st.booleans())
def test_reported_after_watts_are_those_the_plan_reaches(seed, n_hosts, n_instances, power_off):
    """On random small fleets whose targets swap and cycle: the "after" watts (``geyser plan``'s table and
    ``--json``) equal the watts of the placement the plan's waves reach, and no wave overloads a host."""
    priced = priced_fleet(seed, n_hosts, n_instances)
    settings_ = DEFAULTS.with_solve(method="auto", deterministic=True, time_limit_s=0.5).with_plan(
        allow_power_off=power_off)
    result = run(priced, settings_)
    assert target_summary(result.target)["watts_after"] == round(_replayed_watts(result.target.fleet, result), 1)
