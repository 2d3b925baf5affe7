"""Relief: hosts above their relief limits shed instances before anything is consolidated.

A host is *hot* when its load (flavour vcpu/RAM/disk, or measured CPU) is above its relief
limit (``solver/limits.py``). Relief has priority over consolidation, so ``solve`` runs it
first and every back-end (greedy, decomposition, exact) then starts from the relieved
fleet. For each hot host, most over first:

1. *which instances*: the fewest and cheapest that bring it under its relief limit. When one
   instance alone clears the excess, the one with the least memory (the shortest migration,
   as CloudSim's minimum-migration-time policy); otherwise the one that covers most of the
   excess, and again, until the host is under its limit;
2. *where*: a host that is on and holds instances, with room under its packing limit (the
   one that ends least full, so that a relieved host's neighbours are not the next hot
   ones); otherwise a host that is on but empty, then a host that is off and may be switched
   on (``Problem.allow_power_on``), cheapest idle watts per core first, then the most
   switch-offs left (``Problem.switch_offs_left``: the wear spreads). Every candidate of
   step 1 is tried on hosts that are on before any host is switched on (a host switched on
   for one small instance is the next one consolidation empties). Same zone, hard
   anti-affinity kept, members of hard affinity groups never moved alone, never onto a host
   whose cores are too slow for the instance (``rules/cores.py``).

*Starved instances.* An instance still at home whose CPU use per core (``Fleet.cpu_per_core``, the
measured or forecast load) is above its host's core size (``rules/cores.starved``) is starved
there however cool the host is: its vCPUs cannot borrow a second core's speed, and no host looks
hot for it. After the hot hosts, relief moves each such instance (most over its core size first)
to a host whose cores are fast enough, by the same destinations and rules as above: every one is
tried on hosts that are on before any host is switched on. Consolidation moves it back onto slow
cores only once its use fits them (a moved instance lands only on cores that cover it).

It relieves at need > core size, no margin (``rules/cores.STARVED_MARGIN``): CloudSim counts a VM
1 % over its core as violating for as long as it stays, and the churn a margin would save is
small. On the bundled demo (following a solar supply, ``--deterministic``) a margin of 0 or 0.01
took following's SLATAH from 3.07 to 0.85 % (core cap 2.27 to 0.01 points), 0.03 to 1.08 % (0.20
left), 0.05 left it at 3.07 % (its starved VM sits 1-5 % over a G4 core); relief moved starved
instances 3 times that day, 4 times on the PlanetLab day 20110303 (one VM 3 times: its use
crossing its core size back and forth). A fleet without core sizes has no starved instance: relief
decides exactly as before.

Relief counts against ``max_migrations`` (an explicit hard cap), never against
``max_consolidation_moves``. A host relief cannot bring under its limit is named in
``Target.unrelieved`` with how far above it stays and why: pinned instances, the migration cap,
or no room; where hosts would have had room, which rule kept each out (switching on not allowed,
disabled, hard anti-affinity), else whether any host was off to switch on. One message per such
host (``unrelieved_message``), so a shell that prints both the message and ``Target.unrelieved``
can tell they are one note. A host left holding starved instances is named there too: its reason
starts with ``SLOW_CORES`` and names each instance, what it needs per core and why it stayed
(pinned, in a hard affinity group, the migration cap, or no room on cores fast enough and what kept
those hosts out); on a host also hot it follows the hot reason, still one entry and one message.
The planner emits the ``power_on`` (and ``enable``) of a host before any migration lands on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from watcher_geyser import bounds
from watcher_geyser.model import RAM, GroupPolicy
from watcher_geyser.names import listed
from watcher_geyser.solver.checks import check_placement
from watcher_geyser.solver.limits import (
    CPU_CORES,
    LIMIT_RESOURCES,
    TOLERANCE,
    above,
    host_load,
    instance_demand,
    packing_limits,
)
from watcher_geyser.solver.problem import MIGRATION_CAP, Bounds, Problem, Target
from watcher_geyser.solver.rules.cores import covered_need, starved
from watcher_geyser.solver.rules.groups import anti_affinity_groups

ON, EMPTY, OFF = 0, 1, 2  # destination tiers: on and busy, on and empty, off
#: The request's own name for the switch that forbade switching hosts on, as reasons give it (the
#: Watcher audit parameter has the same name; ``geyser plan`` puts its flag in its place).
POWER_ON_FORBIDDEN = "allow_power_on is false"
NO_ROOM = "no room"  # how a reason for want of room starts, after the resources over the limit
SLOW_CORES = "cores too slow"  # how the reason for a host left holding starved instances starts


def for_want_of_room(reason: str) -> bool:
    """Whether ``reason`` (a ``Target.unrelieved`` value) says no host had room for the instances."""
    return f"; {NO_ROOM} " in reason


def unrelieved_message(name: str, reason: str) -> str:
    """The one message naming a host relief left above its limit, or left holding instances its
    cores are too slow for (``reason``: its ``Target.unrelieved``)."""
    if reason.startswith(SLOW_CORES):
        return f"host {name} keeps instances its cores are too slow for: {reason}"
    return f"host {name} stays above its relief limit: {reason}"


@dataclass(frozen=True)
class Relief:
    """What relief did: the relieved placement, and per host what happened."""

    placement: np.ndarray  # int64[V]
    hot: tuple[int, ...] = ()  # hosts above their relief limit before relief
    relieved: tuple[int, ...] = ()
    unrelieved: dict[int, str] = field(default_factory=dict)  # host index -> reason
    powered_on: tuple[int, ...] = ()  # hosts off now that relief switches on
    messages: tuple[str, ...] = ()
    moves: int = 0
    seconds: float = 0.0

    @property
    def needed(self) -> bool:
        """Whether relief had anything to do: a host hot, or an instance its cores are too slow for."""
        return bool(self.hot or self.moves or self.unrelieved)


def relieve(problem: Problem) -> Relief:
    """Move instances off every hot host of ``problem`` where the rules allow (module doc)."""
    started = time.monotonic()
    fleet = problem.fleet
    if not problem.relieve or not fleet.instances:
        return Relief(fleet.placement.copy())
    if not above(host_load(fleet), problem.relief_limits).any() and not starved(fleet).any():
        return Relief(fleet.placement.copy())  # nothing hot or starved: no shedder to set up (most simulated steps)
    shedder = _Shedder(problem)
    hot = shedder.hot_hosts()
    for h in hot:
        shedder.shed(int(h))
    shedder.move_starved()
    if not len(hot) and not shedder.moves and not shedder.unrelieved:
        return Relief(fleet.placement.copy())
    return shedder.result(tuple(int(h) for h in hot), time.monotonic() - started)


def relieved_problem(problem: Problem, relief: Relief) -> Problem:
    """The problem the back-ends solve after relief: the relieved fleet (hosts switched on
    are on), what is left of the migration cap, the time left, relief done."""
    fleet = problem.fleet.with_placement(relief.placement) if relief.moves else problem.fleet
    cap = None if problem.max_migrations is None else max(problem.max_migrations - relief.moves, 0)
    time_left = max(problem.time_limit_s - relief.seconds, min(0.05, problem.time_limit_s))
    if problem.deterministic:  # its work limit derives from the time limit: no wall clock in it
        time_left = problem.time_limit_s
    return replace(problem, fleet=fleet, max_migrations=cap, relieve=False, time_limit_s=time_left)


def relieved_target(problem: Problem, relief: Relief, inner: Target, proven_hosts: int, proven_w: float) -> Target:
    """The answer to ``problem`` from a back-end's answer to ``relieved_problem``.

    The placement is judged again against the original problem, relief rule included; if
    it fails (a back-end bug), relief's own placement stands. Bounds are the analytic ones
    of the original problem where the back-end's are not proven for it."""
    fleet = problem.fleet
    names = {fleet.hosts[h].name: reason for h, reason in relief.unrelieved.items()}
    placement, status = inner.placement, inner.status
    messages = list(relief.messages)
    violations = check_placement(problem, placement, unrelieved=names)
    if violations:
        messages.append(f"internal: discarded an invalid {status} answer after relief ({violations[0]})")
        placement, status = relief.placement, "CURRENT"
    if relief.moves and status == "CURRENT":
        status = "RELIEF"
    elif relief.moves and status == "OPTIMAL":
        status = "FEASIBLE"  # optimal from the relieved fleet, not proven for the whole problem
        messages.append("CP-SAT proved its answer optimal from the relieved fleet, not over every relief")
    still_hot = above(host_load(fleet, placement), problem.relief_limits)
    still_hot[placement[starved(fleet, placement) & (placement == fleet.placement)]] = True
    unrelieved = {name: reason for name, reason in names.items() if still_hot[fleet.host_index(name)]}
    cooled = {unrelieved_message(name, reason) for name, reason in names.items() if name not in unrelieved}
    messages = [m for m in messages if m not in cooled]
    hidden = tuple(f"host {name} stays above its limits" for name in names)
    messages += [m for m in inner.messages if not m.startswith(hidden)]
    migration_bound = bounds.migration_cost_lower_bound_mb(fleet, bounds.hosts_on_by_zone(fleet, placement))
    return Target(
        problem=problem,
        placement=placement,
        bounds=Bounds(
            hosts=min(inner.bounds.hosts, proven_hosts),
            watts_w=min(inner.bounds.watts_w, proven_w),
            migration_cost_mb=migration_bound,
        ),
        status=status,
        cpsat_status=inner.cpsat_status,
        solve_seconds=inner.solve_seconds + relief.seconds,
        messages=tuple(dict.fromkeys(messages)),
        relieved=tuple(fleet.hosts[h].name for h in relief.relieved),
        unrelieved=unrelieved,
    )


class _Shedder:
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

    def _groups(self, fleet) -> None:
        self.group_hosts: dict[int, set[int]] = {}
        if not fleet.server_groups:  # most fleets: no walk over the instances (a hot path in the simulator)
            self.anti = np.full(len(fleet.instances), -1, dtype=np.int64)
            self.affinity = np.zeros(len(fleet.instances), dtype=bool)
            return
        self.anti = anti_affinity_groups(fleet)
        affinity = {g.name for g in fleet.server_groups if g.policy is GroupPolicy.AFFINITY}
        self.affinity = np.array([i.server_group in affinity for i in fleet.instances], dtype=bool)
        for v in np.flatnonzero(self.anti >= 0):
            self.group_hosts.setdefault(int(self.anti[v]), set()).add(int(self.placement[v]))

    def hot_hosts(self) -> np.ndarray:
        """Hot hosts, the furthest above their relief limit (relative to it) first."""
        hot = np.flatnonzero(self.hot)
        over = ((self.load[hot] - self.relief[hot]) / self.scale[hot]).max(axis=1)
        return hot[np.argsort(-over, kind="stable")]

    def shed(self, h: int) -> None:
        reason = None
        moved: list[int] = []
        while above(self.load[h : h + 1], self.goal[h : h + 1])[0]:
            if self.moves_left <= 0:
                cap = self.problem.max_migrations
                reason = f"the migration cap ({MIGRATION_CAP}{cap}) is used up: raise it to relieve more"
                break
            v, dst = self._next_move(h)
            if v is None:
                reason = reason or self._pinned_reason(h)
                break
            if dst is None:
                reason = self._no_room_reason(h)
                break
            self._move(v, h, dst)
            moved.append(v)
        name = self.fleet.hosts[h].name
        what = _describe(self.load[h], self.relief[h])
        if moved:
            destinations = sorted({self.fleet.hosts[int(self.placement[v])].name for v in moved})
            self.messages.append(f"relief: {len(moved)} instance(s) moved off {name} to {', '.join(destinations)}")
        if reason is None or not above(self.load[h : h + 1], self.relief[h : h + 1])[0]:
            self.relieved.append(h)
        else:
            self.unrelieved[h] = f"{what}; {reason}"
            self.messages.append(unrelieved_message(name, self.unrelieved[h]))

    def move_starved(self) -> None:
        """Move every instance still at home whose host's cores are too slow for it (module doc)
        to a host whose cores are fast enough: every one is tried on hosts that are on before
        any host is switched on, the most starved first. Those left are named per host."""
        fleet = self.fleet
        home = self.placement == fleet.placement
        waiting = np.flatnonzero(starved(fleet) & home)
        if not len(waiting):
            return
        over = fleet.cpu_per_core[waiting] / fleet.core_size[fleet.placement[waiting]]
        waiting = waiting[np.argsort(-over, kind="stable")]
        left: dict[int, list[tuple[int, str]]] = {}
        for tiers in ((ON,), (ON, EMPTY, OFF)):
            still = []
            for v in waiting.tolist():
                h = int(self.placement[v])
                why = self._stuck_reason(v)
                dst = None if why else self._destination(v, h, tiers)
                if dst is not None:
                    self._move(v, h, dst)
                    name = fleet.hosts[dst].name
                    self.messages.append(f"relief: {fleet.instances[v].uuid} moved off {fleet.hosts[h].name}, its "
                                         f"cores too slow for it, to {name}")
                elif why or tiers != (ON,):
                    left.setdefault(h, []).append((v, why or self._no_faster_room_reason(v, h)))
                else:
                    still.append(v)
            waiting = np.array(still, dtype=np.int64)
        for h, stuck in left.items():
            self._name_starved(h, stuck)

    def _stuck_reason(self, v: int) -> str | None:
        """Why ``v`` may not move at all (pinned, in a hard affinity group, the cap used up), or None."""
        if not self.fleet.movable[v]:
            return "pinned (locked, excluded or in a state that cannot migrate)"
        if self.affinity[v]:
            return "in a hard affinity group, which moves only as a whole"
        if self.moves_left <= 0:
            cap = self.problem.max_migrations
            return f"the migration cap ({MIGRATION_CAP}{cap}) is used up: raise it to relieve more"
        return None

    def _no_faster_room_reason(self, v: int, h: int) -> str:
        """Why no host took ``v``: none with cores fast enough had room, or the rules kept them out."""
        fleet = self.fleet
        fits = (self.packing - self.load >= self.demand[v] - TOLERANCE * self.scale).all(axis=1)
        fast = (fleet.host_zone == fleet.host_zone[h]) & ~self.hot & self._fast_enough(v) & fleet.accepts
        kept = []
        if (fast & fits & ~self.receivable).any():
            kept.append(f"hosts off, and switching hosts on is not allowed ({POWER_ON_FORBIDDEN})")
        if self.anti[v] >= 0 and (fast & fits & self.receivable).any():
            kept.append("the others hold members of its hard anti-affinity group")
        zone = fleet.hosts[h].zone
        if kept:
            where = f"{NO_ROOM} on the hosts with cores fast enough that may receive it in zone {zone}"
            return f"{where}: {'; '.join(kept)}"
        return f"{NO_ROOM} on any host of zone {zone} with cores fast enough, on or off: add faster hosts"

    def _name_starved(self, h: int, stuck: list[tuple[int, str]]) -> None:
        fleet = self.fleet
        each = ", ".join(f"{fleet.instances[v].uuid} needs {fleet.cpu_per_core[v]:.6g} ({why})" for v, why in stuck)
        reason = f"{SLOW_CORES} ({fleet.core_size[h]:.6g} each) for {len(stuck)} instance(s): {each}"
        name = fleet.hosts[h].name
        if h in self.unrelieved:  # hot and starved: still one reason, one message
            old = unrelieved_message(name, self.unrelieved[h])
            self.unrelieved[h] = f"{self.unrelieved[h]}; {reason}"
            self.messages = [unrelieved_message(name, self.unrelieved[h]) if m == old else m for m in self.messages]
            return
        self.unrelieved[h] = reason
        self.messages.append(unrelieved_message(name, reason))

    def _next_move(self, h: int) -> tuple[int | None, int | None]:
        """(instance, destination) of the next relief move off ``h``: the first instance in
        ``_candidates`` order that fits on a host that is on, else the first that fits on
        a host switched on for it (a host switched on for one small instance is the next
        one consolidation empties). (None, None): nothing left to move; (v, None): no room."""
        order = self._candidates(h)
        if not len(order):
            return None, None
        for tiers in ((ON,), (ON, EMPTY, OFF)):
            for v in order:
                dst = self._destination(int(v), h, tiers)
                if dst is not None:
                    return int(v), dst
        return int(order[0]), None

    def _candidates(self, h: int) -> np.ndarray:
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

    def _destination(self, v: int, h: int, tiers: tuple[int, ...]) -> int | None:
        fleet = self.fleet
        need = self.demand[v]
        room = self.packing - self.load
        fits = (room >= need - TOLERANCE * self.scale).all(axis=1)
        fits &= self.receivable & (fleet.host_zone == fleet.host_zone[h]) & ~self.hot & self._fast_enough(v)
        if self.anti[v] >= 0:
            fits[list(self.group_hosts[int(self.anti[v])])] = False
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

    def _fast_enough(self, v: int) -> np.ndarray:
        """bool[H]: hosts whose cores are fast enough for ``v`` (``rules/cores.py``; relief moves
        only instances still at home, so the home exception does not arise)."""
        return self.fleet.cpu_per_core[v] <= self.core_covers

    def _move(self, v: int, h: int, dst: int) -> None:
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

    def _pinned_reason(self, h: int) -> str:
        fleet = self.fleet
        here = np.flatnonzero(self.placement == h)
        pinned = int((~fleet.movable[here]).sum())
        grouped = int((fleet.movable[here] & self.affinity[here]).sum())
        parts = []
        if pinned:
            parts.append(f"{pinned} pinned (locked, excluded or in a state that cannot migrate)")
        if grouped:
            parts.append(f"{grouped} in hard affinity groups, which move only as a whole")
        return "what remains on it cannot move: " + ("; ".join(parts) or "no instance left to move")

    def _no_room_reason(self, h: int) -> str:
        """Why none of ``h``'s instances found a host: which rule kept out each host that had room
        for one of them, or else that no host of the zone had room, on or off."""
        fleet = self.fleet
        zone = fleet.hosts[h].zone
        in_zone = (fleet.host_zone == fleet.host_zone[h]) & ~self.hot
        room = self.packing - self.load
        off, disabled, grouped, groups, slow = set(), set(), set(), set(), set()
        for v in self._candidates(h).tolist():
            fits = in_zone & (room >= self.demand[v] - TOLERANCE * self.scale).all(axis=1)
            fast = self._fast_enough(v)
            slow |= set(np.flatnonzero(fits & ~fast & fleet.accepts).tolist())
            fits &= fast
            off |= set(np.flatnonzero(fits & fleet.accepts & ~self.receivable).tolist())
            disabled |= set(np.flatnonzero(fits & ~fleet.accepts).tolist())
            if self.anti[v] >= 0:
                members = self.group_hosts[int(self.anti[v])] & set(np.flatnonzero(fits & self.receivable).tolist())
                grouped |= members
                groups |= {fleet.server_groups[int(self.anti[v])].name} if members else set()
        if not (off or disabled or grouped or slow):
            return self._nowhere_reason(zone, in_zone)
        def names(hosts: set[int]) -> str:
            return listed(sorted(fleet.hosts[d].name for d in hosts))

        kept = []
        if off:
            kept.append(f"{names(off)} off, and switching hosts on is not allowed ({POWER_ON_FORBIDDEN})")
        if disabled:
            kept.append(f"{names(disabled)} disabled (enable to let them receive)")
        if grouped:
            kept.append(f"{names(grouped)} holding members of its hard anti-affinity group(s) {listed(sorted(groups))}")
        if slow:
            kept.append(f"{names(slow)} with cores too slow for the CPU its instances need per core")
        where = f"{NO_ROOM} on the hosts that may receive its instances in zone {zone}"
        return f"{where}; hosts with room: " + "; ".join(kept)

    def _nowhere_reason(self, zone: str, in_zone: np.ndarray) -> str:
        """No host of the zone has room for any of the instances, whatever the rules."""
        switchable = int((in_zone & (self.tier == OFF) & self.fleet.accepts).sum())
        fix = ": raise the ceilings, or add hosts"
        if not switchable:
            return f"{NO_ROOM} for its instances on the hosts of zone {zone}, and none is off to switch on{fix}"
        if self.problem.allow_power_on:
            return f"{NO_ROOM} for its instances in zone {zone}, even on the {switchable} host(s) switched on{fix}"
        return f"{NO_ROOM} for its instances in zone {zone}, not even on the {switchable} host(s) off there{fix}"

    def result(self, hot: tuple[int, ...], seconds: float) -> Relief:
        if self.powered_on:
            names = ", ".join(self.fleet.hosts[h].name for h in self.powered_on)
            self.messages.append(f"relief: switched on {names} to make room")
        return Relief(
            placement=self.placement,
            hot=hot,
            relieved=tuple(self.relieved),
            unrelieved=dict(self.unrelieved),
            powered_on=tuple(self.powered_on),
            messages=tuple(self.messages),
            moves=self.moves,
            seconds=seconds,
        )


def _describe(load: np.ndarray, limit: np.ndarray) -> str:
    """'cpu_cores 18.2 over 16' for each resource above its relief limit."""
    parts = [
        f"{LIMIT_RESOURCES[r]} {load[r]:.6g} over {limit[r]:.6g}"
        for r in range(len(LIMIT_RESOURCES))
        if load[r] > limit[r] + TOLERANCE
    ]
    return ", ".join(parts) or "at its limit"
