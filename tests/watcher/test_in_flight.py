"""The strategy pins the instances Nova has a task in flight for, which its cluster model cannot show.

Watcher's model holds vm_state only ("active" during a live migration); the strategy asks Nova
through its cloud look-ups (``cloud.tasks_in_flight``), pins those instances before solving and
names them in the plan's leading note. A look-up that fails is a note, never a failed audit.
"""

from __future__ import annotations

from types import SimpleNamespace

from tests.builders import fleet, host, vm
from tests.watcher import cluster
from watcher_geyser.power import PowerModel
from watcher_geyser.strategies import cloud, offline
from watcher_geyser.strategies.adapter import fleet_from_model

LINEAR = PowerModel.linear(100, 300)


def _nova(pages=None, error: Exception | None = None):
    """``NovaHelper`` whose connection answers ``GET /servers/detail`` with ``pages`` (lists of servers)."""
    calls = []

    def get(path, params=None, microversion=None):
        calls.append((path, dict(params or {})))
        if error is not None:
            raise error
        page = pages[len(calls) - 1]
        links = [{"rel": "next", "href": "more"}] if len(calls) < len(pages) else []
        body = {"servers": page, "servers_links": links}
        return SimpleNamespace(status_code=200, json=lambda: body, headers={}, content=b"")

    compute = SimpleNamespace(get=get, get_endpoint_data=lambda: None, default_microversion=None)
    helper = SimpleNamespace(connection=SimpleNamespace(compute=compute))
    return (lambda: helper), calls


def test_the_look_up_lists_every_projects_servers_once_and_keeps_those_with_a_task(monkeypatch):
    pages = [[{"id": "a", "OS-EXT-STS:task_state": "migrating"}, {"id": "b", "OS-EXT-STS:task_state": None}],
             [{"id": "c", "OS-EXT-STS:task_state": "resize_migrating"}, {"id": "d"}]]
    helper, calls = _nova(pages)
    monkeypatch.setattr(cloud.nova_helper, "NovaHelper", helper)
    notes: list[str] = []
    assert cloud.tasks_in_flight(notes) == {"a": "migrating", "c": "resize_migrating"}
    assert notes == []
    assert [path for path, _ in calls] == ["/servers/detail"] * 2
    assert all(params["all_tenants"] == "True" for _, params in calls) and calls[1][1]["marker"] == "b"


def test_a_failed_look_up_is_a_note_and_no_task(monkeypatch):
    helper, _ = _nova(error=ConnectionError("nova down"))
    monkeypatch.setattr(cloud.nova_helper, "NovaHelper", helper)
    notes: list[str] = []
    assert cloud.tasks_in_flight(notes) == {}
    assert len(notes) == 1 and notes[0].startswith("Nova tasks in flight unknown (ConnectionError: nova down)")


def test_the_adapter_pins_them_and_names_them_in_one_note():
    insts = [cluster.instance("moving", "c1"), cluster.instance("idle", "c1")]
    tasks = {insts[0].uuid: "migrating"}
    adapted = fleet_from_model(cluster.model([cluster.node("c1"), cluster.node("c2")], insts), lambda _n: LINEAR,
                               tasks=tasks)
    by_name = {i.name: i for i in adapted.fleet.instances}
    assert by_name["moving"].state == "migrating" and not by_name["moving"].movable
    assert by_name["idle"].state == "active" and by_name["idle"].movable
    assert [n for n in adapted.notes if "in flight" in n] == [
        "1 instance(s) busy with a Nova task in flight stay where they are until it ends (Nova refuses to migrate "
        "them meanwhile): moving (migrating)"]


class _Busy(offline.FleetCloud):
    """The fleet's cloud whose task look-up fails."""

    def tasks_in_flight(self, notes):
        notes.append("Nova tasks in flight unknown (ConnectionError: nova down): ..")
        return {}


def _consolidable():
    """Two hosts a quarter full each: the strategy empties one of them."""
    return fleet([host("a"), host("b")], [vm("11111111-0000-0000-0000-00000000000a", "a", vcpus=2),
                                          vm("11111111-0000-0000-0000-00000000000b", "b", vcpus=2)])


def _moved(run) -> set[str]:
    return {a.instance for a in offline.solution_actions(run.actions) if a.kind.is_migration}


def test_the_strategy_moves_no_instance_in_flight_and_says_so_first():
    f = _consolidable()
    free = offline.run_strategy("geyser_consolidation", f, {"time_limit_s": 1.0})
    assert len(_moved(free)) == 1  # without a task in flight, one of the two moves
    for busy in (i.uuid for i in f.instances):
        run = offline.run_strategy("geyser_consolidation", f, {"time_limit_s": 1.0},
                                   cloud=offline.FleetCloud(f, tasks={busy: "migrating"}))
        assert busy not in _moved(run)
        assert _moved(run), "the other instance still moves onto the busy one's host"
        first = run.actions[0]
        assert first["action_type"] == "nop"
        assert f"{busy} (migrating)" in first["input_parameters"]["message"]


def test_a_failed_look_up_does_not_fail_the_audit():
    f = _consolidable()
    run = offline.run_strategy("geyser_consolidation", f, {"time_limit_s": 1.0}, cloud=_Busy(f))
    assert len(_moved(run)) == 1
    assert "Nova tasks in flight unknown" in run.actions[0]["input_parameters"]["message"]
