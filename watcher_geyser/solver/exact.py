"""The full CP-SAT model, one boolean per (instance, host): exact on small fleets.

Used where it fits (a few tens of hosts, a few hundred instances): it proves optimality,
which the decomposition cannot, and so anchors the tests that check bounds against the
optimum. Objectives, lexicographic, in two solves: watts (idle of occupied hosts plus a
lower line of each host's power curve over its measured CPU, capped at 100 %), then memory
moved and migration count, among answers within the fewest watts or within the power
budget, whichever is higher (``solver/budget.py``). Migrations are priced at nothing against a
watt, so the portfolio sends home afterwards the moves that do not pay back (``solver/payback.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from watcher_geyser.bounds import dynamic_slopes_w_per_core
from watcher_geyser.fleet import RAM
from watcher_geyser.solver.cpsat import UNITS, dump_model, make_solver
from watcher_geyser.solver.limits import hold
from watcher_geyser.solver.rules import cores
from watcher_geyser.solver.rules.capacity import encode_capacity
from watcher_geyser.solver.rules.caps import encode_caps
from watcher_geyser.solver.rules.groups import encode_server_groups
from watcher_geyser.solver.rules.pinning import fixed_instances
from watcher_geyser.solver.rules.zones import destinations, receivers_per_zone
from watcher_geyser.solver.workspace import Workspace

MICRO = 1_000_000


@dataclass
class ExactResult:
    placement: np.ndarray | None
    status: str
    watts_bound_w: float | None  # proven bound on watts, None when rounding makes it unsafe
    proven: bool


def model_size(ws: Workspace) -> int:
    """Booleans the exact model would need: for sizing the choice of back-end."""
    per_zone_receivers = receivers_per_zone(ws)
    movable = ws.movable
    return int(per_zone_receivers[ws.instance_zone[movable]].sum() + movable.sum())


@dataclass
class _Scaled:
    """The problem's resources in the model's integer units (``UNITS``): demand rounded up,
    packing limits down, held limits (``limits.hold``) from those, so no answer is wrongly
    accepted; ``exact`` when no rounding happened (only then is the watts bound proven)."""

    demand: np.ndarray  # int64[V, R]
    limits: np.ndarray  # int64[H, R]
    held: np.ndarray  # int64[H, R]
    exact: bool


def _scaled(ws: Workspace) -> _Scaled:
    units = np.array(UNITS[: ws.demand.shape[1]])
    demand = np.ceil(ws.demand * units - 1e-9).astype(np.int64)
    limits = np.floor(ws.limits * units + 1e-9).astype(np.int64)
    load_now = np.ceil(ws.load0 * units - 1e-9).astype(np.int64)
    exact = np.allclose(ws.demand * units, demand) and np.allclose(ws.limits * units, limits)
    return _Scaled(demand, limits, hold(limits, load_now), exact)


@dataclass
class _Model:
    """The built model and the handles both solves need."""

    model: cp_model.CpModel
    x: dict[tuple[int, int], cp_model.IntVar]  # (instance, host) -> it ends there
    on: dict[int, cp_model.IntVar]  # host -> it ends occupied
    frozen: np.ndarray  # bool[V]: instances fixed on their home host
    watts: cp_model.LinearExpr  # in micro-watts
    moved: list[tuple[int, cp_model.LinearExpr]]  # (instance, 1 if it leaves home) for the free ones
    bound_is_exact: bool


def solve_exact(
    ws: Workspace, time_limit_s: float, hint: np.ndarray | None, seed: int = 0, workers: int = 2
) -> ExactResult:
    """Fewest watts first (``time_limit_s * 0.6``), then the least memory moved and fewest
    migrations among answers within the allowed watts (the rest of the time)."""
    built = _build(ws)
    model = built.model
    if hint is not None:
        _hint(built, hint)
    model.minimize(built.watts)
    dump_model(model, "exact")
    solver = make_solver(time_limit_s * 0.6, seed, workers, ws.problem.deterministic)
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return ExactResult(None, solver.status_name(status), None, False)
    bound = solver.best_objective_bound / MICRO if built.bound_is_exact else None
    proven = status == cp_model.OPTIMAL
    first = _read(solver, built.x, ws)
    model.clear_hints()
    _hint(built, first)
    _within_watts(ws, built, solver)
    _minimize_moves(ws, built)
    solver2 = make_solver(time_limit_s * 0.4, seed, workers, ws.problem.deterministic)
    status2 = solver2.solve(model)
    if status2 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return ExactResult(
            _read(solver2, built.x, ws), solver.status_name(status), bound, proven and status2 == cp_model.OPTIMAL
        )
    return ExactResult(first, solver.status_name(status), bound, False)


def _build(ws: Workspace) -> _Model:
    """Variables, every rule (``solver/rules/``) and the watts; no objective yet."""
    model = cp_model.CpModel()
    scaled = _scaled(ws)
    frozen = fixed_instances(ws)
    x, by_host = _assignments(model, ws, frozen)
    on = {h: model.new_bool_var(f"on_{h}") for h in range(ws.n_hosts) if by_host[h]}
    power = _PowerLine(ws)
    watts_terms: list[tuple] = []
    for h, vs in by_host.items():
        if not vs:
            continue
        for v in vs:
            model.add_implication(x[v, h], on[h])
        encode_capacity(model, h, vs, x, on[h], ws.placement0, scaled.demand, scaled.limits, scaled.held)
        watts_terms += power.terms(model, h, vs, x, on[h])
    encode_server_groups(ws, model, x, by_host)
    moved = [(v, 1 - x[v, int(ws.placement0[v])]) for v in range(ws.n_instances) if not frozen[v]]
    encode_caps(ws, model, moved, on)
    watts = cp_model.LinearExpr.weighted_sum([t for t, _ in watts_terms], [c for _, c in watts_terms])
    return _Model(model, x, on, frozen, watts, moved, scaled.exact)


def _assignments(
    model: cp_model.CpModel, ws: Workspace, frozen: np.ndarray
) -> tuple[dict[tuple[int, int], cp_model.IntVar], dict[int, list[int]]]:
    """One boolean per instance and host it may end on (``zones.destinations``, then
    ``cores.destinations``), exactly one true; a fixed instance (``pinning.fixed_instances``)
    gets one constant on its home."""
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    by_host: dict[int, list[int]] = {h: [] for h in range(ws.n_hosts)}
    receivers = np.flatnonzero(ws.may_receive)
    for v in range(ws.n_instances):
        hosts = [int(ws.placement0[v])] if frozen[v] else destinations(ws, v, receivers)
        if not frozen[v] and ws.core_tiers > 1:
            hosts = cores.destinations(ws.host_core_tier, int(ws.core_tier[v]), int(ws.placement0[v]), hosts)
        for h in hosts:
            x[v, h] = model.new_constant(1) if frozen[v] else model.new_bool_var(f"x_{v}_{h}")
            by_host[h].append(v)
        if not frozen[v]:
            model.add_exactly_one(x[v, h] for h in hosts)
    return x, by_host


class _PowerLine:
    """Each host's watts in the model: idle when on, plus a lower line of its power curve over
    its measured CPU (micro-watts), capped at its cores."""

    def __init__(self, ws: Workspace) -> None:
        fleet, problem = ws.fleet, ws.problem
        self.fleet = fleet
        self.slopes = dynamic_slopes_w_per_core(fleet)
        self.cores_mc = np.round(fleet.physical_cores * 1000).astype(np.int64)
        # objective only, rounded down: the CPU each row draws (a claim none, ``claims.py``)
        self.cpu_mc = np.floor(fleet.cpu_drawn * 1000 + 1e-9).astype(np.int64)
        # with measured CPU capped at the cores, power is linear in the load: no min() needed
        self.capped_by_cores = (
            problem.cpu_ceiling is not None
            and problem.cpu_ceiling <= 1.0
            and bool((fleet.cpu_load() <= fleet.physical_cores + 1e-9).all())
        )

    def terms(self, model: cp_model.CpModel, h: int, vs: list[int], x: dict, on: cp_model.IntVar) -> list[tuple]:
        """(variable, micro-watts) terms of host ``h`` holding instances among ``vs``."""
        terms = [(on, int(round(self.fleet.idle_w[h] * MICRO)))]
        slope = int(np.floor(self.slopes[h] * 1000))
        if slope <= 0:
            return terms
        cpu_mc = self.cpu_mc
        if self.capped_by_cores:
            return terms + [(x[v, h], slope * int(cpu_mc[v])) for v in vs if cpu_mc[v] > 0]
        load = model.new_int_var(0, int(cpu_mc[vs].sum()), f"cpu_{h}")
        model.add(load == cp_model.LinearExpr.weighted_sum([x[v, h] for v in vs], [int(cpu_mc[v]) for v in vs]))
        capped = model.new_int_var(0, int(self.cores_mc[h]), f"capped_{h}")
        model.add_min_equality(capped, [load, int(self.cores_mc[h])])
        return terms + [(capped, slope)]


def _hint(built: _Model, placement: np.ndarray) -> None:
    for (v, h), var in built.x.items():
        if not built.frozen[v]:
            built.model.add_hint(var, bool(placement[v] == h))


def _within_watts(ws: Workspace, built: _Model, solver: cp_model.CpSolver) -> None:
    """Phase 2 stays within the fewest watts found, widened by ``watts_tolerance`` or up to
    the supply when that is higher (watts under the supply are cheap: ``solver/budget.py``)."""
    problem = ws.problem
    allowed = int(round(solver.objective_value * (1 + problem.watts_tolerance)))
    supply = None if problem.power_budget_w is None else int(problem.power_budget_w * MICRO)
    if supply is not None and supply > allowed:
        allowed = supply  # watts under the supply are cheap: phase 2 buys fewer moves with them (solver/budget.py)
    elif problem.watts_tolerance > 0:  # the tolerance buys less memory moved, never more hosts on
        on = built.on.values()
        built.model.add(sum(on) <= sum(int(solver.boolean_value(v)) for v in on))
    built.model.add(built.watts <= allowed)


def _minimize_moves(ws: Workspace, built: _Model) -> None:
    """Memory moved first, then migrations: each move weighs its MB times (instances + 1), plus one."""
    weight = ws.n_instances + 1
    ram_mb = ws.fleet.demand[:, RAM].astype(np.int64)
    moved = built.moved
    built.model.minimize(
        cp_model.LinearExpr.weighted_sum([m for _, m in moved], [int(ram_mb[v]) * weight + 1 for v, _ in moved])
        if moved
        else 0
    )


def _read(solver: cp_model.CpSolver, x: dict, ws: Workspace) -> np.ndarray:
    placement = ws.placement0.copy()
    for (v, h), var in x.items():
        if solver.boolean_value(var):
            placement[v] = h
    return placement
