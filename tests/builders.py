"""Tiny hand-made fleets for unit tests: readable in one line each."""

from __future__ import annotations

from watcher_geyser.fleet import Fleet
from watcher_geyser.power import PowerModel
from watcher_geyser.records import GroupPolicy, Host, HostState, Instance, ServerGroup


def host(
    name: str,
    vcpus: int = 16,
    memory_mb: int = 16384,
    disk_gb: int = 400,
    idle_w: float = 100,
    max_w: float = 200,
    state: str = "enabled",
    zone: str = "az1",
    **kw,
) -> Host:
    return Host(
        name=name,
        vcpus=vcpus,
        memory_mb=memory_mb,
        disk_gb=disk_gb,
        power=PowerModel.linear(idle_w, max_w),
        state=HostState(state),
        zone=zone,
        **kw,
    )


def vm(
    uuid: str, on: str, vcpus: int = 2, memory_mb: int = 4096, disk_gb: int = 20, cpu_util: float | None = 0.1, **kw
) -> Instance:
    return Instance(
        uuid=uuid, name=uuid, host=on, vcpus=vcpus, memory_mb=memory_mb, disk_gb=disk_gb, cpu_util=cpu_util, **kw
    )


def fleet(hosts, instances, groups: dict[str, str] | None = None) -> Fleet:
    server_groups = [ServerGroup(name, GroupPolicy(policy)) for name, policy in (groups or {}).items()]
    return Fleet.build(hosts, instances, server_groups)
