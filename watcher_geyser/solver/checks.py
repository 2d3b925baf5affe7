"""Solver-free checkers: does a placement obey every rule of a problem?

Each rule of the problem has a ``check_*`` function here that reads only the fleet, the
problem and the placement, never a solver's internals. Together they are the test oracle
for every answer, whichever back-end produced it (greedy or CP-SAT).

The capacity rule, precisely: a host that receives an instance must end within its limits
(``problem.limits``, and ``problem.cpu_limits`` for measured CPU). A host that receives
nothing may keep what it holds even above its limits (a host already overloaded is not
made worse; the solver tries to relieve it and says when it cannot).
"""

from __future__ import annotations

import numpy as np

from watcher_geyser.model import GroupPolicy
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
    fleet = problem.fleet
    receiving = receiving_hosts(problem, placement)
    limits = problem.limits.copy()
    cpu_limits = problem.cpu_limits.copy()
    keep = ~receiving
    limits[keep] = np.maximum(limits[keep], fleet.load()[keep])
    cpu_limits[keep] = np.maximum(cpu_limits[keep], fleet.cpu_load()[keep])
    return limits, cpu_limits


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
    for v in np.flatnonzero(placement != fleet.placement):
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


def check_consolidation_cap(problem: Problem, placement: np.ndarray) -> list[str]:
    if problem.max_consolidation_moves is None:
        return []
    fleet = problem.fleet
    emptied = fleet.occupied() & ~fleet.occupied(placement)
    moved = int(emptied[fleet.placement].sum())
    if moved > problem.max_consolidation_moves:
        return [f"{moved} instances moved off emptied hosts, above the cap of {problem.max_consolidation_moves}"]
    return []


def check_placement(problem: Problem, placement: np.ndarray) -> list[str]:
    """Every rule violation of ``placement`` for ``problem``; an empty list means it is valid."""
    return [
        *check_capacity(problem, placement),
        *check_pinned(problem, placement),
        *check_destinations(problem, placement),
        *check_server_groups(problem, placement),
        *check_migration_cap(problem, placement),
        *check_consolidation_cap(problem, placement),
    ]
