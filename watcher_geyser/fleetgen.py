"""Synthetic fleets with a realistic flavour mix, for benchmarks, demos and tests.

The fleets look like a cloud that Nova's spreading scheduler filled over time (most free
RAM first), about 45 % allocated, so consolidation can roughly halve the hosts on.
Deterministic for a given seed.
"""

from __future__ import annotations

import heapq
import uuid as uuidlib

import numpy as np

from watcher_geyser.fleet import RAM, Fleet
from watcher_geyser.power import PowerModel
from watcher_geyser.records import GroupPolicy, Host, Instance, ServerGroup

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
    allocation: float = 0.45,
    cpu_allocation_ratio: float = 4.0,
    seed: int = 0,
    zones: int = 1,
    server_groups: int = 0,
    locked_share: float = 0.0,
) -> Fleet:
    """A fleet of ``n_hosts`` with ``n_instances`` spread evenly, each host about
    ``allocation`` full in its tightest dimension (memory, with these flavours).

    Host sizes are the ``HOST_TYPES`` scaled so that the instance count gives that
    allocation: a 5-instances-per-host fleet gets smaller hosts than a 20-per-host one.
    """
    rng = np.random.default_rng(seed)
    kinds = rng.integers(0, len(HOST_TYPES), n_hosts) if mixed else np.zeros(n_hosts, dtype=int)
    weights = np.array([f[4] for f in FLAVORS], dtype=float)
    mean_memory_mb = float(np.dot(weights, [f[2] for f in FLAVORS]) / weights.sum())
    mean_type_mb = float(np.mean([HOST_TYPES[int(k)][1] for k in kinds])) if n_hosts else 1.0
    scale = (n_instances / max(n_hosts, 1) * mean_memory_mb / allocation + 4096) / mean_type_mb
    scale = max(scale, 65536 / mean_type_mb * 1.1)  # every flavour must fit on every host
    hosts = []
    for h in range(n_hosts):
        base_vcpus, base_mem, base_disk, power = HOST_TYPES[int(kinds[h])]
        vcpus = max(16, int(round(base_vcpus * scale)))
        mem = int(round(base_mem * scale / 1024)) * 1024
        disk = int(round(base_disk * scale))
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
    picks = rng.choice(len(FLAVORS), size=n_instances, p=weights / weights.sum())
    groups = [
        ServerGroup(f"group-{g}", GroupPolicy.ANTI_AFFINITY if g % 2 == 0 else GroupPolicy.AFFINITY)
        for g in range(server_groups)
    ]
    capacity = np.array([h.capacity for h in hosts])
    demand = np.array([FLAVORS[p][1:4] for p in picks], dtype=float).reshape(n_instances, 3)
    placement = _spread(demand, capacity, rng)
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
                cpu_util=float(np.clip(rng.beta(1.5, 8.0), 0.01, 1.0)),  # mean ~16 %, a long tail
                locked=bool(rng.random() < locked_share),
                server_group=group,
            )
        )
    if groups:
        instances = _honour_groups(instances, groups, hosts)
    return Fleet.build(hosts, instances, groups)


def _spread(demand: np.ndarray, capacity: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Place instances as Nova's default RAM weigher spreads them: each, largest first, on
    the host with the most free RAM that fits it (a heap keeps this O(V log H))."""
    n_hosts = len(capacity)
    order = np.argsort(-(demand / capacity.mean(axis=0)).max(axis=1), kind="stable")
    used = np.zeros_like(capacity)
    jitter = rng.random(n_hosts)  # break ties between identical hosts at random
    heap = [(-capacity[h, RAM], jitter[h], h) for h in range(n_hosts)]
    heapq.heapify(heap)
    placement = np.empty(len(demand), dtype=np.int64)
    for v in order:
        skipped = []
        while heap:
            _, tie, h = heapq.heappop(heap)
            if ((used[h] + demand[v]) <= capacity[h]).all():
                break
            skipped.append((-(capacity[h, RAM] - used[h, RAM]), tie, h))
        else:
            h = int(np.argmin((used / capacity).max(axis=1)))  # nothing fits: overload the emptiest
        placement[v] = h
        used[h] += demand[v]
        heapq.heappush(heap, (-(capacity[h, RAM] - used[h, RAM]), jitter[h], h))
        for item in skipped:
            heapq.heappush(heap, item)
    return placement


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


# Families beyond the default, for benchmarks that must not flatter the solver (issue 14).
# Large hosts: 64 cores at cpu ratio 4, 512 GiB, 4 TB; the old generation is smaller and
# draws more per unit of work.
LARGE_HOST = (64, 524288, 4000, PowerModel.linear(180.0, 420.0))
OLD_HOST = (40, 262144, 2000, PowerModel.linear(170.0, 380.0))
FAMILIES = ("identical", "deep", "generations", "zones", "tight", "tight-deep")
#: Instances per host of the families whose hosts hold many (generate them with about this
#: many instances per host: ``bench/solver_scale.py`` keeps the instances and takes fewer hosts).
INSTANCES_PER_HOST = {"tight-deep": 30}


def generate_family(family: str, n_hosts: int, n_instances: int, seed: int = 0) -> Fleet:
    """A fleet of one of ``FAMILIES``:

    - ``identical``: ``generate_fleet``'s identical hosts, about 45 % allocated;
    - ``deep``: identical large hosts holding few instances each (the volume bound keeps
      about one host in seven at six instances per host);
    - ``generations``: as deep, half the hosts of an older, smaller, less efficient type;
    - ``zones``: as deep, in three zones, with anti-affinity groups of 3-5 members, affinity
      pairs and 0.3 % of instances locked;
    - ``tight``: ``generate_fleet``'s mixed types, about 75 % allocated;
    - ``tight-deep``: as tight, about 80 % allocated (70-86 % per host in memory): with
      ``INSTANCES_PER_HOST`` instances per host, hosts of three generations holding 27-34 each,
      where the tight family's hold about 6 (host sizes follow instances per host).
    """
    if family == "identical":
        return generate_fleet(n_hosts, n_instances, seed=seed)
    if family == "tight":
        return generate_fleet(n_hosts, n_instances, mixed=True, allocation=0.75, seed=seed)
    if family == "tight-deep":
        return generate_fleet(n_hosts, n_instances, mixed=True, allocation=0.8, seed=seed)
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}; got {family!r}")
    rng = np.random.default_rng(seed)
    zones = 3 if family == "zones" else 1
    old = rng.random(n_hosts) < 0.5 if family == "generations" else np.zeros(n_hosts, dtype=bool)
    hosts = []
    for h in range(n_hosts):
        vcpus, memory_mb, disk_gb, power = OLD_HOST if old[h] else LARGE_HOST
        hosts.append(
            Host(
                name=f"compute-{h:05d}",
                vcpus=vcpus,
                memory_mb=memory_mb,
                disk_gb=disk_gb,
                power=power,
                cpu_allocation_ratio=4.0,
                reserved_memory_mb=4096,
                zone=f"az{h % zones + 1}",
            )
        )
    weights = np.array([f[4] for f in FLAVORS], dtype=float)
    picks = rng.choice(len(FLAVORS), size=n_instances, p=weights / weights.sum())
    demand = np.array([FLAVORS[p][1:4] for p in picks], dtype=float).reshape(n_instances, 3)
    placement = _spread(demand, np.array([h.capacity for h in hosts]), rng)
    group_of, groups = _family_groups(placement, np.arange(n_hosts) % zones, rng) if zones > 1 else ({}, [])
    locked = rng.random(n_instances) < (0.003 if family == "zones" else 0.0)
    instances = [
        Instance(
            uuid=str(uuidlib.UUID(int=(int(rng.integers(0, 2**62)) << 64) | v, version=4)),
            name=f"vm-{v:06d}-{FLAVORS[picks[v]][0]}",
            host=hosts[placement[v]].name,
            vcpus=FLAVORS[picks[v]][1],
            memory_mb=FLAVORS[picks[v]][2],
            disk_gb=FLAVORS[picks[v]][3],
            cpu_util=float(np.clip(rng.beta(1.5, 8.0), 0.01, 1.0)),
            locked=bool(locked[v]),
            server_group=group_of.get(v),
        )
        for v in range(n_instances)
    ]
    return Fleet.build(hosts, instances, groups)


def _family_groups(
    placement: np.ndarray, host_zone: np.ndarray, rng: np.random.Generator
) -> tuple[dict[int, str], list[ServerGroup]]:
    """Server groups that the starting placement obeys: anti-affinity groups of 3-5 members
    on distinct hosts of one zone (about 10 % of instances), affinity pairs sharing a host
    (about 2 %)."""
    order = np.argsort(placement, kind="stable")
    first_on_host = order[np.r_[True, placement[order][1:] != placement[order][:-1]]]
    second_on_host = order[1:][placement[order][1:] == placement[order][:-1]]
    group_of: dict[int, str] = {}
    groups: list[ServerGroup] = []
    budget = int(0.10 * len(placement))
    by_zone = [first_on_host[host_zone[placement[first_on_host]] == z] for z in range(int(host_zone.max()) + 1)]
    cursor = [0] * len(by_zone)
    while budget > 0:
        z = len(groups) % len(by_zone)
        size = int(rng.integers(3, 6))
        members = by_zone[z][cursor[z] : cursor[z] + size]
        if len(members) < size:
            break
        cursor[z] += size
        name = f"anti-{len(groups)}"
        groups.append(ServerGroup(name, GroupPolicy.ANTI_AFFINITY))
        group_of.update({int(v): name for v in members})
        budget -= size
    taken = set(group_of)
    pairs = 0
    for v in second_on_host:
        if pairs >= int(0.01 * len(placement)):
            break
        mate = first_on_host[np.searchsorted(placement[first_on_host], placement[v])]
        if int(v) in taken or int(mate) in taken:
            continue
        name = f"affinity-{pairs}"
        groups.append(ServerGroup(name, GroupPolicy.AFFINITY))
        group_of[int(v)] = group_of[int(mate)] = name
        taken.update((int(v), int(mate)))
        pairs += 1
    return group_of, groups
