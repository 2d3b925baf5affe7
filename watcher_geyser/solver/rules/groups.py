"""Server groups: Nova's hard affinity and anti-affinity policies (soft ones never bind here).

The rules, for a group's members M (``model.ServerGroup``, as plain data in the fleet):

- *anti-affinity*: a host holds at most ``max(1, members there now)`` members of M
  (``anti_affinity_host_limit``): members never end together, unless they already shared
  that host and cannot all leave; a member never moves onto a host where another ends;
- *affinity*: once any member moves, all end on one host. When members that cannot move
  already sit on several hosts the rule cannot hold, so the others stay where they are
  (``split_affinity_members``) rather than make it worse.

The planner keeps the anti-affinity limit in transit too (``planner/limits.py``).
"""

from __future__ import annotations

import numpy as np
from ortools.sat.python import cp_model

from watcher_geyser.model import Fleet, GroupPolicy
from watcher_geyser.solver.problem import Problem
from watcher_geyser.solver.workspace import Workspace


def anti_affinity_host_limit(members_now: int) -> int:
    """How many members of one hard anti-affinity group a host may hold, with ``members_now`` there now."""
    return max(1, members_now)


def anti_affinity_groups(fleet: Fleet) -> np.ndarray:
    """int64[V]: index of each instance's hard anti-affinity group, or -1."""
    hard = {g.name: i for i, g in enumerate(fleet.server_groups) if g.policy is GroupPolicy.ANTI_AFFINITY}
    return np.array([hard.get(i.server_group, -1) for i in fleet.instances], dtype=np.int64)


def check_server_groups(problem: Problem, placement: np.ndarray) -> list[str]:
    """Hard group policies hold, unless they were already broken by instances that cannot move."""
    fleet = problem.fleet
    if not fleet.server_groups:
        return []  # checked for every candidate answer: most fleets have no group to walk
    problems = []
    members: dict[str, list[int]] = {}
    for v, inst in enumerate(fleet.instances):
        if inst.server_group is not None:
            members.setdefault(inst.server_group, []).append(v)
    for group in fleet.server_groups:
        vs = np.array(members.get(group.name, []), dtype=np.int64)
        if len(vs) < 2:
            continue
        hosts = placement[vs]
        moved = placement[vs] != fleet.placement[vs]
        if group.policy is GroupPolicy.ANTI_AFFINITY:
            unique, counts = np.unique(hosts, return_counts=True)
            for h in unique[counts > 1]:
                # a pair that already shared this host before is a violation we found, not made
                if (fleet.placement[vs[hosts == h]] != h).any():
                    problems.append(
                        f"server group {group.name} (anti-affinity): several members on {fleet.hosts[h].name}"
                    )
        elif group.policy is GroupPolicy.AFFINITY and moved.any() and len(np.unique(hosts)) > 1:
            problems.append(f"server group {group.name} (affinity): members end on {len(np.unique(hosts))} hosts")
    return problems


def split_affinity_members(ws: Workspace) -> np.ndarray:
    """bool[V]: members of affinity groups whose pinned members already sit on several hosts
    (the rule cannot hold, so those members stay put rather than make it worse)."""
    frozen = np.zeros(ws.n_instances, dtype=bool)
    for g, policy in enumerate(ws.policy):
        if policy is not GroupPolicy.AFFINITY:
            continue
        members = np.flatnonzero(ws.group == g)
        pinned_hosts = np.unique(ws.placement0[members[~ws.movable[members]]])
        if len(pinned_hosts) > 1:
            frozen[members] = True
    return frozen


def encode_server_groups(ws: Workspace, model: cp_model.CpModel, x: dict, by_host: dict[int, list[int]]) -> None:
    """Anti-affinity: at most ``anti_affinity_host_limit`` members a host, and a newcomer only
    alone; affinity: one ``aff`` boolean per host the members may share, exactly one true."""
    for g, policy in enumerate(ws.policy):
        members = set(np.flatnonzero(ws.group == g).tolist())
        if len(members) < 2 or not policy.is_hard:
            continue
        hosts = {h for h, vs in by_host.items() if members & set(vs)}
        if policy is GroupPolicy.ANTI_AFFINITY:
            for h in hosts:
                here = [v for v in by_host[h] if v in members]
                already = sum(1 for v in members if ws.placement0[v] == h)
                model.add(sum(x[v, h] for v in here) <= anti_affinity_host_limit(already))
                for v in here:
                    if ws.placement0[v] != h:  # a newcomer only where no other member ends
                        model.add(sum(x[u, h] for u in here) <= 1).only_enforce_if(x[v, h])
        else:
            y = {h: model.new_bool_var(f"aff_{g}_{h}") for h in hosts}
            model.add_exactly_one(y.values())
            for v in members:
                for h in hosts:
                    model.add(x[v, h] == y[h]) if (v, h) in x else model.add(y[h] == 0)
