"""A deferrable instance falling due while the plan runs comes back in that plan (``deferral/decide.py``, rule 1).

Watcher runs no audit while an action plan is ONGOING, and the replay's ``--plans run-to-end`` skips
its decisions the same way: the decision that builds a plan is the last before the plan ends, so
it brings back every shelved instance due before then (``plan_s``, the plan's expected duration),
and shelves none that could not wait that long (``deferral/horizon.py`` settles the two).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_simulator_metrics import MoveOnce, tiny_dc, trace
from watcher_geyser.deferral import Candidate, DeferralConfig, Energy, Verdict, decide_deferral
from watcher_geyser.deferral.horizon import MAX_REBUILDS, through_plan
from watcher_geyser.simulator.deferral import DeferralAnswer, DeferralSetup
from watcher_geyser.simulator.engine import Engine
from watcher_geyser.simulator.fidelity import fidelity
from watcher_geyser.simulator.geyser_policy import replay_s
from watcher_geyser.simulator.state import Migration

NOW_S = 1_000_000.0
MIN = 60.0
BETWEEN = Energy(level=0.5)  # neither scarce nor plentiful: only deadlines move anything
SCARCE = Energy(level=0.9)


def test_a_plan_expected_to_run_40_min_brings_back_an_instance_due_in_25_with_a_15_min_lead():
    config = DeferralConfig(lead_s=15 * MIN)
    due = [Candidate("job", True, NOW_S + 25 * MIN)]
    assert decide_deferral(due, BETWEEN, NOW_S, config).verdict("job") is Verdict.KEEP  # no plan: 25 > 15 min
    plan = decide_deferral(due, BETWEEN, NOW_S, config, plan_s=40 * MIN)
    assert plan.verdict("job") is Verdict.RESUME and plan.due == ("job",) and plan.late == ()
    assert "before this plan's expected 40 min end" in plan.reasons["job"]


def test_one_not_due_before_the_plan_ends_plus_the_lead_stays_shelved():
    config = DeferralConfig(lead_s=15 * MIN)
    later = [Candidate("job", True, NOW_S + 56 * MIN)]
    assert decide_deferral(later, BETWEEN, NOW_S, config, plan_s=40 * MIN).verdict("job") is Verdict.KEEP


def test_an_instance_that_cannot_wait_out_the_plan_the_lead_and_the_least_shelve_is_not_shelved():
    config = DeferralConfig(lead_s=15 * MIN, min_shelve_s=30 * MIN)
    running = [Candidate("job", False, NOW_S + 60 * MIN)]
    assert decide_deferral(running, SCARCE, NOW_S, config).verdict("job") is Verdict.SHELVE
    assert decide_deferral(running, SCARCE, NOW_S, config, plan_s=40 * MIN).verdict("job") is Verdict.KEEP


def test_a_negative_plan_duration_is_refused_with_what_it_should_be():
    with pytest.raises(ValueError, match="plan_s is the plan's expected duration"):
        decide_deferral([], BETWEEN, NOW_S, DeferralConfig(), plan_s=-1.0)


def test_through_plan_builds_again_when_the_plan_brings_more_back_and_once_more_when_that_lengthens_it():
    """Instances due at 10, 20, .. 60 min (lead 0); a plan lasts 10 min per instance brought back."""
    deadlines = {f"i{k}": k * 10 * MIN for k in range(1, 7)}
    asked: list[float] = []

    def decide(plan_s: float) -> frozenset[str]:
        asked.append(plan_s)
        return frozenset(u for u, d in deadlines.items() if d <= plan_s)

    settled = through_plan(decide, lambda back: (sorted(back), 10 * MIN * len(back)), lambda a, b: a != b)
    assert asked == [0.0] and settled.builds == 1  # nothing due, an empty plan: no decision is skipped
    deadlines["i0"] = 0.0
    asked.clear()
    settled = through_plan(decide, lambda back: (sorted(back), 10 * MIN * len(back)), lambda a, b: a != b)
    # 1 back -> 10 min plan -> 2 back -> 20 min -> 3 back -> 30 min: two rebuilds, then it stops
    assert asked == [0.0, 10 * MIN, 20 * MIN] and settled.builds == 1 + MAX_REBUILDS
    assert settled.plan == ["i0", "i1", "i2"] and settled.plan_s == 30 * MIN


# --- the replay: realistic fidelity, plans run to their end --------------------------------------

RUN_TO_END = fidelity("realistic", "run-to-end")
BIG_VM_MB = 15_000.0  # 240 s a migration at 62.5 MB/s: a plan of n waves outlasts n - 1 decisions
STEP_S = 300.0


@dataclass
class LongPlan(MoveOnce):
    """Moves v0 back and forth in ``waves`` waves at step ``plan_step``; defers v1 by the core's rule:
    shelved at step 1 under scarce energy, then only deadlines move it (``plan_s``: its plan, as
    ``GeyserPolicy`` tells the engine)."""

    waves: int = 5
    plan_step: int = 2
    config: DeferralConfig = field(default_factory=lambda: DeferralConfig(lead_s=STEP_S, min_shelve_s=STEP_S))
    plan_s: float = 0.0

    def decide(self, view):
        if view.step != self.plan_step:
            self.plan_s = 0.0
            return []
        at = int(view.state.vm_host[0])
        out = [[Migration(0, 1 - at if w % 2 == 0 else at)] for w in range(self.waves)]
        self.plan_s = replay_s(view.state, out)
        return out

    def defer(self, view, book, plan_s: float = 0.0) -> DeferralAnswer:
        energy = SCARCE if view.step == 1 else BETWEEN
        plan = decide_deferral(book.candidates(view.time_s), energy, view.time_s, self.config, plan_s)
        index = {name: v for v, name in enumerate(view.state.dc.vm_names)}
        shelve = [] if plan_s > 0 else [index[u] for u in plan.shelve]
        back = plan.due if plan_s > 0 else plan.resume
        return DeferralAnswer(shelve, [index[u] for u in back], due=frozenset(index[u] for u in plan.due))


def _replay(policy: LongPlan, max_deferral_s: float, samples: int = 20):
    util = [[0.5] * samples, [0.4] * samples]
    dc = tiny_dc(ram_mb=BIG_VM_MB, host_ram_mb=40_000.0)
    return Engine(trace(util), dc, policy, RUN_TO_END, deferral=DeferralSetup(np.array([False, True]),
                                                                              max_deferral_s)).run()


def test_a_vm_due_while_a_long_plan_runs_comes_back_before_the_plan_not_after_its_deadline():
    """v1 is shelved at 300 s with 20 min to wait (back by 1500 s). At 600 s a plan of five 240 s
    waves starts (to 1800 s, past three decisions, skipped): it has 15 min to spare then, more
    than the lead of one step, so without the plan's duration it stayed shelved until 2100 s, a
    miss; with it, it comes back at 600 s."""
    policy = LongPlan()
    r = _replay(policy, max_deferral_s=20 * MIN)
    assert r.decisions_skipped >= 3 and r.migrations == 5
    assert r.deadline_misses == 0
    assert r.deferred_vm_hours == pytest.approx(300 / 3600)  # shelved 300 s to 600 s


@settings(max_examples=30, deadline=None)
@given(waves=st.integers(1, 8), plan_step=st.integers(1, 6), max_deferral_s=st.floats(2 * STEP_S, 4000.0))
def test_no_vm_shelved_with_feasible_slack_misses_while_plans_run_to_their_end(waves, plan_step, max_deferral_s):
    """Whatever the plan's length and when it starts, a VM the rule shelved (its slack then at least
    the lead and the least shelve) is back by its deadline, though the decisions during the plan are skipped."""
    r = _replay(LongPlan(waves=waves, plan_step=plan_step), max_deferral_s)
    assert r.deadline_misses == 0
