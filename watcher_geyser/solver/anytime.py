"""Improve a valid answer until the clock says stop: local moves, then CP-SAT on neighbourhoods.

The first answer (greedy fill, then the host-selection model's) is good at any depth, but
it is one pass. What is left is local: a host that holds a few instances the others could
take, or a handful of hosts whose instances would fit on one fewer if rearranged. Two
steps, each keeping the answer valid, so whenever the limit strikes the best so far stands:

1. ``polish``: empty occupied hosts, emptiest first, into the room the others have left
   (``greedy.empty_more_hosts``), pass after pass while a pass empties something;
2. ``improve_neighbourhoods``: large neighbourhood search. Take the emptiest host and the
   hosts of its zone with the most room, free every movable instance on them, and let
   CP-SAT place them back on as few of these hosts as it can (idle watts first, then the
   memory moved against the fleet's current placement). Small models (a few hosts, some
   tens of instances) solve in a fraction of a second; a neighbourhood that cannot shed a
   host is not tried again until the answer changes elsewhere. With less than a
   neighbourhood's budget left none is started (a simulator's short steps); one whose
   instances would not fit on one host fewer even split across them (``may_free_a_host``)
   is passed over unsolved, at no cost to the clock: on full fleets that is all of them.

Hosts holding members of hard server groups or pinned instances are left out of both:
their rules are the full models' business, and an answer here never breaks them. The
core-size rule (``rules/cores.py``) holds in both: in the neighbourhood model, an instance's
variable for a host whose cores are too slow for it is fixed to 0.
"""

from __future__ import annotations

import numpy as np
from ortools.sat.python import cp_model

from watcher_geyser.solver.clock import Clock
from watcher_geyser.solver.cpsat import UNITS, make_solver
from watcher_geyser.solver.greedy import empty_more_hosts, move_budget
from watcher_geyser.solver.repack import EPS
from watcher_geyser.solver.workspace import Workspace

NEIGHBOURHOOD_HOSTS = 8
MAX_ITEMS = 400  # a neighbourhood holding more instances is not modelled (one boolean per instance and host)
STEP_SECONDS = 0.3
#: With less time left no neighbourhood is started: one cut short of its budget rarely proves
#: anything, so a short limit (a simulator's step) is spent on the cheaper stages alone. The
#: clock counts it in deterministic mode too, so answers still repeat.
MIN_STEP_SECONDS = STEP_SECONDS


def polish(ws: Workspace, placement: np.ndarray, clock: Clock) -> np.ndarray:
    """Empty more hosts into the others' room, pass after pass, while passes succeed."""
    while not clock.expired():
        before = np.count_nonzero(np.bincount(placement, minlength=ws.n_hosts))
        placement = empty_more_hosts(
            ws, placement, clock.deadline, max_failures=ws.n_hosts, max_new_moves=move_budget(ws, placement)
        )
        if np.count_nonzero(np.bincount(placement, minlength=ws.n_hosts)) >= before:
            break
    return placement


def improve_neighbourhoods(ws: Workspace, placement: np.ndarray, clock: Clock, accept) -> np.ndarray:
    """CP-SAT on neighbourhoods of hosts until the clock stops it or no neighbourhood is left.

    ``accept(placement) -> bool`` is the caller's referee (rule checks, objective): a step
    is kept only when it says yes. A neighbourhood the model would not hold (more than
    ``MAX_ITEMS`` instances) or that cannot free a host by volume alone (``may_free_a_host``)
    is passed over before any model is built, and costs no time from the clock: judged by
    size and arithmetic, so deterministic runs stay deterministic."""
    if ws.problem.eviction_cap is not None:
        return placement  # moves here are not counted against caps: leave capped problems alone
    eligible = _eligible_hosts(ws)
    free = ws.group < 0  # server group members stay where they are
    demand, capacity = _scaled(ws)
    while clock.left() >= MIN_STEP_SECONDS:
        # as things stand until a step is taken: the seeds (emptiest first), per zone the hosts
        # with the most room first, and what each host holds in the model's units
        load = np.zeros((ws.n_hosts, ws.demand.shape[1]))
        np.add.at(load, placement, ws.demand)
        occupied = np.bincount(placement, minlength=ws.n_hosts) > 0
        fill = (load / np.maximum(ws.limits, EPS)).max(axis=1)
        within = (load <= ws.limits + EPS).all(axis=1)
        grouped = np.bincount(placement[~free], minlength=ws.n_hosts) > 0
        pool = np.flatnonzero(occupied & eligible & within & ~grouped)
        room = ((ws.limits[pool] - load[pool]) / ws.scale).min(axis=1)
        roomiest = pool[np.argsort(-room, kind="stable")]
        held = np.zeros((ws.n_hosts, demand.shape[1]), dtype=np.int64)
        np.add.at(held, placement[free], demand[free])
        count = np.bincount(placement[free], minlength=ws.n_hosts)
        taken = None
        for seed in pool[np.argsort(fill[pool], kind="stable")].tolist():
            if clock.left() < MIN_STEP_SECONDS:
                return placement
            zone_pool = roomiest[(ws.host_zone[roomiest] == ws.host_zone[seed]) & (roomiest != seed)]
            partners = zone_pool[: NEIGHBOURHOOD_HOSTS - 1]
            if len(partners) == 0:
                continue
            hosts = np.r_[seed, partners]
            if not 0 < count[hosts].sum() <= MAX_ITEMS:
                continue
            if not may_free_a_host(held[hosts].sum(axis=0), capacity[hosts], int((count[hosts] > 0).sum())):
                continue
            budget = min(STEP_SECONDS, clock.left())
            clock.spend(budget)
            items = np.flatnonzero(np.isin(placement, hosts) & free)
            candidate = _solve_neighbourhood(ws, placement, items, hosts, demand[items], capacity[hosts], budget)
            if candidate is not None and accept(candidate):
                taken = candidate
                break
        if taken is None:
            break  # every seed tried since the answer last changed
        placement = taken  # the answer changed: every seed may be worth another try
    return placement


def may_free_a_host(demand: np.ndarray, capacity: np.ndarray, on_now: int) -> bool:
    """Could the neighbourhood model place instances of summed ``demand`` (per resource) on hosts of
    ``capacity`` (a row per host), ``on_now`` of them holding some now, with one host fewer on?
    False only when it provably cannot, by volume: an answer leaves some host j off, so every
    resource's demand must fit in what the other hosts offer, summed as if instances split across
    hosts; no j passing that test means no answer, and the model would spend its budget finding
    so (on the tight-deep family at 1,000 hosts every neighbourhood held 99.7 % of its hosts'
    memory, and each took 0.1 s to say no). Leaving more hosts off is harder still (capacities
    count as at least 0), and the core-size rule only takes answers away: neither weakens the test.
    Both in the model's integer units, rounded as it rounds them (``_scaled``)."""
    if on_now <= 1:
        return False  # at most on_now - 1 hosts on: none, with instances to place
    capacity = np.maximum(capacity, 0)
    others = capacity.sum(axis=0)[None, :] - capacity  # row j: what the other hosts offer with j off
    return bool((others >= demand[None, :]).all(axis=1).any())


def _scaled(ws: Workspace) -> tuple[np.ndarray, np.ndarray]:
    """(every instance's demand, every host's capacity) in the model's integer units, rounded
    against the answer (demands up, capacities down): what the model solves and the volume test
    weighs."""
    units = np.array(UNITS[: ws.demand.shape[1]], dtype=float)
    demand = np.ceil(ws.demand * units - EPS).astype(np.int64)
    capacity = np.floor(ws.limits * units + EPS).astype(np.int64)
    return demand, capacity


def _eligible_hosts(ws: Workspace) -> np.ndarray:
    """Hosts whose instances the neighbourhood model may rearrange freely."""
    blocked = ws.forced.copy()
    blocked[ws.placement0[ws.group >= 0]] = True
    return ws.may_receive & ~blocked


def _too_slow(ws: Workspace, items: np.ndarray, hosts: np.ndarray) -> list[tuple[int, int]]:
    """(item, host) positions the core-size rule forbids (``rules/cores.py``): a host other than
    the item's home whose cores are too slow for it."""
    if ws.core_tiers == 1:
        return []
    slow = ws.host_core_tier[hosts][None, :] < ws.core_tier[items][:, None]
    slow &= hosts[None, :] != ws.placement0[items][:, None]
    return list(zip(*np.nonzero(slow), strict=True))


def _solve_neighbourhood(
    ws: Workspace,
    placement: np.ndarray,
    items: np.ndarray,
    hosts: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
    time_limit_s: float,
) -> np.ndarray | None:
    """Place ``items`` (the instances now on ``hosts`` outside server groups; ``demand`` and
    ``capacity`` theirs and the hosts' in the model's units) back on as few of ``hosts`` as CP-SAT
    can; None if no host is freed."""
    on_now = len(np.unique(placement[items]))
    dims = demand.shape[1]
    model = cp_model.CpModel()
    x = {(i, j): model.new_bool_var(f"x{i}_{j}") for i in range(len(items)) for j in range(len(hosts))}
    on = [model.new_bool_var(f"on{j}") for j in range(len(hosts))]
    for i, j in _too_slow(ws, items, hosts):
        model.add(x[i, j] == 0)
    for i in range(len(items)):
        model.add_exactly_one(x[i, j] for j in range(len(hosts)))
        for j in range(len(hosts)):
            if placement[items[i]] == hosts[j]:
                model.add_hint(x[i, j], 1)
    for j in range(len(hosts)):
        for d in range(dims):
            model.add(sum(int(demand[i, d]) * x[i, j] for i in range(len(items))) <= int(capacity[j, d]) * on[j])
    model.add(sum(on) <= on_now - 1)
    idle = np.round(ws.fleet.idle_w[hosts]).astype(np.int64)
    ram = ws.ram[items].astype(np.int64)
    moved = [
        (int(ram[i]), x[i, j])
        for i in range(len(items))
        for j in range(len(hosts))
        if hosts[j] != ws.placement0[items[i]]
    ]
    weight = int(ram.sum()) + 1
    model.minimize(sum(int(idle[j]) * weight * on[j] for j in range(len(hosts))) + sum(m * var for m, var in moved))
    solver = make_solver(time_limit_s, ws.problem.seed, 1, ws.problem.deterministic)
    if solver.solve(model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    result = placement.copy()
    for i in range(len(items)):
        for j in range(len(hosts)):
            if solver.boolean_value(x[i, j]):
                result[items[i]] = hosts[j]
    return result
