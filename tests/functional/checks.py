"""Oracles over what the emulated cloud executed: the action graph and the recorded moves.

Written apart from the strategy and the planner: they read only the topology, the action
plan as Watcher's API returns it, and the moves the emulated Nova recorded.
"""

from __future__ import annotations

from collections import defaultdict

RESOURCES = ("vcpus", "memory", "disk")


def capacities(topology) -> dict[str, tuple[float, float, float]]:
    """Placement's schedulable capacity per host: (total - reserved) * ratio."""
    out = {}
    for n in topology.compute_nodes:
        out[n.hostname] = (
            (n.vcpus - n.vcpu_reserved) * n.vcpu_ratio,
            (n.memory - n.memory_mb_reserved) * n.memory_ratio,
            (n.disk - n.disk_gb_reserved) * n.disk_ratio,
        )
    return out


def flavours(topology) -> dict[str, tuple[int, int, int]]:
    return {i.uuid: (i.vcpus, i.memory, i.disk) for i in topology.instances}


def initial_load(topology) -> dict[str, list[float]]:
    load: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for i in topology.instances:
        for r, value in enumerate((i.vcpus, i.memory, i.disk)):
            load[i.host][r] += value
    return load


def levels(actions: list[dict]) -> list[list[dict]]:
    """Actions grouped by depth in the action graph (roots first)."""
    by_uuid = {a["uuid"]: a for a in actions}
    depth: dict[str, int] = {}

    def visit(uuid: str) -> int:
        if uuid not in depth:
            parents = by_uuid[uuid].get("parents") or []
            depth[uuid] = 1 + max((visit(p) for p in parents), default=-1)
        return depth[uuid]

    grouped: dict[int, list[dict]] = defaultdict(list)
    for a in actions:
        grouped[visit(a["uuid"])].append(a)
    return [grouped[d] for d in sorted(grouped)]


def overloads_in_graph(topology, actions: list[dict]) -> list[str]:
    """Judge each level of the graph at its worst moment: every incoming migration already on
    its destination while every outgoing one still holds its source."""
    cap, size = capacities(topology), flavours(topology)
    load = initial_load(topology)
    problems = []
    for depth, level in enumerate(levels(actions)):
        migrations = [a for a in level if a["action_type"] == "migrate"]
        peak = {h: list(v) for h, v in load.items()}
        for a in migrations:
            dest = a["input_parameters"]["destination_node"]
            peak.setdefault(dest, [0.0, 0.0, 0.0])
            for r in range(3):
                peak[dest][r] += size[a["input_parameters"]["resource_id"]][r]
        for host, used in peak.items():
            for r in range(3):
                if used[r] > cap[host][r] + 1e-6:
                    problems.append(f"level {depth}: {host} {RESOURCES[r]} {used[r]:g} > {cap[host][r]:g}")
        for a in migrations:
            p = a["input_parameters"]
            load.setdefault(p["destination_node"], [0.0, 0.0, 0.0])
            for r in range(3):
                load[p["source_node"]][r] -= size[p["resource_id"]][r]
                load[p["destination_node"]][r] += size[p["resource_id"]][r]
    return problems


def overloads_in_replay(topology, events: list[tuple]) -> list[str]:
    """Replay the recorded moves in their order; report any host above its capacity."""
    cap, size = capacities(topology), flavours(topology)
    load = initial_load(topology)
    problems = []
    for step, event in enumerate(events):
        if event[0] != "migrate":
            continue
        _, uuid, src, dst = event
        for r in range(3):
            load[src][r] -= size[uuid][r]
            load[dst][r] += size[uuid][r]
            if load[dst][r] > cap[dst][r] + 1e-6:
                problems.append(f"step {step}: {dst} {RESOURCES[r]} {load[dst][r]:g} > {cap[dst][r]:g}")
    return problems
