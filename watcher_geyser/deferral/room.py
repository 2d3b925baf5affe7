"""Room for the instances brought back: a host for each, chosen before the solver plans the fleet.

Why: an instance geyser holds shelved is on no host, so the solver does not see it. Left to
Nova's scheduler, it would come back into a plan that may have packed the fleet tight and
switched hosts off, and geyser disables the hosts it switches off: the unshelve would find no
valid host, and a job whose deadline is due would stay shelved. So each instance coming back
gets a destination here, and the fleet the solver plans holds it there, ``locked``: the solver
keeps its room, never moves it and never switches its host off.

The choice, per instance (those due by their deadline first, then the largest flavour first,
so the hardest to fit are placed while there is most room; uuid breaks ties):

1. a host that is on and accepts instances, in the instance's availability zone (when known),
   with room under its packing limit (``solver.limits.packing_limits``, the solver's own rule):
   the fullest that fits, so it lands where consolidation would put it;
2. else a host that is off and may be switched on (switching on allowed, not held off by the
   power-cycle budget): the cheapest idle watts per core first, filled before another is opened
   (a host opened here counts as on for the instances that follow);
3. else, for an instance due by its deadline, a host the budget holds off, the same way: a
   deadline is a promise about someone's job, the budget is wear (the simulator's exception,
   docs/design/deferral.md, "The power-cycle budget"); such a host takes due instances only;
4. else none under the packing limit: one that is not due stays shelved this time, with a note
   naming why; one due by its deadline is brought back anyway with no destination (Nova's
   scheduler places it by its own allocation ratios, which may still find room above geyser's
   packing limit; if Nova finds none the action reports it), with a note naming why and that its
   deadline is at risk. Leaving a due instance shelved would make the miss certain.

Every step keeps to the instance's server group (``Returning.server_group``), as Nova's
scheduler filters would refuse an unshelve to a named host that breaks it: under hard
anti-affinity, never a host holding a running member or a member given that host earlier in
this decision; under hard affinity, a host of the running members when any run, else all the
members coming back together go to one host as one block (ranked and fitted by their summed
flavours); if that host has no room, the "no room" note says so. A block is due as a whole when
any member is: it may take a host the budget holds off, and with no room anywhere all its members
go to Nova's scheduler together; none stays shelved behind the others, which would split the
group across decisions (those left would have to follow later to wherever Nova put the rest).
A soft policy is a preference among the hosts that fit at each step (soft affinity: a host
holding members; soft anti-affinity: one holding none), never a reason to open another host.
And on a fleet with core sizes (``Fleet.core_size``, ``solver/rules/cores.py``), only hosts whose
cores cover what the instance uses per core.

When Nova could not list the server groups, no instance is given a host (``with_room``): one
named blind could break a group's hard policy, and Nova would refuse the unshelve. Nova's
scheduler, which knows the groups, places them; room is still held for them on hosts that are on.

An instance's CPU use is not measured while it is shelved: ``Fleet.default_cpu_util`` of its
vcpus, as for any instance without a measurement. Pure: imports nothing from OpenStack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from watcher_geyser.deferral.fleet import FleetDeferral
from watcher_geyser.fleet import Fleet
from watcher_geyser.records import GroupPolicy, HostState, Instance, ServerGroup
from watcher_geyser.solver.limits import CpuCeiling, above, host_load, packing_limits
from watcher_geyser.solver.rules.cores import slower_than
from watcher_geyser.solver.rules.groups import newcomer_hosts


@dataclass(frozen=True)
class Returning:
    """An instance to bring back, as placing it needs it: its flavour and zone."""

    uuid: str
    name: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    zone: str | None = None  # its availability zone, when known; None: any host's
    due: bool = False  # brought back by its deadline: may use a host the power-cycle budget holds off
    server_group: str | None = None  # its server group's key (as ``Instance.server_group``), when any
    group_policy: GroupPolicy | None = None  # that group's policy (None: the fleet's, if it knows the group)


@dataclass
class Room:
    """Where the returning instances go, and the fleet the solver should plan with them in it."""

    fleet: Fleet  # the instances placed added, locked on their destinations; hosts switched on enabled
    destinations: dict[str, str] = field(default_factory=dict)  # uuid -> host name
    switch_on: list[str] = field(default_factory=list)  # hosts to switch on (and enable), in the order opened
    stay: list[str] = field(default_factory=list)  # uuids with no room anywhere, not due: they stay shelved
    to_nova: list[str] = field(default_factory=list)  # due, no room under the limit: Nova's scheduler is asked
    notes: list[str] = field(default_factory=list)


def make_room(
    fleet: Fleet,
    returning: Sequence[Returning],
    ceiling: float = 1.0,
    cpu_ceiling: CpuCeiling = None,
    allow_power_on: bool = True,
    held_off: frozenset[str] = frozenset(),
) -> Room:
    """A destination for each of ``returning`` on ``fleet`` (module docstring), under the packing
    limits ``ceiling`` (flavour resources) and ``cpu_ceiling`` (measured CPU: one fraction, one
    per host, or None) the solver will use. ``held_off``: hosts the power-cycle budget keeps off.
    Instances already in ``fleet`` (shelved but not offloaded: they keep their host) are left alone.
    """
    limits = packing_limits(fleet, ceiling, cpu_ceiling)
    load = host_load(fleet)
    on = np.array([h.state is HostState.ENABLED for h in fleet.hosts], dtype=bool)
    off = ~fleet.powered
    held = np.array([h.name in held_off for h in fleet.hosts], dtype=bool)
    idle_w_per_core = fleet.idle_w / fleet.physical_cores
    room = Room(fleet)
    placed: list[Instance] = []
    todo = [r for r in returning if r.uuid not in fleet.instance_index]
    groups = _Groups(fleet, todo)
    for unit in sorted(groups.units(todo), key=_hardest_first):
        r = unit[0]
        due = any(u.due for u in unit)
        need = sum(_need(u, fleet) for u in unit)
        allowed = np.ones(len(fleet.hosts), dtype=bool)
        for u in unit:
            allowed &= np.array([u.zone is None or h.zone == u.zone for h in fleet.hosts], dtype=bool)
        zone_ok = allowed.copy()
        allowed &= _fast_enough(unit, fleet) & groups.allowed(r)
        fits = allowed & ~above(load + need, limits)
        prefer = groups.preferred(r)
        # a host held off and opened for a due instance takes no other: the budget gave way to a deadline only
        h = _fullest(_preferring(fits & (on if due else on & ~held), prefer), load + need, limits)
        if h is None and allow_power_on:
            h = _switchable(_preferring(fits & off & ~on, prefer), held, due, idle_w_per_core)
            if h is not None:
                on[h] = True
                name = fleet.hosts[h].name
                room.switch_on.append(name)
                if held[h]:
                    who = _who_is_due(unit)
                    room.notes.append(f"bring back {who} no other host has room, so {name} is switched on "
                                      "though the power-cycle budget holds it off")
        if h is None:
            rule = groups.rule(r, unit, zone_ok & ~_fast_enough(unit, fleet), fleet)
            off_hosts = bool((allowed & off & ~on).any())
            for u in unit:  # a block goes as one: all to Nova's scheduler when any is due, else all stay
                (room.to_nova if due else room.stay).append(u.uuid)
                room.notes.append(_no_room(u, fleet, allow_power_on, off_hosts, rule, due and not u.due))
            continue
        load[h] += need
        for u in unit:
            room.destinations[u.uuid] = fleet.hosts[h].name
            groups.place(u, h)
            placed.append(Instance(u.uuid, u.name, fleet.hosts[h].name, u.vcpus, u.memory_mb, u.disk_gb, locked=True,
                                   server_group=groups.key(u)))
    if placed:
        switched = set(room.switch_on)
        hosts = [replace(h, state=HostState.ENABLED) if h.name in switched else h for h in fleet.hosts]
        room.fleet = Fleet.build(hosts, (*fleet.instances, *placed), groups.server_groups(placed),
                                 fleet.default_cpu_util, fleet.notes)
        room.fleet.share_host_arrays(fleet)  # the same hosts, some in another state
    return room


def _need(r: Returning, fleet: Fleet) -> np.ndarray:
    """(vcpu, memory_mb, disk_gb, cpu_cores) ``r`` asks of a host: its CPU unmeasured, so
    ``Fleet.default_cpu_util`` of its vcpus (``Fleet.cpu_used``'s rule)."""
    return np.array([r.vcpus, r.memory_mb, r.disk_gb, r.vcpus * fleet.default_cpu_util], dtype=np.float64)


def _fast_enough(unit: Sequence[Returning], fleet: Fleet) -> np.ndarray:
    """bool[H]: hosts whose cores cover what each of ``unit`` uses per core (``rules/cores.py``: its
    CPU over its vcpus, ``Fleet.cpu_per_core``'s rule); all True on a fleet without core sizes."""
    per_core = max(u.vcpus * fleet.default_cpu_util / max(u.vcpus, 1) for u in unit)
    return ~slower_than(fleet.core_size, per_core)


def _hardest_first(unit: Sequence[Returning]) -> tuple:
    """Due first, then the largest (summed over an affinity block), the first uuid breaking ties."""
    return (not any(u.due for u in unit), -sum(u.vcpus for u in unit), -sum(u.memory_mb for u in unit),
            -sum(u.disk_gb for u in unit), unit[0].uuid)


def _preferring(candidates: np.ndarray, prefer: np.ndarray | None) -> np.ndarray:
    """``candidates`` narrowed to ``prefer`` when any of them is preferred (a soft policy), else all."""
    if prefer is None:
        return candidates
    narrowed = candidates & prefer
    return narrowed if narrowed.any() else candidates


class _Groups:
    """The server groups of the instances coming back: where their members are (running, or given a
    host in this decision), which hosts each may take, and the groups the fleet must know."""

    def __init__(self, fleet: Fleet, todo: Sequence[Returning]) -> None:
        self.fleet = fleet
        self.policy = {g.name: g.policy for g in fleet.server_groups}
        for r in todo:
            if r.server_group is not None and r.group_policy is not None:
                self.policy.setdefault(r.server_group, r.group_policy)
        self.hosts: dict[str, set[int]] = {}  # group -> hosts holding a member
        for inst, h in zip(fleet.instances, fleet.placement.tolist()):
            if inst.server_group is not None:
                self.hosts.setdefault(inst.server_group, set()).add(h)
        self.running = {g: frozenset(hs) for g, hs in self.hosts.items()}

    def key(self, r: Returning) -> str | None:
        """``r``'s group, when its policy is known (a group of unknown policy binds nothing here)."""
        return r.server_group if r.server_group in self.policy else None

    def policy_of(self, r: Returning) -> GroupPolicy | None:
        return self.policy.get(r.server_group) if r.server_group is not None else None

    def units(self, todo: Sequence[Returning]) -> list[list[Returning]]:
        """Each instance alone, but the members of a hard affinity group none of which runs as one block."""
        units: list[list[Returning]] = []
        blocks: dict[str, list[Returning]] = {}
        for r in todo:
            if self.policy_of(r) is GroupPolicy.AFFINITY and not self.running.get(r.server_group):
                if r.server_group not in blocks:
                    blocks[r.server_group] = []
                    units.append(blocks[r.server_group])
                blocks[r.server_group].append(r)
            else:
                units.append([r])
        return units

    def allowed(self, r: Returning) -> np.ndarray:
        """bool[H]: the hosts ``r``'s hard policy lets it take (all, without one), by the group rule
        (``rules/groups.newcomer_hosts``): apart from every member running or placed in this decision
        (anti-affinity), with the running members (affinity; a block of none running goes as one)."""
        policy = self.policy_of(r)
        if policy is GroupPolicy.ANTI_AFFINITY:
            return newcomer_hosts(policy, self.hosts.get(r.server_group, set()), len(self.fleet.hosts))
        if policy is GroupPolicy.AFFINITY:
            return newcomer_hosts(policy, self.running.get(r.server_group, set()), len(self.fleet.hosts))
        return np.ones(len(self.fleet.hosts), dtype=bool)

    def preferred(self, r: Returning) -> np.ndarray | None:
        """bool[H]: the hosts ``r``'s soft policy prefers (``rules/groups.newcomer_hosts``), or None."""
        policy = self.policy_of(r)
        if policy is GroupPolicy.SOFT_ANTI_AFFINITY:
            return newcomer_hosts(policy, self.hosts.get(r.server_group, set()), len(self.fleet.hosts))
        if policy is GroupPolicy.SOFT_AFFINITY and self.hosts.get(r.server_group):
            return newcomer_hosts(policy, self.hosts[r.server_group], len(self.fleet.hosts))
        return None

    def place(self, r: Returning, h: int) -> None:
        if self.key(r) is not None:
            self.hosts.setdefault(r.server_group, set()).add(h)

    def rule(self, r: Returning, unit: Sequence[Returning], too_slow: np.ndarray, fleet: Fleet) -> str:
        """What narrowed the hosts looked at, for the note (empty when nothing did)."""
        parts = []
        policy = self.policy_of(r)
        names = sorted(fleet.hosts[h].name for h in self.hosts.get(r.server_group, ()))
        if policy is GroupPolicy.ANTI_AFFINITY and names:
            parts.append(f"apart from the members of its hard anti-affinity group {r.server_group} "
                         f"(on {', '.join(names)})")
        elif policy is GroupPolicy.AFFINITY and self.running.get(r.server_group):
            parts.append(f"on the host of its hard affinity group {r.server_group}'s running members "
                         f"({', '.join(names)})")
        elif policy is GroupPolicy.AFFINITY and len(unit) > 1:
            parts.append(f"on one host with the {len(unit) - 1} other member(s) of its hard affinity group "
                         f"{r.server_group} brought back with it")
        if too_slow.any():
            parts.append(f"on cores fast enough for it ({too_slow.sum()} host(s) too slow)")
        return " ".join(parts)

    def server_groups(self, placed: Sequence[Instance]) -> tuple[ServerGroup, ...]:
        """The fleet's groups, plus those of ``placed`` it did not hold (no member of them was running)."""
        known = {g.name for g in self.fleet.server_groups}
        new = sorted({i.server_group for i in placed if i.server_group is not None} - known)
        return (*self.fleet.server_groups, *(ServerGroup(g, self.policy[g]) for g in new))


def _fullest(candidates: np.ndarray, load_after: np.ndarray, limits: np.ndarray) -> int | None:
    """The candidate host left fullest by the instance: the highest share of any limited resource
    used after it lands (the first host on ties), or None."""
    if not candidates.any():
        return None
    finite = np.isfinite(limits) & (limits > 0)
    share = np.where(finite, load_after / np.where(finite, limits, 1.0), 0.0).max(axis=1)
    share[~candidates] = -np.inf
    return int(np.argmax(share))


def _switchable(off: np.ndarray, held: np.ndarray, due: bool, idle_w_per_core: np.ndarray) -> int | None:
    """The host of ``off`` to switch on: the cheapest not held off, else (``due`` only) the cheapest held off."""
    h = _cheapest(off & ~held, idle_w_per_core)
    return _cheapest(off & held, idle_w_per_core) if h is None and due else h


def _cheapest(candidates: np.ndarray, idle_w_per_core: np.ndarray) -> int | None:
    """The candidate host with the least idle watts per core (the first on ties), or None."""
    if not candidates.any():
        return None
    return int(np.argmin(np.where(candidates, idle_w_per_core, np.inf)))


def _who_is_due(unit: Sequence[Returning]) -> str:
    """For a note: the instance whose deadline is due, or the affinity block and its due members."""
    if len(unit) == 1:
        return f"{unit[0].name}: its deadline is due and"
    due = ", ".join(u.name for u in unit if u.due)
    return (f"the {len(unit)} members of hard affinity group {unit[0].server_group} together: the deadline of "
            f"{due} is due and")


def _no_room(r: Returning, fleet: Fleet, allow_power_on: bool, off_hosts: bool, rule: str = "",
             with_due: bool = False) -> str:
    """Why ``r`` stays shelved, naming what was looked at (``rule``: what else narrowed it, as
    ``_Groups.rule`` says it); ``with_due``: ``r`` is not due itself but comes back with a due member
    of its hard affinity block, so it goes to Nova's scheduler with it."""
    where = f"in zone {r.zone}" if r.zone is not None else "anywhere"
    if rule:
        where = f"{where} {rule}"
    size = f"{r.vcpus} vcpu, {r.memory_mb} MB, {r.disk_gb} GB"
    if not allow_power_on and off_hosts:
        off = "switching hosts on is not allowed"
    elif off_hosts:
        off = "no host that is off may take it (too small, or held off by the power-cycle budget)"
    else:  # what was looked at, in the words of what was allowed
        off = "no host is off to switch on" if allow_power_on else "no host is off"
    why = f"no host that is on has room for it ({size}) {where} under the packing limit, and {off}"
    if r.due:
        return (f"bring back {r.name}: its deadline is due, so Nova's scheduler is asked to place it though {why}; "
                "its deadline is at risk")
    if with_due:
        return (f"bring back {r.name}: a member of its hard affinity group {r.server_group} brought back with it is "
                f"due, so Nova's scheduler is asked to place them all together though {why}")
    return f"{r.name} stays shelved: {why}"



def with_room(
    deferral: FleetDeferral,
    ceiling: float = 1.0,
    cpu_ceiling: CpuCeiling = None,
    allow_power_on: bool = True,
    held_off: frozenset[str] = frozenset(),
    groups_known: bool = True,
) -> FleetDeferral:
    """``deferral`` with room made (``make_room``) on its fleet for the instances it brings back.

    The answer's fleet holds them, locked on their destinations; its ``resume`` drops those with
    no room (they stay shelved, the notes say why); ``destinations`` and ``switch_on`` say where
    the others go and which hosts to switch on first; its notes are ``deferral``'s, then the new ones.
    An instance whose flavour is unknown gets no destination: Nova's scheduler places it, as before
    (a note says so); one whose zone no host of the fleet is in may go to any zone.

    ``groups_known`` False (Nova's server-group listing failed): no instance gets a destination,
    since a named host may break a hard (anti-)affinity rule geyser cannot see, and Nova, which
    enforces it, would fail the unshelve; Nova's scheduler, which knows the groups, places them.
    Room is still made, on hosts that are on and accept instances only (none is switched on: Nova
    need not use it, and hosts geyser disabled are no candidates of its scheduler), so the fleet
    the solver plans keeps that much room free, and one that is not due and finds none stays
    shelved, as it would with its groups known. A note says what failed and what was done.
    """
    returning, notes = [], list(deferral.notes)
    zones = set(deferral.fleet.zones)
    for uuid, name in deferral.resume:
        s = deferral.back.get(uuid)
        if s is None or None in (s.vcpus, s.memory_mb, s.disk_gb):
            notes.append(f"bring back {name}: its flavour is unknown, Nova's scheduler places it")
            continue
        zone = s.zone if s.zone in zones else None  # a zone no host is known in: the model does not know it
        returning.append(Returning(uuid, name, s.vcpus, s.memory_mb, s.disk_gb, zone, uuid in deferral.due,
                                   s.server_group, s.group_policy))
    if not returning:
        return replace(deferral, notes=notes)
    if not groups_known:
        notes.append(f"server groups unknown: the {len(returning)} instance(s) brought back get no named host "
                     "(one could break a hard (anti-)affinity rule of a group geyser cannot see, and Nova fail "
                     "the unshelve); Nova's scheduler, which knows their groups, places them. Room is held for "
                     "them on hosts that are on; none is switched on for them")
    room = make_room(deferral.fleet, returning, ceiling, cpu_ceiling, allow_power_on and groups_known, held_off)
    stay = set(room.stay)
    return replace(deferral, fleet=room.fleet, resume=[(u, n) for u, n in deferral.resume if u not in stay],
                   notes=notes + room.notes, destinations=room.destinations if groups_known else {},
                   switch_on=room.switch_on)
