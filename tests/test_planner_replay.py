"""The replay oracle catches every kind of unsafe plan it is meant to (an oracle that never fails proves nothing)."""

from tests.planner_support import host, target_of, vm
from watcher_geyser.fleet import Fleet
from watcher_geyser.planner import Action, ActionKind, problem_limits, replay, transit_limits
from watcher_geyser.records import GroupPolicy, HostState, ServerGroup

LIVE, COLD = ActionKind.LIVE_MIGRATE, ActionKind.COLD_MIGRATE


def mig(uuid, src, dst, kind=LIVE):
    return Action(kind, instance=uuid, source=src, destination=dst)


def act(kind, name):
    return Action(kind, host=name)


def rules(fleet, waves, **kw):
    return [v.rule for v in replay(fleet, waves, **kw).violations]


def _swap():
    return Fleet.build([host("A"), host("B"), host("C")],
                       [vm("big1", "A", memory_mb=12288), vm("big2", "B", memory_mb=12288), vm("c", "C")])


def test_a_safe_sequence_passes_and_ends_where_it_says():
    fleet = _swap()
    waves = [[mig("big1", "A", "C")], [mig("big2", "B", "A")], [mig("big1", "C", "B")]]
    result = replay(fleet, waves)
    assert result.ok and result.placement == {"big1": "B", "big2": "A", "c": "C"}
    assert result.peak_load[2, 1] == 12288 + 1024


def test_a_swap_in_one_wave_is_an_overload_at_its_worst_moment():
    fleet = _swap()
    assert rules(fleet, [[mig("big1", "A", "B"), mig("big2", "B", "A")]]) == ["capacity", "capacity"]


def test_a_swap_in_two_waves_overloads_too():
    fleet = _swap()
    found = replay(fleet, [[mig("big1", "A", "B")], [mig("big2", "B", "A")]]).violations
    assert [(v.wave, v.rule, v.host) for v in found] == [(0, "capacity", "B")]  # reported where it starts
    assert "8192 MB RAM" in str(found[0])


def test_the_ceiling_and_the_cpu_ceiling_count():
    fleet = Fleet.build([host("A", vcpus=8), host("B", vcpus=8)],
                        [vm("v", "A", memory_mb=4096, vcpus=4, cpu_util=1.0), vm("b", "B", memory_mb=10240)])
    waves = [[mig("v", "A", "B")]]
    assert rules(fleet, waves) == []
    assert rules(fleet, waves, limits=transit_limits(fleet, ceiling=0.8)) == ["capacity"]
    assert rules(fleet, waves, limits=transit_limits(fleet, cpu_ceiling=0.25)) == ["capacity"]


def test_a_host_over_its_ceiling_today_may_stay_but_not_grow():
    fleet = Fleet.build([host("A"), host("B")], [vm("a", "A", memory_mb=15360), vm("b", "B", memory_mb=1024)])
    limits = transit_limits(fleet, ceiling=0.5)
    assert rules(fleet, [], limits=limits) == []
    assert rules(fleet, [[mig("b", "B", "A")]], limits=limits) == ["capacity"]


def test_pinned_instances_wrong_kind_and_wrong_source_are_caught():
    fleet = Fleet.build([host("A"), host("B")],
                        [vm("l", "A", locked=True), vm("x", "A", excluded=True), vm("e", "A", state="error"),
                         vm("s", "A", state="shutoff"), vm("ok", "A")])
    assert rules(fleet, [[mig("l", "A", "B")]]) == ["pinned"]
    assert rules(fleet, [[mig("x", "A", "B")]]) == ["pinned"]
    assert rules(fleet, [[mig("e", "A", "B")]]) == ["pinned"]
    assert rules(fleet, [[mig("s", "A", "B", LIVE)]]) == ["pinned"]
    assert rules(fleet, [[mig("s", "A", "B", COLD)]]) == []
    assert rules(fleet, [[mig("ok", "B", "A")]]) == ["source"]
    assert rules(fleet, [[mig("ok", "A", "B"), mig("ok", "A", "B")]]) == ["malformed"]


def test_host_states_are_respected():
    fleet = Fleet.build([host("A"), host("off", state=HostState.OFF), host("dis", state=HostState.DISABLED)],
                        [vm("v", "A")])
    assert rules(fleet, [[mig("v", "A", "off")]]) == ["host_state"]
    assert rules(fleet, [[mig("v", "A", "dis")]]) == ["host_state"]
    assert rules(fleet, [[act(ActionKind.POWER_ON, "off")], [mig("v", "A", "off")]]) == ["host_state"]
    assert rules(fleet, [[act(ActionKind.POWER_ON, "off"), act(ActionKind.ENABLE, "off")]]) == [
        "host_state", "host_state"]
    good = [[act(ActionKind.POWER_ON, "off")], [act(ActionKind.ENABLE, "off")], [mig("v", "A", "off")]]
    assert rules(fleet, good) == []
    assert rules(fleet, [[act(ActionKind.ENABLE, "off"), mig("v", "A", "off")]]) != []


def test_power_off_needs_an_empty_disabled_host_and_no_migration_in_its_wave():
    fleet = Fleet.build([host("A"), host("B")], [vm("v", "A")])
    assert "power_off" in rules(fleet, [[act(ActionKind.DISABLE, "A")], [act(ActionKind.POWER_OFF, "A")]])
    assert rules(fleet, [[act(ActionKind.POWER_OFF, "B")]]) == ["host_state"]  # enabled: disable it first
    assert rules(fleet, [[act(ActionKind.DISABLE, "A"), mig("v", "A", "B")], [act(ActionKind.POWER_OFF, "A")]]) == []
    assert rules(fleet, [[act(ActionKind.DISABLE, "A")], [mig("v", "A", "B"), act(ActionKind.POWER_OFF, "A")]]) == [
        "host_state", "power_off"]


def test_zone_crossing_anti_affinity_and_parallelism_are_caught():
    fleet = Fleet.build(
        [host("A", zone="z1"), host("B", zone="z1"), host("C", zone="z2")],
        [vm("w1", "A", server_group="web"), vm("w2", "B", server_group="web"), vm("x", "A"), vm("y", "A")],
        [ServerGroup("web", GroupPolicy.ANTI_AFFINITY)],
    )
    assert rules(fleet, [[mig("x", "A", "C")]]) == ["zone"]
    assert rules(fleet, [[mig("w1", "A", "B")]]) == ["anti_affinity"]
    assert rules(fleet, [[mig("x", "A", "B"), mig("y", "A", "B")]], parallelism=1, per_host_parallelism=1) == [
        "parallelism", "parallelism", "parallelism"]


def test_problem_limits_match_the_problem():
    fleet = _swap()
    target = target_of(fleet, {}, ceiling=0.5, cpu_ceiling=0.5)
    limits = problem_limits(target.problem)
    assert limits.shape == (3, 4)
    assert limits[2, 1] >= 0.5 * 16384 and limits[0, 1] >= 12288  # A is over half full today: its load stands
