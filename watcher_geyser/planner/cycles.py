"""Break cycles of blocked moves through staging hosts, with as few extra moves as it can.

Called when no pending move can run: every one waits for room on a host that waits in
turn (two full hosts swapping large instances is the smallest case). For a blocked move
``u`` into host ``d`` we look for a pending instance ``x`` on ``d`` whose departure would
let ``u`` in, and for a staging host ``t`` with room for ``x`` now. Moving ``x`` to ``t``
unblocks ``u``, whose departure unblocks the next move back along the cycle; so one
staging move per cycle is enough, and after staging ``d`` we mark the hosts back along
the chain so the same cycle is not staged twice. Among the choices, the smallest
instance goes (it is the cheapest to move twice).

Staging hosts are, in order of preference: hosts that stay on in the target (tier 0),
spare hosts, empty now and at the end (tier 1), and, only when the caller allows it,
hosts being emptied (tier 2); a spare or emptied host used for staging is disabled only
after the staged instance has arrived (hostactions.py). Never a disabled host, a host
still powering on, the instance's own source or target, another availability zone, or a
host whose cores are too slow for the instance (``solver/rules/cores.py``).
Hard anti-affinity holds on the staging host too; members of hard affinity groups are
never staged (a plan cut short would leave the group split across an unrelated host).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from watcher_geyser.fleet import RAM, RESOURCES
from watcher_geyser.planner.limits import within_member_limit
from watcher_geyser.planner.rows import Row, add_to, covers, excess

if TYPE_CHECKING:
    from watcher_geyser.planner.waves import Move, TransitState, WaveBuilder


MAX_STAGINGS_PER_INSTANCE = 2  # an instance may be staged again once; bounds the extra moves
# The resources a staging host's slack is measured in: the model's (vcpu, RAM, disk), not
# measured CPU use, whose limit is infinite without a CPU ceiling.
PLACED = slice(len(RESOURCES))


def break_cycles(builder: WaveBuilder, w: int) -> list[Move]:
    """Staging moves for wave ``w`` (empty when no staging host can break any cycle)."""
    s = builder.s
    waiting = builder.waiting
    arrays, by_host = _sync(s, waiting)
    options = sorted(option for d in waiting for option in by_host[d])
    free = arrays["limit"] - arrays["load"]
    busy: dict[int, int] = defaultdict(int)
    # (group, host) -> anti-affinity members this wave stages there: the state counts members
    # only once a wave has landed, and two cycles may pick the same staging host
    arriving: dict[tuple[int, int], int] = defaultdict(int)
    marked: set[int] = set()
    wave: list[Move] = []
    for _, _, d, u, evict in options:
        room = min(builder.parallelism - len(wave), builder.per_host - busy[d])
        if d in marked or room <= 0 or any(x in s.staged_now for x in evict):
            continue
        # More evictions than slots: stage what fits now, the rest at the next deadlock.
        evict = evict[:room]
        hosts = []
        for x in evict:
            t = _staging_host(s, arrays, x, w, free, busy, builder.per_host, waiting, arriving)
            if t is None:
                break
            hosts.append(t)
            free[t] -= arrays["demand"][x]
            busy[t] += 1
            arriving[(s.group[x], t)] += 1
        if len(hosts) < len(evict):  # undo the partial choice
            for x, t in zip(evict, hosts):
                free[t] += arrays["demand"][x]
                busy[t] -= 1
                arriving[(s.group[x], t)] -= 1
            continue
        busy[d] += len(evict)
        for x, t in zip(evict, hosts):
            s.staged[x] = s.staged.get(x, 0) + 1
            s.staged_now.add(x)
            _unpark(waiting, s.dest[x], x)  # it comes back, from the staging host, once it lands
            s.dirty.update((s.dest[x], d, t))
            wave.append((x, d, t, True))
        _mark_chain(s, d, u, waiting, marked)
    s.staged_now.clear()
    return wave


def _sync(s: TransitState, waiting: dict[int, list]) -> tuple[dict[str, np.ndarray], dict[int, list]]:
    """Numpy mirrors of the state and eviction options per host, redone only for changed hosts."""
    if not s.cache:
        s.cache["arrays"] = {
            "limit": np.asarray(s.limit), "load": np.asarray(s.load), "demand": np.asarray(s.demand),
            "zone": np.asarray(s.zone), "tier": np.asarray(s.stage_tier), "ready": np.asarray(s.ready_wave),
            "core_tier": np.asarray(s.host_core_tier, dtype=np.int64),
        }
        s.cache["options"] = {}
        stale = set(waiting)
    else:
        load = s.cache["arrays"]["load"]
        for h in s.dirty:
            load[h] = s.load[h]
        stale = s.dirty
    arrays, by_host = s.cache["arrays"], s.cache["options"]
    stale = {d for d in stale if d in waiting} | {d for d in waiting if d not in by_host}
    if stale:
        out_of: dict[int, list[int]] = defaultdict(list)
        for parked in waiting.values():
            for _, v in parked:
                if s.cur[v] in stale and s.staged.get(v, 0) < MAX_STAGINGS_PER_INSTANCE and v not in s.no_stage:
                    out_of[s.cur[v]].append(v)
        for d in stale:
            by_host[d] = _evictions(s, d, [v for _, v in waiting[d]], out_of.get(d, []))
    s.dirty = set()
    return arrays, by_host


def _unpark(waiting: dict[int, list], host: int, x: int) -> None:
    parked = [item for item in waiting.get(host, []) if item[1] != x]
    if parked:
        waiting[host] = parked
    else:
        waiting.pop(host, None)


def _evictions(s: TransitState, d: int, blocked_in: list[int], leaving: list[int]) -> list[tuple]:
    """Ways to let a blocked move into ``d`` by staging pending instances out of ``d``.

    Each is ``(instances staged, memory_mb staged, d, u, [x, ..])``: for every blocked
    ``u``, the cheapest single ``x`` whose departure makes room, else the fewest
    (largest first) that together do. Sorting these puts the fewest extra moves first.
    """
    by_size = sorted(leaving, key=lambda x: s.demand[x][RAM])
    out = []
    for u in blocked_in:
        need = excess(s.load[d], s.demand[u], s.limit[d])
        g = s.group[u]
        blocking_member = g >= 0 and not within_member_limit(s.members.get((g, d), 0) + 1, s.member_limit.get((g, d)))
        single = next((x for x in by_size if _frees(s, x, need, g if blocking_member else -1)), None)
        if single is not None:
            out.append((1, s.demand[single][RAM], d, u, [single]))
            continue
        chosen, freed = [], [0.0] * len(need)
        for x in reversed(by_size):
            chosen.append(x)
            add_to(freed, s.demand[x])
            if covers(freed, need) and (
                not blocking_member or any(s.group[y] == g for y in chosen)
            ):
                out.append((len(chosen), sum(s.demand[y][RAM] for y in chosen), d, u, list(chosen)))
                break
    return out


def _frees(s: TransitState, x: int, need: Row, group: int) -> bool:
    """Whether ``x`` leaving covers ``need`` (and, for a blocked anti-affinity member, is that member)."""
    if not covers(s.demand[x], need):
        return False
    return group < 0 or s.group[x] == group


def _staging_host(s: TransitState, arrays: dict[str, np.ndarray], x: int, w: int, free: np.ndarray,
                  busy: dict[int, int], per_host: int, waiting: dict[int, list],
                  arriving: dict[tuple[int, int], int]) -> int | None:
    """The best host to hold ``x`` for a while, or None. ``arriving``: anti-affinity members
    already staged onto each host in this wave, which count against the group's limit there."""
    dx = arrays["demand"][x]
    tier = arrays["tier"]
    ok = (arrays["zone"] == s.zone[s.cur[x]]) & (tier >= 0) & (arrays["ready"] <= w) & (free >= dx).all(axis=1)
    ok[s.cur[x]] = False
    ok[s.dest[x]] = False
    if s.core_tier:  # cores fast enough for x (solver/rules/cores.py)
        ok &= arrays["core_tier"] >= s.core_tier[x]
    candidates = np.flatnonzero(ok)
    if len(candidates) == 0:
        return None
    limit = arrays["limit"][candidates, PLACED]
    slack = ((free[candidates, PLACED] - dx[PLACED]) / np.maximum(limit, 1e-9)).min(axis=1)  # share left after x
    has_waiting = np.array([t in waiting for t in candidates])
    order = np.lexsort((-slack, has_waiting, tier[candidates]))
    g = s.group[x]
    for t in candidates[order]:
        t = int(t)
        if busy[t] >= per_host:
            continue
        if g >= 0 and not within_member_limit(s.members.get((g, t), 0) + arriving[(g, t)] + 1,
                                              s.member_limit.get((g, t))):
            continue
        return t
    return None


def _mark_chain(s: TransitState, d: int, u: int, waiting: dict[int, list], marked: set[int]) -> None:
    """Mark ``d`` and the hosts back along the chain that staging out of ``d`` will free."""
    marked.add(d)
    x = s.cur[u]
    while x not in marked:
        marked.add(x)
        parked = waiting.get(x)
        if not parked:
            return
        nxt = next((s.cur[v] for _, v in parked if s.cur[v] not in marked), None)
        if nxt is None:
            return
        x = nxt
