"""Relief: a host above its relief limit now (``solver/limits.py``: ``relief_limits``) ends at
or under it, unless the answer names it with a reason (``Target.unrelieved``). Checked only
when ``problem.relieve``; ``solver/relief.py`` is the back-end that relieves hot hosts
before any model is built.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from watcher_geyser.solver.limits import LIMIT_RESOURCES, above, host_load
from watcher_geyser.solver.problem import Problem
from watcher_geyser.solver.rules.cores import starved


def hot_hosts(problem: Problem, placement: np.ndarray | None = None) -> np.ndarray:
    """bool[H]: hosts above their relief limit under ``placement`` (now, by default)."""
    return above(host_load(problem.fleet, placement), problem.relief_limits)


def check_relief(problem: Problem, placement: np.ndarray, unrelieved: Collection[str]) -> list[str]:
    """No host ends above its relief limit, nor holding at home an instance its cores are too slow
    for (``rules/cores.starved``), unless ``unrelieved`` names it."""
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
    for v in np.flatnonzero(starved(fleet, placement) & (placement == fleet.placement)):
        if fleet.hosts[placement[v]].name not in unrelieved:
            problems.append(
                f"instance {fleet.instances[v].uuid} stays on host {fleet.hosts[placement[v]].name}, whose cores "
                f"give {fleet.core_size[placement[v]]:g} each, below the {fleet.cpu_per_core[v]:g} it needs per "
                "core, and the answer does not say why"
            )
    return problems
