"""A snapshot replays what Watcher would see: both adapters read the same servers into the same instances."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.watcher import cluster
from watcher_geyser.cloud import CloudRecords, HypervisorRecord, Inventory, ServerGroupRecord, ServerRecord, to_fleet
from watcher_geyser.power import PowerModel
from watcher_geyser.strategies.adapter import fleet_from_model

POWER = PowerModel.linear(100, 300)
HOSTS = ("c1", "c2")
GROUPS = {"g-db": ("db", "affinity"), "g-web": ("web", "anti-affinity")}
METADATA = [
    {},
    {"geyser:deferrable": "true", "geyser:max_deferral": "8h"},
    {"geyser:deferrable": "true", "geyser:deadline": "2026-06-22T06:00:00Z", "geyser:runtime": "2h"},
    {"geyser:deferrable": "maybe"},  # malformed: a note, and not deferrable
    {"geyser:deferrable": "true"},  # no bound: a note, and not deferrable
]
server = st.fixed_dictionaries({
    "host": st.sampled_from(HOSTS),
    "state": st.sampled_from(["active", "stopped", "paused", "shelved", "error"]),
    "locked": st.booleans(),
    "exclude": st.booleans(),
    "group": st.sampled_from([None, *GROUPS]),
    "metadata": st.sampled_from(range(len(METADATA))),
    "cpu_util": st.none() | st.floats(-0.5, 1.5),
    "task": st.sampled_from([None, None, "migrating", "resize_migrating"]),  # Nova's task_state
})


def through_watcher(servers: list[dict]):
    nodes = [cluster.node(h) for h in HOSTS]
    insts = [cluster.instance(f"vm{k}", s["host"], state=s["state"], locked=s["locked"], exclude=s["exclude"],
                              metadata=METADATA[s["metadata"]]) for k, s in enumerate(servers)]
    groups = {i.uuid: (f"{GROUPS[s['group']][0]} ({s['group']})", GROUPS[s["group"]][1])
              for i, s in zip(insts, servers) if s["group"]}
    util = {i.uuid: s["cpu_util"] for i, s in zip(insts, servers)}
    tasks = {i.uuid: s["task"] for i, s in zip(insts, servers) if s.get("task")}  # as Nova's look-up answers
    adapted = fleet_from_model(cluster.model(nodes, insts), lambda _: POWER, cpu_util=util, server_groups=groups,
                               tasks=tasks)
    return adapted.fleet, adapted.notes, [i.uuid for i in insts]


def through_a_snapshot(servers: list[dict], uuids: list[str]):
    inventory = {"VCPU": Inventory(16), "MEMORY_MB": Inventory(32768), "DISK_GB": Inventory(500)}
    hyps = [HypervisorRecord(name=h, service_host=h, vcpus=16, memory_mb=32768, disk_gb=500, inventory=inventory)
            for h in HOSTS]
    records = []
    for uuid, (k, s) in zip(uuids, enumerate(servers)):
        metadata = dict(METADATA[s["metadata"]], **({"watcher_exclude": "true"} if s["exclude"] else {}))
        records.append(ServerRecord(uuid=uuid, name=f"vm{k}", host=s["host"], vcpus=2, memory_mb=2048, root_gb=20,
                                    state=s["state"], locked=s["locked"], metadata=metadata,
                                    task_state=s.get("task")))
    groups = [ServerGroupRecord(gid, name, policy, tuple(u for u, s in zip(uuids, servers) if s["group"] == gid))
              for gid, (name, policy) in GROUPS.items()]
    util = {u: s["cpu_util"] for u, s in zip(uuids, servers) if s["cpu_util"] is not None}
    snapshot = to_fleet(CloudRecords(hyps, records, groups, util), lambda _: POWER)
    return snapshot.fleet, snapshot.notes


@settings(max_examples=40, deadline=None)
@given(st.lists(server, min_size=1, max_size=8))
def test_a_snapshot_reads_servers_as_the_watcher_adapter_does(servers):
    watcher_fleet, watcher_notes, uuids = through_watcher(servers)
    snapshot_fleet, snapshot_notes = through_a_snapshot(servers, uuids)
    assert snapshot_fleet.instances == watcher_fleet.instances
    assert snapshot_fleet.server_groups == watcher_fleet.server_groups
    assert snapshot_notes == watcher_notes


def test_affinity_members_stay_and_the_opt_in_is_read_in_a_snapshot():
    servers = [dict(host="c1", state="active", locked=False, exclude=False, group="g-db", metadata=0, cpu_util=None),
               dict(host="c2", state="active", locked=False, exclude=False, group="g-web", metadata=1, cpu_util=None),
               dict(host="c2", state="active", locked=False, exclude=False, group=None, metadata=3, cpu_util=None)]
    fleet, notes = through_a_snapshot(servers, ["u0", "u1", "u2"])
    by_name = {i.name: i for i in fleet.instances}
    assert not by_name["vm0"].movable and by_name["vm1"].movable and by_name["vm2"].movable
    assert by_name["vm1"].deferrable and by_name["vm1"].deferral.max_deferral_s == 8 * 3600
    assert not by_name["vm0"].deferrable and not by_name["vm2"].deferrable
    assert any("db (g-db) is an affinity group" in n for n in notes)
    assert any("vm2 (u2): geyser:deferrable='maybe'" in n for n in notes)
