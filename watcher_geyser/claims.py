"""Migrations in flight: what Nova holds on the host an instance is not counted on.

While a migration is in flight (a live migration, a cold migration or resize, an evacuation)
Nova holds the instance's resources on *both* hosts: Placement keeps the migration record's
allocation on one end and the instance's on the other, and Nova's resource tracker counts the
instance on both (``MigrationList.get_in_progress_by_host_and_node``). A fleet places each
instance on one host only, the one Nova names (``OS-EXT-SRV-ATTR:host``, Watcher's model):
the source until a live migration's last step, the destination once a resize has finished and
waits to be confirmed. The other end would look free, so a plan could fill it with other
instances, and then Nova's scheduler refuses them (NoValidHost) or the host is over-committed
once the migration lands.

``with_claims`` adds, for each migration in flight, a *claim* on that other end: an ``Instance``
row (``Instance.claim_of`` names the migrating instance) with the instance's flavour. A claim
never moves, so every back-end, pass and checker counts its allocation (vcpu, RAM, disk) as used
capacity exactly as it counts a pinned instance (the limits' "not worse than now" rule
included), and its host, holding it at the end of every answer, is never emptied, disabled or
switched off by a plan. The instance itself keeps its task in flight and stays where it is
(``instance_state``; ``with_claims`` pins it as ``migrating`` if its task was not read), so both
ends are counted, as Nova counts them.

Measured CPU is not an allocation: the guest runs on one host at a time, and that host is the
one its instance row sits on (the one Nova names: the source of a live or cold migration until
its switch-over, where the destination only receives memory pages; the destination of a resize
that waits for its confirmation, where the source keeps an idle reservation). So a claim *draws*
nothing: ``Fleet.cpu_drawn`` counts a claim row's CPU as 0, and the watts, the fleet's draw (the
signal policy's yardstick, ``summary``, the efficacy), the solver's watts objective and its
bounds count the migrating instance's CPU once, where it runs. The CPU a claim *holds*
(``Instance.cpu_util`` of the row, what the CPU limits count: packing, held and relief) is the
guest's when the guest is on its way to the claim's host (``guest_heads_to``: the destination of a
migration not yet switched over, or the source of a resize being reverted), and 0 when it has
left it (the source of a resize waiting for its confirmation, of an evacuation). On the way in it
is the cautious side, for relief too: a live migration switches over by itself within seconds
and its guest cannot be moved meanwhile, so a destination that will be hot once it lands is
relieved now, of the instances that can move, rather than running hot until the next audit
(a migration that fails instead leaves a few moves made early, the rarer and cheaper error).
Once left, counting it would make an idle reservation look hot and shed real instances for CPU
nobody uses; its allocation is still held, so a revert still finds the room Nova needs.

A claim takes the flavour its end holds. For a live or cold migration that is the flavour the
instance shows now. A resize holds the old flavour on its source and the new one on its
destination, and the server shows one of them only (the old until the resize finishes, the new
after), never the claim's. Nova's migration row names both (``old_instance_type_id``,
``new_instance_type_id``), but by their database ids, which no other API exposes, so they only
say that the flavour changes (``MigrationRecord.flavour_changes``). What each end holds is read
from Placement instead, for a resize only (``MigrationRecord.held``: the allocations of the
instance and of the migration, whose uuid holds the source's while it is in flight); when that
read failed, the claim takes the flavour shown now, and a note says the other may be larger.

Pure: no OpenStack imports. ``cloud.read`` and the Watcher strategy's look-ups fill
``MigrationRecord`` from Nova's ``GET /os-migrations``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from watcher_geyser.fleet import Fleet
from watcher_geyser.names import listed
from watcher_geyser.records import MIGRATING, Instance

# Nova's resource tracker counts every migration whose status is not one of these on both of
# its hosts (nova/db/main/api.py, ``migration_get_in_progress_by_host_and_node``). "accepted"
# has no destination yet (the scheduler has not picked one); "done" ends an evacuation.
FINISHED_STATUSES = frozenset({"accepted", "confirmed", "reverted", "error", "failed", "completed", "cancelled",
                               "done"})
# The statuses an unfinished migration passes through, for a read that filters on the server
# (``GET /os-migrations?status=``): live migrations queued -> preparing -> running ->
# post-migrating; cold ones and resizes pre-migrating -> migrating -> post-migrating -> finished
# (the resize waits for its confirmation there, holding both hosts) -> confirming or reverting.
IN_FLIGHT_STATUSES = ("queued", "preparing", "running", "pre-migrating", "migrating", "post-migrating", "finished",
                      "confirming", "reverting")
CLAIM_SUFFIX = "~claim"


@dataclass(frozen=True)
class Held:
    """What Placement holds on one host for a migration (its instance's and its own allocations)."""

    host: str  # named as the fleet names it
    vcpus: int
    memory_mb: int
    disk_gb: int


@dataclass(frozen=True)
class MigrationRecord:
    """One row of Nova's migrations list, its hosts named as the fleet names them."""

    instance: str  # the migrating instance's uuid (``instance_uuid``)
    source: str | None
    destination: str | None  # None until the scheduler picks one
    status: str
    kind: str = ""  # Nova's migration_type: live-migration, migration, resize, evacuation
    flavour_changes: bool = False  # its old and new flavour differ (a resize): its ends hold different flavours
    held: tuple[Held, ...] = ()  # what Placement holds for it per host, when read (a resize only)
    # when Nova last changed it (``updated_at``, epoch s; the end of a finished one), when read: ``settled``
    ended_s: float | None = None

    def held_on(self, host: str) -> Held | None:
        """What Placement holds for it on ``host``, when read."""
        return next((h for h in self.held if h.host == host), None)

    @property
    def in_flight(self) -> bool:
        """Nova still holds resources for it on both hosts (its resource tracker's rule)."""
        return (self.status or "").lower() not in FINISHED_STATUSES


def guest_heads_to(m: MigrationRecord, end: str) -> bool:
    """Whether ``m``'s guest runs on ``end``, the claim's host, once the migration ends: the CPU the
    claim holds there (the module doc). The claim sits on the end its instance is not on; the
    guest is on its way to it while that end is the destination (the instance still shows its
    source), or while a resize is reverted to its source."""
    return end == m.destination or (m.status or "").lower() == "reverting"


def claim_uuid(instance_uuid: str) -> str:
    """The uuid of the claim row for ``instance_uuid``: never a real instance's."""
    return instance_uuid + CLAIM_SUFFIX


def with_claims(fleet: Fleet, migrations: Iterable[MigrationRecord], notes: list[str]) -> Fleet:
    """``fleet`` with a claim on the other end of each migration in flight (see the module doc).

    Migrations finished, or whose instance the fleet does not hold (on a host left out, or not
    read) add nothing; one whose other end is no host of the fleet, or a host that is off, adds
    nothing and says so in ``notes``. The fleet itself when nothing is added."""
    rows, skipped = claim_rows(fleet, migrations)
    notes.extend(skipped)
    if not rows:
        return fleet
    names = {i.uuid: i.name for i in fleet.instances}
    busy = sorted(f"{names[r.claim_of]} on {r.host}" for r in rows)
    notes.append(f"{len(rows)} migration(s) in flight hold their instance's resources on a second host, counted "
                 f"there as used until they end (Nova holds both ends): {listed(busy)}")
    migrating = {r.claim_of for r in rows}
    # the instance itself stays too, even when its task was not read (that look-up failed): Nova
    # refuses to move it meanwhile, and its host must stay up for the migration to finish
    instances = [replace(i, state=MIGRATING) if i.uuid in migrating and i.movable else i for i in fleet.instances]
    return Fleet.build(fleet.hosts, (*instances, *rows), fleet.server_groups, fleet.default_cpu_util, fleet.notes)


def claim_rows(fleet: Fleet, migrations: Iterable[MigrationRecord]) -> tuple[list[Instance], list[str]]:
    """(the claim rows, notes on the migrations in flight that add none or whose claim's flavour
    is unknown)."""
    instances = {i.uuid: i for i in fleet.instances if i.claim_of is None}
    claimed = {i.claim_of for i in fleet.instances if i.claim_of is not None}
    hosts = {h.name: h for h in fleet.hosts}
    rows: list[Instance] = []
    notes: list[str] = []
    for m in migrations:
        inst = instances.get(m.instance)
        if not m.in_flight or inst is None or inst.uuid in claimed:
            continue
        end = m.destination if m.destination != inst.host else m.source
        if not end or end == inst.host:  # no destination yet, or a resize on its own host
            continue
        host = hosts.get(end)
        if host is None or not host.powered:
            why = "no host of this fleet (left out)" if host is None else "a host that is off"
            notes.append(f"migration of {inst.name} ({inst.uuid}, {m.status}) holds resources on {end}, {why}: "
                         "not counted")
            continue
        claimed.add(inst.uuid)
        held = m.held_on(end)
        size = {} if held is None else {"vcpus": held.vcpus, "memory_mb": held.memory_mb, "disk_gb": held.disk_gb}
        if held is None and m.flavour_changes:
            notes.append(f"resize of {inst.name} ({inst.uuid}, {m.status}): the flavour it holds on {end} is "
                         f"unknown (Placement not read), so it is counted there with the one it shows now "
                         f"({inst.vcpus} vcpu, {inst.memory_mb} MB, {inst.disk_gb} GB); the other may be larger")
        cpu = {} if guest_heads_to(m, end) else {"cpu_util": 0.0}  # room for the CPU of a guest on its way
        rows.append(replace(inst, uuid=claim_uuid(inst.uuid), name=f"{inst.name} (claim)", host=end,
                            claim_of=inst.uuid, locked=False, excluded=False, deferral=None, **size, **cpu))
    return rows, notes


def fleet_migrations(fleet: Fleet) -> list[MigrationRecord]:
    """The migrations in flight that ``fleet``'s claim rows stand for: what a look-up of Nova would
    answer for a fleet read with its claims, so a fleet saved with claims replays them
    (``strategies.offline``). A claim holding its instance's CPU stands for a migration ``running``
    to the claim's host; one holding none where its instance uses some, for one whose guest has
    left it (``finished``: a resize waiting for its confirmation, the claim on its source). A claim
    whose flavour is not its instance's stands for a resize, with what Placement held on its host."""
    homes = {i.uuid: i for i in fleet.instances if i.claim_of is None}
    out = []
    for c in (i for i in fleet.instances if i.claim_of is not None):
        home = homes.get(c.claim_of)
        flavour = (c.vcpus, c.memory_mb, c.disk_gb)
        resized = home is not None and (home.vcpus, home.memory_mb, home.disk_gb) != flavour
        kind, held = ("resize" if resized else ""), ((Held(c.host, *flavour),) if resized else ())
        left = home is not None and c.cpu_util == 0 and home.cpu_util != 0
        if left:
            out.append(MigrationRecord(c.claim_of, c.host, home.host, "finished", kind, resized, held))
        else:
            out.append(MigrationRecord(c.claim_of, home.host if home else None, c.host, "running", kind, resized,
                                       held))
    return out
