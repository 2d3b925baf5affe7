"""The wave builder: order the target's migrations into capacity-safe waves, greedily.

Each wave takes pending moves in priority order and keeps those whose destination has
room *now*, counting the loads committed by earlier waves plus the migrations already in
this wave on both their ends (sources are not relieved until the wave ends), within
``parallelism`` migrations per wave and ``per_host_parallelism`` per host. A move whose
destination lacks room even before this wave's arrivals waits, parked on that host, until
something leaves it; so a wave costs only the moves it looks at, which keeps 30,000
instances well inside a second or two.

When no pending move can run (every one waits for a host that waits in turn: a cycle),
``cycles.break_cycles`` moves one instance per cycle to a staging host with room, and the
loop goes on. When that finds nothing, the moves still pending are left undone.

Everything here works on host and instance indices and plain Python lists: numpy's
per-call overhead would dominate loops over single rows.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from watcher_geyser.fleet import RAM
from watcher_geyser.planner.limits import within_member_limit
from watcher_geyser.planner.rows import Row, add_to, fits, plus, take_from

# One migration of a wave: instance, source host, destination host, is it a staging hop.
Move = tuple[int, int, int, bool]


@dataclass
class TransitState:
    """The fleet as the waves so far leave it, in the planner's own bookkeeping."""

    cur: list[int]  # host of each instance now
    dest: list[int]  # host each instance must end on (its target), -1 when it stays
    load: list[Row]  # committed load per host, TRANSIT_RESOURCES order (rows.py)
    limit: list[Row]
    demand: list[tuple[float, ...]]
    group: list[int]  # hard anti-affinity group of each instance, or -1
    members: dict[tuple[int, int], int]  # (group, host) -> members there now
    member_limit: dict[tuple[int, int], int]
    zone: list[int]
    ready_wave: list[int]  # first wave in which a host may receive (after power-on and enable)
    stage_tier: list[int]  # staging preference (0 best, see cycles.py), -1: never a staging host
    no_stage: set[int] = field(default_factory=set)  # instances never staged (hard affinity)
    # the core-size rule (solver/rules/cores.py) for staging hosts: each host's core tier and each
    # instance's; a staging host's must be at least the instance's. Empty: no host has a core size.
    host_core_tier: list[int] = field(default_factory=list)
    core_tier: list[int] = field(default_factory=list)
    staged: dict[int, int] = field(default_factory=dict)  # instance -> times staged so far
    staged_now: set[int] = field(default_factory=set)  # scratch for cycles.break_cycles
    # Hosts whose load or parked moves changed since cycles.py last looked, and its cache
    # (numpy mirrors, eviction options per host): staging at scale must not redo it all.
    dirty: set[int] = field(default_factory=set)
    cache: dict = field(default_factory=dict)

    def fits(self, v: int, h: int, extra: Row | None = None, extra_members: int = 0) -> bool:
        """Room for ``v`` on ``h`` on top of the committed load (and ``extra``, in flight)."""
        load = self.load[h] if extra is None else plus(self.load[h], extra)
        if not fits(load, self.demand[v], self.limit[h]):
            return False
        g = self.group[v]
        if g < 0:
            return True
        key = (g, h)
        return within_member_limit(self.members.get(key, 0) + extra_members + 1, self.member_limit.get(key))


@dataclass
class WaveOutcome:
    waves: list[list[Move]]
    pending: list[int]  # instances not on their target when the plan ends
    staging_moves: int


class WaveBuilder:
    """Greedy wave construction over a ``TransitState``; see the module docstring."""

    def __init__(self, state: TransitState, moves: np.ndarray, parallelism: int, per_host: int,
                 stage: bool = True) -> None:
        self.s = state
        self.parallelism = parallelism
        self.per_host = per_host
        self.stage = stage
        # Heap of (-busiest remaining degree of the move's two hosts, static rank, instance):
        # the hosts with the most migrations still to run set the number of waves, so their
        # moves go first. Degrees only fall as moves land, so stale keys are fixed on pop,
        # once off by more than an eighth (exact keys would re-queue the busiest hosts' moves
        # at every wave, for no gain in waves).
        self.heap: list[tuple[int, int, int]] = []
        self.waiting: dict[int, list[tuple[int, int]]] = defaultdict(list)  # host -> parked (rank, v)
        self.not_ready: list[tuple[int, int]] = []
        n_hosts = len(state.load)
        ends = np.asarray(state.cur, dtype=np.int64)[moves], np.asarray(state.dest, dtype=np.int64)[moves]
        # pending migrations touching each host
        self.degree = (np.bincount(ends[0], minlength=n_hosts) + np.bincount(ends[1], minlength=n_hosts)).tolist()
        self.next_rank = 0
        for v in _priority_order(state, moves).tolist():
            self._push(v)

    def _push(self, v: int, rank: int | None = None) -> None:
        if rank is None:
            rank = self.next_rank
            self.next_rank += 1
        self._enqueue(rank, v)

    def _enqueue(self, rank: int, v: int) -> None:
        key = -max(self.degree[self.s.cur[v]], self.degree[self.s.dest[v]])
        heapq.heappush(self.heap, (key, rank, v))

    def run(self) -> WaveOutcome:
        waves: list[list[Move]] = []
        staging = 0
        while self.heap or self.waiting or self.not_ready:
            w = len(waves)
            self._release_ready(w)
            wave = self._fill_wave(w)
            if not wave:
                if any(self.s.ready_wave[self.s.dest[v]] > w for _, v in self.not_ready):
                    waves.append([])  # hosts still powering on: the host actions fill this wave
                    continue
                if not self.stage:
                    break
                from watcher_geyser.planner.cycles import break_cycles

                wave = break_cycles(self, w)
                if not wave:
                    break
                staging += sum(1 for m in wave if m[3])
            self._finish_wave(wave)
            waves.append(wave)
        pending = sorted({v for parked in self.waiting.values() for _, v in parked}
                         | {v for *_, v in self.heap} | {v for _, v in self.not_ready})
        return WaveOutcome(waves, pending, staging)

    def _release_ready(self, w: int) -> None:
        if not self.not_ready:
            return
        still = []
        for rank, v in self.not_ready:
            if self.s.ready_wave[self.s.dest[v]] <= w:
                self._enqueue(rank, v)
            else:
                still.append((rank, v))
        self.not_ready = still

    def _fill_wave(self, w: int) -> list[Move]:
        s = self.s
        busy: dict[int, int] = defaultdict(int)
        incoming: dict[int, Row] = {}
        arriving: dict[tuple[int, int], int] = defaultdict(int)
        wave: list[Move] = []
        deferred: list[tuple[int, int]] = []
        per_host, heap, degree = self.per_host, self.heap, self.degree
        while heap and len(wave) < self.parallelism:
            key, rank, v = heapq.heappop(heap)
            src, dst = s.cur[v], s.dest[v]
            now = -max(degree[src], degree[dst])
            if now > key - (key >> 3):  # its hosts have >1/8 fewer moves left than when queued
                heapq.heappush(heap, (now, rank, v))
                continue
            if s.ready_wave[dst] > w:
                self.not_ready.append((rank, v))
                continue
            if busy[src] >= per_host or busy[dst] >= per_host:
                deferred.append((rank, v))
                continue
            if not s.fits(v, dst):
                self.waiting[dst].append((rank, v))  # needs something to leave dst first
                s.dirty.add(dst)
                s.dirty.add(src)
                continue
            g = s.group[v]
            extra = incoming.get(dst)
            if extra is not None and not s.fits(v, dst, extra, arriving[(g, dst)] if g >= 0 else 0):
                deferred.append((rank, v))  # room after this wave's arrivals land: next wave
                continue
            if extra is None:
                incoming[dst] = list(s.demand[v])
            else:
                add_to(extra, s.demand[v])
            if g >= 0:
                arriving[(g, dst)] += 1
            busy[src] += 1
            busy[dst] += 1
            wave.append((v, src, dst, False))
        for rank, v in deferred:
            self._enqueue(rank, v)
        return wave

    def _finish_wave(self, wave: list[Move]) -> None:
        """Every migration of the wave has landed: move the loads, wake moves parked on sources."""
        s = self.s
        for v, src, dst, staging in wave:
            take_from(s.load[src], s.demand[v])
            add_to(s.load[dst], s.demand[v])
            g = s.group[v]
            if g >= 0:
                s.members[(g, src)] -= 1
                s.members[(g, dst)] = s.members.get((g, dst), 0) + 1
            s.cur[v] = dst
            s.dirty.add(src)
            s.dirty.add(dst)
            self.degree[src] -= 1
            if staging:
                self.degree[dst] += 1  # its move to the target now starts here
                self._push(v)  # on to its target, from the staging host
            else:
                self.degree[dst] -= 1
            parked = self.waiting.pop(src, None)
            if parked:
                for rank, u in parked:
                    self._enqueue(rank, u)


def _priority_order(state: TransitState, moves: np.ndarray) -> np.ndarray:
    """Moves in the order waves should try them.

    Round-robin over source hosts (each host's first move, then each host's second, ..)
    so that a wave spreads over many hosts, and within a round the moves touching the
    busiest hosts first: with per-host limits, those hosts set the number of waves.
    Inside one source, larger instances first, while destinations have the most room.
    """
    if len(moves) == 0:
        return moves
    cur = np.asarray(state.cur, dtype=np.int64)[moves]
    dest = np.asarray(state.dest, dtype=np.int64)[moves]
    n_hosts = len(state.load)
    degree = np.bincount(cur, minlength=n_hosts) + np.bincount(dest, minlength=n_hosts)
    busiest = np.maximum(degree[cur], degree[dest])
    memory = np.fromiter((state.demand[v][RAM] for v in moves.tolist()), dtype=np.float64, count=len(moves))
    by_source = np.lexsort((moves, -memory, cur))
    round_index = np.empty(len(moves), dtype=np.int64)
    sorted_src = cur[by_source]
    starts = np.flatnonzero(np.r_[True, sorted_src[1:] != sorted_src[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(moves)]))
    round_index[by_source] = np.arange(len(moves)) - group_start
    order = np.lexsort((moves, -memory, -busiest, round_index))
    return moves[order]
