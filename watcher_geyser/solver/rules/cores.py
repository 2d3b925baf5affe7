"""Core size: a moved instance ends only on a host whose cores are fast enough for it.

A VM whose vCPUs run over k physical cores gets at most k of them (``fleet.Fleet.core_size``:
the CPU one core of a host gives). Hosts of different generations differ in core speed, so a
busy VM may fit a host's total CPU and still be starved there: its vCPUs cannot borrow a second
core's speed. CloudSim's policies never place a VM so (``isSuitableForVm``: the host's MIPS per
core must cover the VM's request per core). With ``need[v] = Fleet.cpu_per_core[v]`` (measured
CPU per core it runs over) and ``size[h] = Fleet.core_size[h]``:

    placement[v] != home[v]  =>  need[v] <= size[h] (within ``TOLERANCE``), h = placement[v]

The rule lets an instance stay where it is whatever its need; relief (``solver/relief.py``) then
moves one that is *starved* at home (``starved``: its need above its host's core size) to cores
fast enough, or the answer names its host in ``Target.unrelieved`` with why it stays (the relief
checker, ``rules/relief.py``, refuses an answer that does neither). Hosts without a core size (``inf``: the default, and
every OpenStack host, where a vCPU is a host thread) fit every instance and starve none, so a
fleet with no core sizes takes the same decisions as without the rule.

The passes read it as integer *tiers* (``core_tiers``): the distinct core sizes, sorted; a
host's tier is its size's rank, an instance's the rank of the smallest size that covers it,
and host h fits instance v when ``host_tier[h] >= tier[v]``. A fleet has a few generations,
so the vectorised fill batches instances per tier as it does per zone. In the exact model the
rule is the domain of each instance's variables (``destinations``), never a constraint. The
lower bounds (``bounds.py``, ``joint_bound.py``, the host-selection model) leave it out: a
relaxation stays a valid bound.
"""

from __future__ import annotations

import numpy as np

from watcher_geyser.fleet import Fleet
from watcher_geyser.solver.problem import Problem

TOLERANCE = 1e-9  # relative and absolute slack of the comparison (float sums of measured CPU)
#: How far above its home's core size an instance's CPU per core must be before relief moves it
#: (``solver/relief.py`` says why this value).
STARVED_MARGIN = 0.0


def covered_need(size: np.ndarray) -> np.ndarray:
    """The largest need each core size covers."""
    return size * (1 + TOLERANCE) + TOLERANCE


def core_tiers(fleet: Fleet) -> tuple[np.ndarray, np.ndarray]:
    """(int64[H] each host's tier, int64[V] each instance's): host h fits instance v when
    ``host_tier[h] >= tier[v]`` (module docstring). All zero when no host has a core size."""
    size = fleet.core_size
    levels = np.unique(size[np.isfinite(size)])
    host_tier = np.searchsorted(levels, size, side="left")  # inf ranks past every level
    tier = np.searchsorted(covered_need(levels), fleet.cpu_per_core, side="left")
    return host_tier.astype(np.int64), tier.astype(np.int64)


def slower_than(size: np.ndarray, need: np.ndarray | float) -> np.ndarray:
    """bool: cores of ``size`` give less than ``need`` per core (the rule's comparison, broadcast)."""
    return need > covered_need(size)


def too_slow(fleet: Fleet, instances: np.ndarray, hosts: np.ndarray) -> np.ndarray:
    """bool per pair: ``hosts[i]``'s cores give less than ``instances[i]`` uses per core (for the
    checker and the planner's refusals alike; home is the caller's concern)."""
    return slower_than(fleet.core_size[hosts], fleet.cpu_per_core[instances])


def starved(fleet: Fleet, placement: np.ndarray | None = None) -> np.ndarray:
    """bool[V]: instances using more CPU per core than their host's cores give, by more than
    ``STARVED_MARGIN`` under ``placement`` (now, by default): relief moves those still at home.
    All False in a fleet without core sizes."""
    at = fleet.placement if placement is None else placement
    return slower_than(fleet.core_size[at] * (1 + STARVED_MARGIN), fleet.cpu_per_core)


def check_core_size(problem: Problem, placement: np.ndarray) -> list[str]:
    """One line per moved instance that ends on a host whose cores are too slow for it."""
    fleet = problem.fleet
    need = fleet.cpu_per_core
    bad = (placement != fleet.placement) & too_slow(fleet, np.arange(len(placement)), placement)
    return [
        f"instance {fleet.instances[v].uuid} moves to host {fleet.hosts[placement[v]].name}, whose cores give "
        f"{fleet.core_size[placement[v]]:.6g} each, below the {need[v]:.6g} it needs per core"
        for v in np.flatnonzero(bad)
    ]


def may_end_on(host_tier: np.ndarray, tier: int, home: int, hosts: np.ndarray) -> np.ndarray:
    """bool[len(hosts)]: which of ``hosts`` an instance of ``tier`` living on ``home`` may end on."""
    return (host_tier[hosts] >= tier) | (hosts == home)


def destinations(host_tier: np.ndarray, tier: int, home: int, hosts: list[int]) -> list[int]:
    """The CP-SAT form: of the hosts an instance's variables range over (``zones.destinations``),
    those it may end on."""
    at = np.asarray(hosts, dtype=np.int64)
    return at[may_end_on(host_tier, tier, home, at)].tolist()
