"""The migration planner: from the fleet as it is to a solver's target, in capacity-safe waves.

Pure core: imports nothing from OpenStack. ``plan(target)`` builds the ``Plan``;
``replay(fleet, plan)`` judges any plan against the same capacity rule
(``limits.transit_limits``) and is the oracle for tests, the simulator and Watcher's
functional tests; ``format_plan_table`` and ``Plan.to_json`` show it.
"""

from watcher_geyser.planner.actions import Action, ActionKind, Plan, Timing, UndoneMove, UndoneReason
from watcher_geyser.planner.build import DEFAULT_PARALLELISM, DEFAULT_PER_HOST_PARALLELISM, plan
from watcher_geyser.planner.limits import TRANSIT_RESOURCES, host_load, problem_limits, transit_limits
from watcher_geyser.planner.replay import ReplayResult, Violation, check_plan, replay
from watcher_geyser.planner.table import format_plan_table

__all__ = [
    "DEFAULT_PARALLELISM",
    "DEFAULT_PER_HOST_PARALLELISM",
    "TRANSIT_RESOURCES",
    "Action",
    "ActionKind",
    "Plan",
    "ReplayResult",
    "Timing",
    "UndoneMove",
    "UndoneReason",
    "Violation",
    "check_plan",
    "format_plan_table",
    "host_load",
    "plan",
    "problem_limits",
    "replay",
    "transit_limits",
]
