"""``solve(problem) -> Target``: run the back-ends, keep the best valid answer, report bounds.

The order is what makes it anytime:

1. the current placement is always a valid answer (nothing moves, no host gets worse);
2. the greedy consolidation comes next, in a fraction of a second at any scale;
3. CP-SAT then improves on it with the time left: the exact model on small fleets, the
   host-selection model plus repack on large ones, each hinted with the greedy answer.

Every candidate passes the rule checkers before it may win, and figures are recomputed
from placements, so a back-end bug costs quality, never safety. Each candidate carries the
name of the pass that made it (``problem.PASSES``); the winner's becomes ``Target.found_by`` in
``_target`` alone (``relief.relieved_target`` says ``relief`` when nothing after relief moved
more), so a reader sees which pass gave the answer (``geyser plan``, the simulator's
``found_by`` column and ``passes_won``).
"""

from __future__ import annotations

import logging
import time
from functools import cached_property

import numpy as np

from watcher_geyser import bounds
from watcher_geyser.fleet import RAM, VCPU
from watcher_geyser.joint_bound import joint_watts_lower_bound
from watcher_geyser.solver.anytime import improve_neighbourhoods, polish
from watcher_geyser.solver.budget import budget_message, first_term_w, fit_to_supply, objective_key, wear
from watcher_geyser.solver.checks import check_placement
from watcher_geyser.solver.clock import Clock
from watcher_geyser.solver.eject import empty_by_ejection
from watcher_geyser.solver.exact import model_size, solve_exact
from watcher_geyser.solver.greedy import (
    empty_more_hosts,
    move_budget,
    pack_with_repair,
    respect_migration_cap,
    solve_greedy,
)
from watcher_geyser.solver.limits import CPU_CORES, held_limits
from watcher_geyser.solver.master import choose_hosts
from watcher_geyser.solver.payback import pay_back
from watcher_geyser.solver.problem import Bounds, Problem, Target
from watcher_geyser.solver.relief import relieve, relieved_problem, relieved_target
from watcher_geyser.solver.swap import swap_for_flatter_curves
from watcher_geyser.solver.workspace import Workspace

LOG = logging.getLogger(__name__)

EXACT_MAX_BOOLEANS = 6000
EXACT_MIN_SECONDS = 1.0  # with less time left, auto skips the exact model: it would not even be built in time
EJECTION_MIN_SECONDS = 0.3  # with less left, no ejection (as no neighbourhood: anytime.MIN_STEP_SECONDS)
CLOSE_ENOUGH = 0.001  # an answer this close to every bound is not worth CP-SAT's time
METHODS = ("auto", "exact", "decompose", "greedy")
NO_HOST = "the fleet holds no host: nothing to relieve or consolidate, so no actions"


def solve(problem: Problem, method: str = "auto") -> Target:
    """The best placement found within ``problem.time_limit_s``, with proven bounds.

    ``method``: ``auto`` picks the exact model for small fleets and the decomposition for
    large ones; ``exact``, ``decompose`` and ``greedy`` force one (tests and benchmarks).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if not problem.fleet.hosts:  # no host, hence no instance: the empty answer, and why
        return Target(problem, problem.fleet.placement.copy(), Bounds(0, 0.0, 0.0), "CURRENT", 0.0,
                      messages=(NO_HOST,))
    relief = relieve(problem)
    if relief.needed:  # relief first; every back-end then starts from the relieved fleet
        inner = solve(relieved_problem(problem, relief), method)
        proven = _proven_bounds(problem)
        return relieved_target(problem, relief, inner, proven.hosts or 0, proven.watts_w)
    return _consolidate(problem, method)


def _consolidate(problem: Problem, method: str) -> Target:
    """The anytime order (module docstring) on a fleet with no host to relieve: the current placement,
    then the greedy answer, then CP-SAT with the time left; each answer must beat the best so far."""
    started = time.monotonic()
    clock = Clock(problem.time_limit_s, problem.deterministic)
    ws = Workspace(problem)
    messages: list[str] = []
    proven = _proven_bounds(problem)
    best = _Candidate(problem.fleet.placement.copy(), "CURRENT", ws, "current")
    if proven.hosts is None:
        messages.append(
            "the demand cannot fit on the hosts that may stay on, even ignoring how instances split: "
            "nothing moves; add capacity or raise the ceiling"
        )
        return _target(problem, best, proven, started, messages, watts_bound=0.0)
    # never a deadline in deterministic mode: numpy stages run to their end
    greedy = solve_greedy(ws, clock.deadline)
    messages += greedy.messages
    best = _better(best, _Candidate(greedy.placement, "GREEDY", ws, "greedy"), messages)
    if problem.power_budget_w is not None:  # within a plentiful supply, fewer moves win
        best = _better(best, _Candidate(fit_to_supply(problem, greedy.placement), "GREEDY", ws, "supply_fit"), messages)
    best, watts_bound, cpsat_status = _search(ws, best, proven, clock, method, greedy.selected, messages)
    if method == "exact" or (method == "auto" and model_size(ws) <= EXACT_MAX_BOOLEANS):
        best = _paid_back(ws, best, messages)
    if cpsat_status == "OPTIMAL" and best.status != "OPTIMAL":
        # a sub-model's optimum (the host selection) is not the whole answer's
        cpsat_status = "FEASIBLE"
    stopped = not problem.deterministic and clock.expired() and best.status != "OPTIMAL"
    messages += _gap_notes(ws, best, watts_bound, "the time limit" if stopped else None)
    unmet = budget_message(problem, problem.fleet.watts(best.placement), watts_bound)
    if unmet:
        messages.append(unmet)
    return _target(problem, best, proven, started, messages, watts_bound, cpsat_status)


def _search(ws: Workspace, best: _Candidate, proven: _ProvenBounds, clock: Clock, method: str,
            greedy_selection: np.ndarray | None, messages: list[str]) -> tuple[_Candidate, float, str]:
    """CP-SAT's turn: (best answer, watts lower bound, CP-SAT status). Skipped when the greedy answer
    already meets every bound; the host-selection model first (cheap, and its bound always helps),
    the exact model on small fleets, then neighbourhood improvement with whatever time is left."""
    watts_bound = proven.watts_w
    if _unbeatable(ws.problem, best):  # the shells say why (``geyser plan``: "the supply covers what the fleet draws")
        return best, watts_bound, "SKIPPED"
    if method == "auto" and _close_enough(best, proven, ws):
        messages.append(f"the greedy answer is within {CLOSE_ENOUGH:.1%} of every lower bound: CP-SAT was not needed")
        return best, watts_bound, "SKIPPED"
    if method == "greedy" or clock.expired() or not len(ws.fleet.instances):
        return best, watts_bound, "NOT_RUN"
    cpsat_status = "NOT_RUN"
    use_exact = method == "exact" or (
        method == "auto"
        and model_size(ws) <= EXACT_MAX_BOOLEANS
        and clock.left() >= EXACT_MIN_SECONDS  # building it alone takes up to ~0.5 s
    )
    if method != "exact":
        share = 0.2 if use_exact else 0.4
        best, cpsat_status, master_bound = _decompose(ws, best, proven, clock, share, messages, greedy_selection)
        watts_bound = max(watts_bound, master_bound)
    if use_exact and not clock.expired():
        best, cpsat_status, exact_bound = _exact(ws, best, clock, messages)
        if exact_bound is not None:
            watts_bound = max(watts_bound, exact_bound)
    if best.status != "OPTIMAL" and method in ("auto", "decompose"):
        best = _improve(ws, best, clock, messages)
    return best, watts_bound, cpsat_status


def _exact(ws: Workspace, best: _Candidate, clock: Clock,
           messages: list[str]) -> tuple[_Candidate, str, float | None]:
    """The exact CP-SAT model with all the time left, hinted with the best answer so far:
    (best answer, CP-SAT status, its watts lower bound if any)."""
    problem = ws.problem
    budget = clock.left()
    clock.spend(budget)
    result = solve_exact(ws, budget, best.placement, problem.seed, problem.workers)
    if result.placement is None:
        messages.append(f"CP-SAT found no answer in time ({result.status}); the best earlier answer stands")
        return best, result.status, result.watts_bound_w
    status = "OPTIMAL" if result.proven else "FEASIBLE"
    previous = best
    best = _better(best, _Candidate(result.placement, status, ws, "exact"), messages)
    if result.proven and best is previous and _same_objectives(best, result.placement, ws):
        best.status = "OPTIMAL"  # the earlier answer was optimal all along
    return best, result.status, result.watts_bound_w


def _decompose(
    ws: Workspace,
    best: _Candidate,
    proven: _ProvenBounds,
    clock: Clock,
    share: float,
    messages: list[str],
    greedy_selection: np.ndarray | None = None,
) -> tuple[_Candidate, str, float]:
    """CP-SAT chooses the hosts to keep, repack fits the instances: (best, status, watts bound)."""
    problem = ws.problem
    budget_idle = None if problem.power_budget_w is None else problem.power_budget_w - proven.dynamic_w
    budget = max(clock.left(), 0.05) * share
    clock.spend(budget)
    master = choose_hosts(
        ws, budget, ws.fleet.occupied(best.placement), budget_idle, problem.seed, problem.workers
    )
    if master.keep is None:
        messages.append(f"CP-SAT host selection found nothing in time ({master.status}); the greedy answer stands")
        return best, master.status, 0.0
    bound = master.idle_bound_w + proven.dynamic_w
    if greedy_selection is not None and np.array_equal(master.keep, greedy_selection):
        return best, master.status, bound  # the same hosts as the greedy chose: the same repack
    deadline = clock.deadline
    packing, keep = pack_with_repair(ws, master.keep, deadline)
    packing = respect_migration_cap(ws, packing, keep, deadline)
    placement = empty_more_hosts(ws, packing.placement, deadline, max_new_moves=move_budget(ws, packing.placement))
    best = _better(best, _Candidate(placement, "FEASIBLE", ws, "host_selection"), messages)
    return best, master.status, bound


def _improve(ws: Workspace, best: _Candidate, clock: Clock, messages: list[str]) -> _Candidate:
    """Local improvement until the clock stops it (``anytime``): every step a valid answer."""
    # ejection first: it stops after a few hosts it cannot empty, where polish tries every host
    # (at 20,000 hosts polish alone took the 45 s limit); none with less than
    # EJECTION_MIN_SECONDS left: on a replayed PlanetLab day's 0.15 s steps (the simulator's limit
    # until it became 1 s) it failed until the deadline (49 s of CPU for the day instead of 33,
    # same energy). Not capped to a share of the time: on the loaded bench machine half of it
    # freed 25 of the 43 hosts it frees.
    if clock.left() >= EJECTION_MIN_SECONDS:
        ejected = empty_by_ejection(ws, best.placement, clock.deadline)
        if ejected is not best.placement:
            best = _better(best, _Candidate(ejected, "FEASIBLE", ws, "ejection"), messages)
    polished = polish(ws, best.placement, clock)
    if polished is not best.placement:
        best = _better(best, _Candidate(polished, "FEASIBLE", ws, "polish"), messages)
    if clock.left() >= EJECTION_MIN_SECONDS:  # as ejection: never on a replayed day's short steps
        swapped = swap_for_flatter_curves(ws, best.placement, clock.deadline)
        if swapped is not best.placement:
            best = _better(best, _Candidate(swapped, "FEASIBLE", ws, "swap"), messages)
    holder = [best]

    def accept(placement: np.ndarray) -> bool:
        winner = _better(holder[0], _Candidate(placement, "FEASIBLE", ws, "neighbourhood"), messages)
        taken = winner is not holder[0]
        holder[0] = winner
        return taken

    improve_neighbourhoods(ws, best.placement, clock, accept)
    return holder[0]


def _paid_back(ws: Workspace, best: _Candidate, messages: list[str]) -> _Candidate:
    """``best`` without the moves that neither free a host nor pay back within ``swap_payback_s``
    (``payback.pay_back``). Run on the fleets the exact model takes (``method`` exact, or auto on
    a fleet within ``EXACT_MAX_BOOLEANS``, whichever stage's answer won): its watts-first objective
    buys a micro-watt of dynamic power with any migration, and at that size the check is cheap (it
    asks the rule checkers once per group of moves). The decomposition's large fleets, and the
    simulator's steps (``decompose``), keep their answers."""
    problem = ws.problem
    paid = pay_back(problem, best.placement)
    if paid is best.placement:
        return best
    origin = best.found_by if (paid != ws.fleet.placement).any() else "current"  # every move dropped: nothing moves
    candidate = _Candidate(paid, "FEASIBLE", ws, origin)  # no longer the model's optimum, if it was
    if candidate.violations:  # pay_back checks every step: a bug here costs the drop, never safety
        LOG.error("discarded an invalid paid-back answer: %s", "; ".join(candidate.violations[:5]))
        messages.append(f"internal: discarded an invalid paid-back answer ({candidate.violations[0]})")
        return best
    fleet = ws.fleet
    dropped = (best.placement != fleet.placement) & (paid == fleet.placement)
    messages.append(
        f"{int(dropped.sum())} move(s) dropped ({fleet.demand[dropped, RAM].sum():.0f} MB): they freed no host and "
        f"did not pay back their migrations within swap_payback_s = {problem.swap_payback_s:g} s "
        f"(watts {fleet.watts(paid) - fleet.watts(best.placement):+.3f} W)"
    )
    return candidate


GAP_WORTH_NOTING = 0.05


def _gap_notes(ws: Workspace, best: _Candidate, watts_bound: float, stopped: str | None) -> list[str]:
    """Say when the answer is far from its bound, and the likeliest reason."""
    watts = ws.fleet.watts(best.placement)
    if watts <= 0 or watts_bound <= 0 or (watts - watts_bound) / watts <= GAP_WORTH_NOTING:
        return []
    budget = ws.problem.power_budget_w
    if budget is not None and watts <= budget + 1e-6:
        return []  # within the supply, fewer moves win on purpose (``budget``)
    gap = (watts - watts_bound) / watts
    problem = ws.problem
    rules = []
    if problem.eviction_cap is not None:
        rules.append("the migration cap")
    if ws.forced.any():
        rules.append(f"{int(ws.forced.sum())} host(s) holding instances that cannot move")
    if (ws.group >= 0).any():
        rules.append("server groups")
    if not problem.allow_power_on and not ws.fleet.powered.all():
        rules.append("no power-on")
    if stopped:
        reason = f"{stopped} stopped the search (a longer --time-limit may close it)"
    elif rules:
        reason = "the rules (" + ", ".join(rules) + ") hold it above a bound that ignores them"
    else:
        reason = "capacity: instances do not split across hosts as the bound assumes (large or awkward flavours)"
    return [f"the answer is {gap:.1%} above its watts lower bound: {reason}"]


def _close_enough(best: _Candidate, proven: _ProvenBounds, ws: Workspace) -> bool:
    """Is ``best`` already within CLOSE_ENOUGH of the hosts, watts and migration bounds?"""
    fleet = ws.fleet
    if best.status == "CURRENT" or proven.hosts is None:
        return False
    hosts_on = int(fleet.occupied(best.placement).sum())
    memory_bound = bounds.migration_cost_lower_bound_mb(fleet, bounds.hosts_on_by_zone(fleet, best.placement))
    _, memory, _, watts = best.key
    return (
        hosts_on <= proven.hosts * (1 + CLOSE_ENOUGH)
        and watts <= proven.watts_w * (1 + CLOSE_ENOUGH)
        and memory <= memory_bound * (1 + CLOSE_ENOUGH)
    )


def _unbeatable(problem: Problem, best: _Candidate) -> bool:
    """True when ``best`` moves nothing and draws within the supply: every answer's first term is at
    least the supply (``first_term_w``) and every other answer moves something, so the order of
    ``_Candidate.beats`` ranks none above it, and a search could only spend its time (a replayed
    day's sunny steps spent 0.7 s each on neighbourhoods that never won). Not with a watts
    tolerance: an answer just above the supply would then win on hosts on."""
    budget = problem.power_budget_w
    return (budget is not None and problem.watts_tolerance == 0 and best.key[2] == 0
            and best.key[0] == round(first_term_w(problem, 0.0), 6))


class _Candidate:
    """A placement and its lexicographic objective (``solver/budget.py``): watts above the
    supply (the watts, without a budget), memory moved, migrations, watts, wear."""

    def __init__(self, placement: np.ndarray, status: str, ws: Workspace, found_by: str) -> None:
        fleet = ws.fleet
        self.placement = placement
        self.status = status
        self.found_by = found_by  # the pass that made it (``problem.PASSES``): ``Target.found_by`` if it wins
        self.key = objective_key(ws.problem, placement)
        self.problem = ws.problem
        self.hosts_on = int(fleet.occupied(placement).sum())
        self.tolerance = ws.problem.watts_tolerance
        self.violations = check_placement(ws.problem, placement)

    @cached_property
    def wear(self) -> float:
        """The fifth term, computed only when the first four tie (``budget.wear``)."""
        return round(wear(self.problem, self.placement), 9)

    def beats(self, other: _Candidate) -> bool:
        """Lexicographic; first terms within the problem's tolerance count as equal unless
        they come with more hosts on."""
        watts, other_watts = self.key[0], other.key[0]
        if watts == other_watts:
            return self._rest_beats(other)
        if self.tolerance > 0 and abs(watts - other_watts) <= self.tolerance * min(watts, other_watts):
            if self.hosts_on != other.hosts_on:
                return self.hosts_on < other.hosts_on
            return self._rest_beats(other)
        return self.key < other.key

    def _rest_beats(self, other: _Candidate) -> bool:
        """Memory moved, migrations, watts, then wear."""
        if self.key[1:] != other.key[1:]:
            return self.key[1:] < other.key[1:]
        return self.wear < other.wear


def _better(best: _Candidate, challenger: _Candidate, messages: list[str]) -> _Candidate:
    if challenger.violations:
        # a back-end bug must never reach an operator as a plan: log it, keep the valid answer
        LOG.error("discarded an invalid %s answer: %s", challenger.status, "; ".join(challenger.violations[:5]))
        messages.append(f"internal: discarded an invalid {challenger.status} answer ({challenger.violations[0]})")
        return best
    return challenger if challenger.beats(best) else best


def _same_objectives(candidate: _Candidate, placement: np.ndarray, ws: Workspace) -> bool:
    return _Candidate(placement, "", ws, "").key == candidate.key


class _ProvenBounds:
    def __init__(self, hosts: int | None, watts_w: float, dynamic_w: float) -> None:
        self.hosts = hosts
        self.watts_w = watts_w
        self.dynamic_w = dynamic_w


def _proven_bounds(problem: Problem) -> _ProvenBounds:
    """Bounds valid for every answer: capacities relaxed to what a host may keep holding."""
    fleet = problem.fleet
    held = held_limits(fleet, problem.ceiling, problem.cpu_packing)
    limits = held[:, :CPU_CORES]
    cpu_limits = None if problem.cpu_ceiling is None else held[:, CPU_CORES]
    hosts = bounds.hosts_lower_bound(fleet, limits, problem.allow_power_on)
    if hosts is None:
        return _ProvenBounds(None, 0.0, 0.0)
    usable = bounds.candidate_hosts(fleet, problem.allow_power_on) | bounds.pinned_hosts(fleet)
    idle = bounds.idle_lower_bound(fleet, limits, problem.allow_power_on, hosts)
    carry, per_core_w = bounds.load_prices(fleet, limits[:, VCPU], cpu_limits)
    dynamic = bounds.priced_dynamic_lower_bound(fleet, usable, carry, per_core_w)
    joint = joint_watts_lower_bound(fleet, limits, carry, per_core_w, problem.allow_power_on, hosts,
                                    problem.time_limit_s)
    return _ProvenBounds(hosts, max(idle + dynamic, joint), dynamic)


def _target(
    problem: Problem,
    best: _Candidate,
    proven: _ProvenBounds,
    started: float,
    messages: list[str],
    watts_bound: float,
    cpsat_status: str = "NOT_RUN",
) -> Target:
    fleet = problem.fleet
    migration_bound = bounds.migration_cost_lower_bound_mb(fleet, bounds.hosts_on_by_zone(fleet, best.placement))
    result_bounds = Bounds(hosts=proven.hosts or 0, watts_w=watts_bound, migration_cost_mb=migration_bound)
    return Target(
        problem=problem,
        placement=best.placement,
        bounds=result_bounds,
        status=best.status,
        cpsat_status=cpsat_status,
        solve_seconds=time.monotonic() - started,
        messages=tuple(dict.fromkeys(messages)),
        found_by=best.found_by,
    )
