"""Lower bounds: how good can any answer to a consolidation problem possibly be?

Every figure here is *proven*: no placement that obeys the problem's capacity limits does
better. The solver reports its answer next to these so an operator sees the gap.

- hosts: per zone, the larger of the per-dimension volume bound (L1: the fewest of the
  largest hosts whose capacity covers the demand) and, on zones of identical hosts, the
  Martello-Toth L2 bound (which counts items that cannot share a host).
- watts: idle watts of the cheapest host set that covers the demand in every dimension
  (fractional knapsack, and the cheapest ``hosts`` hosts) plus the dynamic watts of the
  measured CPU load served by the hosts with the flattest power curves.
- migration cost: to end with k hosts on, at least ``occupied - k`` hosts must be emptied,
  and the cheapest such hosts still move their memory.

Hosts that hold a pinned instance (locked, excluded, unmovable state) must stay on, which
every bound takes into account. The core-size rule (``solver/rules/cores.py``) is left out:
a bound of the problem without it is a bound of the problem with it (a relaxation).
"""

from __future__ import annotations

import math

import numpy as np

from watcher_geyser.fleet import RAM, VCPU, Fleet

EPS = 1e-9


def pinned_hosts(fleet: Fleet) -> np.ndarray:
    """bool[H]: hosts that must stay on because they hold an instance that cannot move."""
    forced = np.zeros(len(fleet.hosts), dtype=bool)
    forced[fleet.placement[~fleet.movable]] = True
    return forced


def candidate_hosts(fleet: Fleet, allow_power_on: bool) -> np.ndarray:
    """bool[H]: hosts that may be on after consolidation.

    Powered hosts may stay on (disabled ones keep what they hold); off hosts only when the
    request allows switching hosts on.
    """
    return fleet.powered | (allow_power_on & fleet.accepts)


def _min_hosts_covering(capacity: np.ndarray, need: float) -> int | None:
    """Fewest entries of ``capacity`` (1-D) whose sum reaches ``need``; None when impossible."""
    if need <= EPS:
        return 0
    ordered = np.sort(capacity)[::-1]
    cumulative = np.cumsum(ordered)
    reach = np.searchsorted(cumulative, need - EPS)
    return None if reach >= len(ordered) else int(reach) + 1


def martello_toth_l2(sizes: np.ndarray, capacity: float) -> int:
    """Martello-Toth L2 bound for one dimension, identical bins of ``capacity``.

    For a threshold a <= C/2: items above C - a each need a bin of their own; items in
    (C/2, C - a] too; items in [a, C/2] can only use what those bins leave, plus new bins.
    """
    sizes = sizes[sizes > EPS]
    if len(sizes) == 0 or capacity <= 0:
        return 0
    best = math.ceil(sizes.sum() / capacity - EPS)
    half = capacity / 2
    thresholds = np.unique(np.concatenate(([0.0], sizes[sizes <= half + EPS])))
    for a in thresholds:
        big = sizes > capacity - a + EPS
        middle = (sizes > half + EPS) & ~big
        small = (sizes >= a - EPS) & (sizes <= half + EPS)
        room = middle.sum() * capacity - sizes[middle].sum()
        extra = max(0.0, sizes[small].sum() - room)
        bound = int(big.sum() + middle.sum() + math.ceil(extra / capacity - EPS))
        best = max(best, bound)
    return best


def hosts_lower_bound(fleet: Fleet, limits: np.ndarray, allow_power_on: bool = True, use_l2: bool = True) -> int | None:
    """Fewest hosts that can be on after any consolidation; None when the demand cannot fit at all."""
    forced = pinned_hosts(fleet)
    candidates = candidate_hosts(fleet, allow_power_on)
    total = 0
    zone_of = fleet.host_zone
    instance_zone = zone_of[fleet.placement]
    for z in range(len(fleet.zones)):
        in_zone = zone_of == z
        demand = fleet.demand[instance_zone == z]
        if len(demand) == 0:
            continue
        zone_forced = in_zone & forced
        free = in_zone & candidates & ~forced
        need = np.maximum(demand.sum(axis=0) - limits[zone_forced].sum(axis=0), 0.0)
        zone_bound = int(zone_forced.sum())
        extra_needed = 0
        for r in range(limits.shape[1]):
            extra = _min_hosts_covering(limits[free, r], need[r])
            if extra is None:
                return None
            extra_needed = max(extra_needed, extra)
        zone_bound += extra_needed
        zone_limits = limits[in_zone & candidates]
        if use_l2 and not zone_forced.any() and len(zone_limits) and np.all(zone_limits == zone_limits[0]):
            for r in range(limits.shape[1]):
                zone_bound = max(zone_bound, martello_toth_l2(demand[:, r], float(zone_limits[0, r])))
        total += zone_bound
    return total


def dynamic_slopes_w_per_core(fleet: Fleet) -> np.ndarray:
    """float64[H]: a slope s with P(u) >= idle + s * u * cores for every u (a valid lower line)."""
    return fleet.dynamic_slope_w_per_core


def watts_lower_bound(
    fleet: Fleet,
    limits: np.ndarray,
    allow_power_on: bool = True,
    hosts_bound: int | None = None,
    cpu_limits: np.ndarray | None = None,
) -> float:
    """Least watts any placement can draw: idle of the cheapest covering hosts + least dynamic watts.

    ``cpu_limits`` caps the measured CPU load a host may carry (None: only its vcpu limit does).
    """
    usable = candidate_hosts(fleet, allow_power_on) | pinned_hosts(fleet)
    idle = idle_lower_bound(fleet, limits, allow_power_on, hosts_bound)
    return idle + dynamic_lower_bound(fleet, usable, limits[:, VCPU], cpu_limits)


def idle_lower_bound(
    fleet: Fleet, limits: np.ndarray, allow_power_on: bool = True, hosts_bound: int | None = None
) -> float:
    """Least idle watts of any set of hosts that can carry the demand."""
    forced = pinned_hosts(fleet)
    candidates = candidate_hosts(fleet, allow_power_on)
    zone_of = fleet.host_zone
    instance_zone = zone_of[fleet.placement]
    idle_total = 0.0
    for z in range(len(fleet.zones)):
        in_zone = zone_of == z
        demand = fleet.demand[instance_zone == z].sum(axis=0)
        if not demand.any():
            continue
        zone_forced = in_zone & forced
        free = np.flatnonzero(in_zone & candidates & ~forced)
        need = np.maximum(demand - limits[zone_forced].sum(axis=0), 0.0)
        base = float(fleet.idle_w[zone_forced].sum())
        best_extra = 0.0
        for r in range(limits.shape[1]):
            best_extra = max(best_extra, _fractional_cover_cost(fleet.idle_w[free], limits[free, r], need[r]))
        idle_total += base + best_extra
    if hosts_bound is not None:
        cheapest = np.sort(fleet.idle_w[candidates | forced])[:hosts_bound].sum()
        idle_total = max(idle_total, float(cheapest))
    return idle_total


def _fractional_cover_cost(cost: np.ndarray, capacity: np.ndarray, need: float) -> float:
    """Least cost of a fractional selection of hosts whose capacity covers ``need``."""
    if need <= EPS:
        return 0.0
    useful = capacity > EPS
    cost, capacity = cost[useful], capacity[useful]
    order = np.argsort(cost / capacity, kind="stable")
    total, left = 0.0, need
    for h in order:
        take = min(1.0, left / capacity[h])
        total += take * cost[h]
        left -= take * capacity[h]
        if left <= EPS:
            return total
    return total  # demand cannot be covered: the caller reports infeasibility elsewhere


def dynamic_lower_bound(
    fleet: Fleet, usable: np.ndarray, vcpu_limits: np.ndarray, cpu_limits: np.ndarray | None
) -> float:
    """Least dynamic watts that serve the measured CPU load.

    A host carrying load l (cores) pays s * min(l, cores) above idle: load past 100 % is
    free. So a host's cheapest use is to carry as much load as it may (``cpu_limits``, and
    never more than ``vcpu_limits``, as an instance uses at most its vcpus), at s * cores / that much per core of
    load; filling the hosts cheapest-per-core first gives the bound. With a CPU ceiling at
    or under 100 % this is exactly "the load on the flattest power curves".
    """
    return priced_dynamic_lower_bound(fleet, usable, *load_prices(fleet, vcpu_limits, cpu_limits))


def priced_dynamic_lower_bound(fleet: Fleet, usable: np.ndarray, carry: np.ndarray, per_core: np.ndarray) -> float:
    """``dynamic_lower_bound`` from ``load_prices``' figures, for a caller that needs those too."""
    load = float(fleet.cpu_drawn.sum())  # what the watts follow: a claim's guest counted once (claims.py)
    if load <= EPS:
        return 0.0
    idx = np.flatnonzero(usable)
    total = 0.0
    for h in idx[np.argsort(per_core[idx], kind="stable")]:
        take = min(load, carry[h])
        total += take * per_core[h]
        load -= take
        if load <= EPS:
            break
    return total


def load_prices(
    fleet: Fleet, vcpu_limits: np.ndarray, cpu_limits: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(carry, per_core_w), float64[H] each: the most measured load (cores) a host may carry,
    and the least a core of it costs there when the host carries at most that much
    (``dynamic_lower_bound`` says why)."""
    cores = fleet.physical_cores
    carry = vcpu_limits if cpu_limits is None else np.minimum(cpu_limits, vcpu_limits)
    carry = np.maximum(carry, EPS)
    return carry, dynamic_slopes_w_per_core(fleet) * np.minimum(cores, carry) / carry


def emptying_cost_mb(fleet: Fleet) -> np.ndarray:
    """float64[H]: memory that leaves each host if it is emptied (inf where a pinned instance sits)."""
    cost = np.zeros(len(fleet.hosts))
    np.add.at(cost, fleet.placement, fleet.demand[:, RAM])
    cost[pinned_hosts(fleet)] = np.inf
    return cost


def migration_cost_lower_bound_mb(fleet: Fleet, hosts_on_by_zone: dict[int, int]) -> float:
    """Least memory any answer that ends with ``hosts_on_by_zone[z]`` occupied hosts per zone moves."""
    cost = emptying_cost_mb(fleet)
    occupied = fleet.occupied()
    total = 0.0
    for z, k in hosts_on_by_zone.items():
        in_zone = (fleet.host_zone == z) & occupied
        must_empty = int(in_zone.sum()) - k
        if must_empty <= 0:
            continue
        costs = np.sort(cost[in_zone])[:must_empty]
        total += float(costs[np.isfinite(costs)].sum())
    return total


def hosts_on_by_zone(fleet: Fleet, placement: np.ndarray) -> dict[int, int]:
    occupied = fleet.occupied(placement)
    return {z: int((occupied & (fleet.host_zone == z)).sum()) for z in range(len(fleet.zones))}
