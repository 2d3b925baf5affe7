"""How much each host may hold: the capacity rules of a problem, written once.

Four resources, in this order: vcpu, memory_mb, disk_gb (the flavours' allocations) and
cpu_cores (measured CPU use). Three limits per host:

- the *packing limit*: ``ceiling * capacity`` for vcpu/RAM/disk and
  ``cpu_ceiling * physical_cores`` for measured CPU (infinite without a ``cpu_ceiling``; the
  CPU ceiling is one fraction for every host or, ``Problem.cpu_host_ceilings``, one per host).
  A host that receives an instance must end within it.
- the *relief limit*: the same, but measured CPU uses ``cpu_relief_ceiling`` when set (the
  dead band between the two ceilings: a host there keeps what it has, receives nothing).
  A host above it sheds instances (``solver/relief.py``) unless the answer names it with a
  reason.
- the *held limit*, the rule "limit = max(packing limit, load now)": the most a host may
  hold when it receives nothing, or at any moment of a plan. A host already full is not
  made worse, and the plan is not blamed for what it found; relief then brings hosts above
  their relief limit down to it, so after a relief step the load now is at most the relief
  limit for every host that is not named.
"""

from __future__ import annotations

import numpy as np

from watcher_geyser.fleet import RESOURCES, Fleet

# The model's resources (the flavours' allocations), then measured CPU use in cores.
LIMIT_RESOURCES = (*RESOURCES, "cpu_cores")
CPU_CORES = len(RESOURCES)
TOLERANCE = 1e-6  # relative: loads are sums of floats, a host exactly full is not above
#: A CPU ceiling: one fraction of physical cores for every host, one per host (float64[H]), or None (not capped).
CpuCeiling = float | np.ndarray | None


def check_host_ceilings(ceilings: tuple[float, ...], cpu_ceiling: float | None, hosts: int) -> None:
    """Raise ValueError unless ``ceilings`` gives each of ``hosts`` a fraction in (0, ``cpu_ceiling``]."""
    if cpu_ceiling is None:
        raise ValueError("cpu_host_ceilings needs a cpu_ceiling (the fleet's, at or above each host's)")
    if len(ceilings) != hosts:
        raise ValueError(f"cpu_host_ceilings names {len(ceilings)} hosts, the fleet has {hosts}: one per host, "
                         "in fleet order")
    values = np.asarray(ceilings, dtype=np.float64)
    bad = np.flatnonzero(~((values > 0) & (values <= cpu_ceiling + TOLERANCE)))
    if bad.size:
        h = int(bad[0])
        raise ValueError(f"cpu_host_ceilings[{h}] is {values[h]}: each must be in (0, cpu_ceiling {cpu_ceiling}]")


def above(load: np.ndarray, limits: np.ndarray) -> np.ndarray:
    """bool[H]: rows of ``load`` above their ``limits`` in some resource (float noise aside)."""
    slack = TOLERANCE * np.maximum(np.where(np.isinf(limits), 0, np.abs(limits)), 1.0)
    return (load > limits + slack).any(axis=1)


def instance_demand(fleet: Fleet) -> np.ndarray:
    """float64[V, 4]: what each instance weighs on a host, in ``LIMIT_RESOURCES`` order."""
    return np.column_stack([fleet.demand, fleet.cpu_used]) if fleet.instances else np.zeros((0, len(LIMIT_RESOURCES)))


def host_load(fleet: Fleet, placement: np.ndarray | None = None) -> np.ndarray:
    """float64[H, 4]: load of each host under ``placement`` (the fleet's own by default)."""
    placement = fleet.placement if placement is None else placement
    load = np.zeros((len(fleet.hosts), len(LIMIT_RESOURCES)))
    np.add.at(load, placement, instance_demand(fleet))
    return load


def packing_limits(fleet: Fleet, ceiling: float = 1.0, cpu_ceiling: CpuCeiling = None) -> np.ndarray:
    """float64[H, 4]: what a host that receives an instance may end holding."""
    limits = np.empty((len(fleet.hosts), len(LIMIT_RESOURCES)))
    limits[:, :CPU_CORES] = fleet.capacity * ceiling
    limits[:, CPU_CORES] = np.inf if cpu_ceiling is None else fleet.physical_cores * cpu_ceiling
    return limits


def hold(packing: np.ndarray, load_now: np.ndarray) -> np.ndarray:
    """The held-limit rule, ``max(packing limit, load now)``, in any units: the one statement
    of it (the exact model applies it to its integer-scaled limits)."""
    return np.maximum(packing, load_now)


def held_limits(
    fleet: Fleet, ceiling: float = 1.0, cpu_ceiling: CpuCeiling = None, load_now: np.ndarray | None = None
) -> np.ndarray:
    """float64[H, 4]: ``hold(packing limit, load now)`` for the fleet."""
    load_now = host_load(fleet) if load_now is None else load_now
    return hold(packing_limits(fleet, ceiling, cpu_ceiling), load_now)


def relief_limits(
    fleet: Fleet, ceiling: float, cpu_ceiling: CpuCeiling, cpu_relief_ceiling: float | None
) -> np.ndarray:
    """float64[H, 4]: above these a host must shed instances (see the module doc)."""
    relief_cpu = cpu_ceiling if cpu_relief_ceiling is None or cpu_ceiling is None else cpu_relief_ceiling
    return packing_limits(fleet, ceiling, relief_cpu)
