"""The scenario reader: good input round-trips, every bad input names what is wrong."""

import copy
import json

import pytest

from watcher_geyser.fleetgen import generate_family
from watcher_geyser.records import HostState, MigrationKind
from watcher_geyser.scenario import (
    GROUP_FIELDS,
    HOST_FIELDS,
    INSTANCE_FIELDS,
    TOP_FIELDS,
    ScenarioError,
    fleet_from_dict,
    fleet_to_dict,
    load_scenario,
)

GOOD = {
    "hosts": [
        {
            "name": "compute-1", "vcpus": 64, "memory_mb": 524288, "disk_gb": 2000,
            "cpu_allocation_ratio": 4.0, "ram_allocation_ratio": 1.0, "disk_allocation_ratio": 1.0,
            "reserved_vcpus": 0, "reserved_memory_mb": 4096, "reserved_disk_gb": 0,
            "power": {"idle_w": 120, "max_w": 350}, "state": "enabled", "zone": "az1",
        },
        {
            "name": "compute-2", "vcpus": 2, "memory_mb": 4096, "disk_gb": 100,
            "power": {"curve_w": [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135]}, "state": "off",
        },
    ],
    "instances": [
        {
            "uuid": "5e0c9a4e-0000-4000-8000-000000000001", "name": "web-1", "host": "compute-1",
            "vcpus": 4, "memory_mb": 8192, "disk_gb": 40, "cpu_util": 0.35, "state": "active",
            "locked": False, "server_group": "web", "some_future_field": 1,
        }
    ],
    "server_groups": [{"name": "web", "policy": "anti-affinity"}],
}


def test_reads_the_documented_example():
    fleet = fleet_from_dict(GOOD)
    assert [h.name for h in fleet.hosts] == ["compute-1", "compute-2"]
    assert fleet.hosts[0].capacity == (256.0, 520192.0, 2000.0)
    assert fleet.hosts[1].state is HostState.OFF
    assert fleet.hosts[1].cpu_allocation_ratio == 1.0 and fleet.hosts[1].zone == "nova"
    assert fleet.hosts[1].power.watts(0.55) == pytest.approx((116 + 121) / 2)
    assert fleet.instances[0].migration_kind is MigrationKind.LIVE
    assert fleet.cpu_used[0] == pytest.approx(1.4)
    assert list(fleet.placement) == [0]


def test_round_trip(tmp_path):
    fleet = fleet_from_dict(GOOD)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(fleet_to_dict(fleet)))
    again = load_scenario(path)
    assert again.hosts == fleet.hosts and again.instances == fleet.instances
    assert again.server_groups == fleet.server_groups


def test_the_reader_knows_every_field_the_writer_writes():
    # the typo notes compare against these lists: a field the writer (and so `geyser snapshot`)
    # adds must be added there too, or every snapshot would read with a "did you mean" note
    data = fleet_to_dict(generate_family("zones", 30, 120, seed=1))
    assert set(data) <= TOP_FIELDS
    assert set().union(*data["hosts"]) <= HOST_FIELDS
    assert set().union(*data["instances"]) <= INSTANCE_FIELDS
    assert data["server_groups"] and set().union(*data["server_groups"]) <= GROUP_FIELDS
    assert not [n for n in fleet_from_dict(data).notes if "did you mean" in n]


def _bad(mutate):
    data = copy.deepcopy(GOOD)
    mutate(data)
    return data


BAD = [
    ("missing hosts", lambda d: d.pop("hosts"), "missing required field 'hosts'"),
    ("hosts not a list", lambda d: d.update(hosts={}), "'hosts' must be a list"),
    ("host without name", lambda d: d["hosts"][0].pop("name"), "hosts[0]: missing required field 'name'"),
    ("negative vcpus", lambda d: d["hosts"][0].update(vcpus=-1), "host 'compute-1': 'vcpus' must be >= 0"),
    ("string memory", lambda d: d["hosts"][1].update(memory_mb="4G"), "host 'compute-2': 'memory_mb' must be a number"),
    ("zero ratio", lambda d: d["hosts"][0].update(cpu_allocation_ratio=0), "'cpu_allocation_ratio' must be > 0"),
    ("reserved too big", lambda d: d["hosts"][1].update(reserved_memory_mb=9999), "reserved_memory_mb (9999) exceeds"),
    ("bad state", lambda d: d["hosts"][0].update(state="up"), "state must be one of enabled, disabled, off"),
    ("no power", lambda d: d["hosts"][0].pop("power"), "host 'compute-1': missing required field 'power'"),
    ("short curve", lambda d: d["hosts"][1].update(power={"curve_w": [1, 2]}), "has 11 points"),
    ("falling curve", lambda d: d["hosts"][1].update(power={"curve_w": list(range(11, 0, -1))}), "must not decrease"),
    ("idle above max", lambda d: d["hosts"][0].update(power={"idle_w": 400, "max_w": 350}), "idle_w <= max_w"),
    ("duplicate host", lambda d: d["hosts"][1].update(name="compute-1"), "host 'compute-1': duplicate host name"),
    ("unknown host", lambda d: d["instances"][0].update(host="nowhere"), "unknown host 'nowhere'"),
    ("instance on off host", lambda d: d["instances"][0].update(host="compute-2"), "is 'off' but runs it"),
    ("negative ram", lambda d: d["instances"][0].update(memory_mb=-5), "'memory_mb' must be >= 0"),
    ("fractional vcpus", lambda d: d["instances"][0].update(vcpus=1.5), "'vcpus' must be a whole number"),
    ("nan cpu", lambda d: d["instances"][0].update(cpu_util=float("nan")), "'cpu_util' must be a finite number"),
    ("cpu above 1", lambda d: d["instances"][0].update(cpu_util=35), "'cpu_util' must be at most 1, got 35"),
    ("locked string", lambda d: d["instances"][0].update(locked="no"), "'locked' must be true or false"),
    ("duplicate uuid", lambda d: d["instances"].append(dict(d["instances"][0])), "duplicate uuid"),
    ("unknown group", lambda d: d["instances"][0].update(server_group="db"), "unknown server group 'db'"),
    ("bad policy", lambda d: d["server_groups"][0].update(policy="spread"), "policy must be one of"),
    ("instance not object", lambda d: d["instances"].append(3), "instances[1]: must be an object"),
]


@pytest.mark.parametrize("label,mutate,message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_the_entry(label, mutate, message):
    with pytest.raises(ScenarioError) as err:
        fleet_from_dict(_bad(mutate))
    assert message in str(err.value)


def test_bad_files_name_the_file(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(ScenarioError, match="nope.json: cannot read scenario"):
        load_scenario(missing)
    broken = tmp_path / "broken.json"
    broken.write_text('{"hosts": [')
    with pytest.raises(ScenarioError, match=r"broken.json: not valid JSON \(line 1"):
        load_scenario(broken)
    wrong = tmp_path / "wrong.json"
    wrong.write_text("[]")
    with pytest.raises(ScenarioError, match="wrong.json: a scenario is a JSON object"):
        load_scenario(wrong)


def test_overloaded_host_is_not_an_error():
    data = _bad(lambda d: d["instances"][0].update(vcpus=10_000))
    fleet = fleet_from_dict(data)
    assert fleet.load()[0, 0] > fleet.capacity[0, 0]


def test_pinned_states():
    data = copy.deepcopy(GOOD)
    for state, kind in (("ACTIVE", MigrationKind.LIVE), ("shutoff", MigrationKind.COLD), ("error", None)):
        data["instances"][0]["state"] = state
        inst = fleet_from_dict(data).instances[0]
        assert inst.migration_kind is kind
        assert inst.movable is (kind is not None)
