"""A migration in flight holds its allocation on both hosts, but its guest runs on one: the watts
count its measured CPU once, where it runs (``claims.py``, "Measured CPU is not an allocation").
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import fleet, host, vm
from tests.strategies import fleets
from watcher_geyser.claims import IN_FLIGHT_STATUSES, MigrationRecord, fleet_migrations, with_claims
from watcher_geyser.scenario import fleet_from_dict, fleet_to_dict
from watcher_geyser.signal.policy import fleet_need_w
from watcher_geyser.solver import Problem, solve
from watcher_geyser.solver.checks import check_placement
from watcher_geyser.solver.limits import CPU_CORES, host_load
from watcher_geyser.summary import target_summary


def _live():
    """y (8 vcpus, half busy) migrates live from b to c; a and c hold one small instance each."""
    bare = fleet([host("a"), host("b"), host("c")],
                 [vm("x", "a", vcpus=2, cpu_util=0.5), vm("y", "b", vcpus=8, cpu_util=0.5, state="migrating"),
                  vm("z", "c", vcpus=2, cpu_util=0.25)])
    return bare, with_claims(bare, [MigrationRecord("y", "b", "c", "running", "live-migration")], [])


def _resized():
    """r (8 vcpus, half busy) resized from a to b waits for its confirmation: it runs on b, a holds its old room."""
    bare = fleet([host("a"), host("b")], [vm("w", "a", vcpus=2, cpu_util=0.5),
                                          vm("r", "b", vcpus=8, cpu_util=0.5, state="resized")])
    return bare, with_claims(bare, [MigrationRecord("r", "a", "b", "finished", "resize")], [])


def test_a_live_migration_in_flight_draws_its_guest_s_watts_once_on_its_source():
    bare, claimed = _live()
    # b runs y (4 cores of 16: 125 W), c runs z only (0.5 of 16 cores): y's CPU is not counted on c too
    assert claimed.host_watts(powered=claimed.powered).tolist() == pytest.approx([106.25, 125.0, 103.125])
    assert claimed.watts(powered=claimed.powered) == pytest.approx(bare.watts(powered=bare.powered))
    assert fleet_need_w(claimed) == pytest.approx(fleet_need_w(bare))  # the signal policy's yardstick
    target = solve(Problem(claimed, time_limit_s=2, workers=1), method="greedy")
    assert target_summary(target)["watts_before"] == pytest.approx(334.4, abs=0.05)


def test_the_claim_still_holds_the_allocation_and_the_cpu_of_the_guest_on_its_way():
    _, claimed = _live()
    c = claimed.host_index("c")
    # the allocation of y and z on c, and y's CPU on its way in, for the limits: as before
    assert host_load(claimed)[c].tolist() == [10, 8192, 40, 4.5]
    assert claimed.cpu_drawn_load()[c] == pytest.approx(0.5)
    for method in ("greedy", "exact"):
        target = solve(Problem(claimed, time_limit_s=2, workers=1), method=method)
        assert check_placement(target.problem, target.placement) == []
        names = [claimed.hosts[h].name for h in target.placement]
        assert names[1:] == ["b", "c", "c"]  # y, z and the claim stay: c is neither emptied nor switched off
        assert target.bounds.watts_w <= target.watts_w + 1e-6


def test_a_resize_waiting_for_its_confirmation_draws_on_its_destination_and_holds_no_cpu_on_its_source():
    bare, claimed = _resized()
    a = claimed.host_index("a")
    assert claimed.watts(powered=claimed.powered) == pytest.approx(bare.watts(powered=bare.powered))
    assert host_load(claimed)[a].tolist() == [10, 8192, 40, 1.0]  # r's old room, but only w's CPU
    # saved and replayed (the offline strategy's look-up), the claim still holds no CPU
    again = fleet_from_dict(fleet_to_dict(claimed))
    assert with_claims(bare, fleet_migrations(again), []) == claimed


def test_a_reverted_resize_holds_the_cpu_of_its_guest_on_the_way_back():
    bare, _ = _resized()
    reverting = with_claims(bare, [MigrationRecord("r", "a", "b", "reverting", "resize")], [])
    assert host_load(reverting)[reverting.host_index("a"), CPU_CORES] == pytest.approx(5.0)


def _relief(f):
    return solve(Problem(f, cpu_ceiling=0.5, cpu_relief_ceiling=0.6, time_limit_s=2, workers=1), method="greedy")


def test_relief_counts_the_guest_on_its_way_in_but_not_an_idle_reservation():
    """The destination of a live migration that will be hot once the guest lands is relieved now;
    the source of a finished resize is not hot for a guest that has left it."""
    hosts = [host(name, cpu_allocation_ratio=4.0) for name in "abc"]  # the vcpus overcommitted, not the CPU
    # c runs 8 of 16 cores and y (4 cores) lands there: 12 of 16, above the relief ceiling (9.6)
    live = fleet(hosts, [vm("y", "a", vcpus=8, cpu_util=0.5, state="migrating"),
                         vm("v", "c", vcpus=8, cpu_util=0.5), vm("w", "c", vcpus=8, cpu_util=0.5)])
    target = _relief(with_claims(live, [MigrationRecord("y", "a", "c", "running", "live-migration")], []))
    assert "c" in target.relieved
    # the same load on c, y resized from c to a and running there: c only holds y's old room
    done = fleet(hosts, [vm("y", "a", vcpus=8, cpu_util=0.5, state="resized"),
                         vm("v", "c", vcpus=8, cpu_util=0.5), vm("w", "c", vcpus=8, cpu_util=0.5)])
    target = _relief(with_claims(done, [MigrationRecord("y", "c", "a", "finished", "resize")], []))
    assert target.relieved == () and target.migrations == 0


@st.composite
def migrations(draw):
    """A random fleet and migrations in flight of some of its instances to random powered hosts,
    from either end (the instance on the source, or on the destination of a finished resize)."""
    f = draw(fleets(max_hosts=5, max_instances=14))
    powered = [h.name for h in f.hosts if h.powered]
    records = []
    for inst in f.instances:
        if draw(st.integers(0, 2)) == 0:
            other = draw(st.sampled_from(powered))
            status = draw(st.sampled_from(IN_FLIGHT_STATUSES))
            ends = (inst.host, other) if draw(st.booleans()) else (other, inst.host)
            records.append(MigrationRecord(inst.uuid, *ends, status))
    return f, records


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(migrations())
def test_the_claims_change_no_host_s_watts_nor_the_fleet_s_draw(case):
    """The same guests run on the same hosts with or without their claims: the same watts, host by host."""
    bare, records = case
    claimed = with_claims(bare, records, [])
    assert np.allclose(claimed.host_watts(powered=claimed.powered), bare.host_watts(powered=bare.powered))
    assert fleet_need_w(claimed) == pytest.approx(fleet_need_w(bare))
    # and for any placement of the instances themselves, the claims left where they are, with the
    # same hosts on: a claim adds no watts to the host holding it
    rows = np.array([i.claim_of is None for i in claimed.instances], dtype=bool)
    rng = np.random.default_rng(len(records))
    moved = rng.integers(0, len(bare.hosts), size=len(bare.instances))
    placement = claimed.placement.copy()
    placement[rows] = moved
    on = np.ones(len(bare.hosts), dtype=bool)
    assert np.allclose(claimed.host_watts(placement, on), bare.host_watts(moved, on))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(migrations(), st.sampled_from(["greedy", "decompose", "auto"]))
def test_the_watts_bound_stays_under_every_answer_with_claims(case, method):
    bare, records = case
    claimed = with_claims(bare, records, [])
    target = solve(Problem(claimed, cpu_ceiling=1.0, time_limit_s=2.0, workers=1), method=method)
    assert check_placement(target.problem, target.placement) == []
    assert target.bounds.watts_w <= target.watts_w * (1 + 1e-9) + 1e-6
