"""Hand-made planner cases: cycles with and without staging room, power and service order,
refusals, parallelism, and the JSON and table the CLI shows."""

import json

import numpy as np
import pytest

from tests.planner_support import host, target_of, vm
from watcher_geyser.fleet import Fleet
from watcher_geyser.planner import ActionKind, Timing, UndoneReason, format_plan_table, plan, problem_limits, replay
from watcher_geyser.records import GroupPolicy, HostState, ServerGroup


def _safe(target, result):
    outcome = replay(target.fleet, result, problem_limits(target.problem), result.parallelism,
                     result.per_host_parallelism)
    assert outcome.violations == [], [str(v) for v in outcome.violations]
    return outcome


def _kinds(result):
    return [[a.kind for a in wave] for wave in result.waves]


def _swap_fleet(third_memory_mb):
    """Two full hosts swapping 12 GB instances; a third host holding ``third_memory_mb``."""
    return Fleet.build(
        [host("A"), host("B"), host("C")],
        [vm("big1", "A", memory_mb=12288), vm("big2", "B", memory_mb=12288), vm("c", "C", memory_mb=third_memory_mb)],
    )


def test_swap_cycle_goes_through_a_staging_host_with_one_extra_move():
    fleet = _swap_fleet(2048)
    target = target_of(fleet, {"big1": "B", "big2": "A"})
    result = plan(target)
    outcome = _safe(target, result)
    assert result.staging_moves == 1 and result.migrations == 3 and result.wave_count == 3
    assert result.left_undone == []
    assert outcome.placement == {"big1": "B", "big2": "A", "c": "C"}
    first = result.waves[0][0]
    assert first.staging and first.destination == "C"


def test_swap_cycle_without_staging_room_is_refused_with_a_safe_partial_plan():
    fleet = Fleet.build(
        [host("A"), host("B"), host("C"), host("D")],
        [vm("big1", "A", memory_mb=12288), vm("big2", "B", memory_mb=12288), vm("c", "C", memory_mb=8192),
         vm("d", "D", memory_mb=1024)],
    )
    # the cycle A<->B cannot be broken (C has 8 GB free, less than 12 GB); d's move is independent
    target = target_of(fleet, {"big1": "B", "big2": "A", "d": "C"})
    result = plan(target)
    outcome = _safe(target, result)
    assert {u.instance: u.code for u in result.left_undone} == {
        "big1": UndoneReason.DEADLOCK, "big2": UndoneReason.DEADLOCK}
    assert all("cycle" in u.reason and "staging" in u.reason for u in result.left_undone)
    assert outcome.placement == {"big1": "A", "big2": "B", "c": "C", "d": "C"}  # the safe part ran
    assert "left undone" in " ".join(result.messages)
    assert json.loads(json.dumps(result.to_json()))["left_undone"][0]["code"] == "deadlock"


def test_three_cycle_needs_a_single_staging_move():
    fleet = Fleet.build(
        [host("A"), host("B"), host("C"), host("S")],
        [vm("a", "A", memory_mb=12288), vm("b", "B", memory_mb=12288), vm("c", "C", memory_mb=12288),
         vm("s", "S", memory_mb=1024)],
    )
    target = target_of(fleet, {"a": "B", "b": "C", "c": "A"})
    result = plan(target, parallelism=4)
    _safe(target, result)
    assert result.staging_moves == 1 and result.migrations == 4 and not result.left_undone


def test_spare_host_serves_as_staging_and_is_disabled_after():
    fleet = Fleet.build([host("A"), host("B"), host("spare")],
                        [vm("big1", "A", memory_mb=12288), vm("big2", "B", memory_mb=12288)])
    target = target_of(fleet, {"big1": "B", "big2": "A"})
    result = plan(target, allow_power_off=True)
    _safe(target, result)
    assert result.staging_moves == 1 and not result.left_undone
    actions = result.actions
    staged_at = next(i for i, a in enumerate(actions) if a.staging)
    disabled_at = next(i for i, a in enumerate(actions) if a.kind is ActionKind.DISABLE and a.host == "spare")
    assert disabled_at > staged_at
    assert actions[-1].kind is ActionKind.POWER_OFF and actions[-1].host == "spare"


def test_host_being_emptied_is_a_staging_host_only_when_allowed():
    fleet = Fleet.build(
        [host("A"), host("B"), host("drain")],
        [vm("big1", "A", memory_mb=12288), vm("big2", "B", memory_mb=12288), vm("x", "drain", memory_mb=1024)],
    )
    target = target_of(fleet, {"big1": "B", "big2": "A", "x": "A"})  # A ends full: 13 GB of 16 GB
    # x can go to A only after big2 arrives... which needs big1 gone first: a cycle through A and B
    refused = plan(target)
    assert {u.instance for u in refused.left_undone} >= {"big1", "big2"}
    _safe(target, refused)
    allowed = plan(target, stage_on_emptied_hosts=True)
    _safe(target, allowed)
    assert allowed.left_undone == [] and allowed.staging_moves == 1


def test_anti_affinity_swap_needs_staging_even_with_room():
    fleet = Fleet.build(
        [host("A"), host("B"), host("C")],
        [vm("w1", "A", server_group="web"), vm("w2", "B", server_group="web"), vm("c", "C")],
        [ServerGroup("web", GroupPolicy.ANTI_AFFINITY)],
    )
    target = target_of(fleet, {"w1": "B", "w2": "A"})
    result = plan(target)
    _safe(target, result)
    assert result.staging_moves == 1 and not result.left_undone


def test_hard_affinity_members_are_never_staged():
    fleet = Fleet.build(
        [host("A"), host("B"), host("C")],
        [vm("big1", "A", memory_mb=12288, server_group="db"), vm("big2", "B", memory_mb=12288), vm("c", "C")],
        [ServerGroup("db", GroupPolicy.AFFINITY)],
    )
    target = target_of(fleet, {"big1": "B", "big2": "A"})
    result = plan(target)
    _safe(target, result)
    staged = [a.instance for a in result.actions if a.staging]
    assert staged == ["big2"] and not result.left_undone  # big1 waits; big2 takes the detour


def test_parallelism_one_gives_more_waves_than_four():
    hosts = [host(f"s{i}") for i in range(8)] + [host(f"d{i}") for i in range(8)]
    instances = [vm(f"v{i}", f"s{i}", memory_mb=4096) for i in range(8)]
    fleet = Fleet.build(hosts, instances + [vm(f"k{i}", f"d{i}") for i in range(8)])
    target = target_of(fleet, {f"v{i}": f"d{i}" for i in range(8)})
    one, four = plan(target, parallelism=1), plan(target, parallelism=4)
    _safe(target, one)
    _safe(target, four)
    assert one.migrations == four.migrations == 8
    migration_waves = [sum(1 for w in r.waves if any(a.kind.is_migration for a in w)) for r in (one, four)]
    assert migration_waves == [8, 2]
    assert one.duration_estimate_s > four.duration_estimate_s


def test_per_host_parallelism_caps_migrations_touching_a_host():
    fleet = Fleet.build([host("src", memory_mb=65536), host("dst", memory_mb=65536)],
                        [vm(f"v{i}", "src") for i in range(6)])
    target = target_of(fleet, {f"v{i}": "dst" for i in range(6)})
    for per_host, per_wave in ((1, [1] * 6), (3, [3, 3])):
        result = plan(target, parallelism=6, per_host_parallelism=per_host)
        _safe(target, result)
        assert [sum(a.kind.is_migration for a in wave) for wave in result.waves] == per_wave
    # src is disabled in the first wave, alongside its first departures (Nova lets a disabled host send)
    assert result.waves[0][0].kind is ActionKind.DISABLE


def test_off_host_is_powered_on_then_enabled_before_it_receives():
    fleet = Fleet.build([host("A"), host("new", state=HostState.OFF)], [vm("v", "A")])
    target = target_of(fleet, {"v": "new"})
    result = plan(target, allow_power_off=True)
    _safe(target, result)
    assert _kinds(result) == [
        [ActionKind.POWER_ON, ActionKind.DISABLE], [ActionKind.ENABLE], [ActionKind.LIVE_MIGRATE],
        [ActionKind.POWER_OFF]]
    assert [a.host for a in result.waves[0]] == ["new", "A"]


def test_power_on_forbidden_by_the_problem_is_refused():
    fleet = Fleet.build([host("A"), host("new", state=HostState.OFF)], [vm("v", "A")])
    result = plan(target_of(fleet, {"v": "new"}, allow_power_on=False))
    assert [u.code for u in result.left_undone] == [UndoneReason.POWER_ON_NOT_ALLOWED]
    assert result.migrations == 0


def test_hosts_are_powered_off_only_when_allowed_and_after_their_last_instance_left():
    fleet = Fleet.build([host("A"), host("B"), host("idle"), host("gone", state=HostState.DISABLED)],
                        [vm("a1", "A"), vm("a2", "A"), vm("b", "B"), vm("g", "gone")])
    target = target_of(fleet, {"a1": "B", "a2": "B", "g": "B"})
    kept_on = plan(target)
    assert not any(a.kind is ActionKind.POWER_OFF for a in kept_on.actions)
    assert {a.host for a in kept_on.actions if a.kind is ActionKind.DISABLE} == {"A", "idle"}
    result = plan(target, allow_power_off=True)
    _safe(target, result)
    off_wave = {a.host: w for w, wave in enumerate(result.waves) for a in wave if a.kind is ActionKind.POWER_OFF}
    assert set(off_wave) == {"A", "idle", "gone"}
    last_out = {}
    for w, wave in enumerate(result.waves):
        for a in wave:
            if a.kind.is_migration:
                last_out[a.source] = w
    assert off_wave["A"] > last_out["A"] and off_wave["gone"] > last_out["gone"]
    assert off_wave["idle"] == 1  # empty from the start: disabled in wave 1, off in wave 2


def test_pinned_zone_and_disabled_destination_moves_are_refused():
    fleet = Fleet.build(
        [host("A", zone="z1"), host("B", zone="z1"), host("C", zone="z2"),
         host("D", zone="z1", state=HostState.DISABLED)],
        [vm("locked", "A", locked=True), vm("excluded", "A", excluded=True), vm("err", "A", state="error"),
         vm("far", "A"), vm("dis", "A"), vm("ok", "A")],
    )
    target = target_of(fleet, {"locked": "B", "excluded": "B", "err": "B", "far": "C", "dis": "D", "ok": "B"})
    result = plan(target)
    _safe(target, result)
    codes = {u.instance: u.code for u in result.left_undone}
    assert codes == {"locked": UndoneReason.PINNED, "excluded": UndoneReason.PINNED, "err": UndoneReason.PINNED,
                     "far": UndoneReason.CROSSES_ZONES, "dis": UndoneReason.DESTINATION_DISABLED}
    assert [a.instance for a in result.actions if a.kind.is_migration] == ["ok"]


def test_a_hand_made_move_onto_cores_too_slow_is_refused():
    """A target the solver did not make (the solver's answers always pass ``check_core_size``): a busy
    one-core instance sent to a host whose cores give less than it uses per core is left undone, named."""
    fleet = Fleet.build(
        [host("A", core_size=2.0), host("slow", core_size=1.0), host("fast", core_size=2.0)],
        [vm("busy", "A", vcpus=2, cpu_util=0.8, cores=1), vm("calm", "A", vcpus=2, cpu_util=0.2, cores=1),
         vm("ok", "A", vcpus=2, cpu_util=0.8, cores=1)],
    )
    result = plan(target_of(fleet, {"busy": "slow", "calm": "slow", "ok": "fast"}))
    undone = {u.instance: u for u in result.left_undone}
    assert set(undone) == {"busy"} and undone["busy"].code == UndoneReason.CORES_TOO_SLOW
    assert undone["busy"].reason == "vm-busy uses 1.6 of CPU per core, more than one of slow's cores gives (1)"
    assert sorted(a.instance for a in result.actions if a.kind.is_migration) == ["calm", "ok"]


def test_stopped_instance_moves_by_cold_migration():
    fleet = Fleet.build([host("A"), host("B")], [vm("s", "A", state="SHUTOFF"), vm("b", "B")])
    result = plan(target_of(fleet, {"s": "B"}))
    assert [a.kind for a in result.actions if a.kind.is_migration] == [ActionKind.COLD_MIGRATE]


def test_host_over_its_ceiling_may_stay_but_not_get_worse():
    # A holds 15 GB with a 0.8 ceiling (12.8 GB): v3 from B may land only once v1 has left A
    fleet = Fleet.build([host("A"), host("B"), host("C")],
                        [vm("v1", "A", memory_mb=8192), vm("v2", "A", memory_mb=7168), vm("v3", "B", memory_mb=4096),
                         vm("c", "C")])
    target = target_of(fleet, {"v1": "C", "v3": "A"}, ceiling=0.8)
    result = plan(target, parallelism=4, per_host_parallelism=2)
    _safe(target, result)
    waves = {a.instance: w for w, wave in enumerate(result.waves) for a in wave if a.kind.is_migration}
    assert waves["v3"] > waves["v1"]


def test_measured_cpu_is_a_fourth_dimension_under_a_cpu_ceiling():
    fleet = Fleet.build([host("A", vcpus=8, cpu_allocation_ratio=4.0), host("B", vcpus=8, cpu_allocation_ratio=4.0)],
                        [vm("hot", "A", vcpus=4, cpu_util=1.0), vm("b1", "B", vcpus=4, cpu_util=0.5),
                         vm("b2", "B", vcpus=4, cpu_util=0.5)])
    # B uses 4 cores of 8; with cpu_ceiling 0.75 (6 cores) 'hot' (4 cores) fits only after b1 leaves
    target = target_of(fleet, {"hot": "B", "b1": "A"}, cpu_ceiling=0.75)
    result = plan(target, parallelism=4, per_host_parallelism=2)
    _safe(target, result)
    waves = {a.instance: w for w, wave in enumerate(result.waves) for a in wave if a.kind.is_migration}
    assert waves["hot"] > waves["b1"]


def test_target_that_overloads_a_destination_is_left_undone_as_no_room():
    fleet = Fleet.build([host("A"), host("B")], [vm("v", "A", memory_mb=12288), vm("b", "B", memory_mb=8192)])
    result = plan(target_of(fleet, {"v": "B"}))
    assert [u.code for u in result.left_undone] == [UndoneReason.NO_ROOM]
    assert "over its limit" in result.left_undone[0].reason


def test_duration_estimate_follows_memory_and_bandwidth():
    fleet = Fleet.build([host("A"), host("B")], [vm("v", "A", memory_mb=10000)])
    target = target_of(fleet, {"v": "B"})
    timing = Timing(bandwidth_mb_s=100.0, migration_overhead_s=0.0, service_s=0.0)
    assert plan(target, timing=timing).duration_estimate_s == pytest.approx(100.0)
    assert plan(target, timing=timing, bandwidth_mb_s=1000.0).duration_estimate_s == pytest.approx(10.0)


def test_json_and_table_show_the_plan():
    fleet = _swap_fleet(2048)
    result = plan(target_of(fleet, {"big1": "B", "big2": "A"}))
    data = json.loads(json.dumps(result.to_json()))
    assert data["wave_count"] == len(data["waves"]) == 3 and data["staging_moves"] == 1
    assert data["waves"][0] == [{"kind": "live_migrate", "instance": "big1", "instance_name": "vm-big1",
                                 "source": "A", "destination": "C", "staging": True}]
    assert data["left_undone"] == [] and data["duration_estimate_s"] > 0
    assert data["actions"]["live_migrate"] == 3 and data["actions"]["power_off"] == 0
    table = format_plan_table(result)
    assert "live migrate (staging)" in table and "vm-big2" in table and "3 wave(s)" in table
    short = format_plan_table(result, max_rows=1)
    assert "2 more action(s)" in short and "vm-big2" not in short


def test_nothing_to_do_is_an_empty_plan():
    fleet = Fleet.build([host("A")], [vm("v", "A")])
    result = plan(target_of(fleet, {}))
    assert result.waves == [] and result.left_undone == [] and result.duration_estimate_s == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"parallelism": 0}, "parallelism must be a whole number >= 1"),
    ({"per_host_parallelism": 1.5}, "per_host_parallelism must be a whole number"),
])
def test_bad_arguments_say_what_is_wrong(kwargs, message):
    fleet = Fleet.build([host("A")], [vm("v", "A")])
    with pytest.raises(ValueError, match=message):
        plan(target_of(fleet, {}), **kwargs)


def test_bad_target_placement_says_what_is_wrong():
    fleet = Fleet.build([host("A")], [vm("v", "A")])
    with pytest.raises(ValueError, match="expected \\(1,\\)"):
        plan(target_of(fleet, np.array([0, 0])))
    with pytest.raises(ValueError, match="host indices in 0..0"):
        plan(target_of(fleet, np.array([3])))
