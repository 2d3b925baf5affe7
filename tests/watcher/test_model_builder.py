"""Fleet -> Watcher ModelRoot -> Fleet: the converter and the adapter undo each other."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watcher_geyser.fleet import Fleet
from watcher_geyser.fleetgen import generate_fleet
from watcher_geyser.power import PowerModel
from watcher_geyser.records import GroupPolicy, Host, HostState, Instance, ServerGroup
from watcher_geyser.strategies import model_builder
from watcher_geyser.strategies.adapter import fleet_from_model
from watcher_geyser.strategies.fleet_datasource import FleetDatasource
from watcher_geyser.strategies.power_config import PowerCatalog

CURVE = PowerModel.curve([93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135])


def small_fleet() -> Fleet:
    hosts = [
        Host("cn-a", 32, 131072, 1000, PowerModel.linear(170, 420), cpu_allocation_ratio=4.0,
             ram_allocation_ratio=1.5, disk_allocation_ratio=1.2, reserved_vcpus=2, reserved_memory_mb=4096,
             reserved_disk_gb=50, zone="az1"),
        Host("cn-b", 48, 196608, 2000, CURVE, cpu_allocation_ratio=2.0, zone="az2"),
        Host("cn-c", 16, 65536, 500, PowerModel.linear(100, 250), state=HostState.DISABLED),
        Host("cn-d", 16, 65536, 500, PowerModel.linear(100, 250), state=HostState.OFF),
    ]
    groups = [ServerGroup("web", GroupPolicy.ANTI_AFFINITY), ServerGroup("db", GroupPolicy.AFFINITY)]
    instances = [
        Instance("11111111-0000-4000-8000-000000000001", "web-1", "cn-a", 2, 4096, 40, cpu_util=0.25,
                 server_group="web"),
        Instance("11111111-0000-4000-8000-000000000002", "web-2", "cn-b", 2, 4096, 40, cpu_util=0.5,
                 server_group="web"),
        Instance("11111111-0000-4000-8000-000000000003", "db-1", "cn-b", 8, 32768, 200, cpu_util=0.9,
                 server_group="db", locked=True, excluded=True),  # affinity members come back pinned
        Instance("11111111-0000-4000-8000-000000000004", "batch", "cn-a", 4, 8192, 80, cpu_util=None,
                 state="stopped"),
        Instance("11111111-0000-4000-8000-000000000005", "excluded", "cn-c", 1, 2048, 20, cpu_util=0.1,
                 excluded=True),
    ]
    return Fleet.build(hosts, instances, groups, default_cpu_util=1.0)


def round_trip(fleet: Fleet) -> Fleet:
    model = model_builder.model_from_fleet(fleet)
    catalog = PowerCatalog.from_specs(1.0, 2.0, model_builder.power_overrides(fleet))
    cpu = {i.uuid: i.cpu_util for i in fleet.instances}
    adapted = fleet_from_model(model, catalog.model_for, cpu, fleet.default_cpu_util, model_builder.host_zones(fleet),
                               model_builder.power_states(fleet), model_builder.server_groups(fleet))
    assert adapted.dropped_hosts == []
    return adapted.fleet


def by_name(fleet: Fleet) -> tuple[dict, dict]:
    return {h.name: h for h in fleet.hosts}, {i.uuid: i for i in fleet.instances}


def test_capacities_ratios_reserved_states_and_placements_round_trip():
    fleet = small_fleet()
    back = round_trip(fleet)
    hosts, instances = by_name(back)
    assert hosts == {h.name: h for h in fleet.hosts}
    assert instances == {i.uuid: i for i in fleet.instances}
    assert set(back.server_groups) == set(fleet.server_groups)


def test_compute_nodes_carry_placements_capacity_figures_and_states():
    fleet = small_fleet()
    model = model_builder.model_from_fleet(fleet)
    nodes = {n.hostname: n for n in model.get_all_compute_nodes().values()}
    for host in fleet.hosts:
        node = nodes[host.name]
        assert (node.vcpu_capacity, node.memory_mb_capacity, node.disk_gb_capacity) == pytest.approx(host.capacity)
        assert node.uuid == model_builder.node_uuid(host.name)
    assert (nodes["cn-c"].status, nodes["cn-c"].state) == ("disabled", "up")
    assert (nodes["cn-d"].status, nodes["cn-d"].state, nodes["cn-d"].disabled_reason) == (
        "disabled", "down", model_builder.OFF_REASON)
    on_b = sorted(i.name for i in model.get_node_instances(nodes["cn-b"]))
    assert on_b == ["db-1", "web-2"]
    excluded = model.get_instance_by_uuid("11111111-0000-4000-8000-000000000005")
    assert excluded.watcher_exclude and not excluded.locked


def test_two_builds_are_independent_models_of_the_same_cloud():
    fleet = small_fleet()
    first, second = model_builder.model_from_fleet(fleet), model_builder.model_from_fleet(fleet)
    nodes = {n.hostname: n for n in first.get_all_compute_nodes().values()}
    inst = first.get_instance_by_uuid("11111111-0000-4000-8000-000000000001")
    assert first.migrate_instance(inst, nodes["cn-a"], nodes["cn-b"])
    moved = second.get_node_by_instance_uuid("11111111-0000-4000-8000-000000000001")
    assert moved.hostname == "cn-a"


def test_datasource_serves_instance_and_host_cpu_in_percent():
    fleet = small_fleet()
    model = model_builder.model_from_fleet(fleet)
    ds = FleetDatasource(fleet)
    web1 = model.get_instance_by_uuid("11111111-0000-4000-8000-000000000001")
    batch = model.get_instance_by_uuid("11111111-0000-4000-8000-000000000004")
    assert ds.get_instance_cpu_usage(web1, 3600, "mean", 300) == pytest.approx(25.0)
    assert ds.get_instance_cpu_usage(batch, 3600, "mean", 300) == pytest.approx(100.0)  # unmeasured: default 1.0
    node_a = model.get_node_by_name("cn-a")
    assert ds.get_host_cpu_usage(node_a, 3600, "mean", 300) == pytest.approx((2 * 0.25 + 4 * 1.0) / 32 * 100)
    assert ds.get_instance_ram_usage(web1) is None and ds.get_host_ram_usage(node_a) is None
    assert ds.queries == 3


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hosts=st.integers(1, 12), per_host=st.integers(0, 6), mixed=st.booleans(), seed=st.integers(0, 10_000))
def test_generated_fleets_round_trip(hosts, per_host, mixed, seed):
    fleet = generate_fleet(hosts, hosts * per_host, mixed=mixed, seed=seed, zones=2)
    back = round_trip(fleet)
    hosts_back, instances_back = by_name(back)
    assert hosts_back == {h.name: h for h in fleet.hosts}
    assert instances_back == {i.uuid: i for i in fleet.instances}
