"""The policy's turn at a decision time of the replay: skipped while a plan runs, or deferral and
plan settled together, and the answer as waves.

Kept apart from the replay loop (``engine``), which only asks ``Decider.skips`` and
``Decider.decide`` at each step and starts what comes back: what a decision is (Watcher's audit
finding its last plan ONGOING, a due bring-back not waiting for the plan) is written here once.
"""

from __future__ import annotations

import time

import numpy as np

from watcher_geyser.deferral.horizon import through_plan
from watcher_geyser.simulator.baselines import Policy
from watcher_geyser.simulator.datacenter import DataCenter
from watcher_geyser.simulator.deferral import DeferralBook
from watcher_geyser.simulator.fidelity import Fidelity
from watcher_geyser.simulator.state import Migration, SimState, Snapshot
from watcher_geyser.simulator.view import StepView


class Decider:
    """Asks ``policy`` for its deferral and its plan at each decision time of one replay.

    ``off_times_s`` is the replay's record of switch-offs per host (``meter.Meter``), read by the
    views the policy sees; ``decisions_skipped`` counts the decisions a running plan skipped."""

    def __init__(self, policy: Policy, fidelity: Fidelity, state: SimState, dc: DataCenter, book: DeferralBook,
                 off_times_s: list[list[float]]) -> None:
        self.policy, self.fid, self.state, self.dc, self.book = policy, fidelity, state, dc, book
        self.off_times_s = off_times_s
        self.decisions_skipped = 0  # decisions due while a plan still ran (``Fidelity.plan_runs_to_end``)

    def skips(self, plan_running: bool) -> bool:
        """Whether this decision is skipped, counted if so: with ``Fidelity.plan_runs_to_end`` (as
        Watcher's audit finds its last plan ONGOING), neither the strategy nor the deferral runs
        while a wave is pending or a migration in flight."""
        skipped = self.fid.plan_runs_to_end and plan_running
        if skipped:
            self.decisions_skipped += 1
        return skipped

    def held_off(self, view: StepView) -> frozenset[int]:
        """The hosts the policy's power-cycle budget holds off now (``held_off(view)``; none for a
        policy without one): Nova's part in the replay switches none of them on for a new instance
        while another host has room, as it does for a VM back from the shelf."""
        held_off = getattr(self.policy, "held_off", None)
        return frozenset() if held_off is None else held_off(view)

    def decide(self, k: int, t: float, snap: Snapshot, was_on: np.ndarray) -> tuple[object, Snapshot, float]:
        """The policy's deferral and plan at ``t``: (its answer, the snapshot after the deferral,
        the seconds its ``decide`` took).

        With ``Fidelity.plan_runs_to_end`` and a policy that estimates its plans (``plan_s``: the
        planner's expected duration of its last plan), no decision runs until the plan ends, so
        the VMs falling due meanwhile come back now: ``deferral.horizon.through_plan`` asks the
        policy again with the plan's estimate (only the bring-backs that estimate makes due), and
        plans again when any came back (the fleet changed)."""
        state, current, seconds = self.state, [snap], [0.0]

        def view() -> StepView:
            return StepView(k, t, state, current[0], self.off_times_s, was_on)

        def defer(plan_s: float) -> int:
            changed = self._defer(t, view(), plan_s)
            if changed:
                current[0] = state.snapshot(t)
            return changed

        def build(_changed: int) -> tuple[object, float]:
            started = time.perf_counter()
            answer = self.policy.decide(view())
            seconds[0] += time.perf_counter() - started
            return answer, float(getattr(self.policy, "plan_s", 0.0))

        if not (self.fid.plan_runs_to_end and hasattr(self.policy, "plan_s") and self.defers()):
            defer(0.0)
            return build(0)[0], current[0], seconds[0]
        settled = through_plan(defer, build, lambda _before, after: after > 0)
        return settled.plan, current[0], seconds[0]

    def defers(self) -> bool:
        """Whether the policy defers work and any VM may be deferred."""
        return getattr(self.policy, "defer", None) is not None and bool(self.book.setup.deferrable.any())

    def _defer(self, t: float, view: StepView, plan_s: float = 0.0) -> int:
        """Let a deferring policy shelve and bring back deferrable VMs; how many changed state.
        With ``plan_s`` > 0 the policy is asked again, after its plan: only what that plan's
        expected duration makes due (``GeyserPolicy.defer``)."""
        if not self.defers():
            return 0
        answer = self.policy.defer(view, self.book, plan_s) if plan_s > 0 else self.policy.defer(view, self.book)
        free = self.dc.total_mips.astype(np.float64) - view.snapshot.host_cap_mips
        return self.book.apply(answer, t, free)


def waves(answer: list) -> tuple[list[Migration], list[list[Migration]]]:
    """A policy answers one list of migrations (started together) or a list of waves (lists):
    (the migrations to start now, the waves to start as each one before ends)."""
    if answer and isinstance(answer[0], list | tuple):
        waves = [list(w) for w in answer if w]
        return (waves[0], waves[1:]) if waves else ([], [])
    return list(answer), []


def targets(pending: list[list[Migration]]) -> set[int]:
    """The hosts the waves ``pending`` still send a VM to. A host the running plan empties is not
    switched off while one of them does: Watcher's plan powers a host off after the last migration
    that touches it (``planner.hostactions``), so a host the plan empties and fills again (a
    staging host, or one emptied before its new instances arrive) makes one power cycle, not one
    per visit."""
    return {m.host for wave in pending for m in wave}


def power_offs(policy: Policy, fidelity: Fidelity, n_waves: int) -> list[set[int]]:
    """The hosts ``policy``'s last plan of ``n_waves`` migration waves powers off: entry i once i
    of its waves have ended (the last entry after its last migration), empty sets for a policy
    whose plan holds none (the baselines: their rule is the engine's, a source left empty goes off).

    Watcher runs a plan's ``power_off`` in its wave whether or not that plan's migrations emptied
    the host (``planner.hostactions``: a host empty from the start goes off in the plan's second
    wave, after its ``disable``), so a host emptied by shelving goes off with the next plan, not
    when it happens to be a migration's source. Only in realistic fidelity: in ``cloudsim`` an
    empty host draws nothing already, and its replay stays CloudSim's."""
    planned = getattr(policy, "power_offs", None)
    if not planned or fidelity.zero_utilisation_is_off:
        return [set() for _ in range(n_waves + 1)]
    if len(planned) != n_waves + 1:
        raise ValueError(f"policy {policy.name!r} answers {n_waves} wave(s) but power-offs for {len(planned) - 1}")
    return [set(offs) for offs in planned]
