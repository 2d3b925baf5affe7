"""``geyser snapshot`` against Watcher's emulated Nova and Placement, through openstacksdk.

The emulators are Watcher's own (``NovaPlacementFixture``, as in its functional tests),
reached over wsgi-intercept by a real openstacksdk connection built from a clouds.yaml.
The scenario written is compared field by field with the topology the emulators serve.
"""

from __future__ import annotations

import json

import pytest
from watcher.tests.functional import topology as topo
from watcher.tests.local_fixtures.nova import NovaPlacementFixture
from wsgi_intercept import interceptor

from tests.ops.clouds import CLOUD, clouds_yaml, emulated_endpoints
from watcher_geyser.cli import main
from watcher_geyser.records import HostState
from watcher_geyser.scenario import load_scenario

pytestmark = pytest.mark.functional


def topology() -> topo.ComputeTopology:
    t = topo.ComputeTopology()
    t.add_computes(count=1, vcpus=32, memory=65536, disk=1000, vcpu_ratio=4.0, memory_ratio=1.5,
                   memory_mb_reserved=2048, vcpu_reserved=2, availability_zone="az1")
    t.add_computes(count=2, vcpus=16, memory=32768, disk=500, availability_zone="az2")
    t.add_computes(count=1, vcpus=16, memory=32768, disk=500, state="down")
    t.update_compute("compute-3", status="disabled", disabled_reason="operator maintenance")
    t.add_instances(computes=["compute-1"], count=4, vcpus=2, memory=4096, disk=20, availability_zone="az1")
    t.add_instances(computes=["compute-2", "compute-3"], count=2, vcpus=4, memory=8192, disk=40,
                    availability_zone="az2")
    t.update_instance("vm-1", locked=True)
    t.update_instance("vm-2", state="stopped")
    t.update_instance("vm-3", state="paused")
    t.update_instance("vm-4", bfv=True, ephemeral=10, swap=1536)
    t.update_instance("vm-5", metadata={"watcher_exclude": "true"})
    return t


@pytest.fixture
def emulated(tmp_path, monkeypatch):
    t = topology()
    fixture = NovaPlacementFixture(topology=t)
    fixture.setUp()
    path = clouds_yaml(tmp_path / "clouds.yaml", {CLOUD: emulated_endpoints(fixture)})
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    yield t, fixture
    fixture.cleanUp()


def test_snapshot_matches_the_emulated_topology(emulated, tmp_path, capsys):
    t, _ = emulated
    out = tmp_path / "scenario.json"
    code = main(["snapshot", "--os-cloud", CLOUD, "-o", str(out), "--page-size", "3",
                 "--power", "compute-1=150/400", "--idle-w", "90", "--max-w", "250"])
    assert code == 0, capsys.readouterr().err
    fleet = load_scenario(out)

    nodes = {n.hostname: n for n in t.compute_nodes}
    # compute-4 is down and empty: recorded as off; the others as their service says
    assert [h.name for h in fleet.hosts] == sorted(nodes)
    states = {h.name: h.state for h in fleet.hosts}
    assert states == {"compute-1": HostState.ENABLED, "compute-2": HostState.ENABLED,
                      "compute-3": HostState.DISABLED, "compute-4": HostState.OFF}
    for h in fleet.hosts:
        n = nodes[h.name]
        assert (h.vcpus, h.memory_mb, h.disk_gb) == (n.vcpus, n.memory, n.disk)
        assert (h.cpu_allocation_ratio, h.ram_allocation_ratio, h.disk_allocation_ratio) == (
            n.vcpu_ratio, n.memory_ratio, n.disk_ratio)
        assert (h.reserved_vcpus, h.reserved_memory_mb, h.reserved_disk_gb) == (
            n.vcpu_reserved, n.memory_mb_reserved, n.disk_gb_reserved)
        assert h.zone == n.availability_zone
    assert fleet.hosts[0].capacity == ((32 - 2) * 4.0, (65536 - 2048) * 1.5, 1000.0)
    assert fleet.hosts[0].power.to_json() == {"idle_w": 150, "max_w": 400}
    assert fleet.hosts[1].power.to_json() == {"idle_w": 90, "max_w": 250}

    # every server, although the API was read three at a time
    assert len(fleet.instances) == len(t.instances) == 8
    by_uuid = {i.uuid: i for i in fleet.instances}
    for vm in t.instances:
        inst = by_uuid[vm.uuid]
        assert (inst.name, inst.host, inst.vcpus, inst.memory_mb) == (vm.name, vm.host, vm.vcpus, vm.memory)
        assert inst.locked == vm.locked
        assert inst.state == vm.state
    assert by_uuid[t.instances[3].uuid].disk_gb == 0 + 10 + 2  # volume-backed: ephemeral + swap in whole GB
    assert by_uuid[t.instances[0].uuid].disk_gb == 20
    assert not by_uuid[t.instances[0].uuid].movable  # locked
    assert by_uuid[t.instances[1].uuid].migration_kind == "cold"  # stopped
    assert not by_uuid[t.instances[2].uuid].movable  # paused: Watcher live-migrates only ACTIVE
    assert by_uuid[t.instances[4].uuid].excluded  # watcher_exclude metadata
    err = capsys.readouterr().err
    assert "os-server-groups (HTTP 404)" in err  # the emulator offers none: said, not fatal
    assert "wrote" in err and "4 hosts (2 enabled, 1 disabled, 1 off), 8 instances" in err


def test_snapshot_then_plan_is_a_dry_run(emulated, tmp_path, capsys):
    t, fixture = emulated
    out = tmp_path / "scenario.json"
    assert main(["snapshot", "--os-cloud", CLOUD, "-o", str(out), "-q"]) == 0
    before = json.dumps(fixture.nova_emulator.servers, sort_keys=True)
    assert main(["plan", str(out), "--json", "--time-limit", "5"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["hosts_on_before"] == 3
    assert json.dumps(fixture.nova_emulator.servers, sort_keys=True) == before  # nothing touched


def test_cpu_util_file_reaches_the_instances(emulated, tmp_path):
    t, _ = emulated
    cpu = tmp_path / "cpu.json"
    cpu.write_text(json.dumps({t.instances[0].uuid: 0.25, "not-a-server": 0.5}))
    out = tmp_path / "scenario.json"
    assert main(["snapshot", "--os-cloud", CLOUD, "-o", str(out), "-q", "--cpu-util-file", str(cpu),
                 "--default-cpu-util", "0.5"]) == 0
    fleet = load_scenario(out)
    assert fleet.instances[fleet.instance_index[t.instances[0].uuid]].cpu_util == 0.25
    assert fleet.default_cpu_util == 0.5


# --- bad input: a clear message and a non-zero exit code ------------------------------------


def test_unknown_cloud(emulated, tmp_path, capsys):
    assert main(["snapshot", "--os-cloud", "nope", "-o", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "Cloud nope was not found" in err and "clouds.yaml" in err
    assert not (tmp_path / "x.json").exists()


def test_missing_credentials(tmp_path, monkeypatch, capsys):
    for name in list(__import__("os").environ):
        if name.startswith("OS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "none.yaml"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert main(["snapshot", "-o", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "missing credentials for the OS_* environment" in err and "auth_url" in err


def test_unreachable_placement_names_what_could_not_be_read(emulated, tmp_path, monkeypatch, capsys):
    _, fixture = emulated
    endpoints = emulated_endpoints(fixture) | {"placement": "http://127.0.0.1:9/"}
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_yaml(tmp_path / "c.yaml", {"broken": endpoints})))
    assert main(["snapshot", "--os-cloud", "broken", "-o", str(tmp_path / "x.json"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "could not read resource providers (Placement /resource_providers)" in err
    assert "http://127.0.0.1:9/" in err and "nothing written" in err
    assert "Warning" not in err  # openstacksdk's own deprecation notices are not the operator's business
    assert not (tmp_path / "x.json").exists()


def test_permission_denied_names_the_api(emulated, tmp_path, monkeypatch, capsys):
    _, fixture = emulated

    def forbidding(environ, start_response):  # a compute API that refuses the hypervisor list
        if "os-hypervisors" in environ["PATH_INFO"]:
            start_response("403 Forbidden", [("Content-Type", "application/json")])
            body = {"forbidden": {"code": 403, "message": "Policy doesn't allow os_compute_api:os-hypervisors:list"}}
            return [json.dumps(body).encode()]
        return fixture.nova_emulator.app(environ, start_response)

    url = "http://forbidding-nova:80"
    intercept = interceptor.RequestsInterceptor(lambda: forbidding, url=url + "/")
    intercept.install_intercept()
    try:
        endpoints = emulated_endpoints(fixture) | {"compute": url + "/v2.1"}
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_yaml(tmp_path / "c.yaml", {"member": endpoints})))
        assert main(["snapshot", "--os-cloud", "member", "-o", str(tmp_path / "x.json"), "-q"]) == 1
    finally:
        intercept.uninstall_intercept()
    err = capsys.readouterr().err
    assert "could not read hypervisors (Nova os-hypervisors): permission denied (HTTP 403)" in err


def test_bad_power_spec(tmp_path, capsys):
    assert main(["snapshot", "-o", str(tmp_path / "x.json"), "--power", "gpu-*=lots"]) == 2
    assert "power model for 'gpu-*'" in capsys.readouterr().err
    assert main(["snapshot", "-o", str(tmp_path / "x.json"), "--power", "no-equals"]) == 2
    assert "PATTERN=SPEC" in capsys.readouterr().err


def test_server_groups_are_read(emulated, tmp_path, monkeypatch):
    """Watcher's Nova emulator has no os-server-groups: this test adds it in front, with paging."""
    t, fixture = emulated
    uuids = [vm.uuid for vm in t.instances]
    groups = [
        {"id": "g-1", "name": "web", "policy": "anti-affinity", "rules": {}, "members": uuids[0:2]},
        {"id": "g-2", "name": "db", "policy": "affinity", "rules": {}, "members": uuids[4:6]},
        {"id": "g-3", "name": "web", "policy": "soft-anti-affinity", "rules": {}, "members": [uuids[7]]},
    ]
    seen_queries = []

    def with_groups(environ, start_response):
        if environ["PATH_INFO"].endswith("/os-server-groups"):
            from urllib.parse import parse_qs

            query = parse_qs(environ.get("QUERY_STRING", ""))
            seen_queries.append(query)
            start = 0
            if "marker" in query:
                start = 1 + next(i for i, g in enumerate(groups) if g["id"] == query["marker"][0])
            limit = int(query.get("limit", ["1000"])[0])
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps({"server_groups": groups[start:start + limit]}).encode()]
        return fixture.nova_emulator.app(environ, start_response)

    url = "http://nova-with-groups:80"
    intercept = interceptor.RequestsInterceptor(lambda: with_groups, url=url + "/")
    intercept.install_intercept()
    try:
        endpoints = emulated_endpoints(fixture) | {"compute": url + "/v2.1"}
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_yaml(tmp_path / "c.yaml", {"g": endpoints})))
        out = tmp_path / "s.json"
        assert main(["snapshot", "--os-cloud", "g", "-o", str(out), "-q", "--page-size", "2"]) == 0
    finally:
        intercept.uninstall_intercept()
    fleet = load_scenario(out)
    policies = {g.name: g.policy.value for g in fleet.server_groups}
    # keyed by id (two groups named "web" stay two rules), the name first for people
    assert policies == {"db (g-2)": "affinity", "web (g-1)": "anti-affinity", "web (g-3)": "soft-anti-affinity"}
    group_of = {i.uuid: i.server_group for i in fleet.instances}
    assert [group_of[u] for u in uuids] == ["web (g-1)", "web (g-1)", None, None, "db (g-2)", "db (g-2)", None,
                                            "web (g-3)"]
    assert all(q.get("all_projects") == ["True"] for q in seen_queries)
    assert len(seen_queries) >= 2  # three groups, two a page


def test_a_server_with_a_task_in_flight_stays_where_it_is(emulated, tmp_path, capsys):
    """Nova keeps vm_state "active" during a live migration; only task_state says it is busy."""
    t, fixture = emulated
    moving = t.instances[5].uuid  # vm-6: active, unlocked, not excluded
    fixture.nova_emulator.servers[moving]["OS-EXT-STS:task_state"] = "migrating"
    out = tmp_path / "s.json"
    assert main(["snapshot", "--os-cloud", CLOUD, "-o", str(out)]) == 0
    by_uuid = {i.uuid: i for i in load_scenario(out).instances}
    assert by_uuid[moving].state == "migrating" and not by_uuid[moving].movable
    assert by_uuid[t.instances[6].uuid].state == "active" and by_uuid[t.instances[6].uuid].movable
    err = capsys.readouterr().err
    assert "1 instance(s) busy with a Nova task in flight" in err and "vm-6 (migrating)" in err


def test_servers_without_hosts_mean_no_admin_rights(emulated, tmp_path, capsys):
    _, fixture = emulated
    for server in fixture.nova_emulator.servers.values():  # what Nova shows a non-admin
        server["OS-EXT-SRV-ATTR:host"] = server["OS-EXT-SRV-ATTR:hypervisor_hostname"] = None
    assert main(["snapshot", "--os-cloud", CLOUD, "-o", str(tmp_path / "x.json"), "-q"]) == 1
    assert "none of the 8 servers shows one" in capsys.readouterr().err


def test_flavours_looked_up_when_not_embedded(emulated, tmp_path):
    """Before microversion 2.47 a server names its flavour by id only; the sizes come from /flavors."""
    t, fixture = emulated
    for server in fixture.nova_emulator.servers.values():
        server["flavor"] = {"id": server["flavor"]["id"], "links": []}
    out = tmp_path / "s.json"
    assert main(["snapshot", "--os-cloud", CLOUD, "-o", str(out), "-q"]) == 0
    fleet = load_scenario(out)
    sizes = {i.uuid: (i.vcpus, i.memory_mb) for i in fleet.instances}
    assert sizes == {vm.uuid: (vm.vcpus, vm.memory) for vm in t.instances}


def test_snapshot_writes_an_empty_power_history_dated_then_that_plan_reads(emulated, tmp_path, capsys):
    import time

    from watcher_geyser.pipeline.history import read_power_history

    out, offs = tmp_path / "scenario.json", tmp_path / "offs.json"
    before = time.time()
    assert main(["snapshot", "--os-cloud", CLOUD, "-o", str(out), "--power-history", str(offs)]) == 0
    assert "an empty power history as of the snapshot" in capsys.readouterr().err
    history = read_power_history(offs)
    assert history.switch_offs == {} and before - 1 <= history.now_s <= time.time()
    assert main(["plan", str(out), "--power-history", str(offs), "--json", "--time-limit", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert any("0 switch-off(s) of the scenario's hosts" in m for m in summary["messages"])
    assert main(["snapshot", "--os-cloud", CLOUD, "-o", str(out), "--power-history", "-"]) == 2
    assert "--power-history needs a file name" in capsys.readouterr().err


def _in_front(fixture, answer):
    """A compute endpoint that answers ``/os-migrations`` with ``answer(query) -> (status, body)``
    and passes everything else to Watcher's Nova emulator (which has no migrations list)."""
    from urllib.parse import parse_qs

    def app(environ, start_response):
        if environ["PATH_INFO"].endswith("/os-migrations"):
            status, body = answer(parse_qs(environ.get("QUERY_STRING", "")))
            start_response(status, [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]
        return fixture.nova_emulator.app(environ, start_response)

    return app


def _snapshot_through(app, fixture, tmp_path, monkeypatch, name: str, *flags: str) -> int:
    url = f"http://{name}:80"
    intercept = interceptor.RequestsInterceptor(lambda: app, url=url + "/")
    intercept.install_intercept()
    try:
        endpoints = emulated_endpoints(fixture) | {"compute": url + "/v2.1"}
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_yaml(tmp_path / f"{name}.yaml", {name: endpoints})))
        return main(["snapshot", "--os-cloud", name, "-o", str(tmp_path / f"{name}.json"), *flags])
    finally:
        intercept.uninstall_intercept()


def test_a_migration_in_flight_claims_its_destination(emulated, tmp_path, monkeypatch, capsys):
    """Nova holds a migrating instance's resources on both hosts: the snapshot counts it on its
    destination too, as a claim row, and asks only for the unfinished statuses."""
    t, fixture = emulated
    moving = t.instances[5]  # vm-6 on compute-2, migrating live to compute-1
    fixture.nova_emulator.servers[moving.uuid]["OS-EXT-STS:task_state"] = "migrating"
    asked = []

    def answer(query):
        asked.append(query.get("status", [None])[0])
        rows = [{"id": 7, "uuid": "m-7", "instance_uuid": moving.uuid, "status": "running",
                 "source_compute": "compute-2", "source_node": "compute-2", "dest_compute": "compute-1",
                 "dest_node": "compute-1", "migration_type": "live-migration"},
                {"id": 6, "uuid": "m-6", "instance_uuid": t.instances[0].uuid, "status": "completed",
                 "source_compute": "compute-2", "dest_compute": "compute-1", "migration_type": "live-migration"}]
        return "200 OK", {"migrations": [m for m in rows if m["status"] == asked[-1]]}

    assert _snapshot_through(_in_front(fixture, answer), fixture, tmp_path, monkeypatch, "mig") == 0
    assert "completed" not in asked and "running" in asked and "finished" in asked
    fleet = load_scenario(tmp_path / "mig.json")
    claims = [i for i in fleet.instances if i.claim_of is not None]
    assert [(c.claim_of, c.host, c.vcpus, c.memory_mb, c.movable) for c in claims] == [
        (moving.uuid, "compute-1", 4, 8192, False)]
    assert {i.uuid: i.host for i in fleet.instances}[moving.uuid] == "compute-2"  # and on its source, as before
    assert "1 migration(s) in flight hold their instance's resources on a second host" in capsys.readouterr().err


def test_a_resize_in_flight_claims_on_its_destination_the_flavour_placement_holds_there(emulated, tmp_path,
                                                                                         monkeypatch, capsys):
    """The server shows its old flavour until the resize finishes; Placement holds the new one on the
    destination (the instance's allocation) and the old one on the source (the migration's)."""
    t, fixture = emulated
    moving = t.instances[5]  # vm-6 on compute-2 (4 vcpu, 8192 MB), resized to 8 vcpu on compute-1
    fixture.nova_emulator.servers[moving.uuid]["OS-EXT-STS:task_state"] = "resize_migrating"
    placement = fixture.placement_emulator
    rp = {v["name"]: k for k, v in placement.resource_providers.items()}
    held_before = placement.allocations[moving.uuid]
    placement.allocations["m-8"] = {rp["compute-2"]: held_before[rp["compute-2"]]}
    placement.allocations[moving.uuid] = {rp["compute-1"]: {"resources": {"VCPU": 8, "MEMORY_MB": 16384,
                                                                          "DISK_GB": 40}}}

    def answer(query):
        row = {"id": 8, "uuid": "m-8", "instance_uuid": moving.uuid, "status": "migrating",
               "source_compute": "compute-2", "source_node": "compute-2", "dest_compute": "compute-1",
               "dest_node": "compute-1", "migration_type": "resize", "old_instance_type_id": 3,
               "new_instance_type_id": 4}
        return "200 OK", {"migrations": [row] if query.get("status") == ["migrating"] else []}

    try:
        assert _snapshot_through(_in_front(fixture, answer), fixture, tmp_path, monkeypatch, "resize") == 0
    finally:
        placement.allocations[moving.uuid] = held_before
        del placement.allocations["m-8"]
    fleet = load_scenario(tmp_path / "resize.json")
    claims = [(i.claim_of, i.host, i.vcpus, i.memory_mb, i.disk_gb) for i in fleet.instances if i.claim_of]
    assert claims == [(moving.uuid, "compute-1", 8, 16384, 40)]
    shown = next(i for i in fleet.instances if i.uuid == moving.uuid)
    assert (shown.host, shown.vcpus, shown.memory_mb) == ("compute-2", 4, 8192)  # the old flavour, on its source
    err = capsys.readouterr().err
    assert "holds on each of its hosts is unknown" not in err and "Placement not read" not in err  # read: no note


def test_a_refused_migrations_list_is_a_note_not_a_failed_snapshot(emulated, tmp_path, monkeypatch, capsys):
    _, fixture = emulated
    forbidden = {"forbidden": {"code": 403, "message": "Policy doesn't allow os_compute_api:os-migrations:index"}}
    assert _snapshot_through(_in_front(fixture, lambda _q: ("403 Forbidden", forbidden)), fixture, tmp_path,
                             monkeypatch, "nomig") == 0
    err = capsys.readouterr().err
    assert "could not read migrations in flight (Nova os-migrations?status=..): permission denied (HTTP 403)" in err
    assert "counted on one of its hosts only" in err
    assert not [i for i in load_scenario(tmp_path / "nomig.json").instances if i.claim_of]


def test_an_instance_moved_lately_carries_moved_at(emulated, tmp_path, monkeypatch, capsys):
    """The migrations finished within --moved-within (a day by default; one paged read, ``changes-since``
    at 2.59) give each instance they moved ``moved_at``, the end of the migration, beside the scenario's
    ``taken_at``, so a plan counts the time since to its own clock; one that failed, or one older than
    the window Nova would not list, give nothing."""
    import time

    from watcher_geyser.settled import iso_utc, nova_time_s

    t, fixture = emulated
    moved, failed = t.instances[0], t.instances[1]
    ended = time.time() - 1800
    asked = []

    def answer(query):
        asked.append(query)
        if "changes-since" not in query:
            return "200 OK", {"migrations": []}  # the in-flight read, one status a request
        rows = [{"id": 9, "uuid": "m-9", "instance_uuid": moved.uuid, "status": "completed",
                 "source_compute": "compute-2", "dest_compute": moved.host, "migration_type": "live-migration",
                 "updated_at": iso_utc(ended)[:-1] + ".000000"},  # as Nova writes it: UTC, no zone
                {"id": 8, "uuid": "m-8", "instance_uuid": failed.uuid, "status": "error",
                 "source_compute": "compute-2", "dest_compute": "compute-1", "migration_type": "live-migration",
                 "updated_at": iso_utc(ended)}]
        return "200 OK", {"migrations": rows}

    before = time.time()
    assert _snapshot_through(_in_front(fixture, answer), fixture, tmp_path, monkeypatch, "settled") == 0
    since = [q for q in asked if "changes-since" in q]
    assert len(since) == 1 and "status" not in since[0]
    assert before - 24 * 3600 - 1 <= nova_time_s(since[0]["changes-since"][0]) <= time.time() - 24 * 3600 + 1
    data = json.loads((tmp_path / "settled.json").read_text())
    assert before - 1 <= nova_time_s(data["taken_at"]) <= time.time() + 1
    written = {i["uuid"]: i["moved_at"] for i in data["instances"] if "moved_at" in i}
    assert written == {moved.uuid: iso_utc(ended)}  # Nova's end, to the second
    assert not [i for i in data["instances"] if "settled_s" in i]
    assert data["moved_within_s"] == 24 * 3600  # the default window, written beside taken_at
    # read an hour later, it has stood an hour longer
    later = load_scenario(tmp_path / "settled.json", now_s=nova_time_s(data["taken_at"]) + 3600)
    settled = {i.uuid: i.settled_s for i in later.instances if i.settled_s}
    assert settled == {moved.uuid: 3600 + nova_time_s(data["taken_at"]) - nova_time_s(iso_utc(ended))}
    assert 5399 <= settled[moved.uuid] <= 5402
    assert "swap pass may move" not in capsys.readouterr().err


def test_moved_within_sets_how_far_back_nova_is_asked(emulated, tmp_path, monkeypatch):
    import time

    from watcher_geyser.settled import nova_time_s

    _, fixture = emulated
    asked = []

    def answer(query):
        asked.append(query)
        return "200 OK", {"migrations": []}

    before = time.time()
    assert _snapshot_through(_in_front(fixture, answer), fixture, tmp_path, monkeypatch, "within", "--moved-within",
                             "90m") == 0
    since = [nova_time_s(q["changes-since"][0]) for q in asked if "changes-since" in q]
    assert len(since) == 1 and before - 5400 - 1 <= since[0] <= time.time() - 5400 + 1
    # the window is written down: a plan whose --swap-payback reaches further back says so
    assert json.loads((tmp_path / "within.json").read_text())["moved_within_s"] == 5400
    asked.clear()
    assert _snapshot_through(_in_front(fixture, answer), fixture, tmp_path, monkeypatch, "none", "--moved-within",
                             "0s") == 0
    assert asked and not [q for q in asked if "changes-since" in q]  # in flight asked, finished not
    assert json.loads((tmp_path / "none.json").read_text())["moved_within_s"] == 0


@pytest.mark.parametrize(("value", "message"), [
    ("24", "is not a number followed by s, m, h or d"), ("a day", "is not a number followed by s, m, h or d"),
    ("31d", "is not between 0s and 30d (the longest --swap-payback)"),
])
def test_a_bad_moved_within_is_refused_before_the_cloud_is_read(tmp_path, capsys, value, message):
    assert main(["snapshot", "--os-cloud", "nowhere", "-o", str(tmp_path / "x.json"), "--moved-within", value]) == 2
    err = capsys.readouterr().err
    assert "argument --moved-within" in err and message in err
    assert not (tmp_path / "x.json").exists()
