"""An instance with a Nova task in flight (a live migration, a resize, a rebuild, ..) stays where it is.

Nova keeps vm_state "active" meanwhile and refuses another migration (HTTP 409); the task is the
instance's ``state`` (``records.NOVA_TASKS``), read from ``OS-EXT-STS:task_state`` by the snapshot
and the Watcher adapter and set by the simulator for a VM migrating now. It is pinned, not locked:
the reasons say it is busy, it is never shelved.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.builders import fleet, host, vm
from tests.test_simulator_metrics import MoveOnce, tiny_dc, trace
from watcher_geyser.cloud import CloudRecords, HypervisorRecord, ServerRecord, to_fleet
from watcher_geyser.deferral import Deferral
from watcher_geyser.deferral.energy import Energy
from watcher_geyser.deferral.fleet import defer_in_fleet
from watcher_geyser.instance_state import in_flight_note, read_instance
from watcher_geyser.planner import plan
from watcher_geyser.power import PowerModel
from watcher_geyser.records import MIGRATING, NOVA_TASKS, Instance
from watcher_geyser.simulator.engine import simulate
from watcher_geyser.simulator.fidelity import fidelity
from watcher_geyser.solver import Problem, solve

LINEAR = PowerModel.linear(100, 300)


@given(st.sampled_from(sorted(NOVA_TASKS)), st.sampled_from(["active", "stopped", "paused"]))
def test_any_nova_task_pins_whatever_the_vm_state(task, vm_state):
    read = Instance("u", "web", "a", 2, 2048, 20, state=vm_state)
    notes: list[str] = []
    inst = read_instance(read, {}, None, notes, task)
    assert inst.state == task and inst.task_in_flight == task
    assert not inst.movable and inst.migration_kind is None and not inst.locked
    assert inst.pinned_reason == f"busy with a Nova task in flight ({task}), until that ends"


def test_no_task_reads_as_before():
    read = Instance("u", "web", "a", 2, 2048, 20, state="ACTIVE")
    for task in (None, ""):
        inst = read_instance(read, {}, None, [], task)
        assert inst.state == "active" and inst.movable and inst.task_in_flight is None
    broken = Instance("u", "x", "a", 1, 1, 1, state="error")
    assert broken.pinned_reason == "in state 'error', which Nova cannot migrate"


def test_one_note_names_every_instance_in_flight():
    instances = [vm("a", "h", state="migrating"), vm("b", "h"), vm("c", "h", state="resize_migrating"),
                 vm("d", "h", locked=True)]
    note = in_flight_note(instances)
    assert note.startswith("2 instance(s) busy with a Nova task in flight")
    assert note.endswith("a (migrating), c (resize_migrating)")
    assert in_flight_note([vm("b", "h")]) is None


def test_the_snapshot_reads_the_task_and_pins_the_instance():
    hyps = [HypervisorRecord("a", "a", 16, 16384, 400), HypervisorRecord("b", "b", 16, 16384, 400)]
    servers = [ServerRecord("u1", "moving", "a", 2, 2048, 20, task_state="migrating"),
               ServerRecord("u2", "idle", "a", 2, 2048, 20)]
    snap = to_fleet(CloudRecords(hyps, servers), lambda _name: LINEAR)
    by_name = {i.name: i for i in snap.fleet.instances}
    assert by_name["moving"].state == "migrating" and not by_name["moving"].movable
    assert by_name["idle"].movable
    assert any("moving (migrating)" in n for n in snap.notes)


def test_the_plan_leaves_it_and_says_it_is_busy():
    """Two half-empty hosts: the solver would empty one, but the instance in flight stays on it."""
    f = fleet([host("a"), host("b")], [vm("m", "a", state=MIGRATING), vm("x", "b"), vm("y", "b")])
    target = solve(Problem(f, workers=1, deterministic=True, time_limit_s=2))
    assert target.placement[0] == 0
    moves = plan(target, parallelism=2, per_host_parallelism=1)
    assert all(a.instance != "m" for wave in moves.waves for a in wave)


def test_it_is_never_shelved_when_energy_is_scarce():
    spec = Deferral(max_deferral_s=8 * 3600.0)
    f = fleet([host("a"), host("b")], [vm("m", "a", state=MIGRATING, deferral=spec), vm("d", "b", deferral=spec)])
    result = defer_in_fleet(f, [], Energy(level=1.0), 0.0)
    assert [u for u, _ in result.shelve] == ["d"]  # the rule shelves the idle one, never the one in flight


def test_relief_says_busy_not_locked():
    """'hot' runs 24 busy cores on 16, every instance on it in flight: relief names it, and why."""
    f = fleet([host("hot"), host("spare")],
              [vm(f"v{i}", "hot", vcpus=4, cpu_util=1.0, state=MIGRATING) for i in range(6)])
    target = solve(Problem(f, workers=1, time_limit_s=2), method="greedy")
    reason = target.unrelieved["hot"]
    assert "6 busy with a Nova task in flight" in reason and "locked" not in reason


@pytest.mark.parametrize(("x", "why"), [({"locked": True}, "pinned: locked"),
                                        ({"state": MIGRATING}, "pinned: busy with a Nova task in flight (migrating)")])
def test_a_starved_instance_in_flight_is_named_as_busy(x, why):
    instances = [vm("x", "slow", vcpus=4, memory_mb=2048, cpu_util=0.9, cores=1, **x),
                 vm("y", "slow", vcpus=1, memory_mb=1024, cpu_util=0.1)]
    f = fleet([host("slow", core_size=1.0, idle_w=50), host("fast", core_size=4.0, idle_w=150)], instances)
    target = solve(Problem(f, workers=1, time_limit_s=2))
    assert target.placement[0] == 0 and why in target.unrelieved["slow"]


def test_the_simulator_marks_a_vm_migrating_now_busy_not_locked():
    """v0 (25,000 MB: 400 s at 62.5 MB/s) starts moving at the first decision and is still in flight
    at the second: that fleet holds it in state ``migrating``, unlocked and unmovable; at the third it
    has arrived and is active again. ``--plans drop``, on purpose: under realistic's default
    (run-to-end, as Watcher) the second decision is skipped while v0 is in flight, so no decision
    meets a migration in flight (in Watcher one can: an operator's, or a forced audit's plan)."""
    dc = tiny_dc(ram_mb=25_000.0, host_ram_mb=65_536.0)
    policy = MoveOnce()
    simulate(trace([[0.5] * 5, [0.2] * 5]), dc, policy, fidelity("realistic", "drop"))
    states = [[(i.uuid, i.state, i.locked) for i in f.instances] for f in policy.fleets]
    assert states[0] == [("v0", "active", False), ("v1", "active", False)]
    assert states[2][0] == ("v0", "active", False)
    after = policy.fleets[1]
    v0 = after.instances[0]
    assert (v0.uuid, v0.state, v0.locked) == ("v0", MIGRATING, False)
    assert not after.movable[0] and after.movable[1]
    assert v0.pinned_reason.startswith("busy with a Nova task in flight")
    assert np.array_equal(after.movable, [i.task_in_flight is None for i in after.instances])


def test_the_fleet_says_how_long_each_vm_has_stood_since_its_last_migration():
    """v0 (625 MB: 10 s at 62.5 MB/s) moves at the first decision (300 s) and lands at 310 s: the later
    fleets give it ``settled_s`` since then (as a reader of Nova's finished migrations would), what the
    swap pass weighs against ``swap_payback_s``; v1 never moved (None, ``inf`` in the view)."""
    policy = MoveOnce()
    simulate(trace([[0.5] * 4, [0.2] * 4]), tiny_dc(), policy, fidelity("realistic", "drop"))
    settled = [[i.settled_s for i in f.instances] for f in policy.fleets]
    assert settled == [[None, None], [290.0, None], [590.0, None]]
    assert policy.fleets[1].settled_s.tolist() == [290.0, np.inf]
