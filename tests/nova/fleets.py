"""The fleets the real-Nova tests boot: one hand-made with every case the issue names, and seeded
random ones.

Sizes are Nova's fake driver's (``vcpus``, ``memory_mb``, ``disk_gb`` per host); Nova's own
defaults apply on top (512 MB of host memory reserved), with a CPU allocation ratio of 2.0
(``NovaCloud.start``).
"""

from __future__ import annotations

import random
import uuid

from tests.nova.harness import FleetSpec, HostSpec, ServerSpec

HOSTS = [
    HostSpec("c1", 16, 32768, 400), HostSpec("c2", 16, 32768, 400), HostSpec("c3", 16, 32768, 400),
    HostSpec("c4", 24, 49152, 600), HostSpec("c5", 24, 49152, 600),
    HostSpec("c6", 8, 16384, 200), HostSpec("c7", 8, 16384, 200),
]
FLAVORS = {"small": (1, 2048, 20), "medium": (2, 4096, 40), "large": (4, 8192, 80)}
OPERATOR_REASON = "operator maintenance"


def project(name: str) -> str:
    """A project id as Keystone makes them (Nova warns about ids that are not UUIDs)."""
    return uuid.uuid5(uuid.NAMESPACE_OID, name).hex


def mixed_fleet() -> FleetSpec:
    """24 servers spread thin over the 7 hosts: two server groups named ``web`` in two projects
    (anti-affinity), an affinity pair, a locked, a paused and a stopped server, and c7 disabled by
    an operator while it still holds servers."""
    s = ServerSpec
    servers = [
        s("web-a1", "medium", "c1", group="web-alpha"), s("s1", "small", "c1"), s("locked-1", "small", "c1",
                                                                                 action="lock"),
        s("web-a2", "medium", "c2", group="web-alpha"), s("s2", "medium", "c2"), s("s3", "large", "c2"),
        s("s14", "medium", "c2"),
        s("web-a3", "medium", "c3", group="web-alpha"), s("s4", "small", "c3"), s("paused-1", "small", "c3",
                                                                                 action="pause"),
        s("db-1", "large", "c4", group="db-beta"), s("db-2", "large", "c4", group="db-beta"),
        s("s5", "medium", "c4"), s("s6", "small", "c4"),
        s("web-b1", "small", "c5", group="web-beta"), s("s7", "large", "c5"), s("s8", "medium", "c5"),
        s("s12", "large", "c5"),
        s("stopped-1", "medium", "c6", action="stop"), s("s9", "small", "c6"), s("s13", "small", "c6"),
        s("s10", "small", "c7"), s("s11", "medium", "c7"), s("web-b2", "small", "c7", group="web-beta"),
    ]
    alpha, beta = project("alpha"), project("beta")
    groups = {"web-alpha": ("web", "anti-affinity", alpha), "web-beta": ("web", "anti-affinity", beta),
              "db-beta": ("db", "affinity", beta)}
    return FleetSpec(dict(FLAVORS), servers, groups, {"c7": OPERATOR_REASON})


# Host generations of the random fleets: (vcpus, memory_mb, disk_gb).
GENERATIONS = [(8, 16384, 200), (16, 32768, 400), (24, 49152, 600)]


def random_fleet(seed: int) -> tuple[list[HostSpec], FleetSpec]:
    """A small random fleet of its own hosts (named ``f<seed>-h<i>``, so every fleet starts on fresh
    compute services): 3-5 hosts of mixed generations, each 15-45 % busy in vcpus (6 at most) with mixed
    flavours; sometimes a locked, a paused or a stopped server, an anti-affinity group, an
    affinity pair and a host disabled by an operator."""
    rng = random.Random(seed)
    hosts = [HostSpec(f"f{seed}-h{i}", *rng.choice(GENERATIONS)) for i in range(rng.randint(3, 5))]
    servers: list[ServerSpec] = []

    def add(flavor: str, host: str, **kw) -> None:
        servers.append(ServerSpec(f"f{seed}-s{len(servers)}", flavor, host, **kw))

    groups: dict[str, tuple[str, str, str]] = {}
    if rng.random() < 0.4:  # an affinity pair, booted together on one host
        groups["pair"] = ("pair", "affinity", project(f"random-{seed}-pair"))
        host = rng.choice(hosts).name
        add("small", host, group="pair")
        add("small", host, group="pair")
    for h in hosts:
        budget = min(h.vcpus * rng.uniform(0.15, 0.45), 6)
        used = sum(FLAVORS[s.flavor][0] for s in servers if s.host == h.name)
        while True:
            flavor = rng.choice(list(FLAVORS))
            if used + FLAVORS[flavor][0] > budget:
                break
            used += FLAVORS[flavor][0]
            add(flavor, h.name)
    free = [k for k, s in enumerate(servers) if s.group is None]
    rng.shuffle(free)
    for action in ("lock", "pause", "stop"):
        if free and rng.random() < 0.4:
            k = free.pop()
            servers[k] = ServerSpec(servers[k].name, servers[k].flavor, servers[k].host, action=action)
    if rng.random() < 0.6:  # an anti-affinity group: one member on each of 2-3 hosts
        first_on_host: dict[str, int] = {}
        for k in free:
            first_on_host.setdefault(servers[k].host, k)
        if len(first_on_host) >= 2:
            members = rng.sample(sorted(first_on_host.values()), k=min(rng.randint(2, 3), len(first_on_host)))
            groups["spread"] = ("spread", "anti-affinity", project(f"random-{seed}-spread"))
            for k in members:
                servers[k] = ServerSpec(servers[k].name, servers[k].flavor, servers[k].host, group="spread")
    disabled = {}
    if rng.random() < 0.3:
        disabled[rng.choice(hosts).name] = OPERATOR_REASON
    return hosts, FleetSpec(dict(FLAVORS), servers, groups, disabled)
