"""What a plan reaches, when it stops short of the solver's target (``Plan.left_undone``).

The planner never overloads a host: a move with no safe order (a swap cycle no staging host
can break, a destination over its limit, an affinity group it would split) is left undone,
with its reason. The target's figures then promise a saving that will not happen, so
``pipeline.run`` re-solves with the instances left undone pinned where they are and keeps
the better of the two placements the plans *reach* (``reached_target``), ranked by the
solver's own objective (``solver.budget.objective_key``); whatever it keeps, its target is the
placement reached, so every shell's "after" (``geyser plan``'s table and ``--json``, the
Watcher strategy's efficacy indicators, the simulator) describes what the plan does.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from watcher_geyser.names import listed
from watcher_geyser.planner import Plan
from watcher_geyser.solver import Target


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
    reached = replace(target, placement=reached_placement(target, plan))
    note = (f"after: the placement the plan reaches ({reached.watts_w:,.0f} W), not the solver's target "
            f"({target.watts_w:,.0f} W): {len(plan.left_undone)} move(s) left undone, no safe order: "
            f"{undone_named(plan)}")
    return replace(reached, messages=(*target.messages, note))


def undone_named(plan: Plan) -> str:
    """'name (reason), ..': the instances ``plan`` leaves undone, each with the planner's reason."""
    return listed([f"{u.instance_name or u.instance} ({u.reason})" for u in plan.left_undone])


def pinned_uuids(plan: Plan) -> frozenset[str]:
    """The instances ``plan`` leaves undone: a re-solve pins them where they are."""
    return frozenset(u.instance for u in plan.left_undone)
