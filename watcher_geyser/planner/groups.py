"""Server groups in a plan: an affinity group is never left split, odd groups are named.

A plan that stops short of its target (moves left undone as deadlocks, no room, ...) may
have moved some members of a hard affinity group and not the others: the group would end
split over more hosts than it holds now. ``split_affinity`` finds such groups from where
the plan leaves every instance; ``plan`` then keeps each whole group where it is and plans
again (``held_moves`` says why for each member).

``group_notes`` names the groups no plan can satisfy as the rules read: an affinity group
already split across zones (instances never cross zones, so it stays split) and an
anti-affinity group with more members than hosts to spread them on.

Who is a member of a hard affinity group is the solver's rule (``solver/rules/groups.py``);
what this module adds is the plan's own question: a plan cut short must not split a group.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from watcher_geyser.fleet import Fleet
from watcher_geyser.planner.actions import UndoneMove, UndoneReason
from watcher_geyser.records import GroupPolicy, HostState
from watcher_geyser.solver.rules.groups import affinity_members


def split_affinity(fleet: Fleet, final_hosts: Sequence[int], held: set[int]) -> list[int]:
    """Affinity groups (not yet ``held``) that end on more hosts than they occupy now."""
    out = []
    for g, members in affinity_members(fleet).items():
        if g in held:
            continue
        now = {int(fleet.placement[v]) for v in members}
        end = {int(final_hosts[v]) for v in members}
        if len(end) > len(now):
            out.append(g)
    return out


def hold(goal: np.ndarray, fleet: Fleet, groups: list[int]) -> None:
    """Keep every member of ``groups`` where it is now (in ``goal``, in place)."""
    members = affinity_members(fleet)
    for g in groups:
        for v in members[g]:
            goal[v] = fleet.placement[v]


def held_moves(fleet: Fleet, target_goal: np.ndarray, groups: set[int]) -> list[UndoneMove]:
    """The target moves of held groups' members, each with the reason it was not made."""
    out = []
    members = affinity_members(fleet)
    for g in sorted(groups):
        name = fleet.server_groups[g].name
        for v in members[g]:
            if target_goal[v] == fleet.placement[v]:
                continue
            inst = fleet.instances[v]
            code, reason = UndoneReason.AFFINITY_HELD, (
                f"affinity group {name} stays where it is: some of its members could not move, and moving the "
                "others would split the group")
            if inst.pinned_reason is not None:
                code, reason = UndoneReason.PINNED, f"{inst.name} is {inst.pinned_reason}: it does not move; {reason}"
            out.append(UndoneMove(inst.uuid, inst.name, fleet.hosts[fleet.placement[v]].name,
                                  fleet.hosts[target_goal[v]].name, code, reason))
    return out


def group_notes(fleet: Fleet) -> list[str]:
    """One sentence per server group that no plan can satisfy as its policy reads."""
    notes = []
    index = fleet.group_index
    by_group: dict[int, list[int]] = defaultdict(list)
    for v, inst in enumerate(fleet.instances):
        if inst.server_group is not None:
            by_group[index[inst.server_group]].append(v)
    zone = fleet.host_zone
    hosting = {int(h) for h in fleet.placement}
    usable = [h for h, host in enumerate(fleet.hosts) if host.state is not HostState.DISABLED or h in hosting]
    for g, members in sorted(by_group.items()):
        group = fleet.server_groups[g]
        zones = sorted({str(fleet.hosts[fleet.placement[v]].zone) for v in members})
        if group.policy is GroupPolicy.AFFINITY and len(zones) > 1:
            notes.append(
                f"affinity group {group.name} is already split across zones {', '.join(zones)}; instances never "
                "cross zones, so it stays split (bring its members into one zone by hand)"
            )
        elif group.policy is GroupPolicy.ANTI_AFFINITY:
            member_zones = {int(zone[fleet.placement[v]]) for v in members}
            hosts = sum(1 for h in usable if int(zone[h]) in member_zones)
            if len(members) > hosts:
                notes.append(
                    f"anti-affinity group {group.name} has {len(members)} members but only {hosts} host(s) in its "
                    "zone(s): it cannot be spread one per host; members already sharing a host stay so"
                )
    return notes
