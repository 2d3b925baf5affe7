"""Watcher's cluster data model (``ModelRoot``) and CPU measurements -> our ``Fleet``.

The one place where Watcher's words become ours:

- a compute node's capacity is Placement's (``vcpus``, ``memory``, ``disk``, their
  ``*_reserved`` and allocation ratios), carried over field by field so that
  ``Host.capacity`` equals Watcher's ``vcpu_capacity`` / ``memory_mb_capacity`` /
  ``disk_gb_capacity``;
- node ``status`` and ``state`` with the bare-metal power state: the one rule of
  ``host_state.classify_host``, shared with the snapshot (a down host without instances
  is OFF only when the bare-metal service says it is powered off and nobody but us
  disabled it);
- instance ``state``: ``active`` moves live, ``stopped`` moves cold, anything else stays; a
  Nova task in flight (``tasks``, asked of Nova: Watcher's model holds vm_state only, which
  stays ``active`` during a live migration) takes its place, so that instance stays, one note
  naming them all;
  ``locked`` and ``watcher_exclude`` (the audit scope's exclusions) pin an instance; paused
  instances, affinity group members and the ``geyser:deferrable`` opt-in follow the rule
  the snapshot shares (``instance_state.read_instance``);
- a migration in flight (``migrations``, asked of Nova) holds its instance's resources on a
  second host too: a claim there (``claims.with_claims``), counted as used, as the snapshot does;
- an instance a migration moved lately (``settled``, asked of Nova) carries the seconds since
  (``Instance.settled_s``): the swap pass leaves it where it is, as in the snapshot.

Every decision that drops or pins something is written to ``AdaptedFleet.notes`` so the
strategy can log it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from watcher_geyser.claims import MigrationRecord, with_claims
from watcher_geyser.fleet import Fleet
from watcher_geyser.host_state import OUR_DISABLED_REASONS, PowerReading, classify_host
from watcher_geyser.instance_state import in_flight_note, read_instance
from watcher_geyser.power import PowerModel
from watcher_geyser.records import DEFAULT_ZONE, GroupPolicy, Host, HostState, Instance, ServerGroup

POWER_OFF = "off"
POWER_ON = "on"


@dataclass
class AdaptedFleet:
    """The fleet, plus what the emitter needs to speak Watcher again, plus the notes."""

    fleet: Fleet
    node_uuids: dict[str, str]  # hostname -> compute node uuid (Nova's hypervisor id)
    notes: list[str] = field(default_factory=list)
    dropped_hosts: list[str] = field(default_factory=list)
    groups_unknown: bool = False  # server groups could not be listed: nothing moves, nothing is switched off
    # instance uuid -> (group key, policy) as listed, shelved members too (the fleet holds running ones only)
    member_groups: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def hosts_enabled(self) -> int:
        return sum(1 for h in self.fleet.hosts if h.state is HostState.ENABLED)


def fleet_from_model(
    model,
    power_for: Callable[[str], PowerModel],
    cpu_util: Mapping[str, float | None] | None = None,
    default_cpu_util: float = 1.0,
    zones: Mapping[str, str] | None = None,
    power_states: Mapping[str, str] | None = None,
    server_groups: Mapping[str, tuple[str, str]] | None = None,
    our_reasons: tuple[str, ...] = OUR_DISABLED_REASONS,
    groups_unknown: bool = False,
    tasks: Mapping[str, str] | None = None,
    migrations: list[MigrationRecord] | None = None,
    settled: Mapping[str, float] | None = None,
) -> AdaptedFleet:
    """Build the fleet from a Watcher ``ModelRoot``.

    ``cpu_util`` maps instance uuid -> measured CPU use as a fraction 0..1 of its vcpus
    (None or absent: not measured, ``default_cpu_util`` applies). ``zones`` maps hostname ->
    availability zone; ``power_states`` hostname -> ``"on"``/``"off"`` from the bare-metal
    service; ``server_groups`` instance uuid -> (group key, policy), the key unique per group
    (``cloud.group_key``: its id, never its name alone); ``our_reasons`` the
    ``disabled_reason`` prefixes that mark a host as switched off by us. ``groups_unknown``
    (the listing failed): every instance is pinned, since any may be a group member. ``tasks``
    maps instance uuid -> its Nova task in flight (``task_state``): those instances stay.
    ``migrations``: Nova's migrations (hosts named as the model names them); each one in flight
    adds a claim on the host its instance is not on (``claims``). ``settled`` maps instance uuid ->
    seconds since a migration last moved it (``settled.settled_seconds``): ``Instance.settled_s``.
    """
    cpu_util = cpu_util or {}
    zones = zones or {}
    power_states = power_states or {}
    server_groups = server_groups or {}
    tasks = tasks or {}
    settled = settled or {}
    notes: list[str] = []
    hosts: list[Host] = []
    instances: list[Instance] = []
    node_uuids: dict[str, str] = {}
    dropped: list[str] = []
    nodes = sorted(model.get_all_compute_nodes().values(), key=lambda n: n.hostname)
    for node in nodes:
        members = sorted(model.get_node_instances(node), key=lambda i: i.uuid)
        state, pin_all = _host_state(node, bool(members), power_states.get(node.hostname), our_reasons, notes)
        if state is None:
            dropped.append(node.hostname)
            continue
        node_uuids[node.hostname] = node.uuid
        hosts.append(_host(node, state, power_for(node.hostname), zones.get(node.hostname, DEFAULT_ZONE)))
        for inst in members:
            instances.append(_instance(inst, node.hostname, cpu_util.get(inst.uuid), pin_all or groups_unknown,
                                       server_groups, notes, tasks.get(inst.uuid), settled.get(inst.uuid)))
    busy = in_flight_note(instances)
    if busy:
        notes.append(busy)
    groups = _groups(server_groups, {i.uuid for i in instances})
    fleet = with_claims(Fleet.build(hosts, instances, groups, default_cpu_util), migrations or (), notes)
    return AdaptedFleet(fleet, node_uuids, notes, dropped, groups_unknown, server_groups)


def _host_state(node, has_instances: bool, power_state: str | None, our_reasons: tuple[str, ...],
                notes: list[str]) -> tuple[HostState | None, bool]:
    """(state, whether its instances are pinned) by the one rule (``host_state.classify_host``);
    state None leaves the host out. Watcher's model folds a forced-down service into ``state``."""
    power = {POWER_OFF: PowerReading.OFF, POWER_ON: PowerReading.ON}.get(power_state, PowerReading.UNKNOWN)
    decided = classify_host(node.hostname, node.status, node.state, has_instances, power, node.disabled_reason,
                            our_reasons=our_reasons)
    if decided.note:
        notes.append(decided.note)
    return decided.state, decided.pin_instances


def _host(node, state: HostState, power: PowerModel, zone: str) -> Host:
    return Host(
        name=node.hostname,
        vcpus=int(node.vcpus),
        memory_mb=int(node.memory),
        disk_gb=int(node.disk),
        power=power,
        cpu_allocation_ratio=float(node.vcpu_ratio or 1.0),
        ram_allocation_ratio=float(node.memory_ratio or 1.0),
        disk_allocation_ratio=float(node.disk_ratio or 1.0),
        reserved_vcpus=int(node.vcpu_reserved or 0),
        reserved_memory_mb=int(node.memory_mb_reserved or 0),
        reserved_disk_gb=int(node.disk_gb_reserved or 0),
        state=state,
        zone=zone,
    )


def _instance(inst, hostname: str, util: float | None, pinned_host: bool,
              server_groups: Mapping[str, tuple[str, str]], notes: list[str], task: str | None,
              settled_s: float | None = None) -> Instance:
    """Watcher's instance in our words, then the rule every adapter shares (``instance_state``)."""
    group_key, group_policy = server_groups.get(inst.uuid, (None, None))
    read = Instance(
        uuid=inst.uuid,
        name=inst.name or inst.uuid,
        host=hostname,
        vcpus=int(inst.vcpus),
        memory_mb=int(inst.memory),
        disk_gb=int(inst.disk),
        cpu_util=util,
        state=inst.state or "active",
        locked=bool(inst.locked),
        excluded=pinned_host or bool(getattr(inst, "watcher_exclude", False)),
        server_group=group_key,
        settled_s=settled_s,
    )
    return read_instance(read, getattr(inst, "metadata", None) or {}, group_policy, notes, task)


def _groups(server_groups: Mapping[str, tuple[str, str]], present: set[str]) -> list[ServerGroup]:
    policies: dict[str, GroupPolicy] = {}
    for uuid, (name, policy) in server_groups.items():
        if uuid in present:
            policies.setdefault(name, GroupPolicy(policy))
    return [ServerGroup(name, policy) for name, policy in sorted(policies.items())]
