"""Repack: given which hosts stay on, put every instance of the other hosts somewhere.

This is the fast half of the decomposition the solver uses at scale: choosing hosts is a
small problem (one decision per host), fitting the evicted instances into what the kept
hosts have left is a bin-packing problem that best-fit-decreasing solves well when
instances are small against hosts, which they are in clouds.

Instances of one flavour are interchangeable, so when measured CPU is not constrained they
are placed in batches: per flavour, the hosts with the least room that still fit one are
filled first, a vectorised step instead of one search per instance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from watcher_geyser.fleet import VCPU
from watcher_geyser.records import GroupPolicy
from watcher_geyser.solver.fill import fill_hosts
from watcher_geyser.solver.rules.groups import block_hosts, hard_affinity, member_hosts
from watcher_geyser.solver.workspace import Workspace

EPS = 1e-9
ONE_BY_ONE_MEMBERS = 5000  # anti-affinity members placed one search each; more go in rounds (``_place_apart``)


@dataclass
class Packing:
    placement: np.ndarray
    unplaced: list[int] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    selected: np.ndarray | None = None  # the hosts chosen to stay on before repair, when known


def repack(ws: Workspace, keep: np.ndarray) -> Packing:
    """Place every movable instance of a host not in ``keep`` on a kept host with room.

    Kept hosts above their limits first shed their smallest movable instances. Instances
    that find no room are returned in ``unplaced`` (still at their current host).
    """
    placement = ws.placement0.copy()
    evicted = ws.movable & ~keep[ws.placement0]
    staying = ~evicted
    load = np.zeros((ws.n_hosts, ws.demand.shape[1]))
    np.add.at(load, ws.placement0[staying], ws.demand[staying])
    messages: list[str] = []
    shed = _shed_overloads(ws, keep, load, evicted, messages)
    receivers = keep & ws.may_receive
    residual = np.where(receivers[:, None], ws.limits - load, -np.inf)
    group_hosts = member_hosts(ws.group, placement, ~evicted)  # where the members that stay are
    unplaced: list[int] = []
    if shed:
        # shed instances go first, and never to a host that is shedding: one that finds no
        # room stays home, and its host's room must then count it again before others fill it
        shedding = np.unique(ws.placement0[list(shed)])
        saved = residual[shedding].copy()
        residual[shedding] = -np.inf
        shed_items = np.array(sorted(shed), dtype=np.int64)
        stuck_here = []
        hard = shed_items[ws.in_hard_group[shed_items]]
        for g, members in _by_group(ws, hard[_is_affinity(ws, hard)]):  # shed as one block: placed as one
            peers = group_hosts.setdefault(g, set())
            stuck = _place_block(ws, members, placement, residual, peers, _zone_hosts(ws, residual))
            stuck_here += stuck
            peers.add(int(ws.placement0[members[0]] if stuck else placement[members[0]]))
        for v in _largest_first(ws, hard[~_is_affinity(ws, hard)]):
            forbidden = group_hosts.setdefault(int(ws.group[v]), set())
            if not _place_one(ws, v, placement, residual, forbidden=forbidden):
                stuck_here.append(int(v))
        stuck_here += _place_batches(ws, shed_items[~ws.in_hard_group[shed_items]], placement, residual)
        for v in stuck_here:
            unplaced.append(v)
            evicted[v] = False
            saved[np.searchsorted(shedding, ws.placement0[v])] -= ws.demand[v]
        residual[shedding] = saved
    items = np.flatnonzero(evicted & ~np.isin(np.arange(ws.n_instances), list(shed)))
    # 1) affinity groups move as one block; 2) anti-affinity members one by one; 3) the rest in batches
    grouped = items[ws.in_hard_group[items]]
    plain = items[~ws.in_hard_group[items]]
    zone_hosts = _zone_hosts(ws, residual)
    apart = []
    for g, members in _by_group(ws, grouped):
        if ws.policy[g] is GroupPolicy.AFFINITY:
            unplaced += _place_block(ws, members, placement, residual, group_hosts.get(g, set()), zone_hosts)
        else:
            apart.append(_largest_first(ws, members))
    unplaced += _place_apart(ws, apart, placement, residual, group_hosts, zone_hosts)
    unplaced += _place_batches(ws, plain, placement, residual)
    stuck = [v for v in unplaced if v in shed]
    messages += [
        f"host {ws.fleet.hosts[ws.placement0[v]].name} stays above its limits: no room elsewhere for "
        f"{ws.fleet.instances[v].uuid}"
        for v in stuck
    ]
    # a shed instance that stays home is not a failure to repair: its host is kept anyway
    unplaced = [v for v in unplaced if v not in shed]
    return Packing(placement, unplaced, messages)


def fill_pool(ws: Workspace, items: np.ndarray, residual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``fill.fill_hosts`` over the workspace: ``items`` into ``residual``, each in its zone and on
    hosts whose cores are fast enough for it (``rules/cores.py``)."""
    tiers = (ws.core_tier, ws.host_core_tier) if ws.core_tiers > 1 else (None, None)
    return fill_hosts(ws.demand, ws.flavor_key, ws.instance_zone, items, residual, ws.host_zone, ws.scale, *tiers)


def _shed_overloads(
    ws: Workspace, keep: np.ndarray, load: np.ndarray, evicted: np.ndarray, messages: list[str]
) -> set[int]:
    """Evict the smallest movable instances of kept hosts above their limits until they fit.

    The members of a hard affinity group on the host are one unit, shed together (their memory
    summed to rank them) and placed together (``repack``), or not at all when one of them cannot
    move: shed one by one they were placed apart and the checker refused the whole answer."""
    over = np.flatnonzero(keep & (load > ws.relief_limits + EPS).any(axis=1))
    shed: set[int] = set()
    for h in over:
        on_host = np.flatnonzero((ws.placement0 == h) & ~evicted & ws.movable)
        for unit in _shed_units(ws, h, on_host[np.argsort(ws.ram[on_host], kind="stable")]):
            if not (load[h] > ws.relief_limits[h] + EPS).any():
                break
            evicted[unit] = True
            load[h] -= ws.demand[unit].sum(axis=0)
            shed.update(unit.tolist())
        if (load[h] > ws.relief_limits[h] + EPS).any():
            messages.append(f"host {ws.fleet.hosts[h].name} stays above its limits: what remains on it cannot move")
    return shed


def _shed_units(ws: Workspace, h: int, by_memory: np.ndarray) -> list[np.ndarray]:
    """``by_memory`` (host ``h``'s movable instances, least memory first) as units to shed in turn:
    each instance alone, but a hard affinity group's members on ``h`` together, ranked by their
    summed memory (stable: a fleet without such groups keeps its order), and left out when a
    member on ``h`` cannot move."""
    grouped = _is_affinity(ws, by_memory)
    if not grouped.any():
        return [by_memory[i : i + 1] for i in range(len(by_memory))]
    units: list[np.ndarray] = []
    seen: set[int] = set()
    for v, in_group in zip(by_memory.tolist(), grouped.tolist()):
        if not in_group:
            units.append(np.array([v], dtype=np.int64))
            continue
        g = int(ws.group[v])
        if g in seen:
            continue
        seen.add(g)
        members = np.flatnonzero((ws.group == g) & (ws.placement0 == h))
        if ws.movable[members].all() and np.isin(members, by_memory).all():
            units.append(members)
    size = np.array([ws.ram[u].sum() for u in units])
    return [units[i] for i in np.argsort(size, kind="stable")]


def _is_affinity(ws: Workspace, items: np.ndarray) -> np.ndarray:
    """bool[len(items)]: members of hard affinity groups (``rules/groups.py``: they move as one block)."""
    return hard_affinity(ws.group[items], ws.policy)


def _by_group(ws: Workspace, items: np.ndarray):
    groups: dict[int, list[int]] = {}
    for v in items:
        groups.setdefault(int(ws.group[v]), []).append(int(v))
    for g in sorted(groups):
        yield g, np.array(groups[g], dtype=np.int64)


def _largest_first(ws: Workspace, items: np.ndarray) -> np.ndarray:
    size = (ws.demand[items] / ws.scale).max(axis=1) if len(items) else np.zeros(0)
    return items[np.argsort(-size, kind="stable")]


def _best_fit(
    ws: Workspace, need: np.ndarray, residual: np.ndarray, hosts: np.ndarray, forbidden: set[int] | None = None,
    tier: int = 0,
) -> int | None:
    """Among ``hosts`` (sorted) not ``forbidden`` and of core tier ``tier`` or above (``rules/cores.py``),
    the one with the least room left after taking ``need``."""
    ok = (residual[hosts] >= need - EPS).all(axis=1)
    if tier:
        ok &= ws.host_core_tier[hosts] >= tier
    for h in forbidden or ():  # a handful of group peers: a sorted search each, no set operation
        at = np.searchsorted(hosts, h)
        if at < len(hosts) and hosts[at] == h:
            ok[at] = False
    candidates = hosts[ok]
    if len(candidates) == 0:
        return None
    left = ((residual[candidates] - need) / ws.scale).sum(axis=1)
    return int(candidates[np.argmin(left)])


def _zone_hosts(ws: Workspace, residual: np.ndarray) -> list[np.ndarray]:
    """Per zone, the hosts that may receive: searched instead of the whole fleet."""
    receiving = np.isfinite(residual[:, VCPU])  # a host that may not receive has -inf room in every resource
    return [np.flatnonzero(receiving & (ws.host_zone == z)) for z in range(len(ws.fleet.zones))]


def _place_one(
    ws: Workspace,
    v: int,
    placement: np.ndarray,
    residual: np.ndarray,
    forbidden: set[int] | None = None,
    zone_hosts: list[np.ndarray] | None = None,
) -> bool:
    need = ws.demand[v]
    zone = ws.instance_zone[v]
    hosts = np.flatnonzero(ws.host_zone == zone) if zone_hosts is None else zone_hosts[zone]
    h = _best_fit(ws, need, residual, hosts, forbidden, int(ws.core_tier[v]))
    if h is None:
        return False
    placement[v] = h
    residual[h] -= need
    if forbidden is not None:
        forbidden.add(h)
    return True


def _place_block(
    ws: Workspace,
    members: np.ndarray,
    placement: np.ndarray,
    residual: np.ndarray,
    peers: set[int],
    zone_hosts: list[np.ndarray],
) -> list[int]:
    """Affinity: all evicted members go together, to where their staying peers are if any
    (``rules/groups.block_hosts``); none moves when those peers are already apart."""
    where = block_hosts(peers)
    if where is None:
        return [int(v) for v in members]
    need = ws.demand[members].sum(axis=0)
    hosts = zone_hosts[ws.instance_zone[members[0]]]
    if where:
        hosts = hosts[np.isin(hosts, list(where))]
    h = _best_fit(ws, need, residual, hosts, tier=int(ws.core_tier[members].max()))
    if h is None:
        return [int(v) for v in members]
    placement[members] = h
    residual[h] -= need
    return []


def _place_apart(
    ws: Workspace,
    groups: list[np.ndarray],
    placement: np.ndarray,
    residual: np.ndarray,
    group_hosts: dict[int, set[int]],
    zone_hosts: list[np.ndarray],
) -> list[int]:
    """Anti-affinity members, round after round: the k-th member of every group is filled in
    together (one per group, so no round puts two of a group together), then a member that
    landed beside a peer is taken back and placed alone. One search per member took minutes
    at 20,000 hosts and 20,000 members; under ``ONE_BY_ONE_MEMBERS`` members it is still used,
    as it packs a little tighter (499 hosts against 503 on the 5,000-host zones family)."""
    unplaced: list[int] = []
    if sum(len(m) for m in groups) <= ONE_BY_ONE_MEMBERS:  # few: one best-fit search each packs tighter
        for members in groups:
            peers = group_hosts.setdefault(int(ws.group[members[0]]), set())
            unplaced += [int(v) for v in members if not _place_one(ws, v, placement, residual, peers, zone_hosts)]
        return unplaced
    for k in range(max((len(m) for m in groups), default=0)):
        items = np.array([m[k] for m in groups if k < len(m)], dtype=np.int64)
        placed, hosts = fill_pool(ws, items, residual)
        done = np.zeros(ws.n_instances, dtype=bool)
        done[placed] = True
        retry = items[~done[items]].tolist()
        for v, h in zip(placed.tolist(), hosts.tolist()):
            peers = group_hosts.setdefault(int(ws.group[v]), set())
            if h in peers:
                residual[h] += ws.demand[v]  # the fill charged at least this: giving it back is safe
                retry.append(v)
            else:
                placement[v] = h
                peers.add(h)
        for v in retry:
            if not _place_one(ws, v, placement, residual, group_hosts.setdefault(int(ws.group[v]), set()), zone_hosts):
                unplaced.append(int(v))
    return unplaced


def _place_batches(ws: Workspace, items: np.ndarray, placement: np.ndarray, residual: np.ndarray) -> list[int]:
    """Interchangeable instances placed host by host (``fill.fill_hosts``). Instances of the
    hosts with the least memory go first, so those left over gather on the hosts most
    expensive to empty, which the repair then keeps on."""
    if len(items) == 0:
        return []
    home = ws.placement0[items]
    items = items[np.lexsort((home, ws.home_memory_mb[home]))]
    placed, hosts = fill_pool(ws, items, residual)
    placement[placed] = hosts
    done = np.zeros(ws.n_instances, dtype=bool)
    done[placed] = True
    return items[~done[items]].tolist()
