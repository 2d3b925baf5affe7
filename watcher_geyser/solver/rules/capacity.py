"""Capacity: what a host may hold at the end of an answer.

The rule, per host h and resource r (vcpu, memory_mb, disk_gb, measured cpu_cores; the limits
are ``solver/limits.py``'s):

- a host that *receives* an instance (holds one it does not hold now) ends with
  ``load[h, r] <= packing_limit[h, r]``;
- a host that receives nothing may keep what it holds: ``load[h, r] <= held_limit[h, r]``
  where ``held_limit = max(packing_limit, load now)`` (a host already full is not made
  worse, and the answer is not blamed for what it found).
"""

from __future__ import annotations

import numpy as np
from ortools.sat.python import cp_model

from watcher_geyser.solver.limits import CPU_CORES, held_limits
from watcher_geyser.solver.problem import Problem

TOLERANCE = 1e-6
NAMES = ("vcpu", "memory_mb", "disk_gb")


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
    held = held_limits(problem.fleet, problem.ceiling, problem.cpu_packing)
    limits = np.where(receiving[:, None], np.column_stack([problem.limits, problem.cpu_limits]), held)
    return limits[:, :CPU_CORES], limits[:, CPU_CORES]


def check_capacity(problem: Problem, placement: np.ndarray) -> list[str]:
    """One line per host that ends above what the rule allows it."""
    fleet = problem.fleet
    limits, cpu_limits = allowed_load(problem, placement)
    load = fleet.load(placement)
    cpu = fleet.cpu_load(placement)
    problems = []
    for h in np.flatnonzero((load > limits + TOLERANCE).any(axis=1)):
        r = int(np.argmax(load[h] - limits[h]))
        problems.append(f"host {fleet.hosts[h].name}: {NAMES[r]} {load[h, r]:g} above its limit {limits[h, r]:g}")
    for h in np.flatnonzero(cpu > cpu_limits + TOLERANCE):
        problems.append(
            f"host {fleet.hosts[h].name}: measured CPU {cpu[h]:.2f} cores above its limit {cpu_limits[h]:.2f}"
        )
    return problems


def encode_capacity(
    model: cp_model.CpModel,
    host: int,
    members: list[int],
    x: dict,
    on: cp_model.IntVar,
    home: np.ndarray,
    demand: np.ndarray,
    limits: np.ndarray,
    held: np.ndarray,
) -> None:
    """The rule for ``host`` over the instances that may end on it (``members``), in integer
    units: ``demand[V, R]``, ``limits[H, R]`` (packing) and ``held[H, R]`` (``limits.hold``).
    A ``receives`` boolean is forced by any incoming instance, and then the packing limit
    binds; the same sum times ``on`` is redundant but gives the LP relaxation a volume bound."""
    incoming = [x[v, host] for v in members if home[v] != host]
    receives = model.new_bool_var(f"recv_{host}")
    for var in incoming:
        model.add_implication(var, receives)
    for r in range(demand.shape[1]):
        allowed, excess = int(held[host, r]), int(held[host, r] - limits[host, r])
        expr = cp_model.LinearExpr.weighted_sum([x[v, host] for v in members], [int(demand[v, r]) for v in members])
        model.add(expr <= allowed - excess * receives)
        model.add(expr <= allowed * on)
