"""Hypothesis strategies for small random fleets, tight ones included, and problems over them."""

from __future__ import annotations

from hypothesis import strategies as st

from watcher_geyser.defaults import SWAP_PAYBACK_S
from watcher_geyser.fleet import Fleet
from watcher_geyser.power import PowerModel
from watcher_geyser.records import GroupPolicy, Host, HostState, Instance, ServerGroup
from watcher_geyser.solver import Problem


@st.composite
def power_models(draw) -> PowerModel:
    idle = draw(st.integers(40, 200))
    if draw(st.booleans()):
        return PowerModel.linear(idle, idle + draw(st.integers(0, 300)))
    steps = draw(st.lists(st.integers(0, 40), min_size=10, max_size=10))
    curve = [idle]
    for step in steps:
        curve.append(curve[-1] + step)
    return PowerModel.curve(curve)


@st.composite
def fleets(draw, max_hosts: int = 6, max_instances: int = 20, zones: int = 2, core_sizes: bool = False) -> Fleet:
    """``core_sizes``: hosts of mixed core sizes (and instances over fewer cores than vcpus), for
    the core-size rule; off by default so that other tests' examples stay as they were."""
    n_hosts = draw(st.integers(1, max_hosts))
    n_zones = draw(st.integers(1, zones))
    hosts = []
    for h in range(n_hosts):
        vcpus = draw(st.integers(2, 32))
        memory = draw(st.integers(2, 64)) * 1024
        hosts.append(
            Host(
                name=f"h{h}",
                vcpus=vcpus,
                memory_mb=memory,
                disk_gb=draw(st.integers(20, 1000)),
                power=draw(power_models()),
                cpu_allocation_ratio=draw(st.sampled_from([1.0, 2.0, 4.0])),
                reserved_memory_mb=draw(st.sampled_from([0, 512])),
                state=draw(st.sampled_from([HostState.ENABLED] * 6 + [HostState.DISABLED, HostState.OFF])),
                zone=f"az{draw(st.integers(1, n_zones))}",
                core_size=draw(st.sampled_from([None, 0.3, 0.6, 1.0, 2.5])) if core_sizes else None,
            )
        )
    powered = [h for h in hosts if h.state is not HostState.OFF]
    if not powered:
        hosts[0] = Host(**{**hosts[0].__dict__, "state": HostState.ENABLED})
        powered = [hosts[0]]
    groups = [
        ServerGroup(f"g{g}", draw(st.sampled_from([GroupPolicy.AFFINITY, GroupPolicy.ANTI_AFFINITY])))
        for g in range(draw(st.integers(0, 2)))
    ]
    instances = []
    for v in range(draw(st.integers(0, max_instances))):
        host = draw(st.sampled_from(powered))
        instances.append(
            Instance(
                uuid=f"vm-{v}",
                name=f"vm-{v}",
                host=host.name,
                vcpus=draw(st.integers(1, 8)),
                memory_mb=draw(st.sampled_from([512, 1024, 2048, 4096, 8192, 16384])),
                disk_gb=draw(st.integers(1, 80)),
                cpu_util=draw(st.one_of(st.none(), st.floats(0, 1))),
                state=draw(st.sampled_from(["active"] * 8 + ["shutoff", "error"])),
                locked=draw(st.booleans()) and draw(st.booleans()) and draw(st.booleans()),
                excluded=draw(st.integers(0, 15)) == 0,
                server_group=draw(st.sampled_from([None, None, None, *[g.name for g in groups]])),
                cores=draw(st.sampled_from([None, 1, 2])) if core_sizes else None,
            )
        )
    return Fleet.build(hosts, instances, groups, default_cpu_util=draw(st.sampled_from([0.2, 1.0])))


@st.composite
def problems(draw, max_hosts: int = 6, max_instances: int = 20, time_limit_s: float = 2.0,
             core_sizes: bool = False) -> Problem:
    fleet = draw(fleets(max_hosts, max_instances, core_sizes=core_sizes))
    return Problem(
        fleet,
        ceiling=draw(st.sampled_from([1.0, 1.0, 0.9, 0.7])),
        cpu_ceiling=draw(st.sampled_from([1.0, None, 0.8])),
        power_budget_w=draw(st.one_of(st.none(), st.floats(0, 2000))),
        max_migrations=draw(st.one_of(st.none(), st.integers(0, 10))),
        max_consolidation_moves=draw(st.one_of(st.none(), st.none(), st.integers(0, 6))),
        allow_power_on=draw(st.booleans()),
        watts_tolerance=draw(st.sampled_from([0.0, 0.0, 0.01, 0.05])),
        swap_payback_s=draw(st.sampled_from([SWAP_PAYBACK_S, SWAP_PAYBACK_S, 3600.0, 0.0, 30 * 86400.0])),
        time_limit_s=time_limit_s,
        workers=1,
    )


@st.composite
def few_flavour_problems(draw) -> Problem:
    """Hosts of two power lines over one idle, instances of two flavours at random CPU: the fleets
    where the swap pass finds pairs (random flavours rarely repeat), some hosts with room, some full."""
    hosts = [
        Host(f"h{h}", vcpus=16, memory_mb=draw(st.sampled_from([8192, 16384, 32768])), disk_gb=400,
             power=PowerModel.linear(100, draw(st.sampled_from([150, 300]))))
        for h in range(draw(st.integers(2, 5)))
    ]
    instances = [
        Instance(f"vm-{v}", f"vm-{v}", draw(st.sampled_from(hosts)).name, vcpus=2,
                 memory_mb=draw(st.sampled_from([2048, 4096])), disk_gb=20, cpu_util=draw(st.floats(0, 1)))
        for v in range(draw(st.integers(2, 14)))
    ]
    payback_s = draw(st.sampled_from([SWAP_PAYBACK_S, 30 * 86400.0]))
    return Problem(Fleet.build(hosts, instances), swap_payback_s=payback_s, time_limit_s=3.0, deterministic=True,
                   workers=1)
