"""What the Watcher strategy counts as a switch-off in Watcher's history of actions."""

from __future__ import annotations

from watcher_geyser.pipeline import CycleBudget
from watcher_geyser.strategies.cycles import (
    HEARTBEAT_S,
    PowerAction,
    down_since,
    hold_from_history,
    outside_switch_offs,
    switch_offs,
)

NOW_S = 1_800_000_000.0


def off(host: str | None, at_s: float, state: str = "SUCCEEDED", kind: str = "geyser_node_power",
        node: str | None = None, power: str = "off") -> PowerAction:
    params = {"state": power, "resource_id": node or f"node-{host}"}
    if host is not None:
        params["resource_name"] = host
    return PowerAction(kind, state, params, at_s)


def test_executed_ongoing_and_approved_power_offs_count_whoever_made_them():
    actions = [
        off("h1", NOW_S - 100),
        off("h1", NOW_S - 50, state="ONGOING"),  # under way: the host is going off
        off("h7", NOW_S, state="PENDING"),  # approved, not yet run (the reader keeps only approved plans')
        off("h2", NOW_S - 10, kind="change_node_power_state"),  # Watcher's own action
        off(None, NOW_S - 20, node="node-h3"),  # no resource_name: the node id says which host
        off("h4", NOW_S - 30, state="FAILED"),  # not executed: the host stayed on
        off("h5", NOW_S - 40, power="on"),  # a switch-on is not a cycle's end
        PowerAction("migrate", "SUCCEEDED", {"resource_name": "h6", "state": "off"}, NOW_S),
    ]
    counted = switch_offs(actions, {"node-h3": "h3"})
    assert counted == {"h1": [NOW_S - 100, NOW_S - 50], "h2": [NOW_S - 10], "h3": [NOW_S - 20], "h7": [NOW_S]}


def test_hosts_out_of_switch_offs_are_held_off_or_on():
    actions = [off("h1", NOW_S - 7200), off("h1", NOW_S - 3600), off("h2", NOW_S - 3600), off("h3", NOW_S - 60),
               off("h3", NOW_S - 30)]
    hold = hold_from_history(CycleBudget(2), NOW_S, [("h1", False), ("h2", False), ("h3", True)], actions,
                             {"h1": "node-h1", "h2": "node-h2", "h3": "node-h3"})
    assert set(hold.held_off) == {"h1"} and set(hold.held_on) == {"h3"}
    assert CycleBudget(2).hold(NOW_S + 86400, [("h1", False)], {"h1": [NOW_S - 7200, NOW_S - 3600]}).held_off == {}


def test_a_host_found_off_with_its_service_down_and_no_power_off_of_watchers_since_counts_once():
    since = NOW_S - 86400
    down = {"byhand": NOW_S - 7200, "ours": NOW_S - 7200, "old": NOW_S - 90000, "again": NOW_S - 600,
            "up": NOW_S - 100}
    recorded = {"ours": [NOW_S - 7100], "again": [NOW_S - 7200]}  # "again": ours, then on and off by hand
    counted = outside_switch_offs(["byhand", "ours", "old", "again", "nobeat"], down, recorded, since, NOW_S)
    assert counted == {"byhand": NOW_S - 7200 + HEARTBEAT_S, "again": NOW_S - 600 + HEARTBEAT_S}
    notes: list[str] = []
    hold = hold_from_history(CycleBudget(1), NOW_S, [("byhand", False), ("up", True)], [], {}, down, notes)
    assert set(hold.held_off) == {"byhand"} and hold.held_on == {}  # "up" is on: its service is no signal
    assert "counted as switched off outside Watcher: byhand" in notes[0]


def test_down_since_reads_nova_heartbeats_of_down_services_only():
    class Service:
        def __init__(self, host, state, updated_at):
            self.host, self.state, self.updated_at = host, state, updated_at

    found = down_since([Service("a", "down", "2027-01-15T08:00:00.000000"), Service("b", "up", "2027-01-15T08:00:00"),
                        Service("c", "down", None), Service("d", "down", "garbage"),
                        Service("e", "down", "2027-01-15T08:00:00Z")])
    assert found == {"a": 1800000000.0, "e": 1800000000.0}
