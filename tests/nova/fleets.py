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


def random_fleet(seed: int, hosts: list[HostSpec] = HOSTS) -> FleetSpec:
    """A thin random fleet: 40-60 % of each host's vcpus, random flavours, maybe a disabled host,
    a locked, a paused and a stopped server, and an anti-affinity group."""
    rng = random.Random(seed)
    servers: list[ServerSpec] = []
    for h in hosts:
        budget = h.vcpus * rng.uniform(0.2, 0.5)
        used = 0
        while True:
            flavor = rng.choice(list(FLAVORS))
            if used + FLAVORS[flavor][0] > budget:
                break
            used += FLAVORS[flavor][0]
            servers.append(ServerSpec(f"r{len(servers)}", flavor, h.name))
    for action in ("lock", "pause", "stop"):
        if rng.random() < 0.6:
            k = rng.randrange(len(servers))
            servers[k] = ServerSpec(servers[k].name, servers[k].flavor, servers[k].host, action=action)
    groups = {}
    if rng.random() < 0.7:
        by_host: dict[str, int] = {}
        for k, srv in enumerate(servers):
            if srv.action is None:
                by_host.setdefault(srv.host, k)
        members = rng.sample(sorted(by_host.values()), k=min(3, len(by_host)))
        groups["g"] = ("spread", "anti-affinity", project(f"random-{seed}"))
        for k in members:
            servers[k] = ServerSpec(servers[k].name, servers[k].flavor, servers[k].host, group="g")
    disabled = {}
    if rng.random() < 0.5:
        disabled[rng.choice(hosts).name] = OPERATOR_REASON
    return FleetSpec(dict(FLAVORS), servers, groups, disabled)
