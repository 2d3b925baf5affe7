"""Empty hosts by making room: small instances step aside so a large one fits.

``greedy.empty_more_hosts`` empties a host only when each of its instances finds room as
the others stand. On fleets filled 75 % with mixed flavours (``bench/solver_scale.py``'s
tight family) the room left after the fill is 1-3 GB on each of hundreds of hosts: no large
instance fits anywhere, although the small instances next to that room would fit in the
gaps of others. So here an instance that fits nowhere takes the host closest to fitting it,
whose smallest instances (each smaller than it) step aside and are placed in turn, best fit
first, by ejecting smaller ones still if need be. Each instance is placed at most once per
attempt, so an attempt ends; it succeeds when every instance of the host is placed, and
otherwise changes nothing. On the tight family at 5,000 hosts this frees about 40 hosts the
other passes could not.

Like ``empty_more_hosts`` it leaves hosts with pinned instances or server-group members
alone and moves no group member; it is not used under migration caps (the moves it adds are
not counted against them).
"""

from __future__ import annotations

import heapq
import time

import numpy as np

from watcher_geyser.solver.repack import EPS
from watcher_geyser.solver.workspace import Workspace

#: For an instance that fits nowhere, the hosts closest to fitting it whose movable instances
#: could make the room are looked at, up to this many, until this many can make it by ejection;
#: the one wasting least room is taken. (On the tight family at 5,000 hosts, ``geyser plan``
#: freed 25 hosts looking at 64, all 43 the bound allows at 512: the closest hosts often hold
#: no instance small enough.)
HOSTS_LOOKED_AT = 512
HOSTS_COMPARED = 4
#: An attempt that has moved this many instances gives up (a host that needs more is not worth it).
MAX_MOVES_PER_HOST = 256


class _Fleet:
    """The answer being improved: placement, load, each host's instances, and the load of
    those this pass may move (``free``), which bounds the room ejection can make."""

    def __init__(self, ws: Workspace, placement: np.ndarray, free: np.ndarray) -> None:
        self.placement = placement.copy()
        self.free = free
        self.load = np.zeros((ws.n_hosts, ws.demand.shape[1]))
        np.add.at(self.load, placement, ws.demand)
        self.free_load = np.zeros_like(self.load)
        np.add.at(self.free_load, placement[free], ws.demand[free])
        order = np.argsort(placement, kind="stable")
        bounds = np.searchsorted(placement[order], np.arange(ws.n_hosts + 1))
        self.members = [set(order[bounds[h]:bounds[h + 1]].tolist()) for h in range(ws.n_hosts)]

    def move(self, ws: Workspace, v: int, dst: int) -> None:
        src = int(self.placement[v])
        self.members[src].discard(v)
        self.members[dst].add(v)
        self.load[src] -= ws.demand[v]
        self.load[dst] += ws.demand[v]
        if self.free[v]:
            self.free_load[src] -= ws.demand[v]
            self.free_load[dst] += ws.demand[v]
        self.placement[v] = dst


def empty_by_ejection(ws: Workspace, placement: np.ndarray, deadline: float, max_failures: int = 30) -> np.ndarray:
    """More hosts emptied by ejection chains, those saving the most idle watts per unit of room
    they take first; ``placement`` itself (returned when nothing empties) is left as is."""
    if ws.problem.eviction_cap is not None or ws.n_instances == 0:
        return placement
    free = ws.movable & (ws.group < 0)  # instances this pass may move
    state = _Fleet(ws, placement, free)
    size = (ws.demand / ws.scale).max(axis=1)
    blocked = ws.forced.copy()
    blocked[placement[ws.group >= 0]] = True
    occupied = np.bincount(placement, minlength=ws.n_hosts) > 0
    # the idle watts a host saves per unit of the others' room it takes, most first
    worth = ws.fleet.idle_w / np.maximum((state.load / ws.scale).max(axis=1), EPS)
    candidates = np.flatnonzero(occupied & ~blocked)
    failures = 0
    for h in candidates[np.argsort(-worth[candidates], kind="stable")].tolist():
        if failures >= max_failures or time.monotonic() > deadline:
            break
        receivers = np.flatnonzero(occupied & ws.may_receive & (ws.host_zone == ws.host_zone[h]))
        receivers = receivers[receivers != h]
        items = [v for v in state.members[h] if free[v]]
        if len(items) < len(state.members[h]) or not _room_covers(ws, state, receivers, h):
            failures += 1
            continue
        if _empty_one(ws, state, h, receivers, size, free, deadline) is None:
            failures += 1
            continue
        failures = 0
        occupied[h] = False
    return state.placement if (state.placement != placement).any() else placement


def _room_covers(ws: Workspace, state: _Fleet, receivers: np.ndarray, h: int) -> bool:
    """Could the receivers' total room take host ``h``'s load at all (a cheap necessary test)?"""
    room = np.maximum(ws.limits[receivers] - state.load[receivers], 0).sum(axis=0)
    return bool((room + 1e-6 >= state.load[h]).all())


def _empty_one(ws: Workspace, state: _Fleet, h: int, receivers: np.ndarray, size: np.ndarray,
               free: np.ndarray, deadline: float) -> list[tuple[int, int]] | None:
    """Move every instance of ``h`` onto ``receivers``, ejecting smaller instances where need
    be; the moves made, or None (and ``state`` as it was) when some instance finds no room
    or the deadline passes."""
    done: list[tuple[int, int]] = []  # (instance, where it was), to undo
    placed: set[int] = set()
    queue = [(-size[v], v) for v in state.members[h]]
    heapq.heapify(queue)
    while queue:
        _, v = heapq.heappop(queue)
        if len(done) >= MAX_MOVES_PER_HOST or time.monotonic() > deadline:
            break
        dst, ejected = _make_room(ws, state, v, receivers, size, free, placed)
        if dst is None:
            break
        for u in ejected:
            done.append((u, int(state.placement[u])))
            state.move(ws, u, h)  # parked on the host being emptied until placed again
            heapq.heappush(queue, (-size[u], u))
        done.append((v, int(state.placement[v])))
        state.move(ws, v, dst)
        placed.add(v)
    else:
        return done
    for v, src in reversed(done):
        state.move(ws, v, src)
    return None


def _make_room(ws: Workspace, state: _Fleet, v: int, receivers: np.ndarray, size: np.ndarray,
               free: np.ndarray, placed: set[int]) -> tuple[int | None, list[int]]:
    """(host for ``v``, instances to eject from it first): the best fit if some receiver has
    room, else of the receivers closest to fitting the one that makes the room by ejecting
    least (its smallest free instances, each smaller than ``v``); (None, []) when none can."""
    need = ws.demand[v]
    residual = ws.limits[receivers] - state.load[receivers]
    fits = np.flatnonzero((residual >= need - EPS).all(axis=1))
    if len(fits):
        left = ((residual[fits] - need) / ws.scale).sum(axis=1)
        return int(receivers[fits[np.argmin(left)]]), []
    short = (np.maximum(need - residual, 0) / ws.scale).max(axis=1)
    # only hosts whose movable instances could make the room at all (most hosts, most often not)
    able = np.flatnonzero((residual + state.free_load[receivers] >= need - EPS).all(axis=1))
    best: tuple[float, int, list[int]] | None = None  # (cost, host, instances to eject)
    found = 0
    for row in able[np.argsort(short[able], kind="stable")][:HOSTS_LOOKED_AT].tolist():
        host = int(receivers[row])
        room = residual[row].copy()
        movable = sorted((u for u in state.members[host] if free[u] and u not in placed and size[u] < size[v]),
                         key=lambda u: (size[u], u))
        ejected = []
        for u in movable:
            if (room >= need - EPS).all():
                break
            room += ws.demand[u]
            ejected.append(u)
        if not (room >= need - EPS).all():
            continue
        # best fit after ejection (room left unused), then the least ejected
        cost = float((room - need).clip(0) @ (1 / ws.scale)) + float(size[ejected].sum())
        if best is None or cost < best[0]:
            best = (cost, host, ejected)
        found += 1
        if found >= HOSTS_COMPARED:
            break
    return (None, []) if best is None else (best[1], best[2])
