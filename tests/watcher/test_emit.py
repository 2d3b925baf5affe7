"""Our plan's waves -> Watcher actions with their waves, and the waves -> the action graph's layers."""

from __future__ import annotations

import pytest

from tests.watcher import cluster
from watcher_geyser.planner import Action, ActionKind, Plan
from watcher_geyser.power import PowerModel
from watcher_geyser.strategies.action_names import NODE_POWER_ACTION as POWER_ACTION
from watcher_geyser.strategies.adapter import fleet_from_model
from watcher_geyser.strategies.emit import WavedSolution, emit_plan, enabled_hosts
from watcher_geyser.strategies.goal import EnergyBudget
from watcher_geyser.strategies.wave_planner import group_by_wave


@pytest.fixture
def adapted():
    nodes = [cluster.node("h1"), cluster.node("h2"),
             cluster.node("h3", state="down", status="disabled", disabled_reason="watcher_geyser")]
    insts = [cluster.instance("vm1", "h1"), cluster.instance("vm2", "h1", state="stopped")]
    return fleet_from_model(cluster.model(nodes, insts), lambda _: PowerModel.linear(100, 300),
                            power_states={"h3": "off"})


def test_plan_becomes_watcher_actions_in_waves(adapted):
    fleet = adapted.fleet
    vm1, vm2 = (fleet.instances[fleet.instance_index[cluster.instance(n, "h1").uuid]] for n in ("vm1", "vm2"))
    plan = Plan(waves=[
        [Action(ActionKind.POWER_ON, host="h3"), Action(ActionKind.DISABLE, host="h1")],
        [Action(ActionKind.ENABLE, host="h3")],
        [Action(ActionKind.LIVE_MIGRATE, instance=vm1.uuid, source="h1", destination="h3", instance_name="vm1"),
         Action(ActionKind.COLD_MIGRATE, instance=vm2.uuid, source="h1", destination="h2", instance_name="vm2")],
        [Action(ActionKind.POWER_OFF, host="h1"), Action(ActionKind.POWER_OFF, host="h2")],
    ])
    solution = WavedSolution(EnergyBudget(config={}), None)
    metal = {"h1": "metal-1", "h3": "metal-3"}
    emitted = emit_plan(solution, plan, fleet, adapted.node_uuids, metal, "watcher_geyser", ["a note"])
    kinds = [(a["action_type"], a["input_parameters"].get("state") or a["input_parameters"].get("migration_type"))
             for a in solution.actions]
    assert kinds == [
        ("nop", None), (POWER_ACTION, "on"), ("change_nova_service_state", "disabled"),
        ("change_nova_service_state", "enabled"), ("migrate", "live"), ("migrate", "cold"), (POWER_ACTION, "off"),
    ]
    assert solution.waves == [0, 1, 1, 2, 3, 3, 4]
    assert solution.actions[0]["input_parameters"]["message"] == "a note"
    disable = solution.actions[2]["input_parameters"]
    assert disable["resource_id"] == adapted.node_uuids["h1"] and disable["disabled_reason"] == "watcher_geyser"
    live = solution.actions[4]["input_parameters"]
    assert (live["resource_id"], live["source_node"], live["destination_node"]) == (vm1.uuid, "h1", "h3")
    assert solution.actions[1]["input_parameters"]["resource_id"] == "metal-3"
    assert emitted.migrations == 2 and emitted.released_hosts == 1
    assert emitted.skipped == ("power_off h2: no bare-metal node is known for it",)
    # before: h1, h2 on (h2 idle); after: h1 off, h2 and h3 on
    assert emitted.watts_before_w == pytest.approx(fleet.watts(powered=fleet.powered))
    assert enabled_hosts(fleet) == 2


def test_empty_plan_without_notes_emits_nothing(adapted):
    solution = WavedSolution(EnergyBudget(config={}), None)
    emitted = emit_plan(solution, Plan(waves=[]), adapted.fleet, adapted.node_uuids, {}, "x", [])
    assert solution.actions == [] and emitted.migrations == 0
    assert emitted.watts_after_w == pytest.approx(emitted.watts_before_w)


def test_waves_group_actions_and_missing_waves_serialise():
    actions = [{"n": i} for i in range(5)]
    assert group_by_wave(actions, [0, 0, 2, 1, 2]) == [[{"n": 0}, {"n": 1}], [{"n": 3}], [{"n": 2}, {"n": 4}]]
    assert group_by_wave(actions, None) == [[a] for a in actions]
    assert group_by_wave(actions, [0]) == [[a] for a in actions]  # inconsistent: one at a time
    assert group_by_wave([], []) == []
