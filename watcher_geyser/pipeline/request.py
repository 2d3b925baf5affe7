"""``run(fleet, settings)``: the one request to the core, fleet -> Problem -> solve -> plan."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from watcher_geyser.fleet import Fleet
from watcher_geyser.names import listed
from watcher_geyser.pipeline.margin import host_cpu_ceilings
from watcher_geyser.pipeline.reach import as_operators, pinned_uuids, reached_target, undone_named
from watcher_geyser.pipeline.settings import Limits, Settings
from watcher_geyser.planner import Plan, plan
from watcher_geyser.solver import Problem, Target, solve
from watcher_geyser.solver.budget import objective_key
from watcher_geyser.solver.relief import for_want_of_room, unrelieved_message


@dataclass(frozen=True)
class Result:
    """The solver's target, the planner's plan, and the settings that produced them."""

    target: Target
    plan: Plan
    settings: Settings
    #: The note of a re-solve whose first target the plan could not reach (``pipeline/reach.py``),
    #: None when there was none: a shell saying why nothing moves names it, not "no better placement".
    unreached: str | None = None

    @property
    def messages(self) -> tuple[str, ...]:
        return self.settings.notes + tuple(self.target.messages) + tuple(self.plan.messages)


def problem(fleet: Fleet, settings: Settings, pinned: frozenset[str] = frozenset()) -> Problem:
    """The solver's request for ``fleet`` under ``settings`` (``keep_on`` anchored, ``keep_off`` left out,
    the instances of ``pinned`` (uuids) kept where they are)."""
    lim, sol = settings.limits, settings.solve
    fleet = anchor(without_off_hosts(fleet, lim.keep_off), lim.keep_on)
    if pinned:
        fleet = _locked(fleet, {i for i, inst in enumerate(fleet.instances) if inst.uuid in pinned})
    return Problem(
        fleet,
        ceiling=lim.ceiling,
        cpu_ceiling=lim.cpu_ceiling,
        cpu_relief_ceiling=lim.relief_ceiling,
        cpu_host_ceilings=host_ceilings(fleet, lim),
        power_budget_w=lim.supply_w,
        max_migrations=lim.max_migrations,
        max_consolidation_moves=lim.max_consolidation_moves,
        allow_power_on=lim.allow_power_on,
        relieve=lim.relieve,
        watts_tolerance=lim.watts_tolerance,
        swap_payback_s=lim.swap_payback_s,
        switch_offs_left=lim.switch_offs_left,
        time_limit_s=sol.time_limit_s,
        seed=sol.seed,
        workers=sol.workers,
        deterministic=sol.deterministic,
    )


def host_ceilings(fleet: Fleet, limits: Limits) -> tuple[float, ...] | None:
    """Each host's CPU packing ceiling when ``limits`` asks for a margin per host, else None (one for all)."""
    if limits.host_margin_k is None or limits.cpu_ceiling is None:
        return None
    return host_cpu_ceilings(fleet, limits.cpu_ceiling, limits.host_margin_k)


def packing_ceilings(fleet: Fleet, limits: Limits) -> tuple[float, float | np.ndarray | None]:
    """(allocation ceiling, CPU packing ceiling: one fraction, one per host, or None) that the solver
    packs ``fleet`` to under ``limits`` (``Problem.ceiling`` and ``Problem.cpu_packing``), for a shell
    that places instances beside the solver (``deferral/room.py``)."""
    hosts = host_ceilings(fleet, limits)
    return limits.ceiling, limits.cpu_ceiling if hosts is None else np.asarray(hosts, dtype=np.float64)


#: Re-solves when a plan leaves moves undone (``pipeline/reach.py``). One: each pins the moves the
#: last plan left undone, a second would pin those of a target already solved around them, and each
#: costs a solve (up to its time limit) at every step of a simulated day where it happens.
MAX_RESOLVES = 1


def run(fleet: Fleet, settings: Settings) -> Result:
    """Solve and plan ``fleet`` under ``settings``; where the plan leaves moves undone, re-solve
    with those instances pinned where they are and keep the better placement reached
    (``pipeline/reach.py``). The result's target is always the placement its plan reaches."""
    target = _solve(fleet, settings, frozenset())
    moves = _plan(target, settings)
    first, objective = target, target.problem
    best, best_moves = reached_target(target, moves), moves
    solve_s, plan_s = target.solve_seconds, moves.plan_seconds
    pins: frozenset[str] = frozenset()
    unreached = None
    for _ in range(MAX_RESOLVES):
        if not moves.left_undone or pinned_uuids(moves) <= pins:
            break
        undone = moves
        pins |= pinned_uuids(moves)
        target = _solve(fleet, settings, pins)
        moves = _plan(target, settings)
        solve_s, plan_s = solve_s + target.solve_seconds, plan_s + moves.plan_seconds
        again = reached_target(target, moves)
        kept = objective_key(objective, again.placement) <= objective_key(objective, best.placement)
        if kept:
            best, best_moves = again, moves
        unreached = _resolved_note(first, undone, again, kept)
        best = replace(best, messages=(*best.messages, unreached))
    if best is not first:  # reached short of it, or re-solved: told for the operator's problem, not a pinned one
        best = as_operators(first, best)
    best_moves.plan_seconds = plan_s
    return Result(replace(best, solve_seconds=solve_s), best_moves, settings, unreached)


def _solve(fleet: Fleet, settings: Settings, pinned: frozenset[str]) -> Target:
    return held_off_reasons(fleet, solve(problem(fleet, settings, pinned), method=settings.solve.method),
                            settings.limits)


def _plan(target: Target, settings: Settings) -> Plan:
    p = settings.plan
    return plan(
        target,
        parallelism=p.parallelism,
        per_host_parallelism=p.per_host_parallelism,
        allow_power_off=p.allow_power_off,
        timing=p.timing,
        stage_on_emptied_hosts=p.stage_on_emptied_hosts,
        keep_on=settings.limits.keep_on_reasons(),
    )


def _resolved_note(first: Target, undone: Plan, again: Target, kept: bool) -> str:
    """What the re-solve found and which answer was kept."""
    outcome = (f"kept its answer ({again.migrations} move(s) reached, {again.watts_w:,.0f} W)" if kept else
               f"its answer ({again.watts_w:,.0f} W reached) was no better: kept what the first plan reaches")
    return (f"the solver's target ({first.migrations} move(s), {first.watts_w:,.0f} W) cannot be reached in a safe "
            f"order: {len(undone.left_undone)} move(s) left undone ({undone_named(undone)}); re-solved with those "
            f"instances pinned where they are and {outcome}")


def held_off_reasons(fleet: Fleet, target: Target, limits: Limits) -> Target:
    """``target`` with the power-cycle budget named where it leaves a host hot.

    Hosts held off (``keep_off``) are left out of the problem, so relief cannot tell that
    they would have had room: where a hot host found no room in its zone and hosts there
    are held off, its reason and its message say so (the operator's fix: raise the budget,
    or wait until the hosts named are free again)."""
    if not target.unrelieved or not limits.keep_off or not limits.allow_power_on:
        return target
    held: dict[str, list[str]] = {}
    for host in fleet.hosts:
        if host.name in limits.keep_off and not host.powered:
            held.setdefault(host.zone, []).append(host.name)
    unrelieved = dict(target.unrelieved)
    messages = list(target.messages)
    for name, reason in target.unrelieved.items():
        zone = fleet.hosts[fleet.host_index(name)].zone
        if zone not in held or not for_want_of_room(reason):
            continue
        names = sorted(held[zone])
        why = f"{len(names)} host(s) of zone {zone} stay off, their power cycles for the day spent: {listed(names)}"
        unrelieved[name] = f"{reason}; the power-cycle budget: {why}"
        old, new = unrelieved_message(name, reason), unrelieved_message(name, unrelieved[name])
        messages = [new if m == old else m for m in messages]  # still one message for the host
    return replace(target, unrelieved=unrelieved, messages=tuple(messages))


def without_off_hosts(fleet: Fleet, keep_off: frozenset[str]) -> Fleet:
    """``fleet`` without the hosts of ``keep_off`` that are off and empty: nothing can switch them on.

    The answer names hosts, never indices, so every shell maps it back unchanged. When every
    host is dropped (all off and held), the fleet is empty and the solver says so."""
    if not keep_off:
        return fleet
    occupied = fleet.occupied()
    powered = fleet.powered
    drop = {h for h, host in enumerate(fleet.hosts) if host.name in keep_off and not powered[h] and not occupied[h]}
    if not drop:
        return fleet
    rows = np.array([h for h in range(len(fleet.hosts)) if h not in drop], dtype=np.int64)
    kept = Fleet.build([fleet.hosts[h] for h in rows.tolist()], fleet.instances, fleet.server_groups,
                       fleet.default_cpu_util)
    kept.share_host_arrays(fleet, rows)
    return kept


def anchor(fleet: Fleet, keep_on: frozenset[str]) -> Fleet:
    """``fleet`` with one instance pinned on each occupied host of ``keep_on``, so none is emptied.

    The anchor is the host's movable instance with the least CPU use: relief may still move
    every other instance off the host, so a host out of power cycles can be relieved but
    not released. Hosts empty now are left alone (they are off or stay empty).
    """
    if not keep_on:
        return fleet
    already_pinned = {inst.host for inst in fleet.instances if inst.host in keep_on and not inst.movable}
    best: dict[str, int] = {}
    for i, inst in enumerate(fleet.instances):
        if inst.host in keep_on and inst.host not in already_pinned:
            j = best.get(inst.host)
            if j is None or fleet.cpu_used[i] < fleet.cpu_used[j]:
                best[inst.host] = i
    return _locked(fleet, set(best.values()))


def _locked(fleet: Fleet, rows: set[int]) -> Fleet:
    """``fleet`` with the instances at ``rows`` locked where they are (itself when there are none)."""
    if not rows:
        return fleet
    instances = [replace(inst, locked=True) if i in rows else inst for i, inst in enumerate(fleet.instances)]
    locked = Fleet.build(fleet.hosts, instances, fleet.server_groups, fleet.default_cpu_util)
    locked.share_host_arrays(fleet)  # the same hosts
    return locked
