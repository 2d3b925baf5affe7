"""Small tight fleets with server groups, and a replay written apart from ``planner.replay``.

Used by ``test_plan_groups_properties`` (a few hundred examples) and by
``bench/plan_groups.py`` (10,000 plans). The fleets hold affinity pairs and triples (on one
host now and in the target), anti-affinity pairs (on distinct hosts now and in the target),
pinned instances, two zones and hosts filled near their ceiling, so moves cross and block
each other and the planner has to leave some undone.

The replay checks, after every wave and at the worst moment inside it (every migration of
the wave in flight, counted on both ends, as Nova claims both):

- capacity: no host above ``max(ceiling x capacity, load now)`` (the documented transit rule);
- pinned instances (locked, excluded, unmovable) never move; no move crosses zones;
- anti-affinity: no host holds more members of a group than ``max(1, members now)``;
- affinity: a group's members are only on hosts it occupies now or where it ends, and it
  never ends on more hosts than it occupies now (a plan stopping short never splits it);
- a host switched off is empty; migrations go only to hosts that are on and enabled.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from watcher_geyser.fleet import Fleet
from watcher_geyser.planner import ActionKind
from watcher_geyser.power import PowerModel
from watcher_geyser.records import GroupPolicy, Host, HostState, Instance, ServerGroup
from watcher_geyser.solver.problem import Bounds, Problem, Target

POWER = PowerModel.linear(100.0, 300.0)
SIZES = ((1, 1024, 10), (2, 2048, 20), (2, 4096, 20), (4, 4096, 40))


def group_case(seed: int, n_hosts: int = 5, n_units: int = 10, tight: float = 0.95, zones: int = 2) -> Target:
    """A random fleet with groups and a target that respects capacity, zones and groups at its end."""
    rng = np.random.default_rng(seed)
    ceiling = float(rng.choice([1.0, 0.9]))
    hosts = [Host(f"h{h}", int(rng.choice([4, 8])), int(rng.choice([8192, 16384])), 200, POWER,
                  state=HostState.DISABLED if rng.random() < 0.08 else HostState.ENABLED, zone=f"z{h % zones}")
             for h in range(n_hosts)]
    cap = np.array([h.capacity for h in hosts]) * ceiling * tight
    zone = np.array([h % zones for h in range(n_hosts)])
    # units: a single instance, an affinity pair/triple (one host), or an anti-affinity pair (two hosts)
    units = []
    for _ in range(n_units):
        roll = rng.random()
        kind = "aff" if roll < 0.3 else "anti" if roll < 0.5 else "one"
        size = np.array(SIZES[int(rng.integers(0, len(SIZES)))], dtype=float)
        count = int(rng.integers(2, 4)) if kind == "aff" else 2 if kind == "anti" else 1
        units.append((kind, size, count))

    def pack(receivers: list[int]) -> list[list[int]] | None:
        used = np.zeros((n_hosts, 3))
        where: list[list[int]] = []
        for kind, size, count in units:
            options = list(rng.permutation(receivers))
            if kind == "anti":
                pair = []
                for h in options:
                    if (used[h] + size <= cap[h]).all() and (not pair or zone[h] == zone[pair[0]]):
                        pair.append(h)
                        used[h] += size
                        if len(pair) == 2:
                            break
                if len(pair) < 2:
                    for h in pair:
                        used[h] -= size
                    where.append([])
                    continue
                where.append(pair)
            else:
                for h in options:
                    if (used[h] + size * count <= cap[h]).all():
                        used[h] += size * count
                        where.append([h] * count)
                        break
                else:
                    where.append([])
        return where

    enabled = [h for h in range(n_hosts) if hosts[h].state is HostState.ENABLED]
    powered = list(range(n_hosts))
    goal_units = pack([h for h in enabled if rng.random() < 0.7] or enabled)
    now_units = pack(powered)
    instances, goal, groups = [], [], []
    for u, ((kind, size, _count), g, c) in enumerate(zip(units, goal_units, now_units)):
        if not g or not c:
            continue
        if zone[g[0]] != zone[c[0]]:  # keep the unit in its zone: the target stays where it is
            g = list(c)
        name = None
        if kind != "one":
            name = f"{kind}{u}"
            groups.append(ServerGroup(name, GroupPolicy.AFFINITY if kind == "aff" else GroupPolicy.ANTI_AFFINITY))
        for k in range(len(c)):
            pinned = rng.random()
            kw = {"locked": True} if pinned < 0.05 else {"excluded": True} if pinned < 0.08 else {}
            vc, mem, disk = (int(x) for x in size)
            instances.append(Instance(f"u{u}-{k}", f"vm{u}-{k}", hosts[c[k]].name, vc, mem, disk,
                                      server_group=name, cpu_util=float(rng.uniform(0.1, 1)), **kw))
            goal.append(g[k])
    fleet = Fleet.build(hosts, instances, groups)
    problem = Problem(fleet, ceiling=ceiling, cpu_ceiling=None)
    placement = np.array(goal, dtype=np.int64).reshape(-1)
    return Target(problem=problem, placement=placement, bounds=Bounds(0, 0, 0), status="TEST", solve_seconds=0)


def check_plan(target: Target, plan) -> list[str]:
    """Every rule broken by ``plan`` at any wave boundary or worst moment within a wave."""
    fleet = target.fleet
    ceiling = target.problem.ceiling
    hidx = {h.name: i for i, h in enumerate(fleet.hosts)}
    vidx = {i.uuid: v for v, i in enumerate(fleet.instances)}
    demand = np.array([(i.vcpus, i.memory_mb, i.disk_gb) for i in fleet.instances], dtype=float).reshape(-1, 3)
    where = [hidx[i.host] for i in fleet.instances]
    load = np.zeros((len(fleet.hosts), 3))
    for v, h in enumerate(where):
        load[h] += demand[v]
    capacity = np.array([h.capacity for h in fleet.hosts], dtype=float).reshape(-1, 3)
    limit = np.maximum(capacity * ceiling, load) * (1 + 1e-9) + 1e-9
    groups = {g.name: g.policy for g in fleet.server_groups}
    members = defaultdict(list)
    for v, inst in enumerate(fleet.instances):
        if inst.server_group:
            members[inst.server_group].append(v)
    anti_limit = {(g, h): max(1, n) for g in members for h, n in Counter(where[v] for v in members[g]).items()}
    start_hosts = {g: {where[v] for v in vs} for g, vs in members.items()}
    on = [h.state is not HostState.OFF for h in fleet.hosts]
    enabled = [h.state is HostState.ENABLED for h in fleet.hosts]
    bad: list[str] = []
    moves_of: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for w, wave in enumerate(plan.waves):
        for a in wave:
            if a.kind.is_migration:
                moves_of[w].append((vidx[a.instance], hidx[a.destination]))
    final = list(where)
    for w in sorted(moves_of):
        for v, dst in moves_of[w]:
            final[v] = dst
    end_hosts = {g: {final[v] for v in vs} for g, vs in members.items()}
    for g in members:
        if groups[g] is GroupPolicy.AFFINITY and len(end_hosts[g]) > max(1, len(start_hosts[g])):
            bad.append(f"affinity group {g} ends on {len(end_hosts[g])} hosts, was on {len(start_hosts[g])}")
    for w, wave in enumerate(plan.waves):
        for a in wave:  # host actions first: a host is switched on before it receives anything
            h = hidx.get(a.host) if a.host else None
            if a.kind is ActionKind.POWER_ON:
                on[h] = True
            elif a.kind is ActionKind.ENABLE:
                enabled[h] = True
        flight = load.copy()
        members_at = Counter()
        for v, dst in moves_of[w]:
            src, inst = where[v], fleet.instances[v]
            if src == dst or inst.locked or inst.excluded or not inst.movable:
                bad.append(f"wave {w}: {inst.name} is pinned or moves to where it is")
            if fleet.hosts[src].zone != fleet.hosts[dst].zone:
                bad.append(f"wave {w}: {inst.name} crosses zones")
            if not (on[dst] and enabled[dst]):
                bad.append(f"wave {w}: {inst.name} goes to {fleet.hosts[dst].name}, which is off or disabled")
            flight[dst] += demand[v]
        for g, vs in members.items():
            if groups[g] is GroupPolicy.ANTI_AFFINITY:
                for v in vs:
                    members_at[(g, where[v])] += 1
                for v, dst in moves_of[w]:
                    if v in vs:
                        members_at[(g, dst)] += 1
        for h in np.flatnonzero((flight > limit).any(axis=1)):
            bad.append(f"wave {w}: {fleet.hosts[h].name} over its limit with the wave in flight")
        for (g, h), n in members_at.items():
            if n > anti_limit.get((g, h), 1):
                bad.append(f"wave {w}: {fleet.hosts[h].name} holds {n} members of anti-affinity group {g}")
        for v, dst in moves_of[w]:
            load[where[v]] -= demand[v]
            load[dst] += demand[v]
            where[v] = dst
        for g, vs in members.items():
            if groups[g] is GroupPolicy.AFFINITY:
                stray = {where[v] for v in vs} - start_hosts[g] - end_hosts[g]
                if stray:
                    bad.append(f"after wave {w}: affinity group {g} has a member on a third host")
        for a in wave:
            if a.kind is ActionKind.POWER_OFF:
                h = hidx[a.host]
                if any(x == h for x in where):
                    bad.append(f"wave {w}: {a.host} switched off while it holds instances")
                on[h] = False
            elif a.kind is ActionKind.DISABLE:
                enabled[hidx[a.host]] = False
    return bad
