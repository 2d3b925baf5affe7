"""Solver-free checkers: does a placement obey every rule of a problem?

Each rule of the problem has a ``check_*`` function here that reads only the fleet, the
problem and the placement, never a solver's internals. Together they are the test oracle
for every answer, whichever back-end produced it (greedy or CP-SAT).

The capacity rule, precisely: a host that receives an instance must end within its limits
(``problem.limits``, and ``problem.cpu_limits`` for measured CPU). A host that receives
nothing may keep what it holds even above its limits (a host already overloaded is not
made worse). The relief rule (``check_relief``, when ``problem.relieve``): a host above its
relief limit now ends at or under it, unless the answer names it with a reason.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from watcher_geyser.model import GroupPolicy
from watcher_geyser.solver.limits import CPU_CORES, LIMIT_RESOURCES, above, held_limits, host_load
from watcher_geyser.solver.problem import Problem

TOLERANCE = 1e-6


def receiving_hosts(problem: Problem, placement: np.ndarray) -> np.ndarray:
    """bool[H]: hosts that get at least one instance they do not hold now."""
    fleet = problem.fleet
    moved = placement != fleet.placement
    receiving = np.zeros(len(fleet.hosts), dtype=bool)
    receiving[placement[moved]] = True
    return receiving


def allowed_load(problem: Problem, placement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(float[H,3], float[H]): the most each host may hold under ``placement`` (see module doc)."""
    receiving = receiving_hosts(problem, placement)
    held = held_limits(problem.fleet, problem.ceiling, problem.cpu_ceiling)
    limits = np.where(receiving[:, None], np.column_stack([problem.limits, problem.cpu_limits]), held)
    return limits[:, :CPU_CORES], limits[:, CPU_CORES]


def check_capacity(problem: Problem, placement: np.ndarray) -> list[str]:
    fleet = problem.fleet
    limits, cpu_limits = allowed_load(problem, placement)
    load = fleet.load(placement)
    cpu = fleet.cpu_load(placement)
    problems = []
    names = ("vcpu", "memory_mb", "disk_gb")
    for h in np.flatnonzero((load > limits + TOLERANCE).any(axis=1)):
        r = int(np.argmax(load[h] - limits[h]))
        problems.append(f"host {fleet.hosts[h].name}: {names[r]} {load[h, r]:g} above its limit {limits[h, r]:g}")
    for h in np.flatnonzero(cpu > cpu_limits + TOLERANCE):
        problems.append(
            f"host {fleet.hosts[h].name}: measured CPU {cpu[h]:.2f} cores above its limit {cpu_limits[h]:.2f}"
        )
    return problems


def check_pinned(problem: Problem, placement: np.ndarray) -> list[str]:
    fleet = problem.fleet
    moved = (placement != fleet.placement) & ~fleet.movable
    return [
        f"instance {fleet.instances[v].uuid} is {fleet.instances[v].pinned_reason} but moves"
        for v in np.flatnonzero(moved)
    ]


def check_destinations(problem: Problem, placement: np.ndarray) -> list[str]:
    """Moved instances go only to hosts that accept them, in their own zone."""
    fleet = problem.fleet
    may_receive = problem.may_receive
    problems = []
    moved = placement != fleet.placement
    suspect = moved & (~may_receive[placement] | (fleet.host_zone[fleet.placement] != fleet.host_zone[placement]))
    for v in np.flatnonzero(suspect):  # a vectorised screen first: 200,000 instances in milliseconds
        src, dst = fleet.placement[v], placement[v]
        uuid = fleet.instances[v].uuid
        if not may_receive[dst]:
            problems.append(f"instance {uuid} moves to host {fleet.hosts[dst].name}, which may not receive instances")
        if fleet.host_zone[src] != fleet.host_zone[dst]:
            problems.append(f"instance {uuid} crosses from zone {fleet.hosts[src].zone} to {fleet.hosts[dst].zone}")
    return problems


def check_server_groups(problem: Problem, placement: np.ndarray) -> list[str]:
    """Hard group policies hold, unless they were already broken by instances that cannot move."""
    fleet = problem.fleet
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


def check_migration_cap(problem: Problem, placement: np.ndarray) -> list[str]:
    if problem.max_migrations is None:
        return []
    moved = int((placement != problem.fleet.placement).sum())
    if moved > problem.max_migrations:
        return [f"{moved} migrations above the cap of {problem.max_migrations}"]
    return []


def hot_hosts(problem: Problem, placement: np.ndarray | None = None) -> np.ndarray:
    """bool[H]: hosts above their relief limit under ``placement`` (now, by default)."""
    return above(host_load(problem.fleet, placement), problem.relief_limits)


def check_relief(problem: Problem, placement: np.ndarray, unrelieved: Collection[str]) -> list[str]:
    """No host ends above its relief limit unless ``unrelieved`` names it."""
    if not problem.relieve:
        return []
    fleet = problem.fleet
    load, limits = host_load(fleet, placement), problem.relief_limits
    problems = []
    for h in np.flatnonzero(hot_hosts(problem, placement)):
        if fleet.hosts[h].name in unrelieved:
            continue
        r = int(np.argmax(load[h] - limits[h]))
        problems.append(
            f"host {fleet.hosts[h].name}: {LIMIT_RESOURCES[r]} {load[h, r]:g} above its relief limit "
            f"{limits[h, r]:g}, and the answer does not say why"
        )
    return problems


def check_consolidation_cap(problem: Problem, placement: np.ndarray) -> list[str]:
    """Instances moved off hosts that end empty stay under the cap; those of hosts above
    their relief limit now are relief, never counted."""
    if problem.max_consolidation_moves is None:
        return []
    fleet = problem.fleet
    emptied = fleet.occupied() & ~fleet.occupied(placement)
    if problem.relieve:
        emptied &= ~hot_hosts(problem)
    moved = int(emptied[fleet.placement].sum())
    if moved > problem.max_consolidation_moves:
        return [f"{moved} instances moved off emptied hosts, above the cap of {problem.max_consolidation_moves}"]
    return []


def check_placement(problem: Problem, placement: np.ndarray, unrelieved: Collection[str] | None = None) -> list[str]:
    """Every rule violation of ``placement`` for ``problem``; an empty list means it is valid.

    With ``unrelieved`` (the host names an answer gives, as ``Target.unrelieved``), the
    relief rule is checked too."""
    relief = [] if unrelieved is None else check_relief(problem, placement, unrelieved)
    return [
        *relief,
        *check_capacity(problem, placement),
        *check_pinned(problem, placement),
        *check_destinations(problem, placement),
        *check_server_groups(problem, placement),
        *check_migration_cap(problem, placement),
        *check_consolidation_cap(problem, placement),
    ]
