"""Power and service actions around the migrations: on and enabled before, disabled and off after.

Given the migration waves, each host gets the actions its role needs, in the earliest
wave that is safe:

- a host that is off and receives instances: ``power_on`` in wave 1 and ``enable`` in
  wave 2 (the wave builder lets nothing land on it before wave 3);
- a host that ends empty and is enabled: ``disable`` once nothing more lands on it (wave 1
  when nothing ever does, so Nova's scheduler stops placing new instances there while it
  drains; after the last staged instance has arrived when it served as a staging host);
- when the caller allows power actions, a host that ends empty and is powered:
  ``power_off`` after its last instance has left and after its ``disable``.

Hosts that were empty from the start and stay empty are released the same way: a free
win. A host of ``keep_on`` (the power-cycle budget holds it on: no switch-off left in its
window, ``pipeline.cycles``) that ends empty gets neither when power-off is allowed: it stays
on and enabled. Disabling it would save nothing (it draws its idle watts either way until its
hold ends) and would shut it to Nova's scheduler and to the next plan's moves, which never
land on a disabled host; enabled, it is the cheapest room there is, being on already.
Hosts that are off and receive nothing are left alone. Host actions each touch one host and
take no migration slot, so they are not counted against ``parallelism``.
"""

from __future__ import annotations

from collections import defaultdict

from watcher_geyser.fleet import Fleet
from watcher_geyser.planner.actions import ActionKind
from watcher_geyser.planner.waves import Move
from watcher_geyser.records import HostState

POWER_ON_WAVE, ENABLE_WAVE = 0, 1
FIRST_WAVE_AFTER_POWER_ON = 2


def host_actions(fleet: Fleet, waves: list[list[Move]], final_hosts: list[int], allow_power_off: bool,
                 keep_on: frozenset[int] = frozenset()) -> dict[int, list[tuple[ActionKind, int]]]:
    """wave index -> [(kind, host index)] for every host action the plan needs; ``keep_on``:
    host indices never disabled or switched off when ``allow_power_off`` (module doc)."""
    first_in: dict[int, int] = {}
    last_in: dict[int, int] = {}
    last_out: dict[int, int] = {}
    for w, wave in enumerate(waves):
        for _, src, dst, _ in wave:
            first_in.setdefault(dst, w)
            last_in[dst] = w
            last_out[src] = w
    occupied = set(final_hosts)
    out: dict[int, list[tuple[ActionKind, int]]] = defaultdict(list)
    for h, host in enumerate(fleet.hosts):
        receives = h in first_in
        if host.state is HostState.OFF:
            if not receives:
                continue  # stays off, untouched
            if first_in[h] < FIRST_WAVE_AFTER_POWER_ON:
                raise AssertionError(f"planner bug: {host.name} receives before it is powered on and enabled")
            out[POWER_ON_WAVE].append((ActionKind.POWER_ON, h))
            out[ENABLE_WAVE].append((ActionKind.ENABLE, h))
        if h in occupied or (allow_power_off and h in keep_on):
            continue
        enabled_at_end = host.state is HostState.ENABLED or host.state is HostState.OFF
        disable_wave = None
        if enabled_at_end:
            disable_wave = last_in[h] + 1 if receives else 0
            out[disable_wave].append((ActionKind.DISABLE, h))
        if allow_power_off:
            off_wave = last_out[h] + 1 if h in last_out else 0
            if disable_wave is not None:
                off_wave = max(off_wave, disable_wave + 1)
            out[off_wave].append((ActionKind.POWER_OFF, h))
    return out
