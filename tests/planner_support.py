"""Fleets and targets for the planner tests, built by hand or at random (tight on purpose)."""

from __future__ import annotations

import numpy as np

from watcher_geyser.fleet import Fleet
from watcher_geyser.power import PowerModel
from watcher_geyser.records import GroupPolicy, Host, HostState, Instance, ServerGroup
from watcher_geyser.solver.problem import Bounds, Problem, Target

POWER = PowerModel.linear(100.0, 300.0)


def host(name: str, vcpus: int = 16, memory_mb: int = 16384, disk_gb: int = 1000, **kw) -> Host:
    return Host(name, vcpus, memory_mb, disk_gb, POWER, **kw)


def vm(uuid: str, on: str, vcpus: int = 1, memory_mb: int = 1024, disk_gb: int = 10, **kw) -> Instance:
    return Instance(uuid, f"vm-{uuid}", on, vcpus, memory_mb, disk_gb, **kw)


def target_of(fleet: Fleet, where: dict[str, str] | np.ndarray, ceiling: float = 1.0, **problem_kw) -> Target:
    """A Target moving the instances named in ``where`` (uuid -> host name) and keeping the rest."""
    if isinstance(where, dict):
        placement = fleet.placement.copy()
        for uuid, name in where.items():
            placement[fleet.instance_index[uuid]] = fleet.host_index(name)
    else:
        placement = np.asarray(where, dtype=np.int64)
    problem = Problem(fleet, ceiling=ceiling, **problem_kw)
    return Target(problem=problem, placement=placement, bounds=Bounds(0, 0, 0), status="TEST", solve_seconds=0)


def random_case(seed: int, n_hosts: int, n_instances: int, tight: float = 0.95, zones: int = 1,
                groups: bool = True, odd_states: bool = True, spare: bool = False) -> Target:
    """A random fleet and a target that is feasible at its end, with hosts filled near ``tight``.

    The target is built first (first-fit over a random order, hosts filled up to ``tight``
    of their limit, some hosts left empty), then the current placement is another random
    packing of the same instances within capacity and zone, so moves cross in every
    direction: swaps, cycles, hosts over their ceiling today. ``spare`` adds, per zone, an
    empty enabled host big enough to hold every instance (room to break any cycle).
    """
    rng = np.random.default_rng(seed)
    ceiling = float(rng.choice([1.0, 0.9, 0.8]))
    hosts = []
    for h in range(n_hosts):
        state = HostState.ENABLED
        if odd_states:
            state = [HostState.ENABLED] * 6 + [HostState.DISABLED, HostState.OFF]
            state = state[int(rng.integers(0, len(state)))]
        hosts.append(host(f"h{h}", vcpus=int(rng.choice([4, 8])), memory_mb=int(rng.choice([8192, 16384])),
                          disk_gb=int(rng.choice([100, 200])), cpu_allocation_ratio=float(rng.choice([1.0, 2.0])),
                          reserved_memory_mb=int(rng.choice([0, 512])), state=state, zone=f"z{h % zones}"))
    capacity = np.array([h.capacity for h in hosts])
    cpu_ceiling = None if rng.random() < 0.5 else 1.0
    cores = np.array([h.vcpus for h in hosts], dtype=float) * (cpu_ceiling or np.inf)
    limit = np.column_stack([capacity * ceiling, cores])  # the target respects the CPU cap too
    zone = np.array([h % zones for h in range(n_hosts)])
    sizes = [(1, 1024, 10), (1, 2048, 20), (2, 2048, 20), (2, 4096, 40), (4, 4096, 40), (2, 6144, 60)]
    picks = rng.integers(0, len(sizes), n_instances)
    util = rng.uniform(0.05, 1.0, n_instances)
    demand = np.array([(*sizes[p], sizes[p][0] * u) for p, u in zip(picks, util)], dtype=float).reshape(-1, 4)
    # target: fill receiving hosts (not disabled) up to ``tight`` of their limit
    receivers = [h for h in range(n_hosts) if hosts[h].state is not HostState.DISABLED and rng.random() < 0.7]
    goal = np.full(n_instances, -1)
    used = np.zeros((n_hosts, 4))
    for v in rng.permutation(n_instances):
        for h in rng.permutation(receivers):
            if (used[h] + demand[v] <= limit[h] * tight + 1e-9).all():
                goal[v] = h
                used[h] += demand[v]
                break
    keep = np.flatnonzero(goal >= 0)  # instances that fit nowhere are dropped from the case
    demand, goal, util = demand[keep, :3], goal[keep], util[keep]
    # current: another random packing within capacity, same zone as the target, on powered hosts
    powered = [h for h in range(n_hosts) if hosts[h].state is not HostState.OFF]
    cur = np.full(len(keep), -1)
    used = np.zeros((n_hosts, 3))
    for v in rng.permutation(len(keep)):
        options = [h for h in rng.permutation(powered) if zone[h] == zone[goal[v]]]
        for h in options:
            if (used[h] + demand[v] <= capacity[h] + 1e-9).all():
                cur[v] = h
                break
        if cur[v] < 0:
            cur[v] = goal[v] if hosts[goal[v]].state is not HostState.OFF else (options[0] if options else goal[v])
        used[cur[v]] += demand[v]
    if any(hosts[c].state is HostState.OFF for c in cur):  # no powered host in that zone: switch them on
        hosts = [h if h.state is not HostState.OFF or i not in set(cur.tolist()) else
                 Host(**{**h.__dict__, "state": HostState.ENABLED}) for i, h in enumerate(hosts)]
    server_groups = [ServerGroup("anti", GroupPolicy.ANTI_AFFINITY), ServerGroup("aff", GroupPolicy.AFFINITY)]
    instances = []
    anti_used: set[int] = set()
    for v in range(len(keep)):
        vc, mem, disk = (int(x) for x in demand[v])
        kw = {"cpu_util": float(util[v])}
        if odd_states:
            roll = rng.random()
            if roll < 0.05:
                kw["locked"] = True
            elif roll < 0.08:
                kw["excluded"] = True
            elif roll < 0.15:
                kw["state"] = "shutoff"
            elif roll < 0.18:
                kw["state"] = "error"
        # anti-affinity: members on distinct hosts now and in the target
        if groups and rng.random() < 0.3 and cur[v] not in anti_used and goal[v] not in anti_used:
            kw["server_group"] = "anti"
            anti_used.update((int(cur[v]), int(goal[v])))
        elif groups and rng.random() < 0.1:
            kw["server_group"] = "aff"  # the planner never stages these
        instances.append(Instance(f"u{v}", f"vm{v}", hosts[cur[v]].name, vc, mem, disk, **kw))
    if spare:
        hosts = hosts + [host(f"spare{z}", vcpus=256, memory_mb=262144, disk_gb=4000, zone=f"z{z}")
                         for z in range(zones)]
    fleet = Fleet.build(hosts, instances, server_groups if groups else ())
    problem = Problem(fleet, ceiling=ceiling, cpu_ceiling=cpu_ceiling)
    return Target(problem=problem, placement=goal.astype(np.int64), bounds=Bounds(0, 0, 0), status="TEST",
                  solve_seconds=0)
