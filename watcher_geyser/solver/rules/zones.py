"""Zones and destinations: a moved instance goes only to a host that accepts instances (enabled,
or switched on for it when ``allow_power_on``: ``Problem.may_receive``), in its own
availability zone. In the exact model this is the domain of each instance's variables
(``destinations``), never a constraint.
"""

from __future__ import annotations

import numpy as np

from watcher_geyser.solver.problem import Problem
from watcher_geyser.solver.workspace import Workspace


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


def destinations(ws: Workspace, v: int, receivers: np.ndarray) -> list[int]:
    """Sorted hosts instance ``v`` may end on: its home and the ``receivers`` (hosts that may
    receive, ``np.flatnonzero(ws.may_receive)``) of its zone."""
    return sorted({int(ws.placement0[v]), *receivers[ws.host_zone[receivers] == ws.instance_zone[v]].tolist()})


def receivers_per_zone(ws: Workspace) -> np.ndarray:
    """int[Z]: hosts that may receive, per zone (sizes the exact model)."""
    return np.bincount(ws.host_zone[ws.may_receive], minlength=len(ws.fleet.zones))
