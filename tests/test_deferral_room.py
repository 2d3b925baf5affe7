"""Room for instances brought back (``deferral/room.py``): a destination on a host that is on, else one
switched on, a held-off host only for a due instance, else a note; the fleet the solver plans holds them."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import fleet, host, vm
from tests.strategies import fleets
from watcher_geyser.deferral import Deferral
from watcher_geyser.deferral.fleet import FleetDeferral, Shelved
from watcher_geyser.deferral.room import Returning, make_room, with_room
from watcher_geyser.records import HostState
from watcher_geyser.solver.limits import above, host_load, packing_limits


def _back(uuid: str, vcpus: int = 4, memory_mb: int = 4096, disk_gb: int = 20, zone: str | None = None,
          due: bool = False) -> Returning:
    return Returning(uuid, uuid, vcpus, memory_mb, disk_gb, zone, due)


def _packed():
    """Two enabled hosts of 8 vcpus, one full, one with room for 4; two off hosts, b2 cheaper per core."""
    return fleet(
        [host("a", vcpus=8), host("b", vcpus=8), host("off1", vcpus=8, idle_w=160, state="off"),
         host("off2", vcpus=16, idle_w=160, state="off")],
        [vm("v1", "a", vcpus=8), vm("v2", "b", vcpus=4)],
    )


def test_room_on_a_host_that_is_on_goes_to_the_fullest_that_fits():
    f = fleet([host("a", vcpus=8), host("b", vcpus=8), host("c", vcpus=8)],
              [vm("v1", "a", vcpus=6), vm("v2", "b", vcpus=2)])
    room = make_room(f, [_back("r1", vcpus=2)])
    assert room.destinations == {"r1": "a"} and room.switch_on == [] and room.stay == []
    placed = room.fleet.instances[room.fleet.instance_index["r1"]]
    assert placed.host == "a" and placed.locked and not placed.movable
    assert room.fleet.cpu_used[room.fleet.instance_index["r1"]] == 2 * f.default_cpu_util  # not measured


def test_a_host_is_switched_on_when_none_that_is_on_has_room():
    room = make_room(_packed(), [_back("r1", vcpus=4), _back("r2", vcpus=8), _back("r3", vcpus=4)])
    # largest first: r2 (8 vcpu) fits no host that is on, so off2 opens (10 W per core, off1 20); r1 then fills b
    # (the fullest), and r3 goes to off2, now on, rather than opening off1
    assert room.destinations == {"r2": "off2", "r1": "b", "r3": "off2"}
    assert room.switch_on == ["off2"]
    assert room.fleet.hosts[room.fleet.host_index("off2")].state is HostState.ENABLED
    assert room.fleet.hosts[room.fleet.host_index("off1")].state is HostState.OFF
    assert not make_room(_packed(), [_back("r2", vcpus=8)], allow_power_on=False).destinations


def test_a_due_instance_uses_a_held_off_host_and_one_not_due_does_not():
    held = frozenset({"off1", "off2"})
    due = make_room(_packed(), [_back("late", vcpus=8, due=True)], held_off=held)
    assert due.destinations == {"late": "off2"} and due.switch_on == ["off2"]
    assert any("power-cycle budget holds it off" in n for n in due.notes)
    calm = make_room(_packed(), [_back("calm", vcpus=8)], held_off=held)
    assert calm.destinations == {} and calm.stay == ["calm"] and calm.fleet is not None
    assert "calm stays shelved" in calm.notes[0] and "deadline" not in calm.notes[0]
    both = make_room(_packed(), [_back("late", vcpus=8, due=True), _back("calm", vcpus=4)], held_off=held)
    assert both.destinations == {"late": "off2", "calm": "b"}  # b still had room; off2 takes the due one only


def test_no_room_anywhere_leaves_it_shelved_unless_due_then_nova_is_asked():
    f = fleet([host("a", vcpus=8, zone="az1"), host("b", vcpus=8, zone="az2")], [vm("v1", "a", vcpus=8)])
    calm = make_room(f, [_back("big", vcpus=4, zone="az1")])
    assert calm.stay == ["big"] and calm.to_nova == [] and calm.destinations == {} and calm.fleet is f
    assert calm.notes == ["big stays shelved: no host that is on has room for it (4 vcpu, 4096 MB, 20 GB) in zone "
                          "az1 under the packing limit, and no host is off to switch on"]
    due = make_room(f, [_back("big", vcpus=4, zone="az1", due=True)])
    assert due.stay == [] and due.to_nova == ["big"] and due.destinations == {} and due.fleet is f
    assert due.notes == ["bring back big: its deadline is due, so Nova's scheduler is asked to place it though no "
                         "host that is on has room for it (4 vcpu, 4096 MB, 20 GB) in zone az1 under the packing "
                         "limit, and no host is off to switch on; its deadline is at risk"]
    assert make_room(f, [_back("big", vcpus=4)]).destinations == {"big": "b"}  # zone unknown: any
    banned = make_room(f, [_back("big", vcpus=4, zone="az1")], allow_power_on=False)
    assert banned.notes[0].endswith("under the packing limit, and no host is off")  # switching on was not allowed


def test_the_packing_limit_is_the_solvers():
    f = fleet([host("a", vcpus=10)], [vm("v1", "a", vcpus=6, cpu_util=0.5)])
    assert make_room(f, [_back("r", vcpus=2)], ceiling=0.8).destinations == {"r": "a"}
    assert make_room(f, [_back("r", vcpus=3)], ceiling=0.8).stay == ["r"]
    # measured CPU: 3 cores used + 4 x default 1.0 = 7 > 0.6 x 10
    assert make_room(f, [_back("r", vcpus=4)], cpu_ceiling=0.6).stay == ["r"]
    assert make_room(f, [_back("r", vcpus=4)], cpu_ceiling=np.array([0.7])).destinations == {"r": "a"}


def test_with_room_keeps_resume_for_those_placed_and_unknown_flavours():
    f = fleet([host("a", vcpus=8)], [vm("v1", "a", vcpus=6)])
    spec = Deferral(max_deferral_s=3600.0, shelved_at_s=0.0)
    back = {"s": Shelved("s", "s", spec, 2, 1024, 10, "az1"), "big": Shelved("big", "big", spec, 8, 1024, 10),
            "odd": Shelved("odd", "odd", spec)}
    deferral = FleetDeferral(f, [], [("s", "s"), ("big", "big"), ("odd", "odd")], [], frozenset({"big"}), back)
    out = with_room(deferral)
    # big is due and finds no room: brought back anyway, Nova's scheduler placing it (no destination)
    assert out.resume == [("s", "s"), ("big", "big"), ("odd", "odd")] and out.destinations == {"s": "a"}
    assert any("odd: its flavour is unknown" in n for n in out.notes)
    assert any(n.startswith("bring back big: its deadline is due") and "at risk" in n for n in out.notes)
    assert [i.uuid for i in out.fleet.instances] == ["v1", "s"]


@st.composite
def _returning(draw, zones: tuple[str, ...]):
    count = draw(st.integers(0, 6))
    return [Returning(f"r{k}", f"r{k}", draw(st.integers(1, 16)), draw(st.sampled_from([512, 4096, 16384, 65536])),
                      draw(st.integers(1, 200)), draw(st.sampled_from([None, *zones])), draw(st.booleans()))
            for k in range(count)]


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_every_returning_instance_fits_under_the_limits_or_has_a_note(data):
    f = data.draw(fleets(max_hosts=5, max_instances=10))
    returning = data.draw(_returning(f.zones))
    ceiling = data.draw(st.sampled_from([1.0, 0.8]))
    cpu_ceiling = data.draw(st.sampled_from([None, 1.0, 0.7]))
    allow_power_on = data.draw(st.booleans())
    held = frozenset(data.draw(st.sets(st.sampled_from([h.name for h in f.hosts]))))
    room = make_room(f, returning, ceiling, cpu_ceiling, allow_power_on, held)
    assert set(room.destinations) | set(room.stay) | set(room.to_nova) == {r.uuid for r in returning}
    assert not set(room.destinations) & (set(room.stay) | set(room.to_nova)) and not set(room.stay) & set(room.to_nova)
    assert len(room.notes) >= len(room.stay) + len(room.to_nova)
    by_uuid = {r.uuid: r for r in returning}
    for uuid in room.stay:  # only an instance that may wait is left shelved
        assert not by_uuid[uuid].due and any(n.startswith(f"{uuid} stays shelved") for n in room.notes)
    for uuid in room.to_nova:  # a due one is brought back anyway
        assert by_uuid[uuid].due and any(n.startswith(f"bring back {uuid}: its deadline is due") for n in room.notes)
    after = room.fleet
    load_before = host_load(f)
    limits = packing_limits(after, ceiling, cpu_ceiling)
    receiving = np.zeros(len(f.hosts), dtype=bool)
    for uuid, name in room.destinations.items():
        h = f.host_index(name)
        r, was = by_uuid[uuid], f.hosts[h]
        receiving[h] = True
        assert was.accepts_instances and (r.zone is None or was.zone == r.zone)
        assert was.state is HostState.ENABLED or (allow_power_on and name in room.switch_on)
        assert r.due or name not in held  # the budget gives way to a deadline only
        assert after.instances[after.instance_index[uuid]].locked
    load_after = host_load(after)
    assert not above(load_after[receiving], limits[receiving]).any()
    untouched = ~receiving
    assert np.allclose(load_after[untouched], load_before[untouched])
    assert {h.name for h in after.hosts if h.state is HostState.ENABLED} == (
        {h.name for h in f.hosts if h.state is HostState.ENABLED} | set(room.switch_on))
