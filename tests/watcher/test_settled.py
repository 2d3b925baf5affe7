"""The strategy holds an instance Nova moved lately out of the swap pass (``settled``).

It asks Nova for the migrations finished within the swap payback time through its cloud look-ups
(``cloud.migrations_finished``), once per audit, and gives each instance they moved its
``settled_s``: the swap pass leaves a placement younger than ``swap_payback_s`` where it is
(docs/design/solver.md, "Swaps that undo swaps"). A look-up that fails is a note, never a failed audit.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

from tests.builders import HEAVY, LIGHT, fleet, swap_pair_fleet
from watcher_geyser.claims import MigrationRecord
from watcher_geyser.strategies import cloud, offline


def _moves(f, params=None, **kw):
    run = offline.run_strategy("geyser_consolidation", f, {"time_limit_s": 1.0, **(params or {})},
                               cloud=offline.FleetCloud(f, **kw))
    moves = {(a.instance, a.destination) for a in offline.solution_actions(run.actions) if a.kind.is_migration}
    return moves, " ".join(a.get("input_parameters", {}).get("message", "") for a in run.actions)


def test_the_strategy_swaps_the_pair_when_nova_says_neither_moved_lately():
    moves, _ = _moves(swap_pair_fleet(), finished=[])
    assert moves == {(HEAVY, "cheap"), (LIGHT, "dear")}


def test_an_instance_nova_moved_an_hour_ago_holds_the_swap():
    # light came to cheap an hour ago (a live migration Nova lists as completed): the swap waits
    now = __import__("time").time()
    moved = MigrationRecord(LIGHT, "dear", "cheap", "completed", "live-migration", ended_s=now - 3600)
    assert _moves(swap_pair_fleet(), finished=[moved])[0] == set()
    # seven hours ago is older than the payback time (6 h): the swap is made
    old = replace(moved, ended_s=now - 7 * 3600)
    assert _moves(swap_pair_fleet(), finished=[old])[0] == {(HEAVY, "cheap"), (LIGHT, "dear")}
    # failed migrations moved nothing
    assert _moves(swap_pair_fleet(), finished=[replace(moved, status="error")])[0] == {(HEAVY, "cheap"),
                                                                                       (LIGHT, "dear")}


def test_a_fleet_s_settled_s_comes_back_through_the_look_up():
    # Watcher's model holds no such time: an offline run's look-up gives it back, as Nova would
    f = swap_pair_fleet()
    young = fleet(f.hosts, [replace(i, settled_s=1800.0) if i.uuid == HEAVY else i for i in f.instances])
    assert _moves(young)[0] == set()
    # an audit that makes no swaps (swap_payback_s 0) does not ask, and moves nothing either
    assert _moves(young, {"swap_payback_s": 0})[0] == set()


class _Refused(offline.FleetCloud):
    def migrations_finished(self, since_s, notes):
        notes.append("Nova migrations finished lately unknown (Forbidden: policy): ..")
        return []


def test_a_failed_look_up_does_not_fail_the_audit():
    f = swap_pair_fleet()
    run = offline.run_strategy("geyser_consolidation", f, {"time_limit_s": 1.0}, cloud=_Refused(f))
    assert {(a.instance, a.destination) for a in offline.solution_actions(run.actions) if a.kind.is_migration} == {
        (HEAVY, "cheap"), (LIGHT, "dear")}
    assert "Nova migrations finished lately unknown" in run.actions[0]["input_parameters"]["message"]


def test_the_watcher_look_up_asks_nova_by_compute_service_names(monkeypatch):
    """Watcher's helper's connection, whatever microversion Watcher pins: the request names 2.59."""
    asked = []

    def get(path, params=None, microversion=None):
        asked.append((path, microversion))
        body = {"migrations": [{"uuid": "m-1", "instance_uuid": LIGHT, "status": "completed",
                                "source_compute": "dear", "dest_compute": "cheap", "source_node": "dear.example",
                                "dest_node": "cheap.example", "updated_at": "2026-11-27T06:00:00.000000"}]}
        return SimpleNamespace(status_code=200, headers={}, json=lambda: body)

    compute = SimpleNamespace(get=get, get_endpoint_data=lambda: SimpleNamespace(min_microversion="2.1",
                                                                                 max_microversion="2.96"))
    helper = SimpleNamespace(connection=SimpleNamespace(compute=compute))
    monkeypatch.setattr(cloud.nova_helper, "NovaHelper", lambda: helper)
    notes: list[str] = []
    got = cloud.WatcherCloud().migrations_finished(0.0, notes)
    assert [(m.instance, m.source, m.destination) for m in got] == [(LIGHT, "dear", "cheap")]
    assert asked == [("/os-migrations", "2.59")] and notes == []
