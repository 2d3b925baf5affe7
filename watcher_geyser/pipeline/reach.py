"""What a plan reaches, when it stops short of the solver's target (``Plan.left_undone``).

The planner never overloads a host: a move with no safe order (a swap cycle no staging host
can break, a destination over its limit, an affinity group it would split) is left undone,
with its reason. The target's figures then promise a saving that will not happen, so
``pipeline.run`` re-solves with the instances left undone pinned where they are and keeps
the better of the two placements the plans *reach* (``reached_target``), ranked by the
solver's own objective (``solver.budget.objective_key``); whatever it keeps, its target is the
placement reached, so every shell's "after" (``geyser plan``'s table and ``--json``, the
Watcher strategy's efficacy indicators, the simulator) describes what the plan does.
Its relief lists too: a host the target relieved whose relief moves are left undone is
named unrelieved with the planner's reasons (``reached_relief``). Its bounds stay those of
the operator's problem (``operator_bounds``): a pinned problem's bound can exceed the
unpinned optimum, so it is no bound for the answer reported. So do its problem and fleet and its
status (``as_operators``): a re-solve's problem locks instances the operator never locked, and
its OPTIMAL is optimal for the placements reachable only.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from watcher_geyser import bounds
from watcher_geyser.names import listed
from watcher_geyser.planner import Plan
from watcher_geyser.solver import Target
from watcher_geyser.solver.budget import objective_key
from watcher_geyser.solver.limits import above, host_load
from watcher_geyser.solver.problem import Bounds
from watcher_geyser.solver.unrelieved import describe, unrelieved_message


def reached_placement(target: Target, plan: Plan) -> np.ndarray:
    """int64[V]: where each instance of ``target.fleet`` is once ``plan``'s waves have run, in order
    (a staged instance whose onward move was left undone stays on its staging host)."""
    fleet = target.fleet
    placement = fleet.placement.copy()
    for wave in plan.waves:
        for action in wave:
            if action.kind.is_migration:
                placement[fleet.instance_index[action.instance]] = fleet.host_index(action.destination)
    return placement


def reached_target(target: Target, plan: Plan) -> Target:
    """``target`` moved to the placement ``plan`` reaches, with a note naming what it leaves undone
    (itself when the plan leaves nothing undone)."""
    if not plan.left_undone:
        return target
    placement = reached_placement(target, plan)
    relieved, unrelieved, notes = reached_relief(target, placement, plan)
    reached = replace(target, placement=placement, relieved=relieved, unrelieved=unrelieved)
    reached = replace(reached, bounds=operator_bounds(target, reached))
    note = (f"after: the placement the plan reaches ({reached.watts_w:,.0f} W), not the solver's target "
            f"({target.watts_w:,.0f} W): {len(plan.left_undone)} move(s) left undone, no safe order: "
            f"{undone_named(plan)}")
    return replace(reached, messages=(*target.messages, *notes, note))


def reached_relief(target: Target, placement: np.ndarray, plan: Plan) -> tuple[tuple[str, ...], dict[str, str],
                                                                              tuple[str, ...]]:
    """``target``'s relieved and unrelieved hosts for ``placement`` (what ``plan`` reaches), and the
    messages of the hosts it adds to the unrelieved: a host ``target`` relieved that ``placement``
    leaves above its relief limit, named with the moves off it left undone and the planner's reasons."""
    problem = target.problem
    load, limits = host_load(target.fleet, placement), problem.relief_limits
    hot = above(load, limits)
    relieved, unrelieved, notes = [], dict(target.unrelieved), []
    for name in target.relieved:
        h = target.fleet.host_index(name)
        if not hot[h]:
            relieved.append(name)
            continue
        stuck = [f"{u.instance_name or u.instance} ({u.reason})" for u in plan.left_undone if u.source == name]
        unrelieved[name] = (f"{describe(load[h], limits[h])}; its relief move(s) left undone, no safe order: "
                            f"{listed(stuck) or 'moves onto it left undone'}")
        notes.append(unrelieved_message(name, unrelieved[name]))
    return tuple(relieved), unrelieved, tuple(notes)


def operator_bounds(operator: Target, answer: Target) -> Bounds:
    """Bounds for ``answer`` that hold for ``operator``'s problem (the one the operator asked for):
    its hosts and watts bounds (a re-solve's pinned problem has no valid bound for it), the
    memory bound of ``answer``'s hosts on in ``operator``'s fleet; each at most ``answer``'s own
    figure (a placement a plan stops short at may break a rule the bounds assume, relief's
    limit among them: the smaller of a bound and an answer is still a bound, and never above it)."""
    fleet = operator.fleet
    memory = bounds.migration_cost_lower_bound_mb(fleet, bounds.hosts_on_by_zone(fleet, answer.placement))
    return Bounds(hosts=min(operator.bounds.hosts, answer.hosts_on),
                  watts_w=min(operator.bounds.watts_w, answer.watts_w),
                  migration_cost_mb=min(memory, answer.memory_moved_mb))


def as_operators(operator: Target, answer: Target) -> Target:
    """``answer`` (what a plan reaches, perhaps a re-solve's) told in ``operator``'s terms, the problem
    the operator asked for: its problem and fleet (the same hosts and instances in the same rows, none
    of the re-solve's pins), its bounds (``operator_bounds``), and a status that is OPTIMAL only when
    ``answer`` is as good as an OPTIMAL ``operator`` by the solver's objective (``objective_key``).
    Otherwise a proven optimum is FEASIBLE (the vocabulary's "a valid answer, not proven optimal"),
    with a message saying what was proven: the solver's target was optimal, or the re-solve's answer
    was, for the placements reachable with the moves left undone pinned, not for the operator's problem."""
    problem = operator.problem
    reached = replace(answer, problem=problem)
    reached = replace(reached, bounds=operator_bounds(operator, reached))
    as_good = objective_key(problem, answer.placement) <= objective_key(problem, operator.placement)
    if answer.status != "OPTIMAL" or (operator.status == "OPTIMAL" and as_good):
        return reached
    resolved = answer.problem is not problem
    proven = ("the re-solve's answer is optimal only for the placements reachable with the moves left undone "
              "pinned where they are" if resolved else
              "the solver's target was optimal; the placement the plan reaches short of it is not proven so")
    return replace(reached, status="FEASIBLE", cpsat_status="FEASIBLE" if answer.cpsat_status == "OPTIMAL" else
                   answer.cpsat_status, messages=(*reached.messages, f"status FEASIBLE, not OPTIMAL: {proven}"))


def undone_named(plan: Plan) -> str:
    """'name (reason), ..': the instances ``plan`` leaves undone, each with the planner's reason."""
    return listed([f"{u.instance_name or u.instance} ({u.reason})" for u in plan.left_undone])


def pinned_uuids(plan: Plan) -> frozenset[str]:
    """The instances ``plan`` leaves undone: a re-solve pins them where they are."""
    return frozenset(u.instance for u in plan.left_undone)
