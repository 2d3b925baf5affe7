"""Pinning: instances that cannot move stay where they are.

An instance cannot move when it is locked, excluded by the audit scope, in a state Nova
cannot migrate, or on a host that is down (``records.Instance.movable``, with the reason in
``pinned_reason``). In the exact model it is not a choice at all: one constant variable on
its home host (``fixed_instances``), which also holds the members of a broken affinity group
(``groups.split_affinity_members``).
"""

from __future__ import annotations

import numpy as np

from watcher_geyser.solver.problem import Problem
from watcher_geyser.solver.rules.groups import split_affinity_members
from watcher_geyser.solver.workspace import Workspace


def check_pinned(problem: Problem, placement: np.ndarray) -> list[str]:
    """One line per instance that cannot move but does."""
    fleet = problem.fleet
    moved = (placement != fleet.placement) & ~fleet.movable
    return [
        f"instance {fleet.instances[v].uuid} is {fleet.instances[v].pinned_reason} but moves"
        for v in np.flatnonzero(moved)
    ]


def fixed_instances(ws: Workspace) -> np.ndarray:
    """bool[V]: instances the exact model fixes on their home host."""
    return ~ws.movable | split_affinity_members(ws)
