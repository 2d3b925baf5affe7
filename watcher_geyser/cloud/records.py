"""What a snapshot read from a cloud, as plain data, and how it becomes a ``Fleet``.

Pure: no OpenStack imports. ``cloud.read`` fills these records from openstacksdk; this
module holds the rules that turn Nova's and Placement's words into ours, so they can be
tested without a cloud:

- capacity is Placement's inventory (total, reserved, allocation ratio per VCPU,
  MEMORY_MB, DISK_GB); a host without a resource provider falls back to the hypervisor's
  own figures with ratio 1 and a note;
- the nova-compute service's status, state and forced-down flag become a host state by
  the rule the Watcher adapter uses too (``host_state.classify_host``). A snapshot reads no
  bare-metal power state, so a down, empty host of ours is recorded as ``off`` (it may be
  switched back on); one someone else disabled is left out;
- an instance's disk is what Placement allocates for it: root disk (0 when it boots
  from a volume) + ephemeral + swap rounded up to whole GB;
- a server becomes an instance by the rule the Watcher adapter uses too
  (``instance_state.read_instance``): those with a Nova task in flight (``task_state``:
  migrating, resizing, rebuilding, ..), paused ones and affinity group members stay, the
  ``geyser:deferrable`` metadata opt-in is read, so a snapshot replays what Watcher sees;
- a migration in flight holds its instance's resources on both hosts: the end the instance is
  not on gets a claim (``claims.with_claims``), counted there as used;
- an instance a migration moved within the read's window carries the time since
  (``Instance.settled_s``, ``settled``), counted to ``taken_at_s``: the swap pass leaves it where
  it is; a scenario writes it as ``moved_at``, so a plan made later counts it to its own clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from watcher_geyser.claims import MigrationRecord, with_claims
from watcher_geyser.fleet import Fleet
from watcher_geyser.host_state import OUR_DISABLED_REASONS, PowerReading, classify_host
from watcher_geyser.instance_state import in_flight_note, read_instance
from watcher_geyser.power import PowerModel
from watcher_geyser.records import DEFAULT_ZONE, GroupPolicy, Host, HostState, Instance, ServerGroup


@dataclass(frozen=True)
class Inventory:
    """One Placement resource class of one provider."""

    total: int
    reserved: int = 0
    allocation_ratio: float = 1.0


@dataclass(frozen=True)
class HypervisorRecord:
    name: str  # hypervisor_hostname: the host's name in the scenario
    service_host: str  # the nova-compute service's host (usually the same)
    vcpus: int
    memory_mb: int
    disk_gb: int
    status: str = "enabled"
    state: str = "up"
    forced_down: bool = False  # an operator marked the service down (Nova's os-services force-down)
    disabled_reason: str | None = None
    zone: str = DEFAULT_ZONE
    inventory: dict[str, Inventory] | None = None  # resource class -> inventory; None: no provider found


@dataclass(frozen=True)
class ServerRecord:
    uuid: str
    name: str
    host: str  # hypervisor_hostname it runs on
    vcpus: int
    memory_mb: int
    root_gb: int
    ephemeral_gb: int = 0
    swap_mb: int = 0
    boot_from_volume: bool = False
    state: str = "active"  # Nova's vm_state
    locked: bool = False
    task_state: str | None = None  # Nova's task in flight (OS-EXT-STS:task_state): migrating, rebuilding, ..
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def disk_gb(self) -> int:
        root = 0 if self.boot_from_volume else self.root_gb
        return root + self.ephemeral_gb + math.ceil(self.swap_mb / 1024)


@dataclass(frozen=True)
class ServerGroupRecord:
    id: str
    name: str
    policy: str
    members: tuple[str, ...] = ()


@dataclass
class CloudRecords:
    """Everything one snapshot read; ``notes`` says what was missing or assumed."""

    hypervisors: list[HypervisorRecord]
    servers: list[ServerRecord]
    server_groups: list[ServerGroupRecord] = field(default_factory=list)
    cpu_util: dict[str, float] = field(default_factory=dict)  # server uuid -> 0..1 of its vcpus
    notes: list[str] = field(default_factory=list)
    migrations: list[MigrationRecord] = field(default_factory=list)  # hosts named as hypervisors are
    # server uuid -> seconds since a migration last moved it, when it ended within the read's window (``settled``)
    settled_s: dict[str, float] = field(default_factory=dict)
    # when the cloud was read (epoch s; None: not said): settled_s counts to it, a scenario's taken_at
    taken_at_s: float | None = None


@dataclass
class Snapshot:
    fleet: Fleet
    notes: list[str]
    left_out_hosts: list[str]


def to_fleet(
    records: CloudRecords,
    power_for: Callable[[str], PowerModel],
    default_cpu_util: float = 1.0,
    our_reasons: tuple[str, ...] = OUR_DISABLED_REASONS,
) -> Snapshot:
    """The fleet these records describe; every host left out or instance pinned gets a note."""
    notes = list(records.notes)
    by_host: dict[str, list[ServerRecord]] = {}
    for server in records.servers:
        by_host.setdefault(server.host, []).append(server)
    group_of, groups = _groups(records.server_groups, notes)
    hosts: list[Host] = []
    instances: list[Instance] = []
    left_out: list[str] = []
    for hyp in sorted(records.hypervisors, key=lambda h: h.name):
        members = sorted(by_host.pop(hyp.name, []), key=lambda s: s.uuid)
        state, pin_all = _host_state(hyp, bool(members), our_reasons, notes)
        if state is None:
            left_out.append(hyp.name)
            continue
        hosts.append(_host(hyp, state, power_for(hyp.name), notes))
        for server in members:
            instances.append(_instance(server, records.cpu_util.get(server.uuid), pin_all, group_of, notes,
                                       records.settled_s.get(server.uuid)))
    for host, servers in sorted(by_host.items()):
        names = ", ".join(s.name for s in servers[:3]) + (" .." if len(servers) > 3 else "")
        notes.append(f"{len(servers)} server(s) on {host!r}, which is no hypervisor read: left out ({names})")
    in_use = {i.server_group for i in instances}
    used_groups = [g for g in groups if g.name in in_use]  # groups whose members are all gone say nothing
    busy = in_flight_note(instances)
    if busy:
        notes.append(busy)
    fleet = with_claims(Fleet.build(hosts, instances, used_groups, default_cpu_util), records.migrations, notes)
    return Snapshot(fleet, notes, left_out)


def _host_state(hyp: HypervisorRecord, has_instances: bool, our_reasons: tuple[str, ...],
                notes: list[str]) -> tuple[HostState | None, bool]:
    """(state, whether its instances are pinned) by the one rule (``host_state.classify_host``);
    state None leaves the host out. A snapshot reads no bare-metal power state."""
    decided = classify_host(hyp.name, hyp.status, hyp.state, has_instances, PowerReading.NOT_READ,
                            hyp.disabled_reason, hyp.forced_down, our_reasons)
    if decided.note:
        notes.append(decided.note)
    return decided.state, decided.pin_instances


def _host(hyp: HypervisorRecord, state: HostState, power: PowerModel, notes: list[str]) -> Host:
    inv = hyp.inventory
    if inv is None:
        notes.append(f"host {hyp.name}: no Placement resource provider found; hypervisor sizes, ratio 1.0 used")
        inv = {}
    vcpu = inv.get("VCPU", Inventory(hyp.vcpus))
    ram = inv.get("MEMORY_MB", Inventory(hyp.memory_mb))
    disk = inv.get("DISK_GB", Inventory(hyp.disk_gb))
    return Host(
        name=hyp.name,
        vcpus=int(vcpu.total),
        memory_mb=int(ram.total),
        disk_gb=int(disk.total),
        power=power,
        cpu_allocation_ratio=float(vcpu.allocation_ratio),
        ram_allocation_ratio=float(ram.allocation_ratio),
        disk_allocation_ratio=float(disk.allocation_ratio),
        reserved_vcpus=min(int(vcpu.reserved), int(vcpu.total)),
        reserved_memory_mb=min(int(ram.reserved), int(ram.total)),
        reserved_disk_gb=min(int(disk.reserved), int(disk.total)),
        state=state,
        zone=hyp.zone or DEFAULT_ZONE,
    )


def _instance(server: ServerRecord, util: float | None, pinned_host: bool,
              group_of: dict[str, tuple[str, str]], notes: list[str], settled_s: float | None) -> Instance:
    """Nova's server in our words, then the rule the Watcher adapter shares (``instance_state``)."""
    group_key, group_policy = group_of.get(server.uuid, (None, None))
    read = Instance(
        uuid=server.uuid,
        name=server.name or server.uuid,
        host=server.host,
        vcpus=int(server.vcpus),
        memory_mb=int(server.memory_mb),
        disk_gb=int(server.disk_gb),
        cpu_util=util,
        state=server.state or "active",
        locked=bool(server.locked),
        excluded=pinned_host or _truthy(server.metadata.get("watcher_exclude")),
        server_group=group_key,
        settled_s=settled_s,
    )
    return read_instance(read, server.metadata, group_policy, notes, server.task_state)


def _groups(records: list[ServerGroupRecord],
            notes: list[str]) -> tuple[dict[str, tuple[str, str]], list[ServerGroup]]:
    """(server uuid -> (group key, policy), groups). Keyed by id: Nova's group names are free text,
    repeated across projects (and within one), so a name alone would merge two groups' rules."""
    group_of: dict[str, tuple[str, str]] = {}
    groups: list[ServerGroup] = []
    for rec in sorted(records, key=lambda g: (g.name, g.id)):
        try:
            policy = GroupPolicy(rec.policy)
        except ValueError:
            notes.append(f"server group {rec.name} ({rec.id}): unknown policy {rec.policy!r}, ignored")
            continue
        name = group_key(rec.name, rec.id)
        groups.append(ServerGroup(name, policy))
        for member in rec.members:
            group_of[member] = (name, policy.value)
    return group_of, groups


def group_key(name: str | None, group_id: str) -> str:
    """The unique key of a server group: its id, after its name when it has one (for people)."""
    return group_id if not name or name == group_id else f"{name} ({group_id})"


def _truthy(value: object) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")
