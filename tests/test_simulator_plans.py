"""A plan still running at the next decision: dropped and replanned, or run to its end as in Watcher.

Watcher runs no audit while an action plan is ONGOING (``ActionPlanIsOngoing``), so with
``Fidelity.plan_runs_to_end`` the engine skips such a decision (the policy, its deferral too, is
not asked) and the plan's waves go on; without it the waves not started are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_simulator_metrics import MoveOnce, tiny_dc, trace
from watcher_geyser.commands.simulate import SimulateError, simulate_argv
from watcher_geyser.simulator.deferral import DeferralAnswer, DeferralSetup
from watcher_geyser.simulator.engine import Engine
from watcher_geyser.simulator.fidelity import CLOUDSIM, REALISTIC, fidelity
from watcher_geyser.simulator.state import Migration

RUN_TO_END = fidelity("realistic", "run-to-end")
DROP = fidelity("realistic", "drop")
# 15,000 MB at 62.5 MB/s: 240 s a migration, so three waves (300-540, 540-780, 780-1020 s) outlast
# two decision intervals: the decisions at 600 and 900 s come while the plan runs
BIG_VM_MB = 15_000.0


@dataclass
class ThreeWaves(MoveOnce):
    """At the first decision, three waves of one migration each; nothing after. Records what it is asked."""

    switches_off_empty_hosts: bool = False
    asked: list[int] = field(default_factory=list)
    deferrals: list[int] = field(default_factory=list)

    def decide(self, view):
        self.asked.append(view.step)
        return [[Migration(0, 1)], [Migration(1, 0)], [Migration(0, 0)]] if view.step == 1 else []

    def defer(self, view, book):
        self.deferrals.append(view.step)
        return DeferralAnswer(shelve=[], resume=[])


def _engine(fid, policy, deferral=None) -> Engine:
    util = [[0.5] * 5, [0.4] * 5]  # five samples: decisions at 300, 600, 900 and 1200 s
    dc = tiny_dc(ram_mb=BIG_VM_MB, host_ram_mb=40_000.0)
    return Engine(trace(util), dc, policy, fid, deferral=deferral)


def test_with_the_switch_on_the_plan_runs_to_its_end_and_the_decisions_meanwhile_are_skipped():
    policy = ThreeWaves()
    engine = _engine(RUN_TO_END, policy, DeferralSetup(np.array([False, True])))
    r = engine.run()
    assert r.migrations == 3 and r.migrations_dropped == 0
    assert r.decisions_skipped == 2  # 600 s (wave 2 in flight) and 900 s (wave 3 in flight)
    assert policy.asked == [1, 4] and policy.deferrals == [1, 4]  # the audit runs neither strategy nor deferral
    assert engine.state.vm_host.tolist() == [0, 0]  # every wave ran
    assert r.series.migrations == [2, 1, 0, 0]  # started at 300 and 540 s, then at 780 s
    assert r.solver_seconds[1] == r.solver_seconds[2] == 0.0
    assert r.summary()["decisions_skipped"] == 2


def test_a_skipped_decision_writes_its_measured_state_and_says_it_decided_nothing():
    """Each VM asks 600 of its host's 1000 MIPS. A host is overloaded (the requests held against it
    exceed its MIPS) where two VMs share it, a migrating VM counted in full on its source and at 10 %
    on its destination: at 600 s v0 has landed on h1 and v1 is leaving it (overloaded); at 900 s v1
    has landed on h0 and v0 is coming in (660 MIPS held: not overloaded, but violating, a migration's
    doing); at 1200 s both run on h0. Before, the column was the policy's last answer, repeated on
    the skipped rows (here the policy's default, 0, throughout)."""
    util = [[0.6] * 5, [0.6] * 5]
    dc = tiny_dc(ram_mb=BIG_VM_MB, host_ram_mb=40_000.0)
    r = Engine(trace(util), dc, ThreeWaves(), RUN_TO_END).run()
    assert r.series.decided == [1, 0, 0, 1] and r.decisions_skipped == 2
    assert r.series.overloaded_hosts == [0, 1, 0, 1]
    assert r.series.sla_violating_hosts[2] == 1  # the destination of v0's migration, not overloaded
    assert r.solver_seconds[1:3] == [0.0, 0.0] and r.series.migrations[1:3] == [1, 0]  # wave 3 started at 780 s
    dropped = Engine(trace(util), dc, ThreeWaves(), DROP).run()
    assert dropped.series.decided == [1, 1, 1, 1] and dropped.series.overloaded_hosts == [0, 1, 0, 0]


def test_with_the_switch_off_the_pending_wave_is_dropped_and_the_policy_replans():
    policy = ThreeWaves()
    engine = _engine(DROP, policy, DeferralSetup(np.array([False, True])))
    r = engine.run()
    assert r.migrations == 2 and r.migrations_dropped == 1 and r.decisions_skipped == 0
    assert policy.asked == [1, 2, 3, 4] and policy.deferrals == [1, 2, 3, 4]
    assert engine.state.vm_host.tolist() == [1, 0]  # the third wave never ran


def test_a_wave_passes_over_a_vm_gone_while_the_plan_ran_and_the_plan_goes_on():
    """v0 lands on h1 at 540 s and is gone at 600 s (its work ended; here it falls idle in a fidelity
    that retires idle VMs, as a deferrable VM whose work ends leaves in ``realistic``): the third wave
    (780 s) would move it. Nova has deleted it, so that migration does not run; the plan is not
    broken by it (the replay stopped with "moves VM 0, which is not running" before). The policy's
    own answer is still checked in full (below)."""
    util = [[0.5, 0.5, 0.0, 0.0, 0.0], [0.4] * 5]
    dc = tiny_dc(ram_mb=BIG_VM_MB, host_ram_mb=40_000.0)
    engine = Engine(trace(util), dc, ThreeWaves(), replace(RUN_TO_END, retire_idle_vms=True))
    r = engine.run()
    assert r.migrations == 2 and r.decisions_skipped == 1  # 600 s (wave 2 in flight); wave 3 never starts
    assert engine.state.vm_host.tolist() == [-1, 0] and not engine.state.alive[0]


@dataclass
class BadSecondWave(ThreeWaves):
    """A later wave that names a VM the replay does not have: a policy's error, not a VM gone."""

    def decide(self, view):
        return [[Migration(0, 1)], [Migration(7, 0)]] if view.step == 1 else []


def test_a_later_wave_that_names_no_running_vm_is_still_refused():
    with pytest.raises(ValueError, match="moves VM 7, which is not running"):
        _engine(RUN_TO_END, BadSecondWave()).run()


@dataclass
class RandomWaves(MoveOnce):
    """At every decision it is asked, waves of random migrations (drawn by hypothesis)."""

    switches_off_empty_hosts: bool = False
    plans: list = field(default_factory=list)
    asked: int = 0

    def decide(self, view):
        self.asked += 1
        if not self.plans:
            return []
        waves = self.plans.pop(0)
        alive = set(np.flatnonzero(view.state.alive & ~view.state.in_migration).tolist())
        return [[Migration(v, h) for v, h in wave if v in alive] for wave in waves]


_wave = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=2, unique_by=lambda m: m[0])
_plan = st.lists(_wave, min_size=0, max_size=4)


@settings(max_examples=40, deadline=None)
@given(st.lists(_plan, min_size=1, max_size=6), st.sampled_from([625.0, 6250.0, 15_000.0, 40_000.0]))
def test_run_to_end_drops_nothing_and_every_decision_is_asked_or_skipped(plans, ram_mb):
    policy = RandomWaves(plans=[list(p) for p in plans])
    dc = tiny_dc(hosts=3, vms=3, ram_mb=ram_mb, host_ram_mb=200_000.0)
    util = [[0.3] * 8] * 3
    r = Engine(trace(util), dc, policy, RUN_TO_END).run()
    assert r.migrations_dropped == 0
    assert policy.asked + r.decisions_skipped == 7  # one decision per interval end, k = 1..7
    assert r.migrations == sum(r.series.migrations)


def test_each_fidelity_has_its_own_default_and_run_to_end_is_realistic_only():
    assert REALISTIC.plan_runs_to_end and not CLOUDSIM.plan_runs_to_end  # realistic runs plans as Watcher does
    assert fidelity("realistic") is REALISTIC and REALISTIC == RUN_TO_END and fidelity("cloudsim") is CLOUDSIM
    assert replace(REALISTIC, plan_runs_to_end=False) == DROP and fidelity("cloudsim", "drop") is CLOUDSIM
    assert (REALISTIC.plans, DROP.plans, CLOUDSIM.plans) == ("run-to-end", "drop", "drop")
    with pytest.raises(ValueError, match="realistic fidelity only.*--plans drop"):
        fidelity("cloudsim", "run-to-end")
    with pytest.raises(ValueError, match="choose one of drop, run-to-end"):
        fidelity("realistic", "finish")


def test_the_command_line_refuses_run_to_end_with_cloudsim_and_names_the_fix():
    with pytest.raises(SimulateError, match="use --fidelity realistic, or --plans drop"):
        simulate_argv(["--fidelity", "cloudsim", "--plans", "run-to-end", "--policy", "npa"])


@pytest.mark.parametrize(("argv", "plans"), [
    ([], "run-to-end"),  # realistic is the default fidelity, run-to-end its default
    (["--fidelity", "realistic", "--plans", "drop"], "drop"),
    (["--fidelity", "cloudsim"], "drop"),
])
def test_the_command_line_default_follows_the_fidelity_and_reaches_the_report(argv, plans):
    outcome = simulate_argv(["--limit", "30", "--policy", "thr-mmt", "--deterministic", *argv])
    assert outcome.meta["plans"] == plans
    r = outcome.results[0]
    assert r.summary()["decisions_skipped"] == r.decisions_skipped
    assert r.migrations_dropped == 0 if plans == "run-to-end" else r.decisions_skipped == 0
