"""Solver-free checkers: does a placement obey every rule of a problem?

Each rule lives in a module of its own under ``solver/rules/`` (its statement, its checker,
its CP-SAT form); ``check_placement`` here runs every checker. They read only the fleet, the
problem and the placement, never a solver's internals: together they are the test oracle for
every answer, whichever back-end produced it (greedy or CP-SAT).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from watcher_geyser.solver.problem import Problem
from watcher_geyser.solver.rules.capacity import allowed_load, check_capacity, receiving_hosts
from watcher_geyser.solver.rules.caps import check_consolidation_cap, check_migration_cap
from watcher_geyser.solver.rules.cores import check_core_size
from watcher_geyser.solver.rules.groups import check_server_groups
from watcher_geyser.solver.rules.pinning import check_pinned
from watcher_geyser.solver.rules.relief import check_relief, hot_hosts
from watcher_geyser.solver.rules.zones import check_destinations

__all__ = [
    "allowed_load", "check_capacity", "check_consolidation_cap", "check_core_size", "check_destinations",
    "check_migration_cap", "check_pinned", "check_placement", "check_relief", "check_server_groups", "hot_hosts",
    "receiving_hosts",
]


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
        *check_core_size(problem, placement),
        *check_server_groups(problem, placement),
        *check_migration_cap(problem, placement),
        *check_consolidation_cap(problem, placement),
    ]
