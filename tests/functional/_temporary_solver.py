"""TEMPORARY stand-in for ``watcher_geyser.solver.solve`` until the real solver lands on main.

Test scaffolding only: used by the functional tests when ``watcher_geyser.solver`` does
not export ``solve`` yet, and removed when it does. First-fit decreasing: empty the
least-loaded hosts into the others while everything fits, budget ignored.
"""

from __future__ import annotations

import numpy as np

from watcher_geyser.solver.problem import Bounds, Problem, Target


def temporary_solve(problem: Problem) -> Target:
    fleet = problem.fleet
    placement = fleet.placement.copy()
    limits = problem.limits
    cpu_limits = problem.cpu_limits
    receive = problem.may_receive & fleet.powered
    load = fleet.load(placement)
    cpu = fleet.cpu_load(placement)
    order = np.argsort(load[:, 0] / np.maximum(fleet.capacity[:, 0], 1))
    emptied: set[int] = set()
    budget = problem.max_migrations if problem.max_migrations is not None else len(placement)
    for h in order:
        members = np.flatnonzero(placement == h)
        if not len(members) or not fleet.movable[members].all() or len(members) > budget:
            continue
        trial, trial_load, trial_cpu = placement.copy(), load.copy(), cpu.copy()
        ok = True
        for v in sorted(members, key=lambda v: -fleet.demand[v, 0]):
            for d in range(len(fleet.hosts)):
                if d == h or d in emptied or not receive[d] or not trial_load[d].any():
                    continue
                if fleet.host_zone[d] != fleet.host_zone[h]:
                    continue
                if np.all(trial_load[d] + fleet.demand[v] <= limits[d]) and \
                        trial_cpu[d] + fleet.cpu_used[v] <= cpu_limits[d]:
                    trial[v] = d
                    trial_load[d] += fleet.demand[v]
                    trial_load[h] -= fleet.demand[v]
                    trial_cpu[d] += fleet.cpu_used[v]
                    break
            else:
                ok = False
                break
        if ok:
            placement, load, cpu = trial, trial_load, trial_cpu
            emptied.add(int(h))
            budget -= len(members)
    return Target(problem, placement, Bounds(0, 0.0, 0.0), "GREEDY", 0.0, ("TEMPORARY stand-in solver",))
