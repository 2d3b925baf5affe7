"""Our ``Fleet`` -> Watcher's cluster data model (``ModelRoot``): the adapter's inverse.

Watcher's strategies read a ``ModelRoot`` of ``ComputeNode`` and ``Instance`` elements; to
run any of them offline (ours, or Watcher's own ``vm_workload_consolidation``) on a fleet
from ``fleetgen``, a scenario or a simulator step, the fleet is written back in Watcher's
words. ``adapter.fleet_from_model`` reads it again unchanged (the tests check the round
trip), so both sides of a comparison start from the same cloud:

- a host becomes a compute node with the same ``vcpus``/``memory``/``disk``, reserved
  amounts and allocation ratios (so ``vcpu_capacity`` and friends equal ``Host.capacity``);
  its uuid is derived from its name (``node_uuid``), so two builds of one fleet agree;
- host state: ``enabled`` -> enabled and up; ``disabled`` -> disabled and up (reason
  ``operator``); ``off`` -> disabled and down, reason ``watcher_geyser``, and
  ``power_states`` says it is off, which is how the adapter recognises a host it may
  switch back on;
- an instance keeps uuid, name, flavour, state and ``locked``; ``excluded`` becomes
  Watcher's ``watcher_exclude`` (what an audit scope's exclusion sets).

What the model cannot carry comes separately, as Watcher gets it from other services:
measured CPU (``FleetDatasource`` in ``fleet_datasource``), zones, server groups and power
states (``host_zones``, ``server_groups``, ``power_states`` here), and power models
(``power_overrides``, for ``[geyser_power] host_models``).
"""

from __future__ import annotations

import uuid as uuidlib

from watcher.decision_engine.model import element, model_root

from watcher_geyser.fleet import Fleet
from watcher_geyser.records import Host, HostState, Instance
from watcher_geyser.strategies.opts import DISABLED_REASON

PROJECT_ID = "00000000-0000-4000-8000-000000000000"  # one project for every built instance
OFF_REASON = DISABLED_REASON  # the disabled_reason the adapter takes as "switched off by us"
DISABLED_REASON = "operator"


def node_uuid(hostname: str) -> str:
    """The compute node uuid of ``hostname``: stable, so two models of one fleet agree."""
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_DNS, f"watcher-geyser.{hostname}"))


def compute_node(host: Host) -> element.ComputeNode:
    """One host as Watcher's compute node, with Placement's capacity figures."""
    status, state, reason = "enabled", "up", None
    if host.state is HostState.DISABLED:
        status, reason = "disabled", DISABLED_REASON
    elif host.state is HostState.OFF:
        status, state, reason = "disabled", "down", OFF_REASON
    return element.ComputeNode(
        uuid=node_uuid(host.name),
        hostname=host.name,
        status=status,
        state=state,
        disabled_reason=reason,
        vcpus=int(host.vcpus),
        memory=int(host.memory_mb),
        disk=int(host.disk_gb),
        vcpu_reserved=int(host.reserved_vcpus),
        memory_mb_reserved=int(host.reserved_memory_mb),
        disk_gb_reserved=int(host.reserved_disk_gb),
        vcpu_ratio=float(host.cpu_allocation_ratio),
        memory_ratio=float(host.ram_allocation_ratio),
        disk_ratio=float(host.disk_allocation_ratio),
    )


def watcher_instance(inst: Instance) -> element.Instance:
    """One instance as Watcher's element; ``excluded`` becomes ``watcher_exclude``."""
    out = element.Instance(
        uuid=inst.uuid,
        name=inst.name,
        state=inst.state,
        vcpus=int(inst.vcpus),
        memory=int(inst.memory_mb),
        disk=int(inst.disk_gb),
        locked=bool(inst.locked),
        metadata={},
        project_id=PROJECT_ID,
        host=inst.host,
        hypervisor_hostname=inst.host,
    )
    out.watcher_exclude = bool(inst.excluded)
    return out


def model_from_fleet(fleet: Fleet) -> model_root.ModelRoot:
    """A fresh ``ModelRoot`` holding ``fleet``'s hosts and instances where they are now.

    Strategies change the model they run on (Watcher's own moves its instances while it
    plans), so build one per strategy run. A claim row (``Instance.claim_of``) is no instance of
    Watcher's: the strategy gets it back from its migrations look-up (``offline.FleetCloud``).
    """
    root = model_root.ModelRoot()
    nodes = []
    for host in fleet.hosts:
        node = compute_node(host)
        root.add_node(node)
        nodes.append(node)
    for inst, h in zip(fleet.instances, fleet.placement.tolist()):
        if inst.claim_of is not None:
            continue
        element_inst = watcher_instance(inst)
        root.add_instance(element_inst)
        root.map_instance(element_inst, nodes[h])
    return root


def power_states(fleet: Fleet) -> dict[str, str]:
    """Hostname -> ``"on"``/``"off"``, as the bare-metal service would report it."""
    return {h.name: "on" if h.powered else "off" for h in fleet.hosts}


def host_zones(fleet: Fleet) -> dict[str, str]:
    """Hostname -> availability zone, as Nova's compute services report it."""
    return {h.name: h.zone for h in fleet.hosts}


def server_groups(fleet: Fleet) -> dict[str, tuple[str, str]]:
    """Instance uuid -> (group name, policy), as Nova's server groups list their members."""
    policy = {g.name: g.policy.value for g in fleet.server_groups}
    return {i.uuid: (i.server_group, policy[i.server_group]) for i in fleet.instances
            if i.server_group and i.claim_of is None}


def power_overrides(fleet: Fleet) -> dict[str, str]:
    """Hostname -> power model spec for ``[geyser_power] host_models``: each host's own model.

    A linear model is written ``IDLE/MAX``, a curve as its 11 points, both with ``repr``
    precision so that ``power_config.parse_model_spec`` gives back an equal ``PowerModel``.
    """
    out = {}
    for host in fleet.hosts:
        points = host.power.curve_w
        out[host.name] = f"{points[0]!r}/{points[1]!r}" if len(points) == 2 else " ".join(repr(p) for p in points)
    return out
