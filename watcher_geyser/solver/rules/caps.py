"""Caps on moves: ``max_migrations`` bounds the instances that change host;
``max_consolidation_moves`` bounds only those moved off hosts that end empty (moves off hosts
above their relief limit now, and of instances their home's cores are too slow for, are relief,
never counted: ``relief.hot_hosts``, ``cores.starved``).
"""

from __future__ import annotations

import numpy as np
from ortools.sat.python import cp_model

from watcher_geyser.solver.problem import Problem
from watcher_geyser.solver.rules.cores import starved
from watcher_geyser.solver.rules.relief import hot_hosts
from watcher_geyser.solver.workspace import Workspace


def check_migration_cap(problem: Problem, placement: np.ndarray) -> list[str]:
    """Said when more instances change host than the cap allows."""
    if problem.max_migrations is None:
        return []
    moved = int((placement != problem.fleet.placement).sum())
    if moved > problem.max_migrations:
        return [f"{moved} migrations above the cap of {problem.max_migrations}"]
    return []


def check_consolidation_cap(problem: Problem, placement: np.ndarray) -> list[str]:
    """Instances moved off hosts that end empty stay under the cap; those of hosts above
    their relief limit now, and those their home's cores are too slow for, are relief, never counted."""
    if problem.max_consolidation_moves is None:
        return []
    fleet = problem.fleet
    emptied = fleet.occupied() & ~fleet.occupied(placement)
    counted = np.ones(len(fleet.instances), dtype=bool)
    if problem.relieve:
        emptied &= ~hot_hosts(problem)
        counted &= ~starved(fleet)
    moved = int((emptied[fleet.placement] & counted).sum())
    if moved > problem.max_consolidation_moves:
        return [f"{moved} instances moved off emptied hosts, above the cap of {problem.max_consolidation_moves}"]
    return []


def encode_caps(ws: Workspace, model: cp_model.CpModel, moved: list, on: dict) -> None:
    """``moved``: (instance, 1 - x[v, home]) for every instance free to move; ``on[h]``: host h
    ends occupied. The exact model runs after relief, so no host is hot here."""
    problem = ws.problem
    if problem.max_migrations is not None:
        model.add(sum(m for _, m in moved) <= problem.max_migrations)
    if problem.max_consolidation_moves is not None:
        # every instance of a host that ends empty has moved off it
        counts = np.bincount(ws.placement0, minlength=ws.n_hosts)
        emptied = [(on[h], int(counts[h])) for h in np.flatnonzero(counts).tolist() if h in on]
        model.add(sum(c * (1 - var) for var, c in emptied) <= problem.max_consolidation_moves)
