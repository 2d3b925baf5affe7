"""``Workspace``: the arrays of one problem, computed once and shared by every back-end.

The greedy repack, the host-selection model, the exact model and the local search all read
these arrays; none of them owns them. Limits come from ``solver/limits.py`` (the one
statement of the capacity rules); with no ``cpu_ceiling`` measured CPU is left out and the
arrays have three columns (vcpu, memory_mb, disk_gb), else four (plus cpu_cores).
"""

from __future__ import annotations

import numpy as np

from watcher_geyser.fleet import RAM
from watcher_geyser.records import GroupPolicy
from watcher_geyser.solver.limits import CPU_CORES, held_limits, host_load, instance_demand, packing_limits
from watcher_geyser.solver.problem import Problem
from watcher_geyser.solver.rules.cores import core_tiers
from watcher_geyser.solver.rules.groups import group_indices
from watcher_geyser.tables import unique_rows

# instances of one flavour are batched per band of measured CPU (cores), each band charged its own maximum
CPU_BANDS_CORES = np.array([0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32])


class Workspace:
    """Arrays of one problem, computed once and shared by every back-end of a solve.

    ``limits`` are the packing limits (what a host that receives may end holding),
    ``held_limits`` the most a host may hold when it receives nothing (``max(limit, load
    now)``), ``relief_limits`` those above which a host sheds instances; all from
    ``solver/limits.py``, cut to the resources the problem constrains.
    """

    def __init__(self, problem: Problem) -> None:
        fleet = problem.fleet
        self.problem = problem
        self.fleet = fleet
        self.n_hosts = len(fleet.hosts)
        self.n_instances = len(fleet.instances)
        self.use_cpu = problem.cpu_ceiling is not None
        dims = CPU_CORES + 1 if self.use_cpu else CPU_CORES
        load_now = host_load(fleet)

        def cut(table: np.ndarray) -> np.ndarray:  # the constrained resources, contiguous for the hot loops
            return np.ascontiguousarray(table[:, :dims])

        self.demand = cut(instance_demand(fleet))
        self.limits = cut(packing_limits(fleet, problem.ceiling, problem.cpu_packing))
        self.held_limits = cut(held_limits(fleet, problem.ceiling, problem.cpu_packing, load_now))
        # a host sheds instances only above these (the dead band between ceilings is kept)
        self.relief_limits = cut(problem.relief_limits)
        self.load0 = cut(load_now)
        self.placement0 = fleet.placement
        self.movable = fleet.movable
        self.host_zone = fleet.host_zone
        self.instance_zone = fleet.host_zone[fleet.placement]
        self.may_receive = problem.may_receive
        # the core-size rule (rules/cores.py): host h fits a moved instance v when host_core_tier[h] >= core_tier[v]
        self.host_core_tier, self.core_tier = core_tiers(fleet)
        self.core_tiers = int(self.core_tier.max(initial=0)) + 1
        self.scale = np.maximum(self.limits.max(axis=0), 1.0)
        self.group = group_indices(fleet)  # every group, soft ones too (rules/groups.py says which bind)
        self.policy: list[GroupPolicy] = [g.policy for g in fleet.server_groups]
        hard = np.array([p.is_hard for p in self.policy] + [False], dtype=bool)
        self.in_hard_group = hard[self.group]
        # the flavour alone (vcpu, memory, disk): dense codes 0..n-1, whatever the measured CPU
        self.flavour = _flavor_keys(fleet.demand)
        self.flavor_key = self.flavour
        if self.use_cpu:
            # instances of one flavour differ in measured CPU: batch them per CPU band too,
            # each band charged its own maximum, so batches stay few and fits stay safe
            band = np.searchsorted(CPU_BANDS_CORES, fleet.cpu_used)
            self.flavor_key = self.flavor_key * (len(CPU_BANDS_CORES) + 1) + band
        # a batch shares its core tier too, so the fill can tell which hosts' cores it fits (one tier: unchanged)
        self.flavor_key = self.flavor_key * self.core_tiers + self.core_tier
        # hosts that hold something that cannot move must stay on
        self.forced = np.zeros(self.n_hosts, dtype=bool)
        self.forced[self.placement0[~self.movable]] = True
        self.ram = fleet.demand[:, RAM]
        self.home_memory_mb = np.bincount(self.placement0, weights=self.ram, minlength=self.n_hosts)


def _flavor_keys(demand: np.ndarray) -> np.ndarray:
    """One integer per distinct demand row."""
    return unique_rows(demand)[1]
