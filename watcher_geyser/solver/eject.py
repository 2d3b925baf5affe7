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

Speed: every instance placed asks "which receivers have room, and which are closest to it?".
Computing every receiver's room for that (20,000 rows at 20,000 hosts, then sorting them) took
6-7 s of a 45 s ``geyser plan``. So the room of every host is kept up to date as instances move
(``_Fleet.residual``), and each question first looks at one column of it, the resource the
instance is scarcest in, to drop the hosts that cannot be the answer; the full test runs on
the few left, with the very figures the full scan would compute: the same answers, faster.
Each host's free instances, smallest first, are kept likewise (``_Fleet.smallest_free``):
a host is looked at for many instances, and only a move changes them.
"""

from __future__ import annotations

import heapq
import itertools
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


#: The search for the hosts closest to fitting an instance looks at about this many first, eight
#: times more each further round (most searches end within the first: a handful of hosts is
#: looked at); any value gives the same answer.
CLOSEST_FIRST_HOSTS = 64


class _Fleet:
    """The answer being improved: placement, load, each host's instances, and the load of
    those this pass may move (``free``), which bounds the room ejection can make.

    ``residual`` (room left, ``limits - load``) and ``reach`` (room once every free instance
    has left, ``residual + free_load``) are kept per host, recomputed for the two hosts of each
    move, so a question about rooms reads them instead of computing every host's anew; each
    row is computed as the whole-fleet expression would, bit for bit."""

    def __init__(self, ws: Workspace, placement: np.ndarray, free: np.ndarray, size: np.ndarray) -> None:
        self.placement = placement.copy()
        self.free = free
        self.size = size
        self.load = np.zeros((ws.n_hosts, ws.demand.shape[1]))
        np.add.at(self.load, placement, ws.demand)
        self.free_load = np.zeros_like(self.load)
        np.add.at(self.free_load, placement[free], ws.demand[free])
        self.residual = ws.limits - self.load
        self.reach = self.residual + self.free_load
        order = np.argsort(placement, kind="stable")
        bounds = np.searchsorted(placement[order], np.arange(ws.n_hosts + 1))
        self.members = [set(order[bounds[h]:bounds[h + 1]].tolist()) for h in range(ws.n_hosts)]
        self._smallest_first: dict[int, list[int]] = {}

    def smallest_free(self, host: int) -> list[int]:
        """``host``'s free instances, smallest first (ties by index): the order they are ejected
        in. Kept until an instance comes or goes: a host is looked at for many instances."""
        if host not in self._smallest_first:
            self._smallest_first[host] = sorted((u for u in self.members[host] if self.free[u]),
                                                key=lambda u: (self.size[u], u))
        return self._smallest_first[host]

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
        for host in (src, dst):
            self._smallest_first.pop(host, None)
            self.residual[host] = ws.limits[host] - self.load[host]
            self.reach[host] = self.residual[host] + self.free_load[host]


def empty_by_ejection(ws: Workspace, placement: np.ndarray, deadline: float, max_failures: int = 30) -> np.ndarray:
    """More hosts emptied by ejection chains, those saving the most idle watts per unit of room
    they take first; ``placement`` itself (returned when nothing empties) is left as is."""
    if ws.problem.eviction_cap is not None or ws.n_instances == 0:
        return placement
    free = ws.movable & (ws.group < 0)  # instances this pass may move
    size = (ws.demand / ws.scale).max(axis=1)
    state = _Fleet(ws, placement, free, size)
    blocked = ws.forced.copy()
    blocked[placement[ws.group >= 0]] = True
    occupied = np.bincount(placement, minlength=ws.n_hosts) > 0
    # the idle watts a host saves per unit of the others' room it takes, most first
    worth = ws.fleet.idle_w / np.maximum((state.load / ws.scale).max(axis=1), EPS)
    candidates = np.flatnonzero(occupied & ~blocked)
    typical_room = _typical_room(state.residual[occupied & ws.may_receive])
    failures = 0
    for h in candidates[np.argsort(-worth[candidates], kind="stable")].tolist():
        if failures >= max_failures or time.monotonic() > deadline:
            break
        receiving = occupied & ws.may_receive & (ws.host_zone == ws.host_zone[h])
        receiving[h] = False
        receivers = np.flatnonzero(receiving)
        items = [v for v in state.members[h] if free[v]]
        if len(items) < len(state.members[h]) or not _room_covers(state, receivers, h):
            failures += 1
            continue
        rooms = _Rooms(ws, state, receiving, receivers, typical_room)
        if _empty_one(ws, state, h, rooms, size, deadline) is None:
            failures += 1
            continue
        failures = 0
        occupied[h] = False
    return state.placement if (state.placement != placement).any() else placement


def _room_covers(state: _Fleet, receivers: np.ndarray, h: int) -> bool:
    """Could the receivers' total room take host ``h``'s load at all (a cheap necessary test)?"""
    room = np.maximum(state.residual[receivers], 0).sum(axis=0)
    return bool((room + 1e-6 >= state.load[h]).all())


def _typical_room(residual: np.ndarray) -> np.ndarray:
    """The room a receiver has on average per resource (positive): an instance is scarcest in
    the resource it needs most of that in (``_Rooms.scarcest``)."""
    if len(residual) == 0:
        return np.ones(residual.shape[1])
    return np.maximum(residual.mean(axis=0), EPS)


class _Rooms:
    """The receivers of one attempt (bool[H] ``receiving``), asked for room as instances move.

    Both questions ``_make_room`` asks (which receivers fit ``need``; which are closest to
    fitting it) are first put to one column of ``state.residual``: the resource ``need`` is
    scarcest in (most of the typical room). A host short of room in that column alone cannot
    fit, nor be closer than that shortfall; the full test then runs on the hosts left. A
    comparison of one column costs a small part of the full one (gathering every receiver's
    rows, subtracting, reducing over resources, sorting), and on packed fleets, where room is a
    few GB per host, it leaves few hosts for the large instances, those that need ejection."""

    def __init__(self, ws: Workspace, state: _Fleet, receiving: np.ndarray, receivers: np.ndarray,
                 typical_room: np.ndarray) -> None:
        self.ws = ws
        self.state = state
        self.receiving = receiving  # bool[H]
        self.receivers = receivers  # the same, as ascending host indices
        self.typical_room = typical_room

    def scarcest(self, need: np.ndarray) -> int:
        """The resource ``need`` takes most of the typical room in."""
        return int(np.argmax(need / self.typical_room))

    def fitting(self, need: np.ndarray, tier: int = 0) -> np.ndarray:
        """The receivers with room for ``need`` (ascending), as ``residual >= need - EPS`` says, and
        cores fast enough for an instance of core tier ``tier`` (``rules/cores.py``)."""
        c = self.scarcest(need)
        hosts = np.flatnonzero(self.receiving & (self.state.residual[:, c] >= need[c] - EPS))
        if tier:
            hosts = hosts[self.ws.host_core_tier[hosts] >= tier]
        return hosts[(self.state.residual[hosts] >= need - EPS).all(axis=1)]

    def closest_first(self, need: np.ndarray, tier: int = 0):
        """The receivers whose free instances could make room for ``need`` (``reach``), closest to
        fitting it first (``short``: the largest shortfall over resources, in units of the largest
        host's), ties by host: the order a stable sort of every receiver gives, produced a band
        of ``short`` at a time. A host's shortfall in the scarcest resource alone (``low``) is
        at most its ``short``, so the band up to ``upto`` needs only the hosts with ``low <=
        upto``; ``upto`` is the ``count``-th smallest ``low``, so a band holds a few hosts. Only
        hosts whose cores are fast enough for core tier ``tier`` (``rules/cores.py``)."""
        ws, state, hosts_all = self.ws, self.state, self.receivers
        if tier:
            hosts_all = hosts_all[ws.host_core_tier[hosts_all] >= tier]
            if not len(hosts_all):
                return
        c = self.scarcest(need)
        low = (need[c] - state.residual[hosts_all, c]) / ws.scale[c]
        below = -np.inf  # the bands already produced: short <= below
        count = CLOSEST_FIRST_HOSTS
        while below < np.inf:
            upto = np.partition(low, count - 1)[count - 1] if count < len(low) else np.inf
            hosts = hosts_all[low <= upto]
            short = (np.maximum(need - state.residual[hosts], 0) / ws.scale).max(axis=1)
            able = (state.reach[hosts] >= need - EPS).all(axis=1) & (short > below) & (short <= upto)
            band = np.flatnonzero(able)
            yield from hosts[band[np.argsort(short[band], kind="stable")]].tolist()
            below = upto
            count *= 8


def _empty_one(ws: Workspace, state: _Fleet, h: int, rooms: _Rooms, size: np.ndarray,
               deadline: float) -> list[tuple[int, int]] | None:
    """Move every instance of ``h`` onto the receivers of ``rooms``, ejecting smaller instances
    where need be; the moves made, or None (and ``state`` as it was) when some instance finds no room
    or the deadline passes."""
    done: list[tuple[int, int]] = []  # (instance, where it was), to undo
    placed: set[int] = set()
    queue = [(-size[v], v) for v in state.members[h]]
    heapq.heapify(queue)
    while queue:
        _, v = heapq.heappop(queue)
        if len(done) >= MAX_MOVES_PER_HOST or time.monotonic() > deadline:
            break
        dst, ejected = _make_room(ws, state, v, rooms, size, placed)
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


def _make_room(ws: Workspace, state: _Fleet, v: int, rooms: _Rooms, size: np.ndarray,
               placed: set[int]) -> tuple[int | None, list[int]]:
    """(host for ``v``, instances to eject from it first): the best fit if some receiver has
    room, else of the receivers closest to fitting the one that makes the room by ejecting
    least (its smallest free instances, each smaller than ``v``); (None, []) when none can."""
    need = ws.demand[v]
    tier = int(ws.core_tier[v])  # strict: an instance ejected back home must find its home fast enough too
    fits = rooms.fitting(need, tier)
    if len(fits):
        left = ((state.residual[fits] - need) / ws.scale).sum(axis=1)
        return int(fits[np.argmin(left)]), []
    # only hosts whose movable instances could make the room at all (most hosts, most often not)
    best: tuple[float, int, list[int]] | None = None  # (cost, host, instances to eject)
    found = 0
    enough = need - EPS
    for host in itertools.islice(rooms.closest_first(need, tier), HOSTS_LOOKED_AT):
        room = state.residual[host].copy()
        ejected = []
        for u in state.smallest_free(host):  # those smaller than v and not placed yet, smallest first
            if size[u] >= size[v] or (room >= enough).all():
                break
            if u in placed:
                continue
            room += ws.demand[u]
            ejected.append(u)
        if not (room >= enough).all():
            continue
        # best fit after ejection (room left unused), then the least ejected
        cost = float((room - need).clip(0) @ (1 / ws.scale)) + float(size[ejected].sum())
        if best is None or cost < best[0]:
            best = (cost, host, ejected)
        found += 1
        if found >= HOSTS_COMPARED:
            break
    return (None, []) if best is None else (best[1], best[2])
