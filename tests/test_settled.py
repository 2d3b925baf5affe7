"""How long each instance has stood where it is, from Nova's finished migrations (``settled``), and
the read of them (``cloud.read.finished_migrations``: ``os-migrations?changes-since=``, 2.59)."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from tests.builders import HEAVY, LIGHT, fleet, host, swap_pair_fleet, vm
from watcher_geyser.claims import MigrationRecord
from watcher_geyser.cloud.read import finished_migrations
from watcher_geyser.scenario import ScenarioError, fleet_from_dict, fleet_to_dict
from watcher_geyser.settled import iso_utc, nova_time_s, settled_seconds

T0 = nova_time_s("2026-11-27T06:00:00")


@pytest.mark.parametrize("text", ["2026-11-27T06:00:00", "2026-11-27T06:00:00.000000", "2026-11-27T06:00:00Z",
                                  "2026-11-27T08:00:00+02:00", " 2026-11-27T06:00:00.000000+00:00 "])
def test_nova_times_with_or_without_a_zone_are_utc(text):
    assert nova_time_s(text) == T0 == 1795759200.0


@pytest.mark.parametrize("text", [None, "", "  ", "yesterday", 1796191200, "2026-13-01T00:00:00"])
def test_a_missing_or_unreadable_time_is_none(text):
    assert nova_time_s(text) is None


def test_iso_utc_is_what_changes_since_takes_and_reads_back():
    assert iso_utc(T0 + 0.7) == "2026-11-27T06:00:00Z"
    assert nova_time_s(iso_utc(T0)) == T0


def _moved(uuid, status="completed", source="a", destination="b", ended_s=T0, kind="live-migration"):
    return MigrationRecord(uuid, source, destination, status, kind, ended_s=ended_s)


def test_each_instance_is_settled_since_the_latest_move_that_brought_it_somewhere():
    now = T0 + 3600
    records = [
        _moved("x", ended_s=T0 - 600), _moved("x", "confirmed", "b", "c", T0, "migration"),  # the later one counts
        _moved("e", "done", "a", "c", T0 + 60, "evacuation"),
        _moved("f", ended_s=now + 30),  # a clock ahead of ours: just now, not in the future
    ]
    assert settled_seconds(records, now) == {"x": 3600.0, "e": 3540.0, "f": 0.0}


@pytest.mark.parametrize("record", [
    _moved("y", "error"), _moved("y", "failed"), _moved("y", "cancelled"),
    _moved("y", "reverted", kind="resize"),  # back where it was
    _moved("y", "running"), _moved("y", "finished", kind="resize"),  # in flight: a claim, not a move
    _moved("y", "confirmed", "a", "a", kind="resize"),  # resized on its own host: it did not move
    _moved("y", "completed", "a", None),  # no destination: nowhere to stand
    _moved("y", ended_s=None),  # when it ended is unknown
])
def test_migrations_that_moved_nothing_or_whose_end_is_unknown_say_nothing(record):
    assert settled_seconds([record], T0 + 60) == {}


# --- the read ---------------------------------------------------------------------------------

class _Compute:
    """openstacksdk's compute proxy as ``finished_migrations`` uses it: version discovery and a raw GET
    of ``/os-migrations`` answered from ``rows`` (``page`` a request, next links while more remain)."""

    def __init__(self, rows, max_version="2.96", page=2, error=None):
        self.rows, self.max_version, self.page, self.error, self.asked = rows, max_version, page, error, []

    def get_endpoint_data(self):
        return SimpleNamespace(min_microversion="2.1", max_microversion=self.max_version)

    def get(self, path, params=None, microversion=None):
        self.asked.append((path, dict(params), microversion))
        if self.error is not None:
            raise self.error
        start = 0 if "marker" not in params else [r["uuid"] for r in self.rows].index(params["marker"]) + 1
        page = self.rows[start:start + self.page]
        body = {"migrations": page}
        if start + self.page < len(self.rows):
            body["migrations_links"] = [{"rel": "next", "href": "..."}]
        return SimpleNamespace(status_code=200, headers={}, json=lambda: body)


def _row(n, instance, status="completed", updated_at="2026-11-27T06:00:00.000000", **kw):
    row = {"id": n, "uuid": f"m-{n}", "instance_uuid": instance, "status": status, "migration_type": "live-migration",
           "source_compute": "a", "source_node": "node-a", "dest_compute": "b", "dest_node": "node-b",
           "created_at": "2026-11-27T05:58:00.000000", "updated_at": updated_at}
    return row | kw


def test_the_read_asks_at_2_59_for_the_window_pages_through_it_and_keeps_the_moves():
    rows = [_row(1, "x"), _row(2, "y", "error"), _row(3, "z", updated_at=None),
            _row(4, "w", "running", updated_at=None), _row(5, "v", updated_at="2026-11-27T07:00:00Z")]
    compute = _Compute(rows)
    notes: list[str] = []
    got = finished_migrations(SimpleNamespace(compute=compute), T0 - 6 * 3600, notes, page_size=2)
    assert notes == []
    assert [(p, q.get("changes-since"), q.get("marker"), v) for p, q, v in compute.asked] == [
        ("/os-migrations", "2026-11-27T00:00:00Z", None, "2.59"), ("/os-migrations", "2026-11-27T00:00:00Z", "m-2",
                                                                  "2.59"),
        ("/os-migrations", "2026-11-27T00:00:00Z", "m-4", "2.59")]
    # the error and the one still running moved nothing; z gave no update time: its start stands in
    assert got == [MigrationRecord("x", "node-a", "node-b", "completed", "live-migration", ended_s=T0),
                   MigrationRecord("z", "node-a", "node-b", "completed", "live-migration", ended_s=T0 - 120),
                   MigrationRecord("v", "node-a", "node-b", "completed", "live-migration", ended_s=T0 + 3600)]
    by_service = finished_migrations(SimpleNamespace(compute=_Compute(rows[:1])), T0 - 60, [], by_node=False)
    assert (by_service[0].source, by_service[0].destination) == ("a", "b")  # as Watcher's model names hosts


def test_a_nova_older_than_2_59_is_not_asked_and_a_note_says_what_it_means():
    # before 2.59 Nova drops changes-since without a word: the answer would be every migration ever made
    compute = _Compute([_row(1, "x")], max_version="2.58")
    notes: list[str] = []
    assert finished_migrations(SimpleNamespace(compute=compute), T0, notes) == []
    assert compute.asked == []
    assert len(notes) == 1 and "older than microversion 2.59" in notes[0]
    assert "the swap pass may move one of them again" in notes[0]


def test_a_refused_read_is_a_note_and_no_migration():
    from openstack import exceptions as sdk_exc

    refused = sdk_exc.ForbiddenException("Policy doesn't allow os_compute_api:os-migrations:index")
    notes: list[str] = []
    assert finished_migrations(SimpleNamespace(compute=_Compute([], error=refused)), T0, notes) == []
    assert len(notes) == 1 and "migrations finished lately (Nova os-migrations?changes-since=..)" in notes[0]
    assert "the swap pass may move one of them again" in notes[0]


# --- the scenario -----------------------------------------------------------------------------

def test_a_scenario_carries_settled_s_and_reads_it_back():
    f = fleet([host("a"), host("b")], [vm("x", "a", settled_s=1800.0), vm("y", "b")])
    data = fleet_to_dict(f)
    assert [i.get("settled_s") for i in data["instances"]] == [1800.0, None]
    assert fleet_from_dict(data).settled_s.tolist() == [1800.0, float("inf")]


@pytest.mark.parametrize("value", [-1, "soon", float("nan"), True])
def test_a_bad_settled_s_names_the_instance_and_the_field(value):
    data = fleet_to_dict(fleet([host("a")], [vm("x", "a")]))
    data["instances"][0]["settled_s"] = value
    with pytest.raises(ScenarioError, match="instance 'x': 'settled_s'"):
        fleet_from_dict(data)


# --- moved_at: when it moved, counted to the plan's clock ----------------------------------------

def _with(fields: dict, top: dict | None = None) -> dict:
    data = fleet_to_dict(fleet([host("a"), host("b")], [vm("x", "a"), vm("y", "b")])) | (top or {})
    data["instances"][0].update(fields)
    return data


def test_moved_at_ages_with_the_plan_s_clock():
    data = _with({"moved_at": iso_utc(T0)}, {"taken_at": iso_utc(T0 + 600)})
    assert fleet_from_dict(data, now_s=T0 + 600).instances[0].settled_s == 600.0  # as of the snapshot
    assert fleet_from_dict(data, now_s=T0 + 7 * 3600).instances[0].settled_s == 7 * 3600.0  # planned hours later
    assert fleet_from_dict(data, now_s=T0 + 7 * 3600).instances[1].settled_s is None
    # a clock a little behind the snapshot's (FUTURE_SLACK_S): just moved, not refused
    assert fleet_from_dict(_with({"moved_at": iso_utc(T0 + 30)}), now_s=T0).instances[0].settled_s == 0.0


def test_settled_s_counts_to_taken_at_when_the_scenario_has_one():
    aged = fleet_from_dict(_with({"settled_s": 600.0}, {"taken_at": iso_utc(T0)}), now_s=T0 + 3600)
    assert aged.instances[0].settled_s == 4200.0
    assert fleet_from_dict(_with({"settled_s": 600.0}), now_s=T0 + 3600).instances[0].settled_s == 600.0  # as given


def test_a_snapshot_s_fleet_writes_moved_at_and_taken_at_and_reads_back_as_of_then():
    f = fleet([host("a"), host("b")], [vm("x", "a", settled_s=1800.0), vm("y", "b")])
    data = fleet_to_dict(f, taken_at_s=T0)
    assert data["taken_at"] == "2026-11-27T06:00:00Z"
    assert [(i.get("moved_at"), i.get("settled_s")) for i in data["instances"]] == [("2026-11-27T05:30:00Z", None),
                                                                                    (None, None)]
    assert fleet_from_dict(data, now_s=T0) == f


@pytest.mark.parametrize(("fields", "top", "message"), [
    ({"moved_at": "yesterday"}, {}, "instance 'x': 'moved_at': text of 9 character\\(s\\) is not an ISO 8601 time"),
    ({"moved_at": "2026-11-27T05:00:00"}, {}, "instance 'x': 'moved_at': the time has no time zone; add Z"),
    ({"moved_at": T0 - 3600}, {}, "instance 'x': 'moved_at': 1795755600.0 is not ISO 8601 text"),
    ({"moved_at": iso_utc(T0 + 3600)}, {}, "instance 'x': 'moved_at' \\(2026-11-27T07:00:00Z\\) is after the "
                                           "plan's clock \\(2026-11-27T06:00:00Z\\)"),
    ({"moved_at": iso_utc(T0 - 60)}, {"taken_at": iso_utc(T0 - 120)},
     "instance 'x': 'moved_at' \\(2026-11-27T05:59:00Z\\) is after the scenario's taken_at"),
    ({"moved_at": iso_utc(T0 - 60), "settled_s": 60}, {}, "instance 'x': give 'moved_at' or 'settled_s', not both"),
    ({}, {"taken_at": iso_utc(T0 + 3600)}, "scenario: 'taken_at' \\(2026-11-27T07:00:00Z\\) is after the plan's"),
    ({}, {"taken_at": "noon"}, "scenario: 'taken_at': text of 4 character\\(s\\) is not an ISO 8601 time"),
])
def test_a_bad_moved_at_or_taken_at_names_the_instance_and_the_fix(fields, top, message):
    with pytest.raises(ScenarioError, match=message):
        fleet_from_dict(_with(fields, top), now_s=T0)


def _plan_moves(tmp_path, capsys, scenario: dict, *flags: str) -> set:
    from watcher_geyser.cli import main

    path = tmp_path / "pair.json"
    path.write_text(json.dumps(scenario))
    assert main(["plan", str(path), "--time-limit", "3", "--method", "decompose", "--json", *flags]) == 0
    before = {i["uuid"]: i["host"] for i in scenario["instances"]}
    return {(uuid, at) for uuid, at in json.loads(capsys.readouterr().out)["placement"].items() if at != before[uuid]}


@pytest.mark.parametrize(("hours", "held"), [(1, True), (7, False)])
def test_geyser_plan_holds_an_instance_moved_within_the_payback_time_before_its_clock(tmp_path, capsys, hours, held):
    """light came to cheap ``hours`` before the plan's clock, half an hour before the snapshot: the clock
    is the power history's now (the plan replays the snapshot as of it) or, without one, the current
    time. Seven hours is past the payback time (6 h) though the snapshot saw a move 30 min old."""
    swapped = {(HEAVY, "cheap"), (LIGHT, "dear")}

    def scenario(clock_s: float) -> dict:
        moved_s = clock_s - hours * 3600
        data = fleet_to_dict(swap_pair_fleet(), taken_at_s=moved_s + 1800)
        data["instances"][[i["uuid"] for i in data["instances"]].index(LIGHT)]["moved_at"] = iso_utc(moved_s)
        return data

    history = tmp_path / "offs.json"
    history.write_text(json.dumps({"now": iso_utc(T0), "switch_offs": []}))
    assert _plan_moves(tmp_path, capsys, scenario(T0), "--power-history", str(history)) == (set() if held else swapped)
    assert _plan_moves(tmp_path, capsys, scenario(float(int(time.time())))) == (set() if held else swapped)


def test_geyser_plan_refuses_a_scenario_giving_both_and_names_the_instance(tmp_path, capsys):
    from watcher_geyser.cli import main

    data = _with({"moved_at": iso_utc(time.time() - 60), "settled_s": 60})
    path = tmp_path / "both.json"
    path.write_text(json.dumps(data))
    assert main(["plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: instance 'x': give 'moved_at' or 'settled_s', not both" in err and "nothing was planned" in err
