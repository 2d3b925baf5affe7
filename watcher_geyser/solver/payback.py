"""Does each move pay for itself? The payback rule, checked on any answer, and a pass that keeps it.

The swap pass (``swap.py``) keeps a swap only when the watts it saves over
``Problem.swap_payback_s`` cover the energy of its migrations (``MIGRATION_J_PER_MB`` per MB
copied). The exact model (``exact.py``) weighs no such thing: its first solve minimises watts,
dynamic watts included, so any move saving a micro-watt of dynamic power is worth any memory
copied, and its second solve (least memory moved) must stay within those watts. On a fleet of
mixed power curves it sorts the CPU load onto the cheapest cores by moves the swap pass would
refuse.

The rule, stated on the answer alone (``unpaid_moves``): a moved instance *frees a host* when its
home ends empty, and *relieves* when its home is above its relief limit now or its cores are too
slow for it (``rules/cores.starved``); those are never questioned. The others are *side moves*.
Side moves are grouped by the hosts they link (a swap's two moves, a chain of them); a group is
*unpaid* when sending all its instances home leaves the answer valid under every rule (so no
other move needed the room they made) and the watts that saves fall short of the group's
migrations over ``swap_payback_s``. When a group cannot go home together, each of its moves is
asked alone. Undoing a side move never switches a host on (its home stays occupied), so hosts on
never rise.

``pay_back`` sends unpaid groups home, the one saving least per MB first, and asks again, until
none is left: the answer stays valid, holds no more hosts, moves less. Watts rise by less than
the migrations saved would have cost over ``swap_payback_s``; a lower bound on watts stays a
bound (it bounds every placement).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from watcher_geyser.fleet import RAM
from watcher_geyser.solver.checks import check_placement, hot_hosts
from watcher_geyser.solver.problem import Problem
from watcher_geyser.solver.rules.cores import starved

#: Energy a live migration costs per MB of memory copied, source and destination together (the slope
#: of Liu et al.'s live-migration energy model, HPDC 2011; ``swap.py`` says how it is used there).
MIGRATION_J_PER_MB = 0.5
#: Watts-seconds of float slack: a group saving its cost to this much pays (as ``swap.GAIN_W``).
SLACK_J = 1e-6


def exempt_moves(problem: Problem, placement: np.ndarray) -> np.ndarray:
    """bool[V]: moves that free a host (their home ends empty) or relieve one (their home is above
    its relief limit now, or their cores are too slow for them): never questioned by the rule."""
    fleet = problem.fleet
    home = fleet.placement
    moved = placement != home
    freed = fleet.occupied(home) & ~fleet.occupied(placement)
    hot = hot_hosts(problem)
    return moved & (freed[home] | hot[home] | starved(fleet))


def migration_cost_j(problem: Problem, instances: np.ndarray) -> float:
    """Energy the live migrations of ``instances`` cost (``MIGRATION_J_PER_MB`` per MB copied)."""
    return MIGRATION_J_PER_MB * float(problem.fleet.demand[instances, RAM].sum())


def payback_w(memory_mb: float, payback_s: float) -> float:
    """The watts moves copying ``memory_mb`` in all must save to pay back their migrations within
    ``payback_s`` (> 0): a one-way move copies its instance's memory, a swap both (``swap.py``)."""
    return MIGRATION_J_PER_MB * memory_mb / payback_s


def unpaid_moves(
    problem: Problem, placement: np.ndarray, unrelieved: Collection[str] | None = None
) -> list[tuple[np.ndarray, float]]:
    """The groups of side moves that fail the payback rule (module docstring), each as (instances,
    watts saved by making them); empty when every move frees a host, relieves one, is needed for
    room, or pays back. ``unrelieved`` as ``check_placement``'s (the answer's named hosts)."""
    fleet = problem.fleet
    home = fleet.placement
    side = np.flatnonzero((placement != home) & ~exempt_moves(problem, placement))
    if not len(side):
        return []
    watts = fleet.watts(placement)
    unpaid = []
    for group in _linked_groups(home[side], placement[side]):
        members = side[group]
        verdict = _unpaid(problem, placement, members, watts, unrelieved)
        if verdict is not None:
            unpaid.append((members, verdict))
            continue
        if len(members) > 1:
            for v in members.tolist():
                one = np.array([v])
                verdict = _unpaid(problem, placement, one, watts, unrelieved)
                if verdict is not None:
                    unpaid.append((one, verdict))
    return unpaid


def pay_back(problem: Problem, placement: np.ndarray) -> np.ndarray:
    """``placement`` with unpaid side moves sent home (module docstring); ``placement`` itself
    when every move pays. Each round asks the rule once, then sends the groups home, the one saving
    least per MB first, each asked again against the answer as it now stands (sending one home may
    have taken the room another needs); rounds go on while one sends a group home."""
    result = placement
    ram = problem.fleet.demand[:, RAM]
    while unpaid := unpaid_moves(problem, result):
        sent = False
        for members, _ in sorted(unpaid, key=lambda g: g[1] / max(float(ram[g[0]].sum()), 1.0)):
            if _unpaid(problem, result, members, problem.fleet.watts(result), None) is None:
                continue
            result = result.copy()
            result[members] = problem.fleet.placement[members]
            sent = True
        if not sent:
            return result
    return result


def _unpaid(
    problem: Problem, placement: np.ndarray, members: np.ndarray, watts: float, unrelieved: Collection[str] | None
) -> float | None:
    """The watts ``members``' moves save when sending them home is valid and saves less than their
    migrations cost over ``swap_payback_s``; None when they may not go home or they pay."""
    trial = placement.copy()
    trial[members] = problem.fleet.placement[members]
    if check_placement(problem, trial, unrelieved):
        return None  # they made room another move needs (or a rule wants them where they are)
    saved_w = problem.fleet.watts(trial) - watts
    if saved_w * problem.swap_payback_s >= migration_cost_j(problem, members) - SLACK_J:
        return None
    return saved_w


def _linked_groups(sources: np.ndarray, targets: np.ndarray) -> list[np.ndarray]:
    """Indices of the moves (``sources[i] -> targets[i]``) grouped by the hosts they link (union-find)."""
    parent: dict[int, int] = {}

    def root(h: int) -> int:
        parent.setdefault(h, h)
        while parent[h] != h:
            parent[h] = parent[parent[h]]
            h = parent[h]
        return h

    for a, b in zip(sources.tolist(), targets.tolist(), strict=True):
        parent[root(a)] = root(b)
    roots = np.array([root(a) for a in sources.tolist()])
    return [np.flatnonzero(roots == r) for r in dict.fromkeys(roots.tolist())]
