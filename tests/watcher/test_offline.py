"""Both strategies loaded by Watcher's strategy loader and run offline on one fleet."""

from __future__ import annotations

import pytest

from watcher_geyser.fleetgen import generate_fleet
from watcher_geyser.planner import replay, transit_limits
from watcher_geyser.strategies import offline


@pytest.fixture(scope="module")
def fleet():
    return generate_fleet(8, 60, mixed=True, allocation=0.45, seed=4)


@pytest.fixture(scope="module")
def vwc(fleet):
    return offline.run_strategy("vm_workload_consolidation", fleet)


@pytest.fixture(scope="module")
def ours(fleet):
    return offline.run_strategy("geyser_consolidation", fleet, {"time_limit_s": 1.0})


def test_watchers_strategy_runs_unchanged_and_reads_our_metrics(fleet, vwc):
    assert type(vwc.strategy).__module__ == "watcher.decision_engine.strategy.strategies.vm_workload_consolidation"
    assert vwc.datasource.queries >= len(fleet.instances)
    moves = [a for a in offline.solution_actions(vwc.actions) if a.kind.is_migration]
    assert moves, "a 45 % full fleet leaves Watcher's strategy something to consolidate"
    after = offline.placement_after(fleet, moves)
    assert fleet.occupied(after).sum() < fleet.occupied().sum()


def test_weight_planner_runs_migrations_two_at_a_time_after_service_changes(vwc):
    waves = offline.weight_planner_waves(vwc.actions)
    assert sum(len(w) for w in waves) == len(vwc.actions)
    kinds = [{a["action_type"] for a in w} for w in waves]
    assert all(len(k) == 1 for k in kinds)
    first_migration = next(i for i, k in enumerate(kinds) if k == {"migrate"})
    assert all(k == {"change_nova_service_state"} for k in kinds[:first_migration])
    assert all(len(w) <= 2 for w in waves)
    assert max(len(w) for w in waves[first_migration:]) == 2


def test_our_strategy_sees_the_fleets_power_models_and_plans_safely(fleet, ours, vwc):
    assert type(ours.strategy).__name__ == "GeyserConsolidation"
    waves: dict[int, list] = {}
    for action, w in zip(ours.solution.actions, ours.solution.waves):
        waves.setdefault(w, []).append(action)
    plan = [offline.solution_actions(waves[w]) for w in sorted(waves)]
    assert replay(fleet, plan, transit_limits(fleet, 1.0, 1.0)).violations == []
    ours_after = offline.placement_after(fleet, [a for w in plan for a in w])
    theirs_after = offline.placement_after(fleet, offline.solution_actions(vwc.actions))
    assert fleet.occupied(ours_after).sum() <= fleet.occupied(theirs_after).sum()
    assert fleet.watts(ours_after) <= fleet.watts(theirs_after) + 1e-6


def test_bad_audit_parameters_are_refused_with_watchers_own_message(fleet):
    with pytest.raises(Exception, match="time_limit_s|minimum"):
        offline.run_strategy("geyser_consolidation", fleet, {"time_limit_s": -1})


def test_an_unknown_strategy_is_named_with_what_is_installed(fleet):
    with pytest.raises(ValueError, match="no_such_strategy.*vm_workload_consolidation"):
        offline.run_strategy("no_such_strategy", fleet)


def test_a_pair_that_relies_on_a_departure_overloads_its_destination():
    from watcher_geyser.fleet import Fleet
    from watcher_geyser.power import PowerModel
    from watcher_geyser.records import Host, Instance

    power = PowerModel.linear(100, 200)
    fleet = Fleet.build([Host(n, 8, 8192, 100, power) for n in "ABC"],
                        [Instance("a", "a", "A", 4, 6000, 10, 0.1), Instance("b", "b", "B", 4, 6000, 10, 0.1)])

    def move(uuid, src, dst):
        return {"action_type": "migrate", "input_parameters": {
            "migration_type": "live", "source_node": src, "destination_node": dst, "resource_id": uuid}}

    actions = [move("a", "A", "C"), move("b", "B", "A"), move("a", "C", "B")]  # safe one at a time
    assert offline.overloads(fleet, [[a] for a in actions]).migrations == 0
    pairs = offline.weight_planner_waves(actions)
    assert [len(w) for w in pairs] == [2, 1]
    judged = offline.overloads(fleet, pairs)
    assert (judged.migrations, judged.steps) == (1, 1)  # b lands on A while a still holds it
