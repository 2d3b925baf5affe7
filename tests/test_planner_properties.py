"""Property tests: on random, tight fleets the plan is safe at every moment, whatever the order.

Fleets come from ``planner_support.random_case``: a target that is feasible at its end,
hosts filled to 90-100 % of the ceiling, a current placement that crosses it in every
direction (swaps, cycles, hosts over their ceiling), plus locked, excluded, stopped and
unmovable instances, anti-affinity groups, disabled and powered-off hosts, zones.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.planner_support import random_case
from watcher_geyser.planner import ActionKind, plan, problem_limits, replay
from watcher_geyser.planner.limits import instance_demand
from watcher_geyser.records import HostState

CASES = dict(
    seed=st.integers(0, 2**31),
    n_hosts=st.integers(2, 8),
    n_instances=st.integers(0, 26),
    tight=st.floats(0.9, 1.0),
    zones=st.integers(1, 2),
    parallelism=st.integers(1, 4),
    per_host=st.integers(1, 2),
    allow_power_off=st.booleans(),
    stage_on_emptied=st.booleans(),
)


def _make(seed, n_hosts, n_instances, tight, zones, parallelism, per_host, allow_power_off, stage_on_emptied):
    target = random_case(seed, n_hosts, n_instances, tight=tight, zones=zones)
    result = plan(target, parallelism=parallelism, per_host_parallelism=per_host,
                  allow_power_off=allow_power_off, stage_on_emptied_hosts=stage_on_emptied)
    return target, result


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**CASES)
def test_replay_finds_no_violation(**case):
    target, result = _make(**case)
    outcome = replay(target.fleet, result, problem_limits(target.problem), case["parallelism"], case["per_host"])
    assert outcome.violations == [], [str(v) for v in outcome.violations]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**CASES, order_seed=st.integers(0, 2**31))
def test_no_interleaving_within_a_wave_overloads_a_host(order_seed, **case):
    """Run each wave's migrations as start/finish events in random orders, checking every step.

    Written apart from ``replay`` (which judges the worst moment only) so that the
    worst-moment argument itself is tested.
    """
    target, result = _make(**case)
    fleet = target.fleet
    limits = problem_limits(target.problem)
    demand = instance_demand(fleet)
    hidx = {h.name: i for i, h in enumerate(fleet.hosts)}
    load = np.zeros((len(fleet.hosts), 4))
    np.add.at(load, fleet.placement, demand)
    rng = np.random.default_rng(order_seed)
    for wave in result.waves:
        moves = [(fleet.instance_index[a.instance], hidx[a.source], hidx[a.destination])
                 for a in wave if a.kind.is_migration]
        for _ in range(4):
            trial = load.copy()
            # 2n event slots in random order; each migration starts at its first slot, ends at its second
            tokens = rng.permutation(np.repeat(np.arange(len(moves)), 2))
            started: set[int] = set()
            for j in tokens:
                v, src, dst = moves[j]
                if j not in started:
                    started.add(j)
                    trial[dst] += demand[v]  # the destination claims the instance's resources
                else:
                    trial[src] -= demand[v]  # the source lets them go only when it is over
                assert (trial <= limits).all(), f"overload mid-wave at {np.argwhere(trial > limits).tolist()}"
        for v, src, dst in moves:
            load[src] -= demand[v]
            load[dst] += demand[v]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**CASES)
def test_every_instance_ends_on_its_target_or_is_explained(**case):
    target, result = _make(**case)
    fleet = target.fleet
    outcome = replay(fleet, result, problem_limits(target.problem))
    undone = {u.instance: u for u in result.left_undone}
    for v, inst in enumerate(fleet.instances):
        goal = fleet.hosts[target.placement[v]].name
        end = outcome.placement[inst.uuid]
        if inst.uuid in undone:
            u = undone[inst.uuid]
            assert u.reason and u.source == end and u.destination == goal
            assert end != goal
        else:
            assert end == goal, f"{inst.name} ends on {end}, target {goal}, not listed as left undone"


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**CASES)
def test_pinned_instances_are_never_touched_and_hosts_go_off_only_empty(**case):
    target, result = _make(**case)
    fleet = target.fleet
    pinned = {i.uuid for i in fleet.instances if not i.movable}
    still = {i.uuid for v, i in enumerate(fleet.instances) if target.placement[v] == fleet.placement[v]}
    where = {i.uuid: i.host for i in fleet.instances}
    state = {h.name: h.state for h in fleet.hosts}
    for wave in result.waves:
        for a in wave:
            if a.kind.is_migration:
                assert a.instance not in pinned, f"{a.instance} is pinned but moves"
                assert a.instance not in still, f"{a.instance} stays in the target but moves"
            if a.kind is ActionKind.POWER_OFF:
                assert state[a.host] is not HostState.OFF
                assert a.host not in where.values(), f"{a.host} powered off with instances on it"
                assert not any(b.kind.is_migration and a.host in (b.source, b.destination) for b in wave)
        for a in wave:
            if a.kind.is_migration:
                where[a.instance] = a.destination
            elif a.kind is ActionKind.POWER_OFF:
                state[a.host] = HostState.OFF
    if not case["allow_power_off"]:
        assert not any(a.kind is ActionKind.POWER_OFF for a in result.actions)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n_hosts=st.integers(2, 8), n_instances=st.integers(0, 26),
       tight=st.floats(0.9, 1.0), parallelism=st.integers(1, 4), per_host=st.integers(1, 2))
def test_with_a_spare_host_every_cycle_is_broken(seed, n_hosts, n_instances, tight, parallelism, per_host):
    """Tight fleets plus one big empty spare host: every cycle can be staged, nothing is left undone."""
    target = random_case(seed, n_hosts, n_instances, tight=tight, groups=False, odd_states=False, spare=True)
    result = plan(target, parallelism=parallelism, per_host_parallelism=per_host)
    assert result.left_undone == [], [u.reason for u in result.left_undone]
