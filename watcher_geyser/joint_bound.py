"""The joint watts bound: which hosts stay on and which carry the CPU load, decided together.

``bounds.watts_lower_bound`` adds two bounds found apart: the idle watts of the cheapest hosts
that cover the demand, and the dynamic watts of the load on the flattest power curves. On
mixed fleets the two pick different hosts (the small hosts with the flattest curve per core
are the dearest to keep on per GB), and no answer can do both: on the tight family of
``bench/solver_scale.py`` that split put the bound 4.6 % under the answer.

Here one linear programme decides both, over classes of interchangeable hosts and of
instances (the fractional relaxation of the whole problem):

- ``n[c]`` hosts of class ``c`` on (pinned hosts always), each paying its idle watts;
- ``a[k, c]`` instances of class ``k`` (zone, flavour, band of measured CPU) on class ``c``,
  within the class's room in every resource and its CPU carry;
- each core of load on class ``c`` costs its hosts' dynamic slope (``bounds.dynamic_lower_bound``'s
  per-core price), the part of an instance's load above its band's least is charged at the
  zone's cheapest per-core price, and at least ``hosts_bound`` hosts are on.

Every answer maps to a point of this programme with its own watts or more, so the optimum is
a lower bound. The figure reported is not the solver's optimum, which is only as exact as its
tolerances, but the weak-duality value of the duals it returns, clipped to their valid signs
and computed here: a lower bound for any duals, whatever the LP solver's accuracy.
"""

from __future__ import annotations

import numpy as np
from ortools.linear_solver import pywraplp

from watcher_geyser.bounds import candidate_hosts, pinned_hosts
from watcher_geyser.model import Fleet
from watcher_geyser.tables import unique_rows

#: Instances of one zone and flavour are cut into this many bands of measured CPU: more bands,
#: less load charged at the cheapest price only, more columns.
CPU_BANDS = 8
#: Past this many columns (host classes x instance classes) the programme is skipped: the
#: separate bounds stand. Fleets of a few host types and flavours need some hundreds.
MAX_COLUMNS = 20000


def joint_watts_lower_bound(
    fleet: Fleet,
    limits: np.ndarray,
    carry: np.ndarray,
    per_core_w: np.ndarray,
    allow_power_on: bool,
    hosts_bound: int,
) -> float:
    """Least watts of any answer, idle and dynamic together; 0.0 when the programme is skipped.

    ``limits`` (float[H, 3]) and ``carry`` (float[H], cores of measured load) are the most a
    host may hold in any answer; ``per_core_w`` what a core of load costs on each host."""
    if not fleet.instances or not (np.isfinite(limits).all() and np.isfinite(carry).all()):
        return 0.0
    forced = pinned_hosts(fleet)
    usable = candidate_hosts(fleet, allow_power_on) | forced
    hosts = _host_classes(fleet, limits, carry, per_core_w, usable, forced)
    items, residual_load = _instance_classes(fleet)
    zone_price = _zone_cheapest_price(fleet, per_core_w, usable)
    columns = [(k, c) for k in range(len(items)) for c in range(len(hosts)) if items[k].zone == hosts[c].zone]
    if len(columns) > MAX_COLUMNS or any(zone_price[z] is None for z in {i.zone for i in items}):
        return 0.0
    constant = float(sum(residual_load[z] * zone_price[z] for z in residual_load))
    return constant + _solve(hosts, items, columns, hosts_bound)


class _HostClass:
    """Interchangeable hosts: zone, room per resource, carry, idle watts, per-core price."""

    def __init__(self, zone: int, room: np.ndarray, carry: float, idle_w: float, per_core_w: float,
                 count: int, forced: int) -> None:
        self.zone, self.room, self.carry, self.idle_w, self.per_core_w = zone, room, carry, idle_w, per_core_w
        self.count, self.forced = count, forced


class _ItemClass:
    """Instances of one zone and flavour in one CPU band; ``cpu`` is the band's least load."""

    def __init__(self, zone: int, demand: np.ndarray, cpu: float, count: int) -> None:
        self.zone, self.demand, self.cpu, self.count = zone, demand, cpu, count


def _host_classes(fleet: Fleet, limits: np.ndarray, carry: np.ndarray, per_core_w: np.ndarray,
                  usable: np.ndarray, forced: np.ndarray) -> list[_HostClass]:
    idx = np.flatnonzero(usable)
    keys = np.column_stack([fleet.host_zone[idx], limits[idx], carry[idx], fleet.idle_w[idx], per_core_w[idx]])
    unique, inverse = unique_rows(keys)
    count = np.bincount(inverse, minlength=len(unique))
    pinned = np.bincount(inverse, weights=forced[idx], minlength=len(unique))
    return [
        _HostClass(int(row[0]), row[1:4], float(row[4]), float(row[5]), float(row[6]), int(n), int(p))
        for row, n, p in zip(unique, count, pinned)
    ]


def _instance_classes(fleet: Fleet) -> tuple[list[_ItemClass], dict[int, float]]:
    """Classes of instances, and per zone the load above their bands' least (priced apart)."""
    keys = np.column_stack([fleet.host_zone[fleet.placement], fleet.demand])
    unique, inverse = unique_rows(keys)
    order = np.lexsort((fleet.cpu_used, inverse))  # by class, then load
    loads = fleet.cpu_used[order]
    starts = np.searchsorted(inverse[order], np.arange(len(unique) + 1))
    items: list[_ItemClass] = []
    residual: dict[int, float] = {}
    for g, row in enumerate(unique):
        z = int(row[0])
        group = loads[starts[g]:starts[g + 1]]
        for band in np.array_split(group, min(CPU_BANDS, len(group))):
            items.append(_ItemClass(z, row[1:], float(band[0]), len(band)))
            residual[z] = residual.get(z, 0.0) + float((band - band[0]).sum())
    return items, residual


def _zone_cheapest_price(fleet: Fleet, per_core_w: np.ndarray, usable: np.ndarray) -> dict[int, float | None]:
    prices: dict[int, float | None] = {}
    for z in range(len(fleet.zones)):
        in_zone = usable & (fleet.host_zone == z)
        prices[z] = float(per_core_w[in_zone].min()) if in_zone.any() else None
    return prices


def _solve(hosts: list[_HostClass], items: list[_ItemClass], columns: list[tuple[int, int]], hosts_bound: int) -> float:
    """The programme's weak-duality bound from GLOP's duals (0.0 if GLOP gives none)."""
    solver = pywraplp.Solver.CreateSolver("GLOP")
    on = [solver.NumVar(h.forced, h.count, f"n{c}") for c, h in enumerate(hosts)]
    put = [solver.NumVar(0.0, items[k].count, f"a{k}_{c}") for k, c in columns]
    rows: list[tuple[pywraplp.Constraint, float, float, list[tuple[int, float]]]] = []  # (row, lo, hi, terms)

    def add_row(lo: float, hi: float, terms: list[tuple[int, float]]) -> None:
        row = solver.Constraint(lo, hi)
        for j, coefficient in terms:
            row.SetCoefficient(_var(on, put, j), coefficient)
        rows.append((row, lo, hi, terms))

    n_on = len(on)
    by_item: dict[int, list[tuple[int, float]]] = {}
    by_host: dict[int, list[tuple[int, int]]] = {}
    for j, (k, c) in enumerate(columns):
        by_item.setdefault(k, []).append((n_on + j, 1.0))
        by_host.setdefault(c, []).append((n_on + j, k))
    for k, terms in by_item.items():
        add_row(items[k].count, items[k].count, terms)
    for c, cells in by_host.items():
        for r in range(len(hosts[c].room)):
            add_row(-np.inf, 0.0, [(j, float(items[k].demand[r])) for j, k in cells] + [(c, -float(hosts[c].room[r]))])
        add_row(-np.inf, 0.0, [(j, items[k].cpu) for j, k in cells] + [(c, -hosts[c].carry)])
    add_row(float(hosts_bound), np.inf, [(c, 1.0) for c in range(n_on)])
    cost = np.array([h.idle_w for h in hosts] + [items[k].cpu * hosts[c].per_core_w for k, c in columns])
    objective = solver.Objective()
    for j, value in enumerate(cost):
        objective.SetCoefficient(_var(on, put, j), float(value))
    objective.SetMinimization()
    if solver.Solve() not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return 0.0
    return _dual_bound(rows, cost, [h.forced for h in hosts] + [0.0] * len(put),
                       [h.count for h in hosts] + [items[k].count for k, _ in columns])


def _var(on: list, put: list, j: int):
    return on[j] if j < len(on) else put[j - len(on)]


def _dual_bound(rows, cost: np.ndarray, lower: list[float], upper: list[float]) -> float:
    """Weak duality: for duals y of valid signs, sum(y * rhs) + sum over variables of the least
    of (reduced cost x bound) is at most the programme's optimum."""
    reduced = cost.astype(np.float64).copy()
    total = 0.0
    for row, lo, hi, terms in rows:
        y = row.dual_value()
        if lo == hi:
            rhs = lo
        elif np.isinf(lo):  # a <= row: its dual is at most 0 in a minimisation
            y, rhs = min(y, 0.0), hi
        else:  # a >= row: at least 0
            y, rhs = max(y, 0.0), lo
        total += y * rhs
        for j, coefficient in terms:
            reduced[j] -= y * coefficient
    lower_a, upper_a = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    total += float(np.minimum(reduced * lower_a, reduced * upper_a).sum())
    return max(total, 0.0)
