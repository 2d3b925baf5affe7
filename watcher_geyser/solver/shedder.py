"""The relief state, and how relief chooses one move: which instance, and where it goes.

``solver/relief.py`` runs relief's two passes (hot hosts, then instances starved on slow cores)
over one ``Shedder``; this module holds what both passes share: the loads, placement and
destination tiers as moves are decided, and the choice of one move.

1. *which instances* (a hot host, ``Shedder.candidates``): the fewest and cheapest that bring it
   under its relief limit. When one instance alone clears the excess, the one with the least
   memory (the shortest migration, as CloudSim's minimum-migration-time policy); otherwise the
   one that covers most of the excess, and again, until the host is under its limit;
2. *where* (``Shedder.destination``): a host that is on and holds instances, with room under its
   packing limit (the one that ends least full, so that a relieved host's neighbours are not the
   next hot ones); otherwise a host that is on but empty, then a host that is off and may be
   switched on (``Problem.allow_power_on``), cheapest idle watts per core first, then the most
   switch-offs left (``Problem.switch_offs_left``: the wear spreads). Every candidate of step 1
   is tried on hosts that are on before any host is switched on (``Shedder.next_move``: a host
   switched on for one small instance is the next one consolidation empties). Same zone, hard
   anti-affinity kept, members of hard affinity groups never moved alone, never onto a host
   whose cores are too slow for the instance (``rules/cores.py``).

Why a host or an instance stayed where it was is said by ``solver/unrelieved.py``, which reads
this state.
"""

from __future__ import annotations

import numpy as np

from watcher_geyser.fleet import RAM, Fleet
from watcher_geyser.records import GroupPolicy
from watcher_geyser.solver.limits import (
    CPU_CORES,
    TOLERANCE,
    above,
    host_load,
    instance_demand,
    packing_limits,
)
from watcher_geyser.solver.problem import Problem
from watcher_geyser.solver.rules.cores import covered_need
from watcher_geyser.solver.rules.groups import (
    anti_affinity_groups,
    group_indices,
    hard_affinity,
    member_hosts,
    newcomer_hosts,
)

ON, EMPTY, OFF = 0, 1, 2  # destination tiers: on and busy, on and empty, off


class Shedder:
    """The relief state: loads, placement, and which hosts are on, as moves are decided."""

    def __init__(self, problem: Problem) -> None:
        fleet = problem.fleet
        self.problem, self.fleet = problem, fleet
        self.demand = instance_demand(fleet)
        self.placement = fleet.placement.copy()
        self.load = host_load(fleet)
        self.relief = problem.relief_limits
        self.goal = self.relief  # a hot host sheds until it is under this
        self.packing = packing_limits(fleet, problem.ceiling, problem.cpu_packing)
        self.finite = np.isfinite(self.packing)
        self.scale = np.maximum(np.where(self.finite, self.packing, 1.0), 1e-9)
        self.receivable = problem.may_receive.copy()
        self.core_covers = covered_need(fleet.core_size)  # the most CPU per core each host's cores cover
        occupied = fleet.occupied()
        self.tier = np.where(occupied, ON, np.where(fleet.powered, EMPTY, OFF))
        # cheapest idle watts per core first; among equal hosts the most switch-offs left (wear spreads)
        self.cost = np.lexsort((-fleet.capacity[:, RAM], -problem.cycles_left, fleet.idle_w / fleet.physical_cores))
        self.rank = np.empty(len(fleet.hosts), dtype=np.int64)
        self.rank[self.cost] = np.arange(len(fleet.hosts))
        self.hot = above(self.load, self.relief)
        self.moves_left = np.inf if problem.max_migrations is None else problem.max_migrations
        self.moves = 0
        self.powered_on: list[int] = []
        self.relieved: list[int] = []
        self.unrelieved: dict[int, str] = {}
        self.messages: list[str] = []
        self._groups(fleet)

    def _groups(self, fleet: Fleet) -> None:
        """The group rule's inputs (``rules/groups.py``): each instance's hard anti-affinity group,
        whether it is in a hard affinity group (relief never moves one: they move only as a whole),
        and the hosts holding members of each anti-affinity group, kept as moves are decided."""
        self.group_hosts: dict[int, set[int]] = {}
        if not fleet.server_groups:  # most fleets: no walk over the instances (a hot path in the simulator)
            self.anti = np.full(len(fleet.instances), -1, dtype=np.int64)
            self.affinity = np.zeros(len(fleet.instances), dtype=bool)
            return
        self.anti = anti_affinity_groups(fleet)
        self.affinity = hard_affinity(group_indices(fleet), [g.policy for g in fleet.server_groups])
        self.group_hosts = member_hosts(self.anti, self.placement)

    def hot_hosts(self) -> np.ndarray:
        """Hot hosts, the furthest above their relief limit (relative to it) first."""
        hot = np.flatnonzero(self.hot)
        over = ((self.load[hot] - self.relief[hot]) / self.scale[hot]).max(axis=1)
        return hot[np.argsort(-over, kind="stable")]

    def next_move(self, h: int) -> tuple[int | None, int | None]:
        """(instance, destination) of the next relief move off ``h``: the first instance in
        ``candidates`` order that fits on a host that is on, else the first that fits on
        a host switched on for it (a host switched on for one small instance is the next
        one consolidation empties). (None, None): nothing left to move; (v, None): no room."""
        order = self.candidates(h)
        if not len(order):
            return None, None
        for tiers in ((ON,), (ON, EMPTY, OFF)):
            for v in order:
                dst = self.destination(int(v), h, tiers)
                if dst is not None:
                    return int(v), dst
        return int(order[0]), None

    def candidates(self, h: int) -> np.ndarray:
        """Instances of ``h`` that may move, best first: those that clear the excess alone,
        least memory first (the shortest migration); then the others, covering the most of
        the excess first."""
        fleet = self.fleet
        here = np.flatnonzero((self.placement == h) & fleet.movable & ~self.affinity)
        here = here[fleet.placement[here] == h]
        if not len(here):
            return here
        excess = self.load[h] - self.goal[h]
        over = excess > TOLERANCE
        need = self.demand[here][:, over]
        clears = (need >= excess[over] - TOLERANCE).all(axis=1)
        coverage = (np.minimum(need, excess[over]) / excess[over]).sum(axis=1)
        memory = fleet.demand[here, RAM]
        return here[np.lexsort((self.demand[here, CPU_CORES], memory, -coverage, ~clears))]

    def destination(self, v: int, h: int, tiers: tuple[int, ...]) -> int | None:
        """Where ``v`` (now on ``h``) goes among hosts of ``tiers`` (module doc, step 2), or None."""
        fleet = self.fleet
        need = self.demand[v]
        room = self.packing - self.load
        fits = (room >= need - TOLERANCE * self.scale).all(axis=1)
        fits &= self.receivable & (fleet.host_zone == fleet.host_zone[h]) & ~self.hot & self.fast_enough(v)
        if self.anti[v] >= 0:
            fits &= self.group_allows(v)
        for tier in tiers:
            candidates = np.flatnonzero(fits & (self.tier == tier))
            if not len(candidates):
                continue
            if tier == ON:  # the host that ends least full
                fill = np.where(self.finite[candidates], (self.load[candidates] + need) / self.scale[candidates], 0)
                fill = fill.max(axis=1)
                return int(candidates[np.argmin(fill)])
            return int(candidates[np.argmin(self.rank[candidates])])
        return None

    def group_allows(self, v: int) -> np.ndarray:
        """bool[H]: the hosts ``v``'s hard anti-affinity group lets it take as relief stands: none
        holding another member (``rules/groups.newcomer_hosts``); every host when it is in none."""
        if self.anti[v] < 0:
            return np.ones(len(self.fleet.hosts), dtype=bool)
        return newcomer_hosts(GroupPolicy.ANTI_AFFINITY, self.group_hosts[int(self.anti[v])], len(self.fleet.hosts))

    def fast_enough(self, v: int) -> np.ndarray:
        """bool[H]: hosts whose cores are fast enough for ``v`` (``rules/cores.py``; relief moves
        only instances still at home, so the home exception does not arise)."""
        return self.fleet.cpu_per_core[v] <= self.core_covers

    def move(self, v: int, h: int, dst: int) -> None:
        """Move ``v`` from ``h`` to ``dst``: loads, tiers, anti-affinity hosts and the cap follow."""
        self.placement[v] = dst
        self.load[h] -= self.demand[v]
        self.load[dst] += self.demand[v]
        if self.tier[dst] == OFF:
            self.powered_on.append(dst)
        self.tier[dst] = ON
        if self.anti[v] >= 0:
            hosts = self.group_hosts[int(self.anti[v])]
            if not ((self.placement == h) & (self.anti == self.anti[v])).any():
                hosts.discard(h)
            hosts.add(dst)
        self.moves += 1
        self.moves_left -= 1
