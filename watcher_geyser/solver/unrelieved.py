"""Why relief left a host unrelieved: the reasons in ``Target.unrelieved`` and their one message.

A host relief cannot bring under its limit is named in ``Target.unrelieved`` with how far above
it stays (``describe``) and why: pinned instances, the migration cap, or no room; where hosts
would have had room, which rule kept each out (switching on not allowed, disabled, hard
anti-affinity, cores too slow), else whether any host was off to switch on. A host left holding
starved instances is named there too: its reason starts with ``SLOW_CORES`` and names each
instance, what it needs per core and why it stayed (pinned, in a hard affinity group, the
migration cap, or no room on cores fast enough and what kept those hosts out); on a host also
hot it follows the hot reason, still one entry and one message. One message per such host
(``unrelieved_message``), so a shell that prints both the message and ``Target.unrelieved`` can
tell they are one note; shells recognise a reason by how it starts (``SLOW_CORES``,
``for_want_of_room``), so the words live here once.

Kept apart from the passes (``solver/relief.py``) and the move choice (``solver/shedder.py``):
the reasons read the shedder's state but decide nothing, and the shells (``geyser plan``, the
request pipeline) import only the words.
"""

from __future__ import annotations

import numpy as np

from watcher_geyser.names import listed
from watcher_geyser.solver.limits import LIMIT_RESOURCES, TOLERANCE
from watcher_geyser.solver.problem import MIGRATION_CAP
from watcher_geyser.solver.shedder import OFF, Shedder

#: The request's own name for the switch that forbade switching hosts on, as reasons give it (the
#: Watcher audit parameter has the same name; ``geyser plan`` puts its flag in its place).
POWER_ON_FORBIDDEN = "allow_power_on is false"
NO_ROOM = "no room"  # how a reason for want of room starts, after the resources over the limit
SLOW_CORES = "cores too slow"  # how the reason for a host left holding starved instances starts
PINNED = "pinned (locked, excluded or in a state that cannot migrate)"
IN_FLIGHT = "busy with a Nova task in flight (a migration, a resize, ..), until it ends"


def for_want_of_room(reason: str) -> bool:
    """Whether ``reason`` (a ``Target.unrelieved`` value) says no host had room for the instances."""
    return f"; {NO_ROOM} " in reason


def unrelieved_message(name: str, reason: str) -> str:
    """The one message naming a host relief left above its limit, or left holding instances its
    cores are too slow for (``reason``: its ``Target.unrelieved``)."""
    if reason.startswith(SLOW_CORES):
        return f"host {name} keeps instances its cores are too slow for: {reason}"
    return f"host {name} stays above its relief limit: {reason}"


def describe(load: np.ndarray, limit: np.ndarray) -> str:
    """'cpu_cores 18.2 over 16' for each resource above its relief limit."""
    parts = [
        f"{LIMIT_RESOURCES[r]} {load[r]:.6g} over {limit[r]:.6g}"
        for r in range(len(LIMIT_RESOURCES))
        if load[r] > limit[r] + TOLERANCE
    ]
    return ", ".join(parts) or "at its limit"


def cap_reason(shedder: Shedder) -> str:
    """The migration cap is used up."""
    return f"the migration cap ({MIGRATION_CAP}{shedder.problem.max_migrations}) is used up: raise it to relieve more"


def pinned_reason(shedder: Shedder, h: int) -> str:
    """Nothing left on hot host ``h`` may move: how many are pinned, how many held by affinity."""
    fleet = shedder.fleet
    here = np.flatnonzero(shedder.placement == h)
    still = here[~fleet.movable[here]]
    busy = sum(1 for v in still.tolist() if fleet.instances[v].task_in_flight is not None)
    pinned = len(still) - busy
    grouped = int((fleet.movable[here] & shedder.affinity[here]).sum())
    parts = []
    if busy:
        parts.append(f"{busy} {IN_FLIGHT}")
    if pinned:
        parts.append(f"{pinned} {PINNED}")
    if grouped:
        parts.append(f"{grouped} in hard affinity groups, which move only as a whole")
    return "what remains on it cannot move: " + ("; ".join(parts) or "no instance left to move")


def no_room_reason(shedder: Shedder, h: int) -> str:
    """Why none of hot host ``h``'s instances found a host: which rule kept out each host that had
    room for one of them, or else that no host of the zone had room, on or off."""
    s, fleet = shedder, shedder.fleet
    zone = fleet.hosts[h].zone
    in_zone = (fleet.host_zone == fleet.host_zone[h]) & ~s.hot
    room = s.packing - s.load
    off, disabled, grouped, groups, slow = set(), set(), set(), set(), set()
    for v in s.candidates(h).tolist():
        fits = in_zone & (room >= s.demand[v] - TOLERANCE * s.scale).all(axis=1)
        fast = s.fast_enough(v)
        slow |= set(np.flatnonzero(fits & ~fast & fleet.accepts).tolist())
        fits &= fast
        off |= set(np.flatnonzero(fits & fleet.accepts & ~s.receivable).tolist())
        disabled |= set(np.flatnonzero(fits & ~fleet.accepts).tolist())
        if s.anti[v] >= 0:
            members = set(np.flatnonzero(fits & s.receivable & ~s.group_allows(v)).tolist())
            grouped |= members
            groups |= {fleet.server_groups[int(s.anti[v])].name} if members else set()
    if not (off or disabled or grouped or slow):
        return _nowhere_reason(s, zone, in_zone)

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


def _nowhere_reason(shedder: Shedder, zone: str, in_zone: np.ndarray) -> str:
    """No host of the zone has room for any of the instances, whatever the rules."""
    switchable = int((in_zone & (shedder.tier == OFF) & shedder.fleet.accepts).sum())
    fix = ": raise the ceilings, or add hosts"
    if not switchable:  # under a ban on switching on, off hosts are not offered as a way out either
        off = "none is off to switch on" if shedder.problem.allow_power_on else "none is off"
        return f"{NO_ROOM} for its instances on the hosts of zone {zone}, and {off}{fix}"
    if shedder.problem.allow_power_on:
        return f"{NO_ROOM} for its instances in zone {zone}, even on the {switchable} host(s) switched on{fix}"
    return f"{NO_ROOM} for its instances in zone {zone}, not even on the {switchable} host(s) off there{fix}"


def stuck_reason(shedder: Shedder, v: int) -> str | None:
    """Why starved ``v`` may not move at all (pinned, in a hard affinity group, the cap used up), or None."""
    if not shedder.fleet.movable[v]:
        return f"pinned: {shedder.fleet.instances[v].pinned_reason}"
    if shedder.affinity[v]:
        return "in a hard affinity group, which moves only as a whole"
    if shedder.moves_left <= 0:
        return cap_reason(shedder)
    return None


def no_faster_room_reason(shedder: Shedder, v: int, h: int) -> str:
    """Why no host took starved ``v``: none with cores fast enough had room, or the rules kept them out."""
    s, fleet = shedder, shedder.fleet
    fits = (s.packing - s.load >= s.demand[v] - TOLERANCE * s.scale).all(axis=1)
    fast = (fleet.host_zone == fleet.host_zone[h]) & ~s.hot & s.fast_enough(v) & fleet.accepts
    kept = []
    if (fast & fits & ~s.receivable).any():
        kept.append(f"hosts off, and switching hosts on is not allowed ({POWER_ON_FORBIDDEN})")
    if s.anti[v] >= 0 and (fast & fits & s.receivable).any():
        kept.append("the others hold members of its hard anti-affinity group")
    zone = fleet.hosts[h].zone
    if kept:
        where = f"{NO_ROOM} on the hosts with cores fast enough that may receive it in zone {zone}"
        return f"{where}: {'; '.join(kept)}"
    return f"{NO_ROOM} on any host of zone {zone} with cores fast enough, on or off: add faster hosts"


def starved_reason(shedder: Shedder, h: int, stuck: list[tuple[int, str]]) -> str:
    """The reason for host ``h`` left holding the starved instances ``stuck`` ((instance, why) each)."""
    fleet = shedder.fleet
    each = ", ".join(f"{fleet.instances[v].uuid} needs {fleet.cpu_per_core[v]:.6g} ({why})" for v, why in stuck)
    return f"{SLOW_CORES} ({fleet.core_size[h]:.6g} each) for {len(stuck)} instance(s): {each}"
