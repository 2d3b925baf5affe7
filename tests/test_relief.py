"""Relief: hosts above their relief limits shed instances first, onto hosts switched on if
need be, and the answer names every host it could not relieve, with the reason."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import fleet, host, vm
from tests.strategies import fleets
from watcher_geyser.cli import main
from watcher_geyser.planner import ActionKind, plan, problem_limits, replay
from watcher_geyser.records import HostState
from watcher_geyser.scenario import save_scenario
from watcher_geyser.solver import Problem, solve
from watcher_geyser.solver.checks import check_placement, hot_hosts
from watcher_geyser.solver.limits import host_load
from watcher_geyser.solver.relief import POWER_ON_FORBIDDEN, unrelieved_message

METHODS = ["greedy", "decompose", "exact"]


def _hot_next_to_off():
    # 'hot' runs 24 cores of measured CPU on 16; 'spare' is off; 'busy' is on but full
    instances = [vm(f"v{i}", "hot", vcpus=4, memory_mb=2048, cpu_util=1.0) for i in range(6)]
    instances += [vm(f"b{i}", "busy", vcpus=4, memory_mb=2048, cpu_util=1.0) for i in range(4)]
    return fleet([host("hot"), host("busy"), host("spare", state="off")], instances)


@pytest.mark.parametrize("method", METHODS)
def test_hot_host_next_to_an_off_host_is_relieved_power_on_first(method):
    f = _hot_next_to_off()
    problem = Problem(f, ceiling=1.0, cpu_ceiling=1.0, time_limit_s=5)
    assert hot_hosts(problem).tolist() == [True, False, False]
    target = solve(problem, method=method)
    assert target.unrelieved == {}
    assert "hot" in target.relieved
    assert check_placement(problem, target.placement, unrelieved=target.unrelieved) == []
    assert not hot_hosts(problem, target.placement).any()
    assert any("switched on spare" in m for m in target.messages)
    moves = plan(target, parallelism=4, per_host_parallelism=2)
    kinds = [[a.kind for a in wave] for wave in moves.waves]
    power_on = next(w for w, wave in enumerate(kinds) if ActionKind.POWER_ON in wave)
    first_move = next(w for w, wave in enumerate(kinds) if any(k.is_migration for k in wave))
    assert power_on < first_move
    assert moves.left_undone == []
    result = replay(f, moves, problem_limits(problem))
    assert result.ok, result.violations
    assert all(result.placement[f"v{i}"] in ("hot", "spare") for i in range(6))


def test_relief_uses_a_host_that_is_on_before_switching_one_on():
    instances = [vm(f"v{i}", "hot", vcpus=4, cpu_util=1.0) for i in range(5)] + [vm("w", "cool", cpu_util=0.1)]
    f = fleet([host("hot"), host("cool"), host("spare", state="off")], instances)
    target = solve(Problem(f, time_limit_s=5), method="greedy")
    assert target.unrelieved == {}
    assert target.fleet.occupied(target.placement).tolist()[2] is False
    assert target.migrations >= 1


def test_hot_host_with_nothing_to_switch_on_is_named_with_the_reason():
    f = _hot_next_to_off()
    target = solve(Problem(f, allow_power_on=False, time_limit_s=5))
    assert list(target.unrelieved) == ["hot"]
    assert "switching hosts on is not allowed" in target.unrelieved["hot"]
    assert any("hot stays above its relief limit" in m for m in target.messages)
    assert check_placement(target.problem, target.placement, unrelieved=target.unrelieved) == []


def test_hot_host_with_no_room_anywhere_is_named():
    f = fleet(
        [host("hot"), host("busy")],
        [vm(f"v{i}", h, vcpus=4, cpu_util=1.0) for i, h in enumerate(["hot"] * 6 + ["busy"] * 4)],
    )
    target = solve(Problem(f, time_limit_s=2))
    assert "no room" in target.unrelieved["hot"]
    assert target.migrations == 0


def test_pinned_instances_never_move_and_the_host_is_named():
    instances = [vm(f"v{i}", "hot", vcpus=4, cpu_util=1.0, locked=True) for i in range(6)]
    f = fleet([host("hot"), host("spare", state="off")], instances)
    target = solve(Problem(f, time_limit_s=2))
    assert target.migrations == 0
    assert "cannot move" in target.unrelieved["hot"] and "pinned" in target.unrelieved["hot"]


def test_relief_is_never_capped_by_the_consolidation_cap_but_is_by_the_migration_cap():
    f = _hot_next_to_off()
    relieved = solve(Problem(f, max_consolidation_moves=0, time_limit_s=2), method="greedy")
    assert relieved.unrelieved == {} and relieved.migrations >= 2
    capped = solve(Problem(f, max_migrations=1, time_limit_s=2), method="greedy")
    assert capped.migrations <= 1
    assert "migration cap (max_migrations=1) is used up" in capped.unrelieved["hot"]


def test_vcpu_and_ram_above_the_ceiling_are_relieved():
    # 200 % vCPU and 189 % RAM of a host, with an empty host that is on next to it
    instances = [vm(f"v{i}", "full", vcpus=8, memory_mb=7750, cpu_util=0.05) for i in range(4)]
    f = fleet([host("full"), host("empty")], instances)
    assert (f.load()[0, :2] / f.capacity[0, :2] > 1.8).all()
    target = solve(Problem(f, time_limit_s=2))
    assert target.unrelieved == {} and target.relieved == ("full",)
    assert target.migrations == 2 and target.status != "OPTIMAL"


def test_relief_off_keeps_the_older_rule():
    target = solve(Problem(_hot_next_to_off(), relieve=False, time_limit_s=2), method="greedy")
    assert target.unrelieved == {} and target.relieved == ()


@st.composite
def hot_problems(draw):
    f = draw(fleets(max_hosts=6, max_instances=16))
    return Problem(
        f,
        ceiling=draw(st.sampled_from([1.0, 0.8, 0.6])),
        cpu_ceiling=draw(st.sampled_from([1.0, 0.5, 0.3, None])),
        max_migrations=draw(st.one_of(st.none(), st.none(), st.integers(0, 6))),
        max_consolidation_moves=draw(st.one_of(st.none(), st.integers(0, 3))),
        allow_power_on=draw(st.booleans()),
        time_limit_s=1.0,
        workers=1,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hot_problems(), st.sampled_from(["greedy", "decompose", "exact"]), st.integers(1, 3))
def test_after_solve_and_plan_no_host_is_above_its_relief_limit_unless_named(problem, method, parallelism):
    f = problem.fleet
    target = solve(problem, method=method)
    assert check_placement(problem, target.placement, unrelieved=target.unrelieved) == []
    assert set(target.unrelieved) <= {f.hosts[h].name for h in np.flatnonzero(hot_hosts(problem))}
    assert all(reason for reason in target.unrelieved.values())
    for name, reason in target.unrelieved.items():  # named once, with what the request allowed
        assert [m for m in target.messages if f"host {name} stays above" in m] == [unrelieved_message(name, reason)]
        assert problem.allow_power_on or "switched on" not in reason
        assert (POWER_ON_FORBIDDEN in reason) <= (not problem.allow_power_on)
    pinned = ~f.movable
    assert np.array_equal(target.placement[pinned], f.placement[pinned])
    moves = plan(target, parallelism=parallelism, per_host_parallelism=1)
    result = replay(f, moves, problem_limits(problem))
    assert result.ok, result.violations
    end = np.array([f.host_index(result.placement[i.uuid]) for i in f.instances], dtype=np.int64)
    still_hot = hot_hosts(problem, end)
    # the answer names every host left hot: the solver (no relief possible), or the plan (a move off
    # it left undone, e.g. a cycle of moves that no staging host can break without overloading one)
    undone_from = {u.source for u in moves.left_undone if u.reason}
    for h in np.flatnonzero(still_hot):
        name = f.hosts[h].name
        assert name in target.unrelieved or name in undone_from, (
            name, host_load(f, end)[h], problem.relief_limits[h], moves.left_undone)
    for a in moves.actions:
        if a.kind is ActionKind.POWER_ON:
            assert f.hosts[f.host_index(a.host)].state is HostState.OFF


def test_geyser_plan_prints_the_relief_and_the_hosts_it_could_not_relieve(tmp_path, capsys):
    path = tmp_path / "hot.json"
    save_scenario(_hot_next_to_off(), path)
    assert main(["plan", str(path), "--time-limit", "2", "--parallelism", "4"]) == 0
    out = capsys.readouterr().out
    assert "relieved hosts (were above their relief limit): hot" in out
    assert "hosts switched on: spare" in out
    assert "power on" in out
    assert main(["plan", str(path), "--time-limit", "2", "--no-power-on"]) == 0
    assert "hosts with room: spare off, and switching hosts on is not allowed (--no-power-on was given" in (
        capsys.readouterr().out)
    assert main(["plan", str(path), "--time-limit", "2", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["relieved_hosts"] == ["hot"] and summary["unrelieved_hosts"] == {}
    assert summary["powered_on_hosts"] == ["spare"]


@settings(max_examples=30, deadline=None)
@given(fleets(max_hosts=5, max_instances=10), st.randoms(use_true_random=False))
def test_the_relieved_fleet_reads_as_a_fleet_built_afresh(f, rnd):
    _ = (f.capacity, f.demand, f.cpu_used, f.movable, f.idle_w, f.host_zone, f.power_groups)  # fill the caches
    powered = [h for h, host in enumerate(f.hosts) if host.accepts_instances or host.powered]
    placement = f.placement.copy()
    for v in range(len(placement)):
        if rnd.random() < 0.5:
            placement[v] = rnd.choice(powered)
    moved = f.with_placement(placement)
    fresh = type(f).build(moved.hosts, moved.instances, f.server_groups, f.default_cpu_util)
    assert np.array_equal(moved.placement, placement)
    for name in ("capacity", "demand", "cpu_used", "movable", "idle_w", "host_zone", "powered", "accepts"):
        assert np.array_equal(getattr(moved, name), getattr(fresh, name)), name
    assert moved.watts(placement) == fresh.watts(placement)
