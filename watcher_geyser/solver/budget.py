"""The power budget as a soft target: watts above the supply are dear, watts under it cheap.

``Problem.power_budget_w`` is the watts the supply makes available now. It is never a hard
constraint (one that cannot be met would have to be dropped). Every answer is ranked,
lexicographically, by

1. the watts it draws above the supply, ``max(0, watts - power_budget_w)``;
2. the memory it moves (MB), then 3. the migrations, then 4. its watts, then 5. its wear
   (``wear``: the power cycles it spends, dearer on hosts with fewer left), which only
   breaks ties between otherwise equal answers.

So when the supply is scarce the solver packs as hard as the ceiling allows (the fewest
watts above it), and when it is plentiful it buys no watt savings with migrations: among
answers within the supply the one that moves least wins, which keeps the head-room the
fleet has. Without a budget the first term is the watts themselves, the objective the
solver always had. ``watts_tolerance`` still lets answers whose first terms are within that
fraction of each other count as equal (never with more hosts on).

``fit_to_supply`` gives the fast back-ends an answer of that kind: from a full
consolidation, it gives back the hosts it empties (the most memory first, each with exactly
the instances it holds now) while the answer stays within the supply.
"""

from __future__ import annotations

import numpy as np

from watcher_geyser.fleet import RAM
from watcher_geyser.solver.problem import Problem


def first_term_w(problem: Problem, watts_w: float) -> float:
    """The first objective term, in the units compared: ``max(watts, supply)`` (the watts
    above the supply, offset by the supply), or the watts without a budget."""
    if problem.power_budget_w is None:
        return watts_w
    return max(watts_w, problem.power_budget_w)


def objective_key(problem: Problem, placement: np.ndarray) -> tuple[float, float, int, float]:
    """The first four terms of the ranking above for ``placement`` of ``problem.fleet``, compared as a
    tuple (smaller is better): the portfolio ranks its candidates by it, and ``pipeline.run`` ranks the
    placement a plan reaches against a re-solved answer's by it."""
    fleet = problem.fleet
    moved = placement != fleet.placement
    watts = fleet.watts(placement)
    return (round(first_term_w(problem, watts), 6), float(fleet.demand[moved, RAM].sum()), int(moved.sum()),
            round(watts, 6))


def fit_to_supply(problem: Problem, placement: np.ndarray) -> np.ndarray:
    """``placement`` with emptied hosts given back, the most memory first, while the
    answer's watts stay within ``problem.power_budget_w`` (unchanged without a budget)."""
    supply = problem.power_budget_w
    fleet = problem.fleet
    if supply is None or not len(placement) or fleet.watts(placement) >= supply:
        return placement
    home = fleet.placement
    emptied = np.flatnonzero(fleet.occupied() & ~fleet.occupied(placement))
    memory = np.bincount(home, weights=fleet.demand[:, RAM], minlength=len(fleet.hosts))
    answer = placement.copy()
    for h in emptied[np.argsort(-memory[emptied], kind="stable")]:
        trial = answer.copy()
        trial[home == h] = h
        if fleet.watts(trial) <= supply:
            answer = trial
    return answer


def budget_message(problem: Problem, watts_w: float, bound_w: float) -> str | None:
    """What to say when the answer draws more than the budget (None when it fits)."""
    budget = problem.power_budget_w
    if budget is None or watts_w <= budget + 1e-6:
        return None
    return (
        f"power budget {budget:.0f} W cannot be met: the answer draws {watts_w:.0f} W, {watts_w - budget:.0f} W "
        f"above it, and no answer can draw less than {bound_w:.0f} W; consolidating as far as the ceiling allows"
    )


def wear(problem: Problem, placement: np.ndarray) -> float:
    """The power cycles ``placement`` spends, each weighted 1 / (switch-offs left + 1) of its host.

    A host emptied now spends a switch-off when it goes off; a host switched on spends one
    when it goes off again. Weighting by what each host has left makes, among answers equal
    on every other term, the one that cycles the hosts with the most left win: the budget's
    wear spreads over the fleet. 0 when no host is limited (``Problem.switch_offs_left``)."""
    if not problem.switch_offs_left or not len(placement):
        return 0.0
    fleet = problem.fleet
    before, after = fleet.occupied(), fleet.occupied(placement)
    cycled = (before & ~after) | (~fleet.powered & after)
    return float((1.0 / (problem.cycles_left[cycled] + 1.0)).sum())
