"""The joint watts bound: which hosts stay on and which carry the CPU load, decided together.

``bounds.watts_lower_bound`` adds two bounds found apart: the idle watts of the cheapest hosts
that cover the demand, and the dynamic watts of the load on the flattest power curves. On
mixed fleets the two pick different hosts (the small hosts with the flattest curve per core
are the dearest to keep on per GB), and no answer can do both: on the tight family of
``bench/solver_scale.py`` that split put the bound 4.6 % under the answer (3.7 % under the
answer after ejection chains, 0.9 % with this bound).

Here one linear programme decides both, over classes of interchangeable hosts and of
instances (the fractional relaxation of the whole problem):

- ``n[c]`` hosts of class ``c`` on (pinned hosts always), each paying its idle watts;
- ``a[k, c]`` instances of class ``k`` (zone, flavour, band of measured CPU) on class ``c``,
  within the class's room in every resource, and ``l[k, c]`` their load, between ``a[k, c]``
  times the band's least and most load of one, within the class's CPU carry; each band's
  loads add up to its instances' load;
- each core of load on class ``c`` costs its hosts' dynamic slope (``bounds.dynamic_lower_bound``'s
  per-core price), and at least ``hosts_bound`` hosts are on.

Every answer maps to a point of this programme with its own watts or more, so the optimum is
a lower bound (the core-size rule, ``solver/rules/cores.py``, is left out: a relaxation). The
figure reported is not the solver's optimum, which is only as exact as its tolerances, but the
weak-duality value of the duals it returns, clipped to their valid signs and computed here: a
lower bound for any duals, whatever the LP solver's accuracy.
"""

from __future__ import annotations

import numpy as np
from ortools.linear_solver import pywraplp

from watcher_geyser import defaults
from watcher_geyser.bounds import candidate_hosts, pinned_hosts
from watcher_geyser.fleet import Fleet
from watcher_geyser.tables import unique_rows

#: Instances of one zone and flavour are cut into this many bands of measured CPU (equal
#: counts): more bands, less freedom to put a band's heaviest on the flattest hosts, more columns.
CPU_BANDS = 8
#: Past this many columns (host classes x instance classes) the programme is skipped: the
#: separate bounds stand. Fleets of a few host types and flavours need some hundreds.
MAX_COLUMNS = 20000
#: The programme may take at most this share of the solve's time limit, judged by its size (so
#: the same fleet and limit always decide alike, deterministic mode included): building and
#: solving it costs about ``SECONDS_PER_COLUMN`` a column here. Why: a replayed day
#: (``geyser simulate``) solved its 800 hosts twice a step at 0.15 s a solve (the simulator's
#: limit then; 1 s now, room for about 400 columns), where the programme's ~1,300 columns took
#: 0.15 s each time and a day 98 s of CPU instead of 17; under ``geyser plan``'s 10 s it has
#: room for about 4,000 columns.
TIME_SHARE = 0.05
SECONDS_PER_COLUMN = 1.2e-4
FLOAT_MARGIN = 1e-9  # relative, taken off the bound


def joint_watts_lower_bound(
    fleet: Fleet,
    limits: np.ndarray,
    carry: np.ndarray,
    per_core_w: np.ndarray,
    allow_power_on: bool,
    hosts_bound: int,
    time_limit_s: float = defaults.TIME_LIMIT_S,
) -> float:
    """Least watts of any answer, idle and dynamic together; 0.0 when the programme is skipped
    (past ``MAX_COLUMNS``, or when it would take more than ``TIME_SHARE`` of ``time_limit_s``).

    ``limits`` (float[H, 3]) and ``carry`` (float[H], cores of measured load) are the most a
    host may hold in any answer; ``per_core_w`` what a core of load costs on each host."""
    if not fleet.instances or not (np.isfinite(limits).all() and np.isfinite(carry).all()):
        return 0.0
    forced = pinned_hosts(fleet)
    usable = candidate_hosts(fleet, allow_power_on) | forced
    host_keys = _host_keys(fleet, usable)
    item_keys = _instance_keys(fleet)
    # decided from the classes' count before any class is built: most short solves (a replayed
    # PlanetLab day's steps) skip the programme, and building the classes cost them about 2 ms each
    count = _column_count(host_keys[0][:, 0], item_keys[0][:, 0], np.bincount(item_keys[1]))
    affordable = count * SECONDS_PER_COLUMN <= TIME_SHARE * time_limit_s
    if count > MAX_COLUMNS or not affordable:
        return 0.0
    hosts = _host_classes(fleet, limits, carry, per_core_w, usable, forced, host_keys)
    items = _instance_classes(fleet, item_keys)
    columns = [(k, c) for k in range(len(items)) for c in range(len(hosts)) if items[k].zone == hosts[c].zone]
    if {i.zone for i in items} - {h.zone for h in hosts}:
        return 0.0  # instances with no host (the hosts bound says so)
    return _solve(hosts, items, columns, hosts_bound)


def _column_count(host_zones: np.ndarray, item_zones: np.ndarray, per_flavour: np.ndarray) -> int:
    """Columns of the programme: per zone, host classes times instance classes (a zone and
    flavour of ``per_flavour`` instances makes ``min(CPU_BANDS, per_flavour)`` bands)."""
    zones = int(max(host_zones.max(initial=-1), item_zones.max(initial=-1))) + 1
    hosts = np.bincount(host_zones.astype(np.int64), minlength=zones)
    bands = np.bincount(item_zones.astype(np.int64), weights=np.minimum(per_flavour, CPU_BANDS), minlength=zones)
    return int(hosts @ bands)


def _host_keys(fleet: Fleet, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct (zone, capacity, cores, idle, slope) rows, each usable host's row, the usable hosts)."""
    idx = np.flatnonzero(usable)
    keys = np.column_stack([fleet.host_zone[idx], fleet.capacity[idx], fleet.physical_cores[idx],
                            fleet.idle_w[idx], fleet.dynamic_slope_w_per_core[idx]])
    unique, inverse = unique_rows(keys)
    return unique, inverse, idx


def _instance_keys(fleet: Fleet) -> tuple[np.ndarray, np.ndarray]:
    """(distinct (zone, flavour) rows, each instance's row)."""
    return unique_rows(np.column_stack([fleet.host_zone[fleet.placement], fleet.demand]))


class _HostClass:
    """Interchangeable hosts: zone, room per resource, carry, idle watts, per-core price."""

    def __init__(self, zone: int, room: np.ndarray, carry: float, idle_w: float, per_core_w: float,
                 count: int, forced: int) -> None:
        self.zone, self.room, self.carry, self.idle_w, self.per_core_w = zone, room, carry, idle_w, per_core_w
        self.count, self.forced = count, forced


class _ItemClass:
    """Instances of one zone and flavour in one band of measured CPU (cores): how many, the
    least and most load of one, and their total load."""

    def __init__(self, zone: int, demand: np.ndarray, loads: np.ndarray) -> None:
        self.zone, self.demand, self.count = zone, demand, len(loads)
        self.cpu_least, self.cpu_most, self.cpu_total = float(loads[0]), float(loads[-1]), float(loads.sum())


def _host_classes(fleet: Fleet, limits: np.ndarray, carry: np.ndarray, per_core_w: np.ndarray,
                  usable: np.ndarray, forced: np.ndarray,
                  keys: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> list[_HostClass]:
    """Usable hosts of one zone, size and power curve, each class with its members' largest room
    and carry and least per-core price: a relaxation, so hosts held above their limits (each
    with its own held limit) do not make a class each. ``keys``: ``_host_keys``' answer."""
    unique, inverse, idx = _host_keys(fleet, usable) if keys is None else keys
    n = len(unique)
    room = np.zeros((n, limits.shape[1]))
    np.maximum.at(room, inverse, limits[idx])
    most = np.zeros(n)
    np.maximum.at(most, inverse, carry[idx])
    price = np.full(n, np.inf)
    np.minimum.at(price, inverse, per_core_w[idx])
    count = np.bincount(inverse, minlength=n)
    pinned = np.bincount(inverse, weights=forced[idx], minlength=n)
    return [
        _HostClass(int(unique[c, 0]), room[c], float(most[c]), float(unique[c, 5]), float(price[c]),
                   int(count[c]), int(pinned[c]))
        for c in range(n)
    ]


def _instance_classes(fleet: Fleet, keys: tuple[np.ndarray, np.ndarray] | None = None) -> list[_ItemClass]:
    """Instances by zone and flavour, each cut into ``CPU_BANDS`` bands of equal count by load.
    ``keys``: ``_instance_keys``' answer."""
    unique, inverse = _instance_keys(fleet) if keys is None else keys
    # the load each draws (a claim none, claims.py): at most what the CPU limits count, so the
    # programme stays a relaxation, and its watts are the answer's
    order = np.lexsort((fleet.cpu_drawn, inverse))  # by class, then load
    loads = fleet.cpu_drawn[order]
    starts = np.searchsorted(inverse[order], np.arange(len(unique) + 1))
    items: list[_ItemClass] = []
    for g, row in enumerate(unique):
        group = loads[starts[g]:starts[g + 1]]
        items += [_ItemClass(int(row[0]), row[1:], band) for band in np.array_split(group, min(CPU_BANDS, len(group)))]
    return items


class _Programme:
    """A linear programme kept as plain rows too, so its duals can be checked by weak duality."""

    def __init__(self) -> None:
        self.solver = pywraplp.Solver.CreateSolver("GLOP")
        self.variables: list[pywraplp.Variable] = []
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.cost: list[float] = []
        self.rows: list[tuple[pywraplp.Constraint, float, float, list[tuple[int, float]]]] = []

    def var(self, lower: float, upper: float, cost: float) -> int:
        self.variables.append(self.solver.NumVar(lower, upper, ""))
        self.lower.append(lower)
        self.upper.append(upper)
        self.cost.append(cost)
        return len(self.variables) - 1

    def row(self, lower: float, upper: float, terms: list[tuple[int, float]]) -> None:
        constraint = self.solver.Constraint(lower, upper)
        for j, coefficient in terms:
            constraint.SetCoefficient(self.variables[j], coefficient)
        self.rows.append((constraint, lower, upper, terms))

    def lower_bound(self) -> float:
        """Minimise, then return the weak-duality bound of GLOP's duals (0.0 without an answer):
        for duals y of valid signs, sum(y x rhs) plus, per variable, the least of its reduced cost
        times either bound, is at most the optimum, however inexact y."""
        objective = self.solver.Objective()
        for variable, cost in zip(self.variables, self.cost):
            objective.SetCoefficient(variable, cost)
        objective.SetMinimization()
        if self.solver.Solve() not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            return 0.0
        reduced = np.array(self.cost, dtype=np.float64)
        total = 0.0
        for constraint, lower, upper, terms in self.rows:
            y = constraint.dual_value()
            if lower == upper:
                rhs = lower
            elif np.isinf(lower):  # row <= upper: its dual is at most 0 in a minimisation
                y, rhs = min(y, 0.0), upper
            else:  # row >= lower: at least 0
                y, rhs = max(y, 0.0), lower
            total += y * rhs
            for j, coefficient in terms:
                reduced[j] -= y * coefficient
        lower_x, upper_x = np.array(self.lower), np.array(self.upper)
        total += float(np.minimum(reduced * lower_x, reduced * upper_x).sum())
        # float sums: where the answer meets the bound exactly, the last digit must not tip it over
        return max(total * (1 - FLOAT_MARGIN), 0.0)


def _solve(hosts: list[_HostClass], items: list[_ItemClass], columns: list[tuple[int, int]], hosts_bound: int) -> float:
    """The programme of the module docstring; its weak-duality bound."""
    lp = _Programme()
    on = [lp.var(h.forced, h.count, h.idle_w) for h in hosts]
    placed_in: dict[int, list[int]] = {}  # class of instances -> its count variables
    loads_in: dict[int, list[int]] = {}
    cells: dict[int, list[tuple[int, int, int]]] = {}  # class of hosts -> (instances' class, count, load)
    for k, c in columns:
        item = items[k]
        count = lp.var(0.0, item.count, 0.0)
        load = lp.var(0.0, item.count * item.cpu_most, hosts[c].per_core_w)
        lp.row(0.0, np.inf, [(load, 1.0), (count, -item.cpu_least)])  # each at least the band's least
        lp.row(-np.inf, 0.0, [(load, 1.0), (count, -item.cpu_most)])  # and at most its most
        placed_in.setdefault(k, []).append(count)
        loads_in.setdefault(k, []).append(load)
        cells.setdefault(c, []).append((k, count, load))
    for k, counts in placed_in.items():
        lp.row(items[k].count, items[k].count, [(j, 1.0) for j in counts])
        lp.row(items[k].cpu_total, items[k].cpu_total, [(j, 1.0) for j in loads_in[k]])
    for c, held in cells.items():
        for r in range(len(hosts[c].room)):
            lp.row(-np.inf, 0.0, [(count, float(items[k].demand[r])) for k, count, _ in held]
                   + [(on[c], -float(hosts[c].room[r]))])
        lp.row(-np.inf, 0.0, [(load, 1.0) for _, _, load in held] + [(on[c], -hosts[c].carry)])
    lp.row(float(hosts_bound), np.inf, [(j, 1.0) for j in on])
    return lp.lower_bound()
