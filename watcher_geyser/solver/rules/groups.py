"""Server groups: Nova's hard affinity and anti-affinity policies (soft ones never bind here).

This module is where the group rule is written; the solver's passes, relief, the planner, its
replay and the bring-backs of deferral ask it (the questions differ: a target's end state, a
move as relief decides it, each step of a plan in transit, an instance coming back).

The rules, for a group's members M (``records.ServerGroup``, as plain data in the fleet):

- *who is a member*: an instance whose ``server_group`` names the group. Only the hard
  policies bind (``GroupPolicy.is_hard``); a soft one is a preference where a choice is free
  (``newcomer_hosts``), never a reason to refuse a host;
- *anti-affinity*: a host holds at most ``max(1, members there now)`` members of M
  (``anti_affinity_host_limit``; ``within_member_limit`` in transit): members never end
  together, unless they already shared that host and cannot all leave; a member never moves
  onto a host where another is or ends (``newcomer_hosts``);
- *affinity*: members of a hard affinity group move only as a whole (``hard_affinity``):
  once any member moves, all end on one host, the host of the members that stay when any do
  (``block_hosts``). When members that cannot move already sit on several hosts the rule
  cannot hold, so the others stay where they are (``split_affinity_members``) rather than
  make it worse.

Where members are: ``member_hosts`` (group -> hosts holding one) and ``member_counts``
((group, host) -> members there). The planner keeps the anti-affinity limit in transit too
(``planner/limits.py``), counting in-flight members on their destination.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from ortools.sat.python import cp_model

from watcher_geyser.fleet import Fleet
from watcher_geyser.records import GroupPolicy

if TYPE_CHECKING:  # the workspace builds its group arrays with this module: no import cycle at run time
    from watcher_geyser.solver.problem import Problem
    from watcher_geyser.solver.workspace import Workspace

Key = TypeVar("Key", bound=Hashable)


# --- who is a member ------------------------------------------------------------------------------


def group_indices(fleet: Fleet) -> np.ndarray:
    """int64[V]: index of each instance's server group (any policy) in ``fleet.server_groups``, or -1."""
    group = np.full(len(fleet.instances), -1, dtype=np.int64)
    if fleet.server_groups:  # most fleets: no walk over the instances
        index = fleet.group_index
        for v, inst in enumerate(fleet.instances):
            if inst.server_group is not None:
                group[v] = index[inst.server_group]
    return group


def anti_affinity_groups(fleet: Fleet) -> np.ndarray:
    """int64[V]: index of each instance's hard anti-affinity group, or -1."""
    hard = {g.name: i for i, g in enumerate(fleet.server_groups) if g.policy is GroupPolicy.ANTI_AFFINITY}
    return np.array([hard.get(i.server_group, -1) for i in fleet.instances], dtype=np.int64)


def hard_affinity(group: np.ndarray, policies: Sequence[GroupPolicy]) -> np.ndarray:
    """bool[len(group)]: which instances (by ``group`` index, -1 for none) belong to a hard affinity
    group, whose members move only as a whole (a pass that moves instances one at a time leaves them)."""
    affinity = [g for g, p in enumerate(policies) if p is GroupPolicy.AFFINITY]
    return np.isin(group, affinity)


def affinity_members(fleet: Fleet) -> dict[int, list[int]]:
    """Group index -> indices of its instances, for hard affinity groups."""
    if not fleet.server_groups:  # most fleets (every PlanetLab one): no walk over the instances
        return {}
    index = fleet.group_index
    out: dict[int, list[int]] = defaultdict(list)
    for v, inst in enumerate(fleet.instances):
        if inst.server_group is not None:
            g = index[inst.server_group]
            if fleet.server_groups[g].policy is GroupPolicy.AFFINITY:
                out[g].append(v)
    return dict(out)


# --- where the members are ------------------------------------------------------------------------


def member_hosts(group: np.ndarray, placement: np.ndarray, among: np.ndarray | None = None) -> dict[int, set[int]]:
    """Group index -> the hosts holding a member of it (only members ``among``, bool[V], when given):
    the hosts a newcomer of an anti-affinity group must avoid, and where an affinity block must go."""
    presence: dict[int, set[int]] = {}
    mask = group >= 0 if among is None else (group >= 0) & among
    for v in np.flatnonzero(mask):
        presence.setdefault(int(group[v]), set()).add(int(placement[v]))
    return presence


def member_counts(group: np.ndarray, placement: np.ndarray) -> dict[tuple[int, int], int]:
    """(group index, host) -> members there, for the instances with ``group >= 0``."""
    counts: dict[tuple[int, int], int] = {}
    for v in np.flatnonzero(group >= 0):
        key = (int(group[v]), int(placement[v]))
        counts[key] = counts.get(key, 0) + 1
    return counts


# --- which hosts a member may take ----------------------------------------------------------------


def anti_affinity_host_limit(members_now: int) -> int:
    """How many members of one hard anti-affinity group a host may hold, with ``members_now`` there now."""
    return max(1, members_now)


def member_limits(counts: Mapping[Key, int]) -> dict[Key, int]:
    """``anti_affinity_host_limit`` of each (group, host) ``counts`` holds members of now (any key form:
    host indices or names); a pair absent from it holds none now, so its limit is one."""
    return {key: anti_affinity_host_limit(n) for key, n in counts.items()}


def within_member_limit(members: int, limit: int | None) -> bool:
    """Whether a host may hold ``members`` members of one hard anti-affinity group at some moment of a
    plan (those arriving included), its ``limit`` taken before the plan (``member_limits``; None: it
    held none then). The "not worse than now" of ``anti_affinity_host_limit``, in transit."""
    return members <= (anti_affinity_host_limit(0) if limit is None else limit)


def newcomer_hosts(policy: GroupPolicy | None, others: Collection[int], n_hosts: int) -> np.ndarray:
    """bool[H]: the hosts a member arriving from elsewhere may take under ``policy``, with the group's
    other members on ``others`` (where they are, or were given in this decision).

    Anti-affinity (hard or soft): a host holding none of them. Affinity (hard or soft): one of them
    when there are any, else any host (an affinity block with no member placed goes where it fits,
    as one: ``block_hosts``). No policy: any host. The caller says whether the answer binds (a hard
    policy: Nova's filters refuse the move) or is a preference (a soft one: Nova's weighers)."""
    placed = np.zeros(n_hosts, dtype=bool)
    placed[list(others)] = True
    if policy in (GroupPolicy.ANTI_AFFINITY, GroupPolicy.SOFT_ANTI_AFFINITY):
        return ~placed
    if policy in (GroupPolicy.AFFINITY, GroupPolicy.SOFT_AFFINITY) and placed.any():
        return placed
    return np.ones(n_hosts, dtype=bool)


def block_hosts(staying: Collection[int]) -> Collection[int] | None:
    """Where a hard affinity block (its members that move, moved as one) may go, given the hosts
    ``staying`` of its members that do not move: that host when they share one; any host (an empty
    collection: no narrowing) when none stays; None when those staying are already apart (no move
    can mend the group, so the block stays)."""
    return None if len(staying) > 1 else staying


# --- the end state: checker and CP-SAT encoding ---------------------------------------------------


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
        if block_hosts(pinned_hosts) is None:
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
