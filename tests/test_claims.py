"""Migrations in flight hold their instance's resources on both hosts: the claims (``claims.py``).

A claim row counts as used capacity on the end the instance is not on, in every back-end,
the checker and the planner; its host is never disabled or switched off by a plan.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import fleet, host, vm
from tests.strategies import fleets
from watcher_geyser.claims import (
    FINISHED_STATUSES,
    IN_FLIGHT_STATUSES,
    Held,
    MigrationRecord,
    claim_uuid,
    fleet_migrations,
    with_claims,
)
from watcher_geyser.deferral.room import Returning, make_room
from watcher_geyser.planner import ActionKind, plan, problem_limits, replay
from watcher_geyser.scenario import fleet_from_dict, fleet_to_dict
from watcher_geyser.solver import Problem, solve
from watcher_geyser.solver.checks import check_placement
from watcher_geyser.solver.limits import host_load, packing_limits


def _three():
    """a holds x; y migrates live from b to c; c holds z. Without the claim, c looks nearly empty."""
    return fleet([host("a"), host("b"), host("c")],
                 [vm("x", "a", vcpus=4, memory_mb=4096), vm("y", "b", vcpus=10, memory_mb=12288, state="migrating"),
                  vm("z", "c", vcpus=2, memory_mb=2048)])


LIVE = MigrationRecord("y", "b", "c", "running", "live-migration")


def test_a_migration_in_flight_claims_its_flavour_on_the_other_end():
    notes: list[str] = []
    f = with_claims(_three(), [LIVE], notes)
    claim = f.instances[-1]
    assert (claim.uuid, claim.claim_of, claim.host) == (claim_uuid("y"), "y", "c")
    assert (claim.vcpus, claim.memory_mb, claim.disk_gb, claim.cpu_util) == (10, 12288, 20, 0.1)
    assert not claim.movable and "claim Nova holds here for instance y" in claim.pinned_reason
    assert f.load()[f.host_index("c")].tolist() == [12, 14336, 40]  # z and the claim
    assert f.load()[f.host_index("b")].tolist() == [10, 12288, 20]  # y itself, still on its source
    assert notes == ["1 migration(s) in flight hold their instance's resources on a second host, counted there "
                     "as used until they end (Nova holds both ends): y on c"]


def test_a_finished_resize_claims_its_source():
    """Nova moves the instance to the destination when a resize finishes; the source holds it until confirmed."""
    f = fleet([host("a"), host("b")], [vm("r", "b", state="resized")])
    claimed = with_claims(f, [MigrationRecord("r", "a", "b", "finished", "resize")], [])
    assert [(i.claim_of, i.host) for i in claimed.instances] == [(None, "b"), ("r", "a")]


@pytest.mark.parametrize("status", sorted(FINISHED_STATUSES))
def test_a_finished_migration_claims_nothing(status):
    f = _three()
    assert with_claims(f, [MigrationRecord("y", "b", "c", status)], []) is f


def test_every_unfinished_status_the_read_asks_for_is_in_flight():
    assert all(MigrationRecord("y", "b", "c", s).in_flight for s in IN_FLIGHT_STATUSES)
    assert not set(IN_FLIGHT_STATUSES) & FINISHED_STATUSES


def test_what_cannot_be_claimed_is_skipped_and_said_when_it_matters():
    f = fleet([host("a"), host("b"), host("off", state="off")], [vm("y", "a", state="migrating")])
    notes: list[str] = []
    records = [MigrationRecord("gone", "a", "b", "running"),  # an instance the fleet does not hold: silent
               MigrationRecord("y", "a", None, "preparing"),  # no destination yet: silent
               MigrationRecord("y", "a", "a", "migrating"),  # a resize on its own host: silent
               MigrationRecord("y", "a", "elsewhere", "running"),
               MigrationRecord("y", "a", "off", "running")]
    assert with_claims(f, records, notes) is f
    assert len(notes) == 2
    assert "holds resources on elsewhere, no host of this fleet (left out): not counted" in notes[0]
    assert "holds resources on off, a host that is off: not counted" in notes[1]


def test_one_claim_per_instance_and_none_twice():
    f = with_claims(_three(), [LIVE, LIVE], [])
    assert sum(i.claim_of is not None for i in f.instances) == 1
    assert with_claims(f, [LIVE], []) is f  # a fleet read with its claims keeps them once


def test_the_scenario_keeps_claims_and_the_offline_cloud_gives_them_back():
    f = with_claims(_three(), [LIVE], [])
    again = fleet_from_dict(fleet_to_dict(f))
    assert again == f
    assert fleet_migrations(again) == [MigrationRecord("y", "b", "c", "running")]


def test_a_resize_claims_on_each_end_the_flavour_placement_holds_there():
    """The server shows one flavour; each end holds its own (old on the source, new on the destination)."""
    f = fleet([host("a"), host("b")], [vm("r", "a", vcpus=2, memory_mb=2048, disk_gb=20)])
    held = (Held("a", 2, 2048, 20), Held("b", 8, 16384, 80))
    growing = MigrationRecord("r", "a", "b", "migrating", "resize", True, held)  # shown: the old, on a
    notes: list[str] = []
    claim = with_claims(f, [growing], notes).instances[-1]
    assert (claim.host, claim.vcpus, claim.memory_mb, claim.disk_gb) == ("b", 8, 16384, 80)
    assert not [n for n in notes if "unknown" in n]
    # finished: Nova shows the new flavour on b; the source a still holds the old until it is confirmed
    done = fleet([host("a"), host("b")], [vm("r", "b", vcpus=8, memory_mb=16384, disk_gb=80, state="resized")])
    claim = with_claims(done, [MigrationRecord("r", "a", "b", "finished", "resize", True, held)], []).instances[-1]
    assert (claim.host, claim.vcpus, claim.memory_mb, claim.disk_gb) == ("a", 2, 2048, 20)
    # a same-flavour migration needs no read: the flavour shown, no note
    notes = []
    claim = with_claims(f, [MigrationRecord("r", "a", "b", "running", "live-migration")], notes).instances[-1]
    assert (claim.vcpus, claim.memory_mb) == (2, 2048) and not [n for n in notes if "unknown" in n]


def test_a_resize_whose_placement_read_failed_claims_the_flavour_shown_and_says_so():
    f = fleet([host("a"), host("b")], [vm("r", "a", vcpus=2, memory_mb=2048, disk_gb=20)])
    notes: list[str] = []
    claim = with_claims(f, [MigrationRecord("r", "a", "b", "migrating", "resize", True)], notes).instances[-1]
    assert (claim.host, claim.vcpus, claim.memory_mb, claim.disk_gb) == ("b", 2, 2048, 20)
    assert ("resize of r (r, migrating): the flavour it holds on b is unknown (Placement not read), so it is "
            "counted there with the one it shows now (2 vcpu, 2048 MB, 20 GB); the other may be larger") in notes


def test_a_saved_resize_claim_replays_with_its_own_flavour():
    f = fleet([host("a"), host("b")], [vm("r", "a", vcpus=2, memory_mb=2048, disk_gb=20)])
    resized = with_claims(f, [MigrationRecord("r", "a", "b", "migrating", "resize", True,
                                              (Held("b", 8, 16384, 80),))], [])
    again = fleet_from_dict(fleet_to_dict(resized))
    records = fleet_migrations(again)
    assert records == [MigrationRecord("r", "a", "b", "running", "resize", True, (Held("b", 8, 16384, 80),))]
    assert with_claims(f, records, []) == resized


@pytest.mark.parametrize("method", ["greedy", "decompose", "exact", "auto"])
def test_every_back_end_leaves_the_destination_on_and_fills_it_no_further(method):
    bare = _three()
    free = solve(Problem(bare, time_limit_s=2, workers=1), method=method)
    assert bare.hosts[free.placement[2]].name == "b"  # without the claim: z leaves c, which is switched off
    claimed = with_claims(bare, [LIVE], [])
    target = solve(Problem(claimed, time_limit_s=2, workers=1), method=method)
    assert check_placement(target.problem, target.placement) == []
    names = [claimed.hosts[h].name for h in target.placement]
    assert names[1:] == ["b", "c", "c"]  # y, z and the claim stay
    released = _released(claimed, plan(target, allow_power_off=True))
    assert "c" not in released and "b" not in released


def _released(f, result) -> set[str]:
    return {a.host for wave in result.waves for a in wave if a.kind in (ActionKind.DISABLE, ActionKind.POWER_OFF)}


def _claim_rows_bare(f):
    """The fleet without its claim rows, and the load the claims put on each host (float[H, 4])."""
    load = np.zeros((len(f.hosts), 4))
    for inst in f.instances:
        if inst.claim_of is not None:
            load[f.host_index(inst.host)] += [inst.vcpus, inst.memory_mb, inst.disk_gb,
                                              (f.default_cpu_util if inst.cpu_util is None else inst.cpu_util)
                                              * inst.vcpus]
    return load


@st.composite
def claimed_problems(draw):
    """A random fleet, some of its instances migrating to random powered hosts, and a problem over it."""
    f = draw(fleets(max_hosts=5, max_instances=14))
    powered = [h.name for h in f.hosts if h.powered]
    records = []
    for inst in f.instances:
        if draw(st.integers(0, 3)) == 0:
            records.append(MigrationRecord(inst.uuid, inst.host, draw(st.sampled_from(powered)),
                                           draw(st.sampled_from(IN_FLIGHT_STATUSES))))
    claimed = with_claims(f, records, [])
    return Problem(claimed, ceiling=draw(st.sampled_from([1.0, 0.8])), cpu_ceiling=draw(st.sampled_from([1.0, None])),
                   allow_power_on=draw(st.booleans()), time_limit_s=2.0, workers=1), records


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claimed_problems(), st.sampled_from(["greedy", "decompose", "auto"]), st.booleans(), st.booleans())
def test_no_target_fills_a_host_past_its_limits_counting_the_claims(case, method, power_off, stage):
    problem, records = case
    f = problem.fleet
    target = solve(problem, method=method)
    assert check_placement(problem, target.placement) == []
    # the same rule worked out apart from the checker: the claims' load added by hand to the instances'
    rows = np.array([i.claim_of is None for i in f.instances], dtype=bool)
    claims = _claim_rows_bare(f)
    load_now = claims.copy()
    np.add.at(load_now, f.placement[rows], np.column_stack([f.demand, f.cpu_used])[rows])
    load = claims.copy()
    np.add.at(load, target.placement[rows], np.column_stack([f.demand, f.cpu_used])[rows])
    assert np.allclose(load, host_load(f, target.placement))
    packing = packing_limits(f, problem.ceiling, problem.cpu_packing)
    receiving = np.zeros(len(f.hosts), dtype=bool)
    receiving[target.placement[target.moved]] = True
    limits = np.where(receiving[:, None], packing, np.maximum(packing, load_now))
    assert (load <= limits + 1e-6 * np.maximum(np.abs(np.where(np.isinf(limits), 0, limits)), 1)).all()
    # a host holding a claim (or the instance migrating) is neither disabled nor switched off by the plan,
    # and no moment of the plan (staging moves included) passes a host's limits counting the claims
    busy = {i.host for i in f.instances if i.claim_of is not None}
    busy |= {i.host for i in f.instances if i.uuid in {c.claim_of for c in f.instances}}
    result = plan(target, allow_power_off=power_off, stage_on_emptied_hosts=stage)
    assert not busy & _released(f, result)
    assert replay(f, result, problem_limits(problem)).violations == []


def test_the_migrating_instance_stays_even_when_its_task_was_not_read():
    """The tasks look-up failed (a note), the migrations one did not: the instance is pinned all the same."""
    f = with_claims(fleet([host("a"), host("b")], [vm("y", "a")]), [MigrationRecord("y", "a", "b", "running")], [])
    assert f.instances[0].state == "migrating" and not f.instances[0].movable


def test_room_for_a_bring_back_counts_the_claims():
    """b looks the fullest host with room, but a migration is coming in: the instance brought back goes elsewhere."""
    f = fleet([host("a", vcpus=8), host("b", vcpus=8), host("c", vcpus=8)],
              [vm("in", "a", vcpus=2, state="migrating"), vm("v", "b", vcpus=4), vm("w", "c", vcpus=2)])
    back = [Returning("r", "r", 4, 4096, 20, None, False)]
    assert make_room(f, back).destinations == {"r": "b"}  # the fullest that fits, counting b's own only
    claimed = with_claims(f, [MigrationRecord("in", "a", "b", "running")], [])
    room = make_room(claimed, back)
    assert room.destinations["r"] != "b"
    assert (host_load(room.fleet)[:, :3] <= room.fleet.capacity).all()
