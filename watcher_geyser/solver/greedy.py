"""The greedy consolidation: choose hosts to keep, repack the rest, then try to empty more.

It is the warm start of CP-SAT and the answer of last resort, so it must always return a
valid placement fast, at any scale:

1. keep hosts in order of preference (most watts-efficient first, then the most expensive
   to empty) until, per zone, their capacity covers the demand;
2. repack the instances of the other hosts (``repack``); where some find no room, keep
   their source hosts too and repack again (those instances then stay home);
3. try to empty more hosts, emptiest first, into the room the others have left.
"""

from __future__ import annotations

import time

import numpy as np

from watcher_geyser.bounds import candidate_hosts
from watcher_geyser.solver.flavour_room import FlavourRoom, core_rows, tightest_fit
from watcher_geyser.solver.problem import MIGRATION_CAP, UNLIMITED_CYCLES
from watcher_geyser.solver.repack import EPS, Packing, fill_pool, repack
from watcher_geyser.solver.workspace import Workspace


def _idle_per_scarce_unit(ws: Workspace) -> np.ndarray:
    """float[H]: idle watts per unit of the fleet's scarcest resource (lower keeps better)."""
    demand = ws.demand.sum(axis=0)
    capacity = np.maximum(ws.limits.sum(axis=0), EPS)
    scarce = int(np.argmax(demand / capacity))
    return ws.fleet.idle_w / np.maximum(ws.limits[:, scarce], EPS)


def keep_preference(ws: Workspace) -> np.ndarray:
    """Host indices, best to keep first: fewest idle watts per unit of the scarcest resource,
    then the most memory to move if emptied, then (when a power-cycle budget limits hosts)
    the one whose keeping spends least of the budget (``_wear_order``)."""
    keys = (-ws.home_memory_mb, np.round(_idle_per_scarce_unit(ws), 9))
    if ws.problem.switch_offs_left:
        keys = (_wear_order(ws), *keys)
    return np.lexsort(keys)


def _wear_order(ws: Workspace) -> np.ndarray:
    """int[H], lower keeps first: hosts on before hosts off (no cycle spent either way); among
    those on, the fewest switch-offs left (the ones not kept go off and spend one, so the
    hosts with most left spend it); among those off, the most left (switched on, a host
    spends one when it goes off again)."""
    left = ws.problem.cycles_left
    return np.where(ws.fleet.powered, left, 2 * UNLIMITED_CYCLES - left)


def select_hosts(ws: Workspace, order: np.ndarray | None = None, slack: float = 0.0) -> np.ndarray:
    """bool[H]: hosts to keep so that, per zone, their limits cover the demand (plus ``slack``)."""
    problem = ws.problem
    order = keep_preference(ws) if order is None else order
    candidates = candidate_hosts(ws.fleet, problem.allow_power_on)
    keep = ws.forced.copy()
    # a host that may not receive only counts for what it already holds
    useful = np.where(ws.may_receive[:, None], ws.limits, np.minimum(ws.limits, ws.load0))
    for z in range(len(ws.fleet.zones)):
        need = ws.demand[ws.instance_zone == z].sum(axis=0) * (1 + slack)
        have = useful[keep & (ws.host_zone == z)].sum(axis=0)
        zone_order = order[(ws.host_zone[order] == z) & candidates[order] & ~keep[order]]
        if (have >= need - EPS).all() or len(zone_order) == 0:
            continue
        cumulative = have + np.cumsum(useful[zone_order], axis=0)
        covered = np.flatnonzero((cumulative >= need - EPS).all(axis=1))
        count = int(covered[0]) + 1 if len(covered) else len(zone_order)
        keep[zone_order[:count]] = True
    return keep


def pack_with_repair(ws: Workspace, keep: np.ndarray, deadline: float) -> tuple[Packing, np.ndarray]:
    """Repack; where instances find no room, reopen the fewest of their hosts (``reopen_hosts``)."""
    packing = repack(ws, keep)
    if not packing.unplaced:
        return packing, keep
    return reopen_hosts(ws, keep, packing)


def reopen_hosts(ws: Workspace, keep: np.ndarray, packing: Packing) -> tuple[Packing, np.ndarray]:
    """Keep on, per zone, the hosts holding the most left-over memory until their room covers
    what is left over; their own instances come back home (they need not move), and the
    left-over instances fill the room so made. Repeats until nothing is left over: a few
    rounds of vectorised fills, where keeping every host with a left-over instance would
    keep one host per instance."""
    keep = keep.copy()
    placement = packing.placement.copy()
    unplaced = np.asarray(packing.unplaced, dtype=np.int64)
    comes_back = ws.movable & ~ws.in_hard_group  # a group member moved with its peers stays with them
    efficiency = np.round(_idle_per_scarce_unit(ws), 9)
    while len(unplaced):
        homes = ws.placement0[unplaced]
        memory = np.bincount(homes, weights=ws.ram[unplaced], minlength=ws.n_hosts)
        must = np.zeros(ws.n_hosts, dtype=bool)
        must[homes[ws.in_hard_group[unplaced]]] = True  # grouped left-overs stay home: their hosts stay on
        room = np.where(ws.may_receive[:, None], np.maximum(ws.limits - ws.load0, 0), 0)
        reopen = must.copy()
        for z in np.unique(ws.instance_zone[unplaced]):
            left_over = ws.demand[unplaced[ws.instance_zone[unplaced] == z]].sum(axis=0)
            order = np.flatnonzero((memory > 0) & ~must & (ws.host_zone == z))
            order = order[np.lexsort((-memory[order], efficiency[order]))]  # cheapest watts first
            covered = np.cumsum(room[order], axis=0) + room[must & (ws.host_zone == z)].sum(axis=0) >= left_over
            count = int(np.argmax(covered.all(axis=1))) + 1 if covered.all(axis=1).any() else len(order)
            reopen[order[:count]] = True
        reopen &= ~keep
        if not reopen.any():
            break
        keep |= reopen
        back = comes_back & reopen[ws.placement0]
        placement[back] = ws.placement0[back]
        unplaced = unplaced[~keep[ws.placement0[unplaced]]]
        load = np.zeros((ws.n_hosts, ws.demand.shape[1]))
        np.add.at(load, placement, ws.demand)
        residual = np.where((keep & ws.may_receive)[:, None], ws.limits - load, -np.inf)
        plain = unplaced[~ws.in_hard_group[unplaced]]
        placed, hosts = fill_pool(ws, plain, residual)
        placement[placed] = hosts
        done = np.zeros(ws.n_instances, dtype=bool)
        done[placed] = True
        unplaced = unplaced[~done[unplaced]]
    return Packing(placement, unplaced.tolist(), packing.messages, packing.selected), keep


def empty_more_hosts(
    ws: Workspace, placement: np.ndarray, deadline: float, max_failures: int = 30, max_new_moves: int | None = None,
    quick: bool = True,
) -> np.ndarray:
    """Try to empty occupied hosts, emptiest first, into the others' remaining room, moving
    at most ``max_new_moves`` instances that have not moved yet. ``quick``: with a
    ``FlavourRoom`` where it pays (the same answer; False only to test that)."""
    placement = placement.copy()
    budget = np.inf if max_new_moves is None else max_new_moves
    load = np.zeros((ws.n_hosts, ws.demand.shape[1]))
    np.add.at(load, placement, ws.demand)
    occupied = np.bincount(placement, minlength=ws.n_hosts) > 0
    in_group = ws.group >= 0
    blocked = ws.forced.copy()
    blocked[placement[in_group]] = True  # keep group bookkeeping out of this cheap pass
    fill = (load / np.maximum(ws.limits, EPS)).max(axis=1)
    candidates = np.flatnonzero(occupied & ~blocked)
    failures = 0
    receiving = occupied & ws.may_receive  # kept equal to it as hosts are emptied
    in_zone: dict[int, np.ndarray] = {}
    # only worth building for passes that try every host (polish's)
    room = FlavourRoom(ws, placement, load, receiving) if (
        quick and max_failures > 30 and FlavourRoom.worth_building(ws)) else None
    for h in candidates[np.argsort(fill[candidates], kind="stable")].tolist():
        if failures >= max_failures or time.monotonic() > deadline:
            break
        if room is not None and not room.may_empty(h, bool(receiving[h])):
            failures += 1  # some flavour of h fits on no other receiver: the search would fail
            continue
        zone = int(ws.host_zone[h])
        if zone not in in_zone:
            in_zone[zone] = ws.host_zone == zone
        receivers = receiving & in_zone[zone]
        receivers[h] = False
        moves = _moves_off(ws, h, placement, load, receivers, budget, room)
        if moves is None:
            failures += 1
            continue
        failures = 0
        budget -= int((ws.placement0[[v for v, _ in moves]] == h).sum())
        for v, dst in moves:
            placement[v] = dst
            load[dst] += ws.demand[v]
        load[h] = 0
        if room is not None:
            room.emptied(h, moves, load, bool(receiving[h]))
        occupied[h] = receiving[h] = False
    return placement


def _moves_off(ws: Workspace, h: int, placement: np.ndarray, load: np.ndarray, receivers: np.ndarray,
               budget: float, room: FlavourRoom | None) -> list[tuple[int, int]] | None:
    """(instance, host) moves that empty ``h`` onto ``receivers`` (bool[H]): each instance,
    largest first, on the receiver it leaves least room on; None when one finds no room, the
    receivers' room cannot cover ``h`` or more than ``budget`` would leave home. The room test
    is a necessary one, so its place does not change the outcome: first where it saves a
    search, last where the ``FlavourRoom`` search is cheaper than it."""
    rows = np.flatnonzero(receivers)
    # only occupied hosts of the zone that may receive can take anything: the search runs
    # over those few rows (in index order, so ties go to the same host as over all rows)
    if room is None and not room_may_cover(ws.limits[rows] - load[rows], load[h]):
        return None  # the search below would fail too, after trying every instance
    items = np.flatnonzero(placement == h) if room is None else room.items(h)
    if int((ws.placement0[items] == h).sum()) > budget:
        return None
    order = items[np.argsort(-(ws.demand[items] / ws.scale).max(axis=1), kind="stable")]
    if room is not None:
        moves = room.place(order, load, receivers)
        if moves is None or not room_may_cover(ws.limits[rows] - load[rows], load[h]):
            return None
        return moves
    residual = ws.limits[rows] - load[rows]
    moves = []
    for v in order:
        need = ws.demand[v]
        row = tightest_fit(residual, need, ws.scale, core_rows(ws, v, rows))
        if row is None:
            return None
        residual[row] -= need
        moves.append((int(v), int(rows[row])))
    return moves


def room_may_cover(residual: np.ndarray, need: np.ndarray) -> bool:
    """Could the receivers' room (``residual``, one row each) take ``need`` in every resource?

    A necessary condition for ``empty_more_hosts``' search to succeed, so a host failing it
    is skipped with the same outcome. Each receiver takes at most its positive room plus
    ``EPS`` (the search's own tolerance); the slack covers that and float sums. On a packed
    fleet most hosts fail it, and the search then costs a sum instead of a loop."""
    room = np.maximum(residual, 0).sum(axis=0)
    slack = (len(residual) + 1) * EPS + 1e-9 * np.maximum(np.abs(need), 1.0)
    return bool((room + slack >= need).all())


def move_budget(ws: Workspace, placement: np.ndarray) -> int | None:
    """How many more instances may move under the problem's caps (None: no cap)."""
    problem = ws.problem
    moved = placement != ws.placement0
    left = []
    if problem.max_migrations is not None:
        left.append(problem.max_migrations - int(moved.sum()))
    if problem.max_consolidation_moves is not None:
        emptied = ~(np.bincount(placement, minlength=ws.n_hosts) > 0)
        left.append(problem.max_consolidation_moves - int(emptied[ws.placement0].sum()))
    return max(min(left), 0) if left else None


def _over_caps(ws: Workspace, placement: np.ndarray, keep: np.ndarray) -> tuple[bool, int]:
    """(whether a cap is exceeded, moves affordable for emptying hosts)."""
    problem = ws.problem
    moved = placement != ws.placement0
    emptied = ~(np.bincount(placement, minlength=ws.n_hosts) > 0)
    from_emptied = moved & emptied[ws.placement0]  # as the checker counts them
    budgets = []
    over = False
    if problem.max_migrations is not None:
        over |= int(moved.sum()) > problem.max_migrations
        budgets.append(problem.max_migrations - int((moved & ~from_emptied).sum()))
    if problem.max_consolidation_moves is not None:
        over |= int(from_emptied.sum()) > problem.max_consolidation_moves
        budgets.append(problem.max_consolidation_moves)
    return over, max(min(budgets), 0) if budgets else 0


def respect_migration_cap(ws: Workspace, packing: Packing, keep: np.ndarray, deadline: float) -> Packing:
    """Within the migration caps, empty the hosts with the fewest instances (most hosts freed
    per migration); keep the others, whose instances then stay home."""
    for _ in range(8):
        over, budget = _over_caps(ws, packing.placement, keep)
        if not over:
            return packing
        moved = packing.placement != ws.placement0
        ends_empty = ~(np.bincount(packing.placement, minlength=ws.n_hosts) > 0)
        evicted_hosts = ends_empty & (np.bincount(ws.placement0[moved], minlength=ws.n_hosts) > 0)
        per_host = np.bincount(ws.placement0[moved & evicted_hosts[ws.placement0]], minlength=ws.n_hosts)
        order = np.flatnonzero(evicted_hosts)
        order = order[np.argsort(per_host[order], kind="stable")]
        affordable = np.cumsum(per_host[order]) <= budget
        keep = keep.copy()
        keep[order[~affordable]] = True
        packing, keep = pack_with_repair(ws, keep, deadline)
    if _over_caps(ws, packing.placement, keep)[0]:
        packing.placement = ws.placement0.copy()
        packing.messages.append(
            f"no consolidation found within the migration cap ({MIGRATION_CAP}{ws.problem.max_migrations}): "
            "relieving overloaded hosts alone needs more"
        )
    return packing


def solve_greedy(ws: Workspace, deadline: float, keep: np.ndarray | None = None) -> Packing:
    """A valid consolidation, fast: select, repack with repair, then empty what else empties."""
    keep = select_hosts(ws) if keep is None else keep
    selected = keep.copy()
    packing, keep = pack_with_repair(ws, keep, deadline)
    packing = respect_migration_cap(ws, packing, keep, deadline)
    packing.placement = empty_more_hosts(
        ws, packing.placement, deadline, max_new_moves=move_budget(ws, packing.placement)
    )
    packing.selected = selected
    return packing
