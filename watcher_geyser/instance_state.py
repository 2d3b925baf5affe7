"""How a server's state, pins, server group and metadata become an ``Instance``: one rule for every adapter.

The Watcher adapter (``strategies/adapter.py``, from Watcher's cluster model) and the
snapshot (``cloud/records.py``, from openstacksdk) both call ``read_instance``, so a
snapshot replays what Watcher would see. The rule:

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

from collections.abc import Mapping
from dataclasses import dataclass, field

from watcher_geyser.deferral.spec import parse_deferral
from watcher_geyser.model import GroupPolicy, Instance


@dataclass(frozen=True)
class ServerFacts:
    """What an adapter read of one server, in our units, before any rule applies.

    ``group`` is (group key, policy) for a server group member: the key unique per group
    (its id, never its name alone), the policy Nova's word (``affinity``, ...).
    """

    uuid: str
    name: str
    host: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    state: str = "active"
    locked: bool = False
    excluded: bool = False
    metadata: Mapping[str, str] = field(default_factory=dict)
    group: tuple[str, str] | None = None


def read_instance(facts: ServerFacts, cpu_util: float | None, notes: list[str]) -> Instance:
    """The ``Instance`` these facts describe; every pin and refused opt-in is appended to ``notes``."""
    state = (facts.state or "active").lower()
    label = f"instance {facts.name} ({facts.uuid})"
    excluded = facts.excluded
    if state == "paused":
        notes.append(f"{label} is paused: Watcher live-migrates only ACTIVE instances")
        excluded = True
    if facts.group and facts.group[1] == GroupPolicy.AFFINITY.value and not excluded:
        note = (f"server group {facts.group[0]} is an affinity group: Nova refuses to move one member away from "
                "the others, so its members stay")
        if note not in notes:
            notes.append(note)
        excluded = True
    deferral, deferral_notes = parse_deferral(dict(facts.metadata), label)
    notes.extend(deferral_notes)
    return Instance(
        uuid=facts.uuid,
        name=facts.name or facts.uuid,
        host=facts.host,
        vcpus=int(facts.vcpus),
        memory_mb=int(facts.memory_mb),
        disk_gb=int(facts.disk_gb),
        cpu_util=None if cpu_util is None else min(max(float(cpu_util), 0.0), 1.0),
        state=state,
        locked=bool(facts.locked),
        excluded=excluded,
        server_group=facts.group[0] if facts.group else None,
        deferral=deferral,
    )
