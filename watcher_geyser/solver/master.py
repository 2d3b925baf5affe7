"""CP-SAT host selection: which hosts stay on, decided with one boolean per host.

At data-centre scale a boolean per (instance, host) is out of reach, but the question
"which hosts stay on" has one decision per host. This model answers it under the
aggregate capacity of each zone (the kept hosts' limits must cover the zone's demand in
every dimension), the migration cap and the power budget, minimising idle watts first and
then the memory left to move. It is a relaxation of the full problem (instances still have
to fit host by host, which ``repack`` checks), so its proven bound is a valid lower bound on
the idle watts of any answer. Nor does it know the core-size rule (``rules/cores.py``), which
only relaxes it further; the repack that follows obeys it.

Numbers are scaled to integers with rounding in the relaxing direction (capacity up,
demand down) so the bound stays valid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from ortools.sat.python import cp_model

from watcher_geyser.bounds import candidate_hosts
from watcher_geyser.solver.cpsat import UNITS, dump_model, make_solver
from watcher_geyser.solver.repack import EPS
from watcher_geyser.solver.workspace import Workspace

WATT_UNIT = 10  # deci-watts


MAX_CLASSES = 400
#: The per-class model has a few dozen integer counts: CP-SAT proves it optimal at once, and
#: probing (presolve's most expensive pass) only adds time, about half of it on phase 2 (a
#: simulated day solves it at every step). The same optima on the PlanetLab days.
CLASS_MODEL_PARAMETERS = {"cp_model_probing_level": 0}


@dataclass(frozen=True)
class _Search:
    """How long and how CP-SAT searches, handed down together from ``choose_hosts`` to each
    model it solves; each phase takes a share of the time."""

    time_limit_s: float
    seed: int
    workers: int
    deterministic: bool

    def share(self, fraction: float) -> _Search:
        return replace(self, time_limit_s=self.time_limit_s * fraction)

    def solver(self, fraction: float, **parameters: object) -> cp_model.CpSolver:
        return make_solver(self.time_limit_s * fraction, self.seed, self.workers, self.deterministic, **parameters)


@dataclass
class MasterResult:
    keep: np.ndarray | None  # bool[H], None when no selection was found
    status: str
    idle_bound_w: float  # proven: no answer keeps hosts on for fewer idle watts
    budget_met: bool


def choose_hosts(
    ws: Workspace,
    time_limit_s: float,
    hint: np.ndarray | None = None,
    power_budget_idle_w: float | None = None,
    seed: int = 0,
    workers: int = 2,
) -> MasterResult:
    """Which hosts stay on. Identical hosts are interchangeable for capacity and watts, so
    the model counts kept hosts per class of identical hosts (symmetry removed) and keeps,
    within a class, those with the most memory to move, or under a migration cap those
    with the most instances (emptying the others moves the fewest). With a cap, that order
    is a heuristic choice, so the proven bound comes from a first solve without the cap (a
    relaxation). Fleets with too many distinct hosts fall back to one boolean per host."""
    search = _Search(time_limit_s, seed, workers, ws.problem.deterministic)
    classes = _host_classes(ws)
    if len(classes) > MAX_CLASSES:
        return _choose_per_host(ws, search, hint, power_budget_idle_w)
    cap = ws.problem.eviction_cap
    if cap is None:
        return _choose_per_class(ws, classes, search, power_budget_idle_w)
    relaxed = _choose_per_class(ws, classes, search.share(0.3), power_budget_idle_w, bound_only=True)
    counts = np.bincount(ws.placement0[ws.movable], minlength=ws.n_hosts)
    by_instances = [c[np.argsort(-counts[c], kind="stable")] for c in classes]
    capped = _choose_per_class(ws, by_instances, search.share(0.7), power_budget_idle_w, cap=cap)
    capped.idle_bound_w = relaxed.idle_bound_w  # the capped model is no relaxation: its bound is not proven
    return capped


def _useful(ws: Workspace) -> np.ndarray:
    """The most each kept host can hold in any valid answer: a host that may not receive
    holds at most what it has; one already above its limits may keep that much."""
    return np.where(ws.may_receive[:, None], ws.held_limits, ws.load0)


def _encode_zone_cover(
    model: cp_model.CpModel, ws: Workspace, useful: np.ndarray, counts: list, representatives: list[int]
) -> None:
    """The capacity rule relaxed to zones (``solver/rules/capacity.py`` states it host by host):
    in each zone and resource, the kept hosts' ``useful`` room, plus that of the forced hosts,
    covers the zone's demand. ``counts[i]`` is how many hosts like ``representatives[i]`` are
    kept (a host's own boolean, or a class's count); rounding relaxes (room up, demand down)."""
    for z in range(len(ws.fleet.zones)):
        in_zone = [i for i, h in enumerate(representatives) if ws.host_zone[h] == z]
        zone_forced = ws.forced & (ws.host_zone == z)
        need = ws.demand[ws.instance_zone == z].sum(axis=0) - useful[zone_forced].sum(axis=0)
        for r in range(ws.demand.shape[1]):
            need_int = math.floor(need[r] * UNITS[r] + EPS)
            if need_int <= 0:
                continue
            caps = [math.ceil(useful[representatives[i], r] * UNITS[r] - EPS) for i in in_zone]
            model.add(cp_model.LinearExpr.weighted_sum([counts[i] for i in in_zone], caps) >= need_int)


def _host_memory_gb(ws: Workspace) -> np.ndarray:
    memory = np.zeros(ws.n_hosts)
    np.add.at(memory, ws.placement0, ws.ram)
    return np.ceil(memory / 1024).astype(np.int64)


def _host_classes(ws: Workspace) -> list[np.ndarray]:
    """Free candidate hosts grouped by (zone, usable capacity, idle watts), each class sorted
    by memory to move, most first."""
    candidates = np.flatnonzero(candidate_hosts(ws.fleet, ws.problem.allow_power_on) & ~ws.forced)
    if len(candidates) == 0:
        return []
    memory = _host_memory_gb(ws)
    keys = np.column_stack(
        [ws.host_zone[candidates], np.round(_useful(ws)[candidates], 6), np.round(ws.fleet.idle_w[candidates], 6)]
    )
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.lexsort((-memory[candidates], inverse))
    grouped = candidates[order]
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    return np.split(grouped, bounds)


def _choose_per_class(
    ws: Workspace,
    classes: list[np.ndarray],
    search: _Search,
    power_budget_idle_w: float | None,
    cap: int | None = None,
    bound_only: bool = False,
) -> MasterResult:
    """Counts of kept hosts per class; within a class the first hosts of its order are kept.
    ``cap`` bounds the instances on emptied hosts; ``bound_only`` stops after phase 1."""
    fleet = ws.fleet
    useful = _useful(ws)
    idle = np.round(fleet.idle_w * WATT_UNIT).astype(np.int64)
    memory = _host_memory_gb(ws)
    model = cp_model.CpModel()
    count = [model.new_int_var(0, len(c), f"n_{i}") for i, c in enumerate(classes)]
    _encode_zone_cover(model, ws, useful, count, [int(c[0]) for c in classes])
    if cap is not None:
        instances_on = np.bincount(ws.placement0[ws.movable], minlength=ws.n_hosts)
        evicted = []
        for i, members in enumerate(classes):
            kept_prefix = np.concatenate(([0], np.cumsum(instances_on[members]))).astype(np.int64)
            table = (kept_prefix[-1] - kept_prefix).tolist()  # instances that move if n hosts are kept
            moved = model.new_int_var(0, int(table[0]), f"moved_{i}")
            model.add_element(count[i], table, moved)
            evicted.append(moved)
        model.add(sum(evicted) <= cap)
    forced_idle = int(idle[ws.forced].sum())
    idle_expr = cp_model.LinearExpr.weighted_sum(count, [int(idle[c[0]]) for c in classes])
    if power_budget_idle_w is not None:
        model.add(idle_expr <= math.floor(power_budget_idle_w * WATT_UNIT) - forced_idle)
    model.minimize(idle_expr)
    dump_model(model, "master-classes")
    solver = search.solver(0.6, **CLASS_MODEL_PARAMETERS)
    status = solver.solve(model)
    if status == cp_model.INFEASIBLE and power_budget_idle_w is not None:
        # the budget cannot be met: answer as close as possible, the caller says so
        result = _choose_per_class(ws, classes, search, None, cap, bound_only)
        result.budget_met = False
        return result
    budget_met = True
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return MasterResult(None, solver.status_name(status), 0.0, budget_met)
    idle_bound = (solver.best_objective_bound + forced_idle) / WATT_UNIT
    if bound_only:
        return MasterResult(None, solver.status_name(status), idle_bound, budget_met)
    first = [solver.value(n) for n in count]
    # phase 2: as few idle watts, and the most memory kept in place (top hosts of each class)
    _allow_tolerance(model, ws, idle_expr, int(round(solver.objective_value)), count, first)
    kept_memory = []
    for i, members in enumerate(classes):
        prefix = np.concatenate(([0], np.cumsum(memory[members]))).astype(np.int64).tolist()
        kept = model.new_int_var(0, prefix[-1], f"mem_{i}")
        model.add_element(count[i], prefix, kept)
        kept_memory.append(kept)
        model.add_hint(count[i], first[i])
    model.maximize(sum(kept_memory))
    solver2 = search.solver(0.4, **CLASS_MODEL_PARAMETERS)
    status2 = solver2.solve(model)
    counts = [solver2.value(n) for n in count] if status2 in (cp_model.OPTIMAL, cp_model.FEASIBLE) else first
    keep = ws.forced.copy()
    for members, n in zip(classes, counts):
        keep[members[:n]] = True
    return MasterResult(keep, solver.status_name(status), idle_bound, budget_met)


def _choose_per_host(
    ws: Workspace, search: _Search, hint: np.ndarray | None, power_budget_idle_w: float | None
) -> MasterResult:
    """Solve the host-selection model; two phases (idle watts, then memory to move)."""
    fleet = ws.fleet
    candidates = candidate_hosts(fleet, ws.problem.allow_power_on) | ws.forced
    free = np.flatnonzero(candidates & ~ws.forced)
    useful = _useful(ws)
    model = cp_model.CpModel()
    keep = {int(h): model.new_bool_var(f"keep_{h}") for h in free}
    idle = np.round(fleet.idle_w * WATT_UNIT).astype(np.int64)
    _encode_zone_cover(model, ws, useful, list(keep.values()), [int(h) for h in free])
    instances_on = np.bincount(ws.placement0[ws.movable], minlength=ws.n_hosts)
    if ws.problem.eviction_cap is not None:
        occupied = [h for h in free if instances_on[h] > 0]
        # every instance of an emptied host moves: (1 - keep) * count summed stays under the cap
        total = int(instances_on[occupied].sum())
        model.add(
            cp_model.LinearExpr.weighted_sum([keep[h] for h in occupied], [int(instances_on[h]) for h in occupied])
            >= total - ws.problem.eviction_cap
        )
    forced_idle = int(idle[ws.forced].sum())
    idle_expr = cp_model.LinearExpr.weighted_sum([keep[h] for h in free], [int(idle[h]) for h in free])
    budget_met = True
    if power_budget_idle_w is not None:
        budget = math.floor(power_budget_idle_w * WATT_UNIT) - forced_idle
        model.add(idle_expr <= budget)
    if hint is not None:
        for h, var in keep.items():
            model.add_hint(var, bool(hint[h]))
    model.minimize(idle_expr)
    dump_model(model, "master")
    solver = search.solver(0.6, relative_gap_limit=1e-4)
    status = solver.solve(model)
    if status == cp_model.INFEASIBLE and power_budget_idle_w is not None:
        # the budget cannot be met: answer without it, the caller says so
        result = _choose_per_host(ws, search.share(0.6), hint, None)
        result.budget_met = False
        return result
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        bound = (solver.best_objective_bound + forced_idle) / WATT_UNIT if status == cp_model.UNKNOWN else 0.0
        return MasterResult(None, solver.status_name(status), max(bound, 0.0), budget_met)
    idle_bound = (solver.best_objective_bound + forced_idle) / WATT_UNIT
    best_idle = int(round(solver.objective_value))
    first = {h: solver.boolean_value(v) for h, v in keep.items()}
    # phase 2: among selections as cheap in idle watts, keep the hosts most expensive to empty
    model.clear_hints()
    for h, var in keep.items():
        model.add_hint(var, first[h])
    _allow_tolerance(model, ws, idle_expr, best_idle, list(keep.values()), [first[h] for h in keep])
    mem_gb = _host_memory_gb(ws)
    model.maximize(cp_model.LinearExpr.weighted_sum([keep[h] for h in free], [int(mem_gb[h]) for h in free]))
    solver2 = search.solver(0.4, relative_gap_limit=1e-3)
    status2 = solver2.solve(model)
    chosen = ws.forced.copy()
    if status2 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        for h, var in keep.items():
            chosen[h] = solver2.boolean_value(var)
    else:
        for h, value in first.items():
            chosen[h] = value
    name = solver.status_name(status)
    return MasterResult(chosen, name, idle_bound, budget_met)


def _allow_tolerance(model: cp_model.CpModel, ws: Workspace, idle_expr, best: int, counts: list, first: list) -> None:
    """Phase 2 may spend ``watts_tolerance`` of the best idle watts on less memory to move,
    never on more hosts than phase 1 kept."""
    tolerance = ws.problem.watts_tolerance
    model.add(idle_expr <= int(math.floor(best * (1 + tolerance))))
    if tolerance > 0:
        model.add(sum(counts) <= int(sum(int(v) for v in first)))
