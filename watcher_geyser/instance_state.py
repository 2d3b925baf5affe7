"""How a server's state, pins, server group and metadata become an ``Instance``: one rule for every adapter.

The Watcher adapter (``strategies/adapter.py``, from Watcher's cluster model) and the
snapshot (``cloud/records.py``, from openstacksdk) both call ``read_instance``, so a
snapshot replays what Watcher would see. The rule:

- a Nova task in flight (``task_state``: migrating, resize_migrating, rebuilding, powering-off,
  .. any non-empty one is Nova's own "busy") stays where it is: Nova keeps vm_state ``active``
  meanwhile but refuses another migration (HTTP 409), and in Watcher one failed action fails the
  whole action plan. The task becomes the instance's ``state`` (``records.NOVA_TASKS``), so
  ``pinned_reason`` says it is busy; ``in_flight_note`` names them all in one note;
- ``paused`` stays where it is (a note): Watcher's ``migrate`` action refuses to
  live-migrate an instance whose status is not ACTIVE, so planning it would fail the plan;
- an instance the adapter already pinned (``excluded``: the audit scope's or an
  operator's exclusion, a dead compute, an unreadable group listing) stays;
- a member of an ``affinity`` server group stays (one note per group): Nova checks every
  migration with ServerGroupAffinityFilter, so a member may only go where the others
  already are and a group cannot be moved one migration at a time (real Nova refused it
  with NoValidHost in ``tests/nova``). Anti-affinity members still move;
- ``geyser:deferrable=true`` in the metadata makes it deferrable
  (``watcher_geyser.deferral.spec``); a malformed opt-in is a note, and not deferrable;
- measured CPU use is clamped to 0..1 of its vcpus.

Pure: no OpenStack imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from watcher_geyser.deferral.spec import parse_deferral
from watcher_geyser.names import listed
from watcher_geyser.records import GroupPolicy, Instance


def read_instance(read: Instance, metadata: Mapping[str, str], group_policy: str | None,
                  notes: list[str], task: str | None = None) -> Instance:
    """The instance the rule makes of ``read``; every pin and refused opt-in is appended to ``notes``.

    ``read`` is the instance as an adapter read it, before any rule: its state as the cloud
    words it, ``excluded`` for the pins only the adapter knows of (the audit scope's or an
    operator's exclusion, a dead compute, an unreadable group listing), ``server_group`` the
    group key (unique per group: its id, never its name alone) and ``cpu_util`` as measured.
    ``metadata`` is the instance's metadata, ``group_policy`` its group's policy in Nova's words,
    ``task`` its ``OS-EXT-STS:task_state`` (None or empty: no task in flight).
    """
    state = (task or read.state or "active").lower()
    label = f"instance {read.name} ({read.uuid})"
    excluded = read.excluded
    if state == "paused":
        notes.append(f"{label} is paused: Watcher live-migrates only ACTIVE instances")
        excluded = True
    if group_policy == GroupPolicy.AFFINITY.value and not excluded:
        note = (f"server group {read.server_group} is an affinity group: Nova refuses to move one member away "
                "from the others, so its members stay")
        if note not in notes:
            notes.append(note)
        excluded = True
    deferral, deferral_notes = parse_deferral(dict(metadata), label)
    notes.extend(deferral_notes)
    cpu_util = None if read.cpu_util is None else min(max(float(read.cpu_util), 0.0), 1.0)
    return replace(read, name=read.name or read.uuid, state=state, excluded=excluded, cpu_util=cpu_util,
                   deferral=deferral)


def in_flight_note(instances: Iterable[Instance]) -> str | None:
    """One note naming the instances a Nova task in flight keeps where they are, or None when none is."""
    busy = sorted(f"{i.name} ({i.task_in_flight})" for i in instances if i.task_in_flight is not None)
    if not busy:
        return None
    return (f"{len(busy)} instance(s) busy with a Nova task in flight stay where they are until it ends "
            f"(Nova refuses to migrate them meanwhile): {listed(busy)}")
