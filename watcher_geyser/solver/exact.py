"""The full CP-SAT model, one boolean per (instance, host): exact on small fleets.

Used where it fits (a few tens of hosts, a few hundred instances): it proves optimality,
which the decomposition cannot, and so anchors the tests that check bounds against the
optimum. Objectives, lexicographic, in two solves: watts (idle of occupied hosts plus a
lower line of each host's power curve over its measured CPU, capped at 100 %), then memory
moved and migration count, among answers within the fewest watts or within the power
budget, whichever is higher (``solver/budget.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from watcher_geyser.bounds import dynamic_slopes_w_per_core
from watcher_geyser.model import GroupPolicy
from watcher_geyser.solver.cpsat import dump_model, make_solver
from watcher_geyser.solver.workspace import Workspace

UNITS = (100, 1, 1, 1000)  # centi-vcpus, MB, GB, milli-cores
MICRO = 1_000_000


@dataclass
class ExactResult:
    placement: np.ndarray | None
    status: str
    watts_bound_w: float | None  # proven bound on watts, None when rounding makes it unsafe
    proven: bool


def model_size(ws: Workspace) -> int:
    """Booleans the exact model would need: for sizing the choice of back-end."""
    per_zone_receivers = np.bincount(ws.host_zone[ws.may_receive], minlength=len(ws.fleet.zones))
    movable = ws.movable
    return int(per_zone_receivers[ws.instance_zone[movable]].sum() + movable.sum())


def solve_exact(
    ws: Workspace, time_limit_s: float, hint: np.ndarray | None, seed: int = 0, workers: int = 2
) -> ExactResult:
    fleet, problem = ws.fleet, ws.problem
    model = cp_model.CpModel()
    dims = ws.demand.shape[1]
    demand = np.ceil(ws.demand * np.array(UNITS[:dims]) - 1e-9).astype(np.int64)
    limits = np.floor(ws.limits * np.array(UNITS[:dims]) + 1e-9).astype(np.int64)
    load0 = np.ceil(ws.load0 * np.array(UNITS[:dims]) - 1e-9).astype(np.int64)
    exact_units = np.allclose(ws.demand * np.array(UNITS[:dims]), demand) and np.allclose(
        ws.limits * np.array(UNITS[:dims]), limits
    )
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    by_host: dict[int, list[int]] = {h: [] for h in range(ws.n_hosts)}
    receivers = np.flatnonzero(ws.may_receive)
    frozen = ~ws.movable | _split_affinity_members(ws)
    for v in range(ws.n_instances):
        home = int(ws.placement0[v])
        hosts = (
            [home] if frozen[v] else sorted({home, *receivers[ws.host_zone[receivers] == ws.instance_zone[v]].tolist()})
        )
        for h in hosts:
            x[v, h] = model.new_constant(1) if frozen[v] else model.new_bool_var(f"x_{v}_{h}")
            by_host[h].append(v)
        if not frozen[v]:
            model.add_exactly_one(x[v, h] for h in hosts)
    on = {h: model.new_bool_var(f"on_{h}") for h in range(ws.n_hosts) if by_host[h]}
    slopes = dynamic_slopes_w_per_core(fleet)
    cores_mc = np.round(fleet.physical_cores * 1000).astype(np.int64)
    cpu_mc = np.floor(fleet.cpu_used * 1000 + 1e-9).astype(np.int64)  # objective only: rounded down
    watts_terms = []
    # with measured CPU capped at the cores, power is linear in the load: no min() needed
    cpu_capped_by_cores = (
        problem.cpu_ceiling is not None
        and problem.cpu_ceiling <= 1.0
        and bool((fleet.cpu_load() <= fleet.physical_cores + 1e-9).all())
    )
    for h, vs in by_host.items():
        if not vs:
            continue
        for v in vs:
            model.add_implication(x[v, h], on[h])
        incoming = [x[v, h] for v in vs if ws.placement0[v] != h]
        receives = model.new_bool_var(f"recv_{h}")
        for var in incoming:
            model.add_implication(var, receives)
        for r in range(dims):
            excess = max(0, int(load0[h, r] - limits[h, r]))
            expr = cp_model.LinearExpr.weighted_sum([x[v, h] for v in vs], [int(demand[v, r]) for v in vs])
            model.add(expr <= int(limits[h, r]) + excess - excess * receives)
            # the same capacity, times on: redundant, but it gives the LP relaxation a volume bound
            model.add(expr <= (int(limits[h, r]) + excess) * on[h])
        watts_terms.append((on[h], int(round(fleet.idle_w[h] * MICRO))))
        slope = int(np.floor(slopes[h] * 1000))
        if slope <= 0:
            continue
        if cpu_capped_by_cores:
            watts_terms += [(x[v, h], slope * int(cpu_mc[v])) for v in vs if cpu_mc[v] > 0]
        else:
            load = model.new_int_var(0, int(cpu_mc[vs].sum()), f"cpu_{h}")
            model.add(load == cp_model.LinearExpr.weighted_sum([x[v, h] for v in vs], [int(cpu_mc[v]) for v in vs]))
            capped = model.new_int_var(0, int(cores_mc[h]), f"capped_{h}")
            model.add_min_equality(capped, [load, int(cores_mc[h])])
            watts_terms.append((capped, slope))
    _encode_groups(ws, model, x, by_host)
    moved = [(v, 1 - x[v, int(ws.placement0[v])]) for v in range(ws.n_instances) if not frozen[v]]
    if problem.max_migrations is not None:
        model.add(sum(m for _, m in moved) <= problem.max_migrations)
    if problem.max_consolidation_moves is not None:
        # every instance of a host that ends empty has moved off it
        counts = np.bincount(ws.placement0, minlength=ws.n_hosts)
        emptied = [(on[h], int(counts[h])) for h in np.flatnonzero(counts).tolist() if h in on]
        model.add(sum(c * (1 - var) for var, c in emptied) <= problem.max_consolidation_moves)
    watts = cp_model.LinearExpr.weighted_sum([t for t, _ in watts_terms], [c for _, c in watts_terms])
    if hint is not None:
        for (v, h), var in x.items():
            if not frozen[v]:
                model.add_hint(var, bool(hint[v] == h))
    model.minimize(watts)
    dump_model(model, "exact")
    solver = make_solver(time_limit_s * 0.6, seed, workers, ws.problem.deterministic)
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return ExactResult(None, solver.status_name(status), None, False)
    bound = solver.best_objective_bound / MICRO if exact_units else None
    proven = status == cp_model.OPTIMAL
    first = _read(solver, x, ws)
    model.clear_hints()
    for (v, h), var in x.items():
        if not frozen[v]:
            model.add_hint(var, bool(first[v] == h))
    allowed = int(round(solver.objective_value * (1 + problem.watts_tolerance)))
    supply = None if problem.power_budget_w is None else int(problem.power_budget_w * MICRO)
    if supply is not None and supply > allowed:
        allowed = supply  # watts under the supply are cheap: phase 2 buys fewer moves with them (solver/budget.py)
    elif problem.watts_tolerance > 0:  # the tolerance buys less memory moved, never more hosts on
        model.add(sum(on.values()) <= sum(int(solver.boolean_value(v)) for v in on.values()))
    model.add(watts <= allowed)
    weight = ws.n_instances + 1
    ram = ws.fleet.demand[:, 1].astype(np.int64)
    model.minimize(
        cp_model.LinearExpr.weighted_sum([m for _, m in moved], [int(ram[v]) * weight + 1 for v, _ in moved])
        if moved
        else 0
    )
    solver2 = make_solver(time_limit_s * 0.4, seed, workers, ws.problem.deterministic)
    status2 = solver2.solve(model)
    if status2 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return ExactResult(
            _read(solver2, x, ws), solver.status_name(status), bound, proven and status2 == cp_model.OPTIMAL
        )
    return ExactResult(first, solver.status_name(status), bound, False)


def _split_affinity_members(ws: Workspace) -> np.ndarray:
    """bool[V]: members of affinity groups whose pinned members already sit on several hosts
    (the rule cannot hold, so those members stay put rather than make it worse)."""
    frozen = np.zeros(ws.n_instances, dtype=bool)
    for g, policy in enumerate(ws.policy):
        if policy is not GroupPolicy.AFFINITY:
            continue
        members = np.flatnonzero(ws.group == g)
        pinned_hosts = np.unique(ws.placement0[members[~ws.movable[members]]])
        if len(pinned_hosts) > 1:
            frozen[members] = True
    return frozen


def _encode_groups(ws: Workspace, model: cp_model.CpModel, x: dict, by_host: dict[int, list[int]]) -> None:
    for g, policy in enumerate(ws.policy):
        members = set(np.flatnonzero(ws.group == g).tolist())
        if len(members) < 2 or not policy.is_hard:
            continue
        hosts = {h for h, vs in by_host.items() if members & set(vs)}
        if policy is GroupPolicy.ANTI_AFFINITY:
            for h in hosts:
                here = [v for v in by_host[h] if v in members]
                already = sum(1 for v in members if ws.placement0[v] == h)
                model.add(sum(x[v, h] for v in here) <= max(1, already))
                for v in here:
                    if ws.placement0[v] != h:  # a newcomer only where no other member ends
                        model.add(sum(x[u, h] for u in here) <= 1).only_enforce_if(x[v, h])
        else:
            y = {h: model.new_bool_var(f"aff_{g}_{h}") for h in hosts}
            model.add_exactly_one(y.values())
            for v in members:
                for h in hosts:
                    model.add(x[v, h] == y[h]) if (v, h) in x else model.add(y[h] == 0)


def _read(solver: cp_model.CpSolver, x: dict, ws: Workspace) -> np.ndarray:
    placement = ws.placement0.copy()
    for (v, h), var in x.items():
        if solver.boolean_value(var):
            placement[v] = h
    return placement
