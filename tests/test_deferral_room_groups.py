"""Room for instances brought back keeps their server groups and the core-size rule (``deferral/room.py``):
hard anti-affinity apart from every member, hard affinity with the running members (or all together), soft
policies a preference only, and never onto cores too slow for the instance."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import fleet, host, vm
from tests.strategies import fleets
from watcher_geyser.deferral import Deferral
from watcher_geyser.deferral.fleet import FleetDeferral, Shelved, with_groups
from watcher_geyser.deferral.room import Returning, make_room, with_room
from watcher_geyser.records import GroupPolicy
from watcher_geyser.solver.rules.cores import covered_need

AFF, ANTI = GroupPolicy.AFFINITY, GroupPolicy.ANTI_AFFINITY


def _back(uuid: str, vcpus: int = 2, group: str | None = None, policy: GroupPolicy | None = None,
          due: bool = False, zone: str | None = None) -> Returning:
    return Returning(uuid, uuid, vcpus, 2048, 20, zone, due, group, policy)


def _three(groups: dict[str, str] | None = None, **members):
    """Hosts a (fullest: 6 of 8 vcpus used), b (4 used), c (empty, on), d (off); ``members``: uuid ->
    (host, group), one vcpu each."""
    vms = [vm("fa", "a", vcpus=6), vm("fb", "b", vcpus=4)]
    vms += [vm(u, h, vcpus=1, server_group=g) for u, (h, g) in members.items()]
    hosts = [host("a", vcpus=8), host("b", vcpus=8), host("c", vcpus=8), host("d", vcpus=8, state="off")]
    return fleet(hosts, vms, groups)


def test_without_a_group_the_fullest_host_is_taken():
    assert make_room(_three(), [_back("r")]).destinations == {"r": "a"}


def test_hard_anti_affinity_avoids_a_running_member_and_a_member_given_a_host_now():
    f = _three({"g": "anti-affinity"}, m=("a", "g"))  # a: 7 of 8 used, so the fullest that fits is b
    room = make_room(f, [_back("r1", 1, "g"), _back("r2", 1, "g")])
    assert room.destinations["r1"] != "a" and room.destinations["r2"] != "a"
    assert room.destinations["r1"] != room.destinations["r2"]
    placed = room.fleet.instances[room.fleet.instance_index["r1"]]
    assert placed.server_group == "g" and placed.locked


def test_hard_anti_affinity_of_a_group_none_of_which_runs_still_keeps_them_apart():
    room = make_room(_three(), [_back("r1", 1, "new", ANTI), _back("r2", 1, "new", ANTI)])
    assert room.destinations["r1"] != room.destinations["r2"]
    assert {g.name: g.policy for g in room.fleet.server_groups}["new"] is ANTI  # the solver sees the group too


def test_hard_affinity_goes_to_the_running_members_host_or_names_it_when_full():
    f = _three({"g": "affinity"}, m=("b", "g"))  # a is fuller, but the member runs on b
    assert make_room(f, [_back("r", 2, "g")]).destinations == {"r": "b"}
    full = make_room(f, [_back("big", 4, "g")])  # b holds 5 of 8: no room for 4 there, though c is empty
    assert full.destinations == {} and full.stay == ["big"]
    assert "on the host of its hard affinity group g's running members (b)" in full.notes[0]
    due = make_room(f, [_back("big", 4, "g", due=True)])
    assert due.to_nova == ["big"] and "its deadline is at risk" in due.notes[0] and "affinity group g" in due.notes[0]


def test_hard_affinity_with_no_member_running_brings_the_members_back_together():
    # 2 + 2 + 2 vcpus: a (2 free) takes one alone but not the block; b (4 free) neither; c (8 free) takes it
    room = make_room(_three(), [_back(f"r{i}", 2, "new", AFF) for i in range(3)])
    assert set(room.destinations.values()) == {"c"} and len(room.destinations) == 3
    apart = make_room(_three(), [_back(f"r{i}", 2) for i in range(3)])
    assert len(set(apart.destinations.values())) > 1  # without the group they spread over the fullest hosts
    none = make_room(_three(), [_back(f"r{i}", 4, "new", AFF) for i in range(3)], allow_power_on=False)
    assert none.stay == ["r0", "r1", "r2"]
    assert "on one host with the 2 other member(s) of its hard affinity group new" in none.notes[0]


def test_an_affinity_block_with_a_due_member_is_due_as_a_whole_and_never_split():
    # 3 x 4 vcpus: no host holds 12, on or off; one member due
    block = [_back("r0", 4, "new", AFF), _back("r1", 4, "new", AFF, due=True), _back("r2", 4, "new", AFF)]
    for power_on in (True, False):
        room = make_room(_three(), block, allow_power_on=power_on)
        assert room.to_nova == ["r0", "r1", "r2"] and room.stay == [] and room.destinations == {}
    notes = make_room(_three(), block).notes
    assert notes[1].startswith("bring back r1: its deadline is due, so Nova's scheduler is asked")
    assert notes[0].startswith("bring back r0: a member of its hard affinity group new brought back with it is "
                               "due, so Nova's scheduler is asked to place them all together though")
    waiting = make_room(_three(), [replace(r, due=False) for r in block])  # none due: all wait, together
    assert waiting.stay == ["r0", "r1", "r2"] and waiting.to_nova == []
    # a due block may take the host the power-cycle budget holds off, as a due instance may
    packed = fleet([host("a", vcpus=8), host("d", vcpus=8, state="off")], [vm("fa", "a", vcpus=8)])
    pair = [_back("p0", 2, "new", AFF), _back("p1", 2, "new", AFF, due=True)]
    held = make_room(packed, pair, held_off=frozenset({"d"}))
    assert held.destinations == {"p0": "d", "p1": "d"} and held.switch_on == ["d"]
    assert ("bring back the 2 members of hard affinity group new together: the deadline of p1 is due and no "
            "other host has room, so d is switched on though the power-cycle budget holds it off") in held.notes
    not_due = make_room(packed, [replace(r, due=False) for r in pair], held_off=frozenset({"d"}))
    assert not_due.stay == ["p0", "p1"] and not_due.switch_on == []


def test_soft_policies_prefer_but_never_forbid():
    f = _three({"s": "soft-anti-affinity"}, m=("a", "s"))
    assert make_room(f, [_back("r", 1, "s")]).destinations == {"r": "b"}  # a (fullest) holds a member
    only_a = fleet([host("a", vcpus=8), host("b", vcpus=8)], [vm("m", "a", vcpus=1, server_group="s"),
                                                              vm("fb", "b", vcpus=8)], {"s": "soft-anti-affinity"})
    assert make_room(only_a, [_back("r", 1, "s")]).destinations == {"r": "a"}  # no other host: a member's host
    f = _three({"t": "soft-affinity"}, m=("c", "t"))
    assert make_room(f, [_back("r", 1, "t")]).destinations == {"r": "c"}  # c, the emptiest, holds the member
    assert make_room(f, [_back("r", 8, "t")]).destinations == {"r": "d"}  # no room beside it: elsewhere


def test_cores_too_slow_for_the_instance_are_never_its_destination():
    # unmeasured, an instance is taken as busy on every vcpu (default_cpu_util 1.0): one core's worth per core
    f = fleet([host("slow", vcpus=8, core_size=0.5), host("fast", vcpus=8, core_size=1.0), host("any", vcpus=8)],
              [vm("s", "slow", vcpus=6), vm("f", "fast", vcpus=2), vm("x", "any", vcpus=4)])
    room = make_room(f, [_back("r1", 2), _back("r2", 2)])
    assert "slow" not in room.destinations.values()
    only_slow = fleet([host("slow", vcpus=8, core_size=0.5)], [vm("s", "slow", vcpus=2)])
    stuck = make_room(only_slow, [_back("r", 2)])
    assert stuck.stay == ["r"] and "on cores fast enough for it (1 host(s) too slow)" in stuck.notes[0]


def test_with_room_reads_the_group_that_with_groups_attached():
    f = _three({"g": "anti-affinity"}, m=("a", "g"))
    spec = Deferral(max_deferral_s=3600.0, shelved_at_s=0.0)
    shelved = with_groups([Shelved("r", "r", spec, 1, 2048, 20)], {"r": ("g", "anti-affinity"), "m": ("g", "x")})
    assert (shelved[0].server_group, shelved[0].group_policy) == ("g", ANTI)
    assert with_groups([Shelved("o", "o", spec, 1, 2048, 20)], {})[0].server_group is None
    placed = with_room(FleetDeferral(f, resume=[("r", "r")], back={"r": shelved[0]}))
    assert placed.destinations["r"] != "a"  # without its group, a (the fullest) would take it


@st.composite
def _bring_backs(draw, f):
    policies = [AFF, ANTI, GroupPolicy.SOFT_AFFINITY, GroupPolicy.SOFT_ANTI_AFFINITY]
    known = {g.name: g.policy for g in f.server_groups}
    new = {f"n{i}": draw(st.sampled_from(policies)) for i in range(draw(st.integers(0, 2)))}
    groups = [None, *known, *new]
    out = []
    for i in range(draw(st.integers(1, 8))):
        g = draw(st.sampled_from(groups))
        out.append(Returning(f"r{i}", f"r{i}", draw(st.integers(1, 8)), draw(st.sampled_from([512, 2048, 8192])),
                             20, None, draw(st.booleans()), g, new.get(g) if g is not None else None))
    return out


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_no_destination_breaks_a_hard_group_policy_or_the_core_rule(data):
    f = data.draw(fleets(core_sizes=True))
    back = data.draw(_bring_backs(f))
    f = f.__class__.build(f.hosts, f.instances, f.server_groups, data.draw(st.sampled_from([0.1, 0.5, 1.0])))
    room = make_room(f, back, allow_power_on=data.draw(st.booleans()))
    policy = {g.name: g.policy for g in room.fleet.server_groups}
    running: dict[str, set[str]] = {}
    for inst in f.instances:
        if inst.server_group is not None:
            running.setdefault(inst.server_group, set()).add(inst.host)
    given_now: dict[str, list[str]] = {}
    for r in back:
        if r.uuid not in room.destinations:
            continue
        dest = room.destinations[r.uuid]
        h = room.fleet.host_index(dest)
        assert f.default_cpu_util <= covered_need(room.fleet.core_size[h])  # per core: its CPU over its vcpus
        if r.server_group is None:
            continue
        assert room.fleet.instances[room.fleet.instance_index[r.uuid]].server_group == r.server_group
        if policy[r.server_group] is ANTI:
            assert dest not in running.get(r.server_group, set())
        if policy[r.server_group] is AFF and running.get(r.server_group):
            assert dest in running[r.server_group]
        given_now.setdefault(r.server_group, []).append(dest)
    for g, dests in given_now.items():
        if policy[g] is ANTI:
            assert len(dests) == len(set(dests))
        if policy[g] is AFF and len(running.get(g, ())) <= 1:  # members already apart: any of their hosts
            assert len(set(dests)) == 1
    assert np.isin([r.uuid for r in back], [*room.destinations, *room.stay, *room.to_nova]).all()
    for g in {r.server_group for r in back if policy.get(r.server_group) is AFF and not running.get(r.server_group)}:
        block = [r for r in back if r.server_group == g]  # members none of which runs: one block, never split
        fates = {("placed", room.destinations[r.uuid]) if r.uuid in room.destinations else
                 ("stay",) if r.uuid in room.stay else ("nova",) for r in block}
        assert len(fates) == 1, (g, fates)
        assert fates != {("stay",)} or not any(r.due for r in block)  # a due member takes the block along


def test_with_the_groups_unknown_nova_places_every_bring_back_and_room_is_held_on_hosts_that_are_on():
    spec = Deferral(max_deferral_s=3600.0, shelved_at_s=0.0)
    back = {u: Shelved(u, u, spec, v, 2048, 20) for u, v in (("r", 1), ("big", 8), ("due", 8), ("late", 8))}
    deferral = FleetDeferral(_three(), resume=[(u, u) for u in back], due=frozenset({"due", "late"}), back=back)
    known = with_room(deferral)  # due ones first: c (on, empty), then d switched on; big finds none
    assert known.destinations == {"due": "c", "late": "d", "r": "a"} and known.switch_on == ["d"]
    blind = with_room(deferral, groups_known=False)
    assert blind.destinations == {} and blind.switch_on == []  # no named host, no host switched on
    # room held in the plan's fleet on hosts that are on: due on c, r on a
    assert {i.uuid: i.host for i in blind.fleet.instances if i.locked} == {"due": "c", "r": "a"}
    # late is due and finds no host that is on with room: brought back all the same, Nova's scheduler asked;
    # big is not due and finds none either: it stays shelved, as with its groups known
    assert [u for u, _ in blind.resume] == ["r", "due", "late"]
    assert any(n.startswith("server groups unknown: the 4 instance(s) brought back get no named host") and
               "Nova's scheduler, which knows their groups, places them" in n for n in blind.notes)
    assert any(n.startswith("bring back late: its deadline is due") for n in blind.notes)
    assert any(n.startswith("big stays shelved") for n in blind.notes)
