"""The snapshot's translation rules (``cloud.records.to_fleet``), without a cloud."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from watcher_geyser.cloud import CloudRecords, HypervisorRecord, Inventory, ServerGroupRecord, ServerRecord, to_fleet
from watcher_geyser.power import PowerModel
from watcher_geyser.records import HostState

POWER = PowerModel.linear(100, 200)


def hyp(name, **kw):
    inv = {"VCPU": Inventory(16, 0, 2.0), "MEMORY_MB": Inventory(32768, 1024, 1.0), "DISK_GB": Inventory(500)}
    return HypervisorRecord(name=name, service_host=name, vcpus=8, memory_mb=1, disk_gb=1,
                            inventory=kw.pop("inventory", inv), **kw)


def server(uuid, host, **kw):
    return ServerRecord(uuid=uuid, name=uuid, host=host, vcpus=2, memory_mb=2048, root_gb=20, **kw)


def snap(hyps, servers, groups=()):
    return to_fleet(CloudRecords(list(hyps), list(servers), list(groups)), lambda _name: POWER)


def test_capacity_is_placements_and_falls_back_to_the_hypervisor():
    s = snap([hyp("a"), hyp("b", inventory=None)], [])
    a, b = s.fleet.hosts
    assert a.capacity == (32.0, 31744.0, 500.0)
    assert (b.vcpus, b.cpu_allocation_ratio) == (8, 1.0)
    assert any("host b: no Placement resource provider" in n for n in s.notes)


def test_host_states_follow_the_compute_service():
    s = snap(
        [hyp("up"), hyp("off", state="down"), hyp("dead", state="down"),
         hyp("theirs", state="down", status="disabled", disabled_reason="broken PSU"),
         hyp("ours", state="down", status="disabled", disabled_reason="watcher_geyser: released"),
         hyp("maint", status="disabled")],
        [server("v1", "dead"), server("v2", "up")],
    )
    states = {h.name: h.state for h in s.fleet.hosts}
    assert states == {"up": HostState.ENABLED, "off": HostState.OFF, "dead": HostState.DISABLED,
                      "ours": HostState.OFF, "maint": HostState.DISABLED}
    assert s.left_out_hosts == ["theirs"]
    v1 = s.fleet.instances[s.fleet.instance_index["v1"]]
    assert not v1.movable  # nothing migrates off a dead compute


def test_servers_on_unknown_hosts_and_groups():
    s = snap(
        [hyp("a"), hyp("b")],
        [server("v1", "a"), server("v2", "b"), server("v3", "elsewhere"), server("v4", "a")],
        [ServerGroupRecord("g1", "web", "anti-affinity", ("v1", "v2")),
         ServerGroupRecord("g2", "web", "affinity", ("v4",)),
         ServerGroupRecord("g3", "gone", "affinity", ("v9",)),
         ServerGroupRecord("g4", "odd", "spread-thin", ("v1",))],
    )
    assert len(s.fleet.instances) == 3
    assert any("1 server(s) on 'elsewhere'" in n for n in s.notes)
    assert any("unknown policy 'spread-thin'" in n for n in s.notes)
    groups = {g.name: g.policy.value for g in s.fleet.server_groups}
    # keyed by id, never by name alone (two projects' "web" groups stay two rules); empty groups go
    assert groups == {"web (g1)": "anti-affinity", "web (g2)": "affinity"}
    assert s.fleet.instances[s.fleet.instance_index["v4"]].server_group == "web (g2)"


def test_disk_counts_what_placement_allocates():
    assert server("v", "a", ephemeral_gb=5, swap_mb=1025).disk_gb == 20 + 5 + 2
    assert server("v", "a", boot_from_volume=True, swap_mb=512).disk_gb == 1


HOSTS = [f"h{i}" for i in range(5)]


@st.composite
def cloud_records(draw):
    hyps = []
    for name in draw(st.lists(st.sampled_from(HOSTS), unique=True, max_size=5)):
        status = draw(st.sampled_from(["enabled", "disabled"]))
        hyps.append(hyp(name, state=draw(st.sampled_from(["up", "down"])), status=status,
                        disabled_reason=draw(st.sampled_from([None, "watcher_geyser: off", "broken"]))))
    servers = [
        server(f"v{i}", draw(st.sampled_from(HOSTS + ["ghost"])),
               state=draw(st.sampled_from(["active", "stopped", "paused", "error"])), locked=draw(st.booleans()))
        for i in range(draw(st.integers(0, 12)))
    ]
    return CloudRecords(hyps, servers)


@given(cloud_records())
def test_every_server_is_planned_or_accounted_for(records):
    snapshot = to_fleet(records, lambda _name: POWER)
    fleet = snapshot.fleet
    kept = {h.name for h in fleet.hosts}
    assert kept | set(snapshot.left_out_hosts) == {h.name for h in records.hypervisors}
    planned = {i.uuid for i in fleet.instances}
    for s in records.servers:
        if s.uuid not in planned:  # its host was not read, or was left out: a note says so
            assert s.host not in kept
            assert any(repr(s.host) in n or s.host in n for n in snapshot.notes)
    for inst in fleet.instances:
        host = fleet.hosts[fleet.host_index(inst.host)]
        assert host.state is not HostState.OFF  # nothing runs on a host recorded as off
