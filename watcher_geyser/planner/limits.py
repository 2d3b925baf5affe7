"""The capacity rule a plan obeys in transit: one definition for the planner and the replay.

A host may hold, at every moment of a plan, at most its *transit limit* in each dimension:

    limit[h, r] = max(ceiling_r * capacity[h, r], load_now[h, r])      r = vcpu, ram, disk
    limit[h, cpu] = max(cpu_ceiling * physical_cores[h], cpu_load_now[h])  (infinite without cpu_ceiling)

(``solver.limits.held_limits``, where the rule is written once).
``capacity`` is Placement's ``(total - reserved) * allocation_ratio``; ``ceiling`` is the
packing ceiling the solver used. The ``max`` with today's load is deliberate: a host
already above its ceiling (or its capacity) must not get worse, but the plan may not be
able to empty it first and it is not the plan's fault that it is full, so it may stay
where it is. It may even receive instances once enough have left it, never passing its
load of today. A migrating instance counts on its source and its destination until it
finishes (Nova claims resources on both ends, for live and cold migrations alike).

Server-group anti-affinity follows the same "not worse than now" rule: a host holds at
most ``max(1, members_now)`` members of a hard anti-affinity group, in-flight ones included
(``solver.rules.groups``, where that rule is written once: ``member_counts`` counts them,
``member_limits`` gives each host its limit, ``within_member_limit`` judges a moment).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from watcher_geyser.fleet import Fleet
from watcher_geyser.solver.limits import LIMIT_RESOURCES, CpuCeiling, held_limits, host_load, instance_demand
from watcher_geyser.solver.problem import Problem
from watcher_geyser.solver.rules.groups import anti_affinity_groups, member_counts, member_limits, within_member_limit

__all__ = [  # the load arithmetic and group limit are the solver's (solver/limits.py, solver/rules/groups.py)
    "TRANSIT_RESOURCES", "anti_affinity_groups", "describe_excess", "host_load", "instance_demand",
    "member_counts", "member_limits", "problem_limits", "transit_limits", "within_member_limit",
]

# vcpu, memory_mb, disk_gb as in fleet.RESOURCES, plus measured CPU use in cores.
TRANSIT_RESOURCES = LIMIT_RESOURCES
UNITS = ("vCPU", "MB RAM", "GB disk", "cores of CPU use")
# Loads are sums of floats; a relative slack keeps rounding noise from flagging a host
# that is exactly full.
RELATIVE_SLACK = 1e-9


def transit_limits(fleet: Fleet, ceiling: float = 1.0, cpu_ceiling: CpuCeiling = None) -> np.ndarray:
    """float64[H, 4]: the most each host may hold at any moment of a plan (see module doc).

    The slack for rounding is already added: a load is safe when ``load <= limit``.
    """
    if not 0 < ceiling <= 1:
        raise ValueError(f"ceiling is a fraction in (0, 1], got {ceiling}")
    if cpu_ceiling is not None and not np.all((np.asarray(cpu_ceiling) > 0) & (np.asarray(cpu_ceiling) <= 1)):
        raise ValueError(f"cpu_ceiling is a fraction in (0, 1] (or one per host), got {cpu_ceiling}")
    limits = held_limits(fleet, ceiling, cpu_ceiling)
    return limits + RELATIVE_SLACK * np.maximum(np.abs(np.where(np.isinf(limits), 0, limits)), 1.0)


def problem_limits(problem: Problem) -> np.ndarray:
    """``transit_limits`` for a solver ``Problem``: its fleet, ceiling and CPU packing ceiling(s)."""
    return transit_limits(problem.fleet, problem.ceiling, problem.cpu_packing)


def describe_excess(load: Sequence[float], limit: Sequence[float], within: str = "nothing") -> str:
    """'2048 MB RAM, 2 vCPU' style text for the dimensions where ``load > limit`` (``within``
    where there is none); arrays or plain rows (``rows.py``) alike."""
    parts = []
    for r, unit in enumerate(UNITS):
        if load[r] > limit[r]:
            parts.append(f"{load[r] - limit[r]:.6g} {unit}")
    return ", ".join(parts) if parts else within
