"""Synthetic fleets with a realistic flavour mix, for benchmarks, demos and tests.

The fleets look like a cloud that Nova's spreading scheduler filled over time: every
enabled host carries about the same share of a ~40 % allocation, so consolidation can
roughly halve the hosts on. Deterministic for a given seed.
"""

from __future__ import annotations

import uuid as uuidlib

import numpy as np

from watcher_geyser.model import Fleet, GroupPolicy, Host, Instance, ServerGroup
from watcher_geyser.power import PowerModel

# (name, vcpus, memory_mb, disk_gb, weight): a public-cloud-like mix, small flavours common.
FLAVORS = (
    ("m1.tiny", 1, 1024, 10, 12),
    ("m1.small", 1, 2048, 20, 20),
    ("m1.medium", 2, 4096, 40, 22),
    ("c1.medium", 4, 4096, 40, 8),
    ("m1.large", 4, 8192, 80, 16),
    ("r1.large", 4, 16384, 80, 6),
    ("m1.xlarge", 8, 16384, 160, 9),
    ("r1.xlarge", 8, 32768, 160, 3),
    ("m1.2xlarge", 16, 32768, 320, 3),
    ("r1.2xlarge", 16, 65536, 320, 1),
)

# Host types: (vcpus, memory_mb, disk_gb, power). The first is the "identical fleet" type.
HOST_TYPES = (
    (64, 262144, 4000, PowerModel.linear(180.0, 420.0)),
    (48, 196608, 3000, PowerModel.curve([150, 178, 200, 220, 238, 255, 272, 290, 310, 332, 356])),
    (96, 393216, 6000, PowerModel.linear(210.0, 540.0)),
)


def generate_fleet(
    n_hosts: int,
    n_instances: int,
    mixed: bool = False,
    allocation: float = 0.4,
    cpu_allocation_ratio: float = 4.0,
    seed: int = 0,
    zones: int = 1,
    server_groups: int = 0,
    locked_share: float = 0.0,
) -> Fleet:
    """A fleet of ``n_hosts`` with ``n_instances`` spread evenly, each host about
    ``allocation`` full in its tightest dimension (as far as the instance count allows)."""
    rng = np.random.default_rng(seed)
    kinds = rng.integers(0, len(HOST_TYPES), n_hosts) if mixed else np.zeros(n_hosts, dtype=int)
    hosts = []
    for h in range(n_hosts):
        vcpus, mem, disk, power = HOST_TYPES[int(kinds[h])]
        hosts.append(
            Host(
                name=f"compute-{h:05d}",
                vcpus=vcpus,
                memory_mb=mem,
                disk_gb=disk,
                power=power,
                cpu_allocation_ratio=cpu_allocation_ratio,
                reserved_memory_mb=4096,
                zone=f"az{h % zones + 1}",
            )
        )
    weights = np.array([f[4] for f in FLAVORS], dtype=float)
    picks = rng.choice(len(FLAVORS), size=n_instances, p=weights / weights.sum())
    groups = [
        ServerGroup(f"group-{g}", GroupPolicy.ANTI_AFFINITY if g % 2 == 0 else GroupPolicy.AFFINITY)
        for g in range(server_groups)
    ]
    capacity = np.array([h.capacity for h in hosts])
    used = np.zeros_like(capacity)
    # Spread: each instance goes to the least loaded host (relative to ``allocation``) with room.
    order = rng.permutation(n_instances)
    placement = np.zeros(n_instances, dtype=int)
    target_fill = capacity * allocation
    for v in order:
        _, vc, mem, disk, _ = FLAVORS[picks[v]]
        d = np.array([vc, mem, disk], dtype=float)
        fill = ((used + d) / target_fill).max(axis=1)
        fits = ((used + d) <= capacity).all(axis=1)
        fill[~fits] = np.inf
        # break ties randomly so the spread does not line up with host order
        h = int(np.argmin(fill + rng.random(n_hosts) * 1e-6))
        placement[v] = h
        used[h] += d
    instances = []
    for v in range(n_instances):
        name, vc, mem, disk, _ = FLAVORS[picks[v]]
        group = None
        if groups and v < len(groups) * 3:
            group = groups[v % len(groups)].name
        instances.append(
            Instance(
                uuid=str(uuidlib.UUID(int=(int(rng.integers(0, 2**62)) << 64) | v, version=4)),
                name=f"vm-{v:06d}-{name}",
                host=hosts[placement[v]].name,
                vcpus=vc,
                memory_mb=mem,
                disk_gb=disk,
                cpu_util=float(np.clip(rng.beta(2, 5), 0.01, 1.0)),
                locked=bool(rng.random() < locked_share),
                server_group=group,
            )
        )
    if groups:
        instances = _honour_groups(instances, groups, hosts)
    return Fleet.build(hosts, instances, groups)


def _honour_groups(instances: list[Instance], groups: list[ServerGroup], hosts: list[Host]) -> list[Instance]:
    """Move group members so the starting placement obeys its own server-group rules."""
    from dataclasses import replace

    policy = {g.name: g.policy for g in groups}
    first_host: dict[str, str] = {}
    used_hosts: dict[str, set[str]] = {}
    out = []
    for inst in instances:
        g = inst.server_group
        if g is None:
            out.append(inst)
            continue
        if policy[g] is GroupPolicy.AFFINITY:
            host = first_host.setdefault(g, inst.host)
        else:
            taken = used_hosts.setdefault(g, set())
            zone_hosts = [h.name for h in hosts if h.name not in taken]
            host = inst.host if inst.host not in taken else zone_hosts[0]
            taken.add(host)
        out.append(replace(inst, host=host))
    return out
