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


def chain_fleet() -> Fleet:
    """10 GB hosts: a (6 + 2 GB), b (7 GB), c (4 + 1 GB): 20 GB, two hosts' worth. No host can be
    emptied as things stand (no room for 4, 6 or 7 GB); a chain does: a's 2 GB instance steps aside
    to b, making room for c's 4 GB on a, and c's 1 GB follows to b (``solver/eject.py``)."""
    hosts = [host(name, memory_mb=10240) for name in "abc"]
    instances = [
        vm("a6", "a", memory_mb=6144),
        vm("a2", "a", memory_mb=2048),
        vm("b7", "b", memory_mb=7168),
        vm("c4", "c", memory_mb=4096),
        vm("c1", "c", memory_mb=1024),
    ]
    return fleet(hosts, instances)


#: The instances of ``swap_pair_fleet``, uuids as Nova and Watcher's model name them.
HEAVY, LIGHT, OTHER, FILLER = (f"22222222-0000-0000-0000-00000000000{c}" for c in "1234")


def swap_pair_fleet() -> Fleet:
    """A core costs twice as much on "dear" as on "cheap". The heavy instance (4 vcpus at 90 %, 4 GB) sits
    on dear, its twin at 10 % on cheap; dear keeps 4 GB free, cheap 2 GB, so neither host can be emptied
    and heavy cannot move alone: the one saving is a swap of heavy and light (light first), which pays
    within the default payback time; an instance of the two settled for less holds it."""
    hosts = [host("dear", idle_w=100, max_w=300), host("cheap", idle_w=100, max_w=200)]
    return fleet(hosts, [vm(HEAVY, "dear", vcpus=4, cpu_util=0.9), vm(LIGHT, "cheap", vcpus=4, cpu_util=0.1),
                         vm(OTHER, "dear", vcpus=2, memory_mb=8192, cpu_util=0.5),
                         vm(FILLER, "cheap", vcpus=1, memory_mb=10240, cpu_util=0.1)])
