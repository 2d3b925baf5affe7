"""The adapter on real Watcher ``ModelRoot`` objects: capacities, states, pins, metrics."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.watcher import cluster
from watcher_geyser.host_state import PowerReading, classify_host
from watcher_geyser.power import PowerModel
from watcher_geyser.records import HostState, MigrationKind
from watcher_geyser.strategies import cloud
from watcher_geyser.strategies.adapter import fleet_from_model

LINEAR = PowerModel.linear(100, 300)


def power_for(_name: str) -> PowerModel:
    return LINEAR


def test_capacity_matches_watchers_own_arithmetic():
    n = cluster.node("c1", vcpus=32, memory=65536, disk=1000, vcpu_ratio=4.0, memory_ratio=1.5, disk_ratio=1.0,
                     vcpu_reserved=2, memory_mb_reserved=4096, disk_gb_reserved=50)
    root = cluster.model([n], [cluster.instance("vm", "c1")])
    fleet = fleet_from_model(root, power_for).fleet
    assert fleet.capacity[0].tolist() == [n.vcpu_capacity, n.memory_mb_capacity, n.disk_gb_capacity]
    used = root.get_node_used_resources(n)
    assert fleet.load()[0].tolist() == [used["vcpu"], used["memory"], used["disk"]]


def test_node_status_and_state_become_host_states():
    nodes = [
        cluster.node("enabled"),
        cluster.node("disabled", status="disabled", disabled_reason="maintenance"),
        cluster.node("down-with-vms", state="down"),
        cluster.node("off-ours", state="down", status="disabled", disabled_reason="watcher_geyser"),
        cluster.node("off-theirs", state="down", status="disabled", disabled_reason="broken psu"),
        cluster.node("down-unknown", state="down"),
    ]
    insts = [cluster.instance("a", "enabled"), cluster.instance("b", "down-with-vms")]
    adapted = fleet_from_model(cluster.model(nodes, insts), power_for,
                               power_states={"off-ours": "off", "off-theirs": "off"})
    states = {h.name: h.state for h in adapted.fleet.hosts}
    assert states == {
        "enabled": HostState.ENABLED,
        "disabled": HostState.DISABLED,
        "down-with-vms": HostState.DISABLED,
        "off-ours": HostState.OFF,
    }
    assert sorted(adapted.dropped_hosts) == ["down-unknown", "off-theirs"]
    stranded = adapted.fleet.instances[adapted.fleet.instance_index[insts[1].uuid]]
    assert not stranded.movable  # nothing migrates off a dead compute
    assert any("down-with-vms" in n for n in adapted.notes)
    assert adapted.node_uuids["enabled"] == nodes[0].uuid


def test_instance_states_locks_and_exclusions():
    insts = [
        cluster.instance("live", "c1"),
        cluster.instance("cold", "c1", state="stopped"),
        cluster.instance("paused", "c1", state="paused"),
        cluster.instance("broken", "c1", state="error"),
        cluster.instance("locked", "c1", locked=True),
        cluster.instance("excluded", "c1", exclude=True),
    ]
    adapted = fleet_from_model(cluster.model([cluster.node("c1")], insts), power_for)
    by_name = {i.name: i for i in adapted.fleet.instances}
    assert by_name["live"].migration_kind is MigrationKind.LIVE and by_name["live"].movable
    assert by_name["cold"].migration_kind is MigrationKind.COLD and by_name["cold"].movable
    for name in ("paused", "broken", "locked", "excluded"):
        assert not by_name[name].movable, name
    assert by_name["locked"].pinned_reason == "locked"
    assert any("paused" in n for n in adapted.notes)


def test_cpu_metrics_zones_and_groups():
    insts = [cluster.instance("a", "c1", vcpus=4), cluster.instance("b", "c2", vcpus=4)]
    root = cluster.model([cluster.node("c1"), cluster.node("c2")], insts)
    adapted = fleet_from_model(
        root, power_for, cpu_util={insts[0].uuid: 0.25, insts[1].uuid: None}, default_cpu_util=1.0,
        zones={"c1": "az1", "c2": "az2"}, server_groups={insts[0].uuid: ("web", "anti-affinity")},
    )
    fleet = adapted.fleet
    assert fleet.cpu_used[fleet.instance_index[insts[0].uuid]] == pytest.approx(1.0)
    assert fleet.cpu_used[fleet.instance_index[insts[1].uuid]] == pytest.approx(4.0)  # unmeasured: all vcpus
    assert [h.zone for h in fleet.hosts] == ["az1", "az2"]
    assert [g.name for g in fleet.server_groups] == ["web"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 64), st.sampled_from([1.0, 2.0, 4.0]), st.integers(0, 8)),
                min_size=1, max_size=6),
       st.data())
def test_every_instance_lands_on_its_host_with_its_flavour(hosts, data):
    nodes = [cluster.node(f"h{i}", vcpus=v, vcpu_ratio=r, memory=65536) for i, (v, r, _) in enumerate(hosts)]
    insts = []
    for i, (_, _, count) in enumerate(hosts):
        for k in range(count):
            vcpus = data.draw(st.integers(1, 8))
            insts.append(cluster.instance(f"vm-{i}-{k}", f"h{i}", vcpus=vcpus, memory=512 * vcpus))
    adapted = fleet_from_model(cluster.model(nodes, insts), power_for)
    fleet = adapted.fleet
    assert len(fleet.instances) == len(insts)
    for inst in insts:
        ours = fleet.instances[fleet.instance_index[inst.uuid]]
        assert (ours.host, ours.vcpus, ours.memory_mb, ours.disk_gb) == (inst.host, inst.vcpus, inst.memory,
                                                                           inst.disk)
    assert np.all(fleet.capacity[:, 0] == [v * r for v, r, _ in hosts])


class _Nova:
    """Nova's server-group listing as ``cloud.server_groups`` reads it (``NovaHelper().connection``)."""

    def __init__(self, groups=None, error: Exception | None = None):
        def listing(**_):
            if error is not None:
                raise error
            return groups

        self.connection = SimpleNamespace(compute=SimpleNamespace(server_groups=listing))

    def __call__(self):
        return self


def test_groups_of_two_projects_with_one_name_stay_two_groups(monkeypatch):
    insts = [cluster.instance(u, "c1") for u in ("a1", "a2", "b1", "b2")]
    a1, a2, b1, b2 = (i.uuid for i in insts)
    groups = [SimpleNamespace(id="g-a", name="web", project_id="A", policy="affinity", policies=[],
                              member_ids=[a1, a2]),
              SimpleNamespace(id="g-b", name="web", project_id="B", policy="anti-affinity", policies=[],
                              member_ids=[b1, b2])]
    monkeypatch.setattr(cloud.nova_helper, "NovaHelper", _Nova(groups))
    members, why = cloud.server_groups()
    assert why is None
    assert members[a1] == members[a2] == ("web (g-a)", "affinity")
    assert members[b1] == members[b2] == ("web (g-b)", "anti-affinity")
    fleet = fleet_from_model(cluster.model([cluster.node("c1"), cluster.node("c2")], insts), power_for,
                             server_groups=members).fleet
    assert {g.name: g.policy.value for g in fleet.server_groups} == {"web (g-a)": "affinity",
                                                                     "web (g-b)": "anti-affinity"}


def test_affinity_members_stay_because_nova_refuses_to_split_them():
    insts = [cluster.instance(u, h) for u, h in (("a1", "c1"), ("a2", "c1"), ("b1", "c1"), ("b2", "c2"))]
    policy = {"a1": ("db (g-a)", "affinity"), "a2": ("db (g-a)", "affinity"),
              "b1": ("web (g-b)", "anti-affinity"), "b2": ("web (g-b)", "anti-affinity")}
    members = {i.uuid: policy[i.name] for i in insts}
    adapted = fleet_from_model(cluster.model([cluster.node("c1"), cluster.node("c2")], insts), power_for,
                               server_groups=members)
    movable = {i.name: bool(adapted.fleet.movable[k]) for k, i in enumerate(adapted.fleet.instances)}
    assert movable == {"a1": False, "a2": False, "b1": True, "b2": True}
    assert sum("db (g-a) is an affinity group" in n for n in adapted.notes) == 1


def test_a_failed_group_listing_pins_every_instance_and_says_why(monkeypatch):
    monkeypatch.setattr(cloud.nova_helper, "NovaHelper", _Nova(error=ConnectionError("nova down")))
    members, why = cloud.server_groups()
    assert members == {} and "none is moved and no host is switched off" in why
    insts = [cluster.instance("a", "c1"), cluster.instance("b", "c2")]
    adapted = fleet_from_model(cluster.model([cluster.node("c1"), cluster.node("c2")], insts), power_for,
                               groups_unknown=True)
    assert adapted.groups_unknown and not adapted.fleet.movable.any()


def test_a_compute_endpoint_without_server_groups_means_no_groups(monkeypatch):
    missing = RuntimeError("Not Found")
    missing.status_code = 404
    monkeypatch.setattr(cloud.nova_helper, "NovaHelper", _Nova(error=missing))
    assert cloud.server_groups() == ({}, None)


HOST_CASES = list(itertools.product(("enabled", "disabled"), ("up", "down"), (None, "watcher_geyser", "broken PSU"),
                                    (True, False), (PowerReading.OFF, PowerReading.ON, PowerReading.UNKNOWN)))


@pytest.mark.parametrize("case", HOST_CASES)
def test_host_states_follow_the_one_rule(case):
    """Every combination the adapter can see decides as ``host_state.classify_host`` (whose own
    table is ``tests/test_host_state.py``)."""
    status, state, reason, has_instances, power = case
    node = cluster.node("h", status=status, state=state, disabled_reason=reason)
    root = cluster.model([node], [cluster.instance("v", "h")] if has_instances else [])
    power_states = {} if power is PowerReading.UNKNOWN else {"h": power.value}
    adapted = fleet_from_model(root, power_for, power_states=power_states)
    want = classify_host("h", status, state, has_instances, power, reason)
    assert (adapted.fleet.hosts[0].state if adapted.fleet.hosts else None) is want.state
    assert (adapted.dropped_hosts == ["h"]) is (want.state is None)
    if want.pin_instances:
        assert not adapted.fleet.instances[0].movable
    if want.note:
        assert want.note in adapted.notes
