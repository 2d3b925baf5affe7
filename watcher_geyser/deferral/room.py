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

An instance's CPU use is not measured while it is shelved: ``Fleet.default_cpu_util`` of its
vcpus, as for any instance without a measurement. Pure: imports nothing from OpenStack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from watcher_geyser.deferral.fleet import FleetDeferral
from watcher_geyser.model import Fleet, HostState, Instance
from watcher_geyser.solver.limits import CpuCeiling, above, host_load, packing_limits


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
    for r in sorted(todo, key=lambda r: (not r.due, -r.vcpus, -r.memory_mb, -r.disk_gb, r.uuid)):
        need = np.array([r.vcpus, r.memory_mb, r.disk_gb, r.vcpus * fleet.default_cpu_util])  # Fleet.cpu_used's rule
        in_zone = np.array([r.zone is None or h.zone == r.zone for h in fleet.hosts], dtype=bool)
        fits = in_zone & ~above(load + need, limits)
        # a host held off and opened for a due instance takes no other: the budget gave way to a deadline only
        h = _fullest(fits & (on if r.due else on & ~held), load + need, limits)
        if h is None and allow_power_on:
            h = _switchable(fits & off & ~on, held, r.due, idle_w_per_core)
            if h is not None:
                on[h] = True
                name = fleet.hosts[h].name
                room.switch_on.append(name)
                if held[h]:
                    room.notes.append(f"bring back {r.name}: its deadline is due and no other host has room, so "
                                      f"{name} is switched on though the power-cycle budget holds it off")
        if h is None:
            (room.to_nova if r.due else room.stay).append(r.uuid)
            room.notes.append(_no_room(r, fleet, allow_power_on, bool((in_zone & off & ~on).any())))
            continue
        load[h] += need
        room.destinations[r.uuid] = fleet.hosts[h].name
        placed.append(Instance(r.uuid, r.name, fleet.hosts[h].name, r.vcpus, r.memory_mb, r.disk_gb, locked=True))
    if placed:
        switched = set(room.switch_on)
        hosts = [replace(h, state=HostState.ENABLED) if h.name in switched else h for h in fleet.hosts]
        room.fleet = Fleet.build(hosts, (*fleet.instances, *placed), fleet.server_groups, fleet.default_cpu_util,
                                 fleet.notes)
        room.fleet.share_host_arrays(fleet)  # the same hosts, some in another state
    return room


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


def _no_room(r: Returning, fleet: Fleet, allow_power_on: bool, off_hosts: bool) -> str:
    """Why ``r`` stays shelved, naming what was looked at."""
    where = f"in zone {r.zone}" if r.zone is not None else "anywhere"
    size = f"{r.vcpus} vcpu, {r.memory_mb} MB, {r.disk_gb} GB"
    if not allow_power_on and off_hosts:
        off = "switching hosts on is not allowed"
    elif off_hosts:
        off = "no host that is off may take it (too small, or held off by the power-cycle budget)"
    else:
        off = "no host is off to switch on"
    why = f"no host that is on has room for it ({size}) {where} under the packing limit, and {off}"
    if r.due:
        return (f"bring back {r.name}: its deadline is due, so Nova's scheduler is asked to place it though {why}; "
                "its deadline is at risk")
    return f"{r.name} stays shelved: {why}"



def with_room(
    deferral: FleetDeferral,
    ceiling: float = 1.0,
    cpu_ceiling: CpuCeiling = None,
    allow_power_on: bool = True,
    held_off: frozenset[str] = frozenset(),
) -> FleetDeferral:
    """``deferral`` with room made (``make_room``) on its fleet for the instances it brings back.

    The answer's fleet holds them, locked on their destinations; its ``resume`` drops those with
    no room (they stay shelved, the notes say why); ``destinations`` and ``switch_on`` say where
    the others go and which hosts to switch on first; its notes are ``deferral``'s, then the new ones.
    An instance whose flavour is unknown gets no destination: Nova's scheduler places it, as before
    (a note says so); one whose zone no host of the fleet is in may go to any zone.
    """
    returning, notes = [], list(deferral.notes)
    zones = set(deferral.fleet.zones)
    for uuid, name in deferral.resume:
        s = deferral.back.get(uuid)
        if s is None or None in (s.vcpus, s.memory_mb, s.disk_gb):
            notes.append(f"bring back {name}: its flavour is unknown, Nova's scheduler places it")
            continue
        zone = s.zone if s.zone in zones else None  # a zone no host is known in: the model does not know it
        returning.append(Returning(uuid, name, s.vcpus, s.memory_mb, s.disk_gb, zone, uuid in deferral.due))
    if not returning:
        return replace(deferral, notes=notes)
    room = make_room(deferral.fleet, returning, ceiling, cpu_ceiling, allow_power_on, held_off)
    stay = set(room.stay)
    return replace(deferral, fleet=room.fleet, resume=[(u, n) for u, n in deferral.resume if u not in stay],
                   notes=notes + room.notes, destinations=room.destinations, switch_on=room.switch_on)
