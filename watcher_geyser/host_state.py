"""How a compute host's service, liveness and power become a ``HostState``: one rule for every adapter.

The Watcher adapter (``strategies/adapter.py``, from Watcher's cluster model) and the
snapshot (``cloud/records.py``, from openstacksdk) both call ``classify_host``, so a host
means the same thing whichever way it was read. The rule:

- *up* (service state ``up`` and not forced down): ``enabled`` -> ENABLED, ``disabled`` ->
  DISABLED (keeps its instances, receives none);
- *down* (state ``down``, or forced down by an operator) with instances: DISABLED, and its
  instances pinned: nothing migrates off a dead compute;
- *down* and empty: OFF (it may be switched back on) when it is *ours* (enabled, or
  disabled with one of ``our_reasons``) and either the bare-metal service says it is
  powered off, or no power source was read at all (``PowerReading.NOT_READ``: a snapshot
  plans on paper, and a down, empty compute of ours is taken as one we switched off).
  Otherwise it is left out (state None): disabled by someone else, powered on although its
  compute is down, or a power state the bare-metal service did not give.

Pure: no OpenStack imports. ``tests/test_host_state.py`` holds the table of every case.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from watcher_geyser.records import HostState

OUR_DISABLED_REASONS = ("watcher_geyser", "watcher_disabled")  # reasons we (or Watcher's consolidation) disable with


class PowerReading(enum.StrEnum):
    """What the bare-metal service (Ironic, MAAS) says of a host's power."""

    ON = "on"
    OFF = "off"
    UNKNOWN = "unknown"  # a bare-metal service was asked and said nothing of this host
    NOT_READ = "not-read"  # no bare-metal source was read at all (a snapshot)


@dataclass(frozen=True)
class HostClass:
    """A host's state (None: left out of the fleet), whether its instances are pinned, and why."""

    state: HostState | None
    pin_instances: bool = False
    note: str | None = None  # said when the host is not simply enabled or disabled


def classify_host(
    name: str,
    status: str | None,
    state: str | None,
    has_instances: bool,
    power: PowerReading,
    disabled_reason: str | None = None,
    forced_down: bool = False,
    our_reasons: tuple[str, ...] = OUR_DISABLED_REASONS,
) -> HostClass:
    """The ``HostState`` of host ``name`` (see the module doc); ``status``/``state`` are
    Nova's compute-service words (``enabled``/``disabled``, ``up``/``down``; None reads as
    enabled and up)."""
    up = (state or "up").lower() == "up" and not forced_down
    enabled = (status or "enabled").lower() == "enabled"
    if up:
        return HostClass(HostState.ENABLED if enabled else HostState.DISABLED)
    down = "forced down" if forced_down else "down"
    if has_instances:
        return HostClass(HostState.DISABLED, True, f"host {name} is {down} but lists instances: it receives none "
                                                   "and they stay")
    reason = (disabled_reason or "").lower()
    if not (enabled or any(reason.startswith(r.lower()) for r in our_reasons)):
        return HostClass(None, note=f"host {name} is {down} and was disabled by someone else ({disabled_reason!r}): "
                                    "left out, it receives no instance")
    if power is PowerReading.OFF:
        return HostClass(HostState.OFF)
    if power is PowerReading.NOT_READ:
        note = f"host {name} is {down} and empty: recorded as off (it may be switched on)"
        return HostClass(HostState.OFF, note=note)
    why = "powered on" if power is PowerReading.ON else "not known to be powered off"
    return HostClass(None, note=f"host {name} is {down} and {why}: left out, it receives no instance")
