"""The replay loop: a clock over decision steps and migration-end events, in a deterministic order.

At each decision time t_k (= k x step + the fidelity's offset, k = 1..T-1, and on while deferred
work is left; see ``deferral``):

1. update every host at t_k (demand interpolated from the trace), charge energy since the last update;
2. in ``cloudsim`` fidelity, retire VMs whose demand is exactly 0;
   with a repeated day, the copies whose day has begun arrive (``arrivals``);
3. append each VM's utilisation to its history; a policy that defers work shelves and brings back
   deferrable VMs; ask the policy for migrations (timed);
4. start them: the VM is marked migrating, the destination reserves 10 % of it; a migration lasts
   RAM / (BW / 2 / 8000) seconds (after ``boot_s`` when a realistic host has to be switched on).
   A policy may answer waves (a list of lists): each wave starts when the previous one has
   finished; waves still pending at the next decision are dropped (counted as ``migrations_dropped``),
   or, with ``Fidelity.plan_runs_to_end`` (as Watcher), that decision is skipped while the plan
   runs (a wave pending or a migration in flight): neither ``defer`` nor ``decide`` is called
   (counted as ``decisions_skipped``) and the waves go on starting as their predecessors end;
5. at every migration end before t_{k+1} (in time, then start order): update all hosts and charge
   energy, move the VM, update again. Hosts left empty are switched off by consolidating policies.

Everything a run measures is in ``RunResult`` (definitions in ``metrics``). With a watts signal
(``available_power_w``) every policy is accounted against it, whether it follows it or not.
Deferred work is kept by ``Engine.book`` (a ``deferral.DeferralBook``): VMs a policy shelves, the
time-shift of their traces, the work done; its figures stay at 0 for policies that never defer.
``repeat_days`` > 1 replays the day that many times back to back, each day's VMs arriving at its
start (``arrivals``); a one-day replay has no arrivals and runs as it always did.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import ParamSpec

import numpy as np

from watcher_geyser.deferral.horizon import through_plan
from watcher_geyser.simulator.arrivals import repeat_day
from watcher_geyser.simulator.baselines import Policy
from watcher_geyser.simulator.bound import StepBound
from watcher_geyser.simulator.datacenter import DataCenter
from watcher_geyser.simulator.deferral import DeferralBook, DeferralSetup
from watcher_geyser.simulator.fidelity import Fidelity
from watcher_geyser.simulator.metrics import (
    J_PER_KWH,
    Accounting,
    StepSeries,
    energy_above_supply_kwh,
    power_cycles_per_day,
)
from watcher_geyser.simulator.result import RunResult
from watcher_geyser.simulator.state import InFlight, Migration, SimState, SlaCause, Snapshot
from watcher_geyser.simulator.traces import Trace
from watcher_geyser.simulator.view import StepView


class Engine:
    """One replay of ``trace`` on ``dc`` under ``policy`` and ``fidelity``."""

    def __init__(
        self,
        trace: Trace,
        dc: DataCenter,
        policy: Policy,
        fidelity: Fidelity,
        available_power_w: Callable[[float], float] | None = None,
        progress: Callable[[int], None] | None = None,
        deferral: DeferralSetup | None = None,
        repeat_days: int = 1,
    ) -> None:
        if dc.vms != len(trace.names):
            raise ValueError(f"the data centre has {dc.vms} VMs but the trace {len(trace.names)}")
        self.arrivals, self.repeat_days = None, repeat_days
        if repeat_days != 1:
            repeated = repeat_day(trace, dc, repeat_days, deferral)
            trace, dc, deferral, self.arrivals = repeated.trace, repeated.dc, repeated.deferral, repeated.arrivals
        self.trace, self.dc, self.policy, self.fid = trace, dc, policy, fidelity
        self.available_power_w = available_power_w
        self.progress = progress
        self.state = SimState(dc, trace, fidelity)
        last_arrival_s = 0.0 if self.arrivals is None else self.arrivals.last_s
        if self.arrivals is not None:
            self.state.shift_s[:] = self.arrivals.arrival_s  # each copy reads its trace from its arrival
        # a repeated day is a whole day: its last interval too, up to the next copy's arrival (``arrivals``)
        end_sample = trace.samples - (1 if self.arrivals is None else 0)
        self.book = DeferralBook(self.state, deferral, end_sample * trace.step_s + fidelity.decision_offset_s,
                                 last_arrival_s)
        self._samples = trace.samples + int(round(last_arrival_s / trace.step_s))  # the last copy's end
        self.acc = Accounting(dc.hosts, dc.vms)
        self.series = StepSeries()
        self._host_s_before = self._violation_host_s_before = 0.0  # SLATAH's sums at the last series row
        self._by_cause_s_before = self.acc.violation_by_cause_s.copy()
        self.energy_j = 0.0
        self.lb_j = 0.0
        self.migrations = 0
        self.power_ons = self.power_offs = 0
        self.host_off_times_s: list[list[float]] = [[] for _ in range(dc.hosts)]  # switch-off times per host
        self.host_ever_on = np.zeros(dc.hosts, dtype=bool)
        self._seq = 0
        self._max_w = np.array([p.max_w for p in dc.power])
        self._idle_w = np.array([p.idle_w for p in dc.power])
        self._booted_until = np.zeros(dc.hosts)  # realistic: when a host switched on is ready
        self._waves: list[list[Migration]] = []  # waves of this step still to start
        self.waves_dropped = 0  # migrations of waves still pending at the next decision
        self.decisions_skipped = 0  # decisions due while a plan still ran (``Fidelity.plan_runs_to_end``)
        self._bound = StepBound(dc, counts_idle=not fidelity.zero_utilisation_is_off, enforces_ram=fidelity.enforce_ram)

    # --- accounting helpers ---------------------------------------------------------------
    def _on(self, snap: Snapshot) -> np.ndarray:
        """Hosts counted as on: running something (cloudsim) or powered (realistic); as ``StepView.hosts_on``."""
        if self.fid.zero_utilisation_is_off:
            return snap.host_util > 0
        return self.state.powered.copy()

    def _charge(self, prev: Snapshot, prev_on: np.ndarray, snap: Snapshot) -> float:
        dt = snap.time_s - prev.time_s
        if dt <= 0:
            return 0.0
        if self.policy.charges_full_power:
            joules = float(self._max_w.sum() * dt)
        else:
            joules = float((np.where(prev_on, (prev.host_watts + snap.host_watts) / 2.0, 0.0)).sum() * dt)
        self.energy_j += joules
        return joules

    def _record(self, snap: Snapshot) -> np.ndarray:
        on = self._on(snap)
        self.acc.record(snap, on, self.state.alive, self.state.in_migration)
        return on

    def _count_switches(self, was_on: np.ndarray, on: np.ndarray, t: float) -> None:
        self.power_ons += int((~was_on & on).sum())
        off = np.flatnonzero(was_on & ~on)
        self.power_offs += len(off)
        for h in off.tolist():
            self.host_off_times_s[h].append(t)
        self.host_ever_on |= on

    def _lower_bound_w(self, snap: Snapshot) -> float:
        return self._bound.watts(float(snap.vm_req_mips.sum()), self.state.alive)

    # --- the loop -------------------------------------------------------------------------
    def run(self) -> RunResult:
        wall = time.perf_counter()
        state, fid, step = self.state, self.fid, self.trace.step_s
        if self.arrivals is None:
            self.policy.initial_placement(state)
        else:
            self.arrivals.initial_placement(self.policy, state)
        unplaced = int((~state.alive & (state.shift_s == 0)).sum())
        state.powered = np.array([len(v) > 0 for v in state.host_vms]) | self.policy.charges_full_power

        prev = state.snapshot(fid.decision_offset_s)
        prev_on = self._record(prev) if fid.charge_first_interval else np.zeros(self.dc.hosts, dtype=bool)
        if fid.charge_first_interval:
            self.acc.close_time(prev_on)
        occupied = np.array([len(v) > 0 for v in state.host_vms])
        was_on = prev_on.copy() if fid.charge_first_interval else occupied
        self.host_ever_on |= was_on
        lb_prev = self._lower_bound_w(prev)
        step_times: list[float] = []
        solver_times: list[float] = []
        planner_times: list[float] = []
        # energy charged since the last row: migrations completing between two decisions
        # charge their pieces of the interval as they happen, all of it belongs to the next row
        energy_before = self.energy_j
        self.book.close_step(fid.decision_offset_s)
        k, more = 0, self._samples > 1
        while more:  # the trace's steps, then as long as deferred work is left
            k += 1
            t = k * step + fid.decision_offset_s
            step_start = time.perf_counter()
            snap = state.snapshot(t)
            interval_s = t - (k - 1) * step - fid.decision_offset_s
            self._charge(prev, prev_on, snap)
            lb_now = self._lower_bound_w(snap)
            self.lb_j += (lb_prev + lb_now) / 2.0 * interval_s
            lb_prev = lb_now
            on = self._record(snap)
            self.book.count_work(t, interval_s)
            arriving = self.arrivals is not None and self.arrivals.due(t)
            ending_host = state.vm_host.copy() if arriving else None  # a finished copy hands its host over
            self.book.retire_finished(t)
            if fid.retire_idle_vms:
                dead = np.flatnonzero(state.alive & (snap.vm_req_mips == 0) & ~state.in_migration)
                state.retire(dead)
            if arriving:
                now = state.snapshot(t)
                free_mips = self.dc.total_mips - now.host_cap_mips
                offer = self.book.setup.deferrable if getattr(self.policy, "defer", None) is not None else None
                held_off = self._held_off(StepView(k, t, state, now, self.host_off_times_s, was_on))
                lost, offered = self.arrivals.admit(state, t, free_mips, ending_host, offer, held_off)
                unplaced += lost
                self.book.offer(offered)
                snap = state.snapshot(t)
                on = self._record(snap)
            state.record_history(state.utilisation(t))
            skipped = fid.plan_runs_to_end and bool(self._waves or state.inflight)
            moves: list[Migration] = []
            if skipped:  # Watcher's audit finds the plan ONGOING: neither strategy nor deferral runs
                self.decisions_skipped += 1
            else:
                answer, after, decide_s = self._decide(k, t, snap, was_on)
                if after is not snap:  # the deferral changed the fleet
                    snap = after
                    on = self._record(snap)
                moves, self._waves = _waves(answer)
            # measured as the decision found it, asked or skipped: nothing decided is carried to this row
            overloaded = int((snap.host_sla_cause == SlaCause.OVERLOAD).sum())
            self._start(moves, t)
            if moves:
                snap = state.snapshot(t)
                on = self._record(snap)
            self.acc.close_time(on)
            prev, prev_on = snap, on
            self._series_row(t, snap, on, self.energy_j - energy_before, interval_s, len(moves), lb_now, overloaded,
                             not skipped)
            energy_before = self.energy_j
            self._count_switches(was_on, on, t)
            was_on = on
            self.book.close_step(t)
            more = k + 1 < self._samples or self.book.pending(t)
            next_t = (k + 1) * step + fid.decision_offset_s if more else np.inf
            before = self.migrations
            prev, prev_on, was_on = self._complete_until(next_t, prev, prev_on, was_on)
            self.series.migrations[-1] += self.migrations - before
            if not fid.plan_runs_to_end:  # the next decision replans: what is left of this plan is dropped
                self.waves_dropped += sum(len(w) for w in self._waves)
                self._waves = []
            stats = None if skipped else getattr(self.policy, "stats", None)
            solver_times.append(0.0 if skipped else float(getattr(stats, "solver_s", decide_s)))
            planner_times.append(float(getattr(stats, "planner_s", 0.0)))
            step_times.append(time.perf_counter() - step_start)
            if self.progress is not None:
                self.progress(1)
        wall_s = time.perf_counter() - wall
        return self._result(unplaced + self.book.unplaced, step_times, solver_times, planner_times, wall_s)

    def _held_off(self, view: StepView) -> frozenset[int]:
        """The hosts the policy's power-cycle budget holds off now (``held_off(view)``; none for a
        policy without one): Nova's part in the replay switches none of them on for a new instance
        while another host has room, as it does for a VM back from the shelf."""
        held_off = getattr(self.policy, "held_off", None)
        return frozenset() if held_off is None else held_off(view)

    def _decide(self, k: int, t: float, snap: Snapshot, was_on: np.ndarray) -> tuple[object, Snapshot, float]:
        """The policy's deferral and plan at ``t``: (its answer, the snapshot after the deferral,
        the seconds its ``decide`` took).

        With ``Fidelity.plan_runs_to_end`` and a policy that estimates its plans (``plan_s``: the
        planner's expected duration of its last plan), no decision runs until the plan ends, so
        the VMs falling due meanwhile come back now: ``deferral.horizon.through_plan`` asks the
        policy again with the plan's estimate (only the bring-backs that estimate makes due), and
        plans again when any came back (the fleet changed)."""
        state, current, seconds = self.state, [snap], [0.0]

        def view() -> StepView:
            return StepView(k, t, state, current[0], self.host_off_times_s, was_on)

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

        if not (self.fid.plan_runs_to_end and hasattr(self.policy, "plan_s") and self._defers()):
            defer(0.0)
            return build(0)[0], current[0], seconds[0]
        settled = through_plan(defer, build, lambda _before, after: after > 0)
        return settled.plan, current[0], seconds[0]

    def _defers(self) -> bool:
        return getattr(self.policy, "defer", None) is not None and bool(self.book.setup.deferrable.any())

    def _defer(self, t: float, view: StepView, plan_s: float = 0.0) -> int:
        """Let a deferring policy shelve and bring back deferrable VMs; how many changed state.
        With ``plan_s`` > 0 the policy is asked again, after its plan: only what that plan's
        expected duration makes due (``GeyserPolicy.defer``)."""
        if not self._defers():
            return 0
        answer = self.policy.defer(view, self.book, plan_s) if plan_s > 0 else self.policy.defer(view, self.book)
        free = self.dc.total_mips.astype(np.float64) - view.snapshot.host_cap_mips
        return self.book.apply(answer, t, free)

    def _start(self, moves: list[Migration], t: float) -> None:
        state, dc = self.state, self.dc
        for m in moves:
            if not (0 <= m.vm < dc.vms and state.alive[m.vm]):
                raise ValueError(f"policy {self.policy.name!r} moves VM {m.vm}, which is not running")
            if not 0 <= m.host < dc.hosts:
                raise ValueError(f"policy {self.policy.name!r} moves VM {m.vm} to unknown host {m.host}")
            src = int(state.vm_host[m.vm])
            duration = self.fid.migration_s(float(dc.vm_ram_mb[m.vm]), float(dc.bw_kbit[m.host]))
            if not self.fid.zero_utilisation_is_off and not state.powered[m.host]:
                # a realistic host boots first (charged at full power: idle here, the rest as boot energy)
                state.powered[m.host] = True
                self._booted_until[m.host] = t + self.fid.boot_s
                boot_j = (self._max_w[m.host] - self._idle_w[m.host]) * self.fid.boot_s
                self.energy_j += float(boot_j)
            begin = max(t, float(self._booted_until[m.host]))
            state.in_migration[m.vm] = True
            state.inflight.append(InFlight(m.vm, src, m.host, begin + duration, self._seq))
            self._seq += 1
            self.migrations += 1

    def _complete_until(self, until: float, prev: Snapshot, prev_on: np.ndarray, was_on: np.ndarray):
        state = self.state
        while True:
            due = [m for m in state.inflight if m.end_s < until]
            if not due:
                return prev, prev_on, was_on
            end_s = min(m.end_s for m in due)
            group = sorted((m for m in due if m.end_s == end_s), key=lambda m: m.seq)
            prev, prev_on, was_on = self._complete(end_s, group, prev, prev_on, was_on)
            if self._waves and not state.inflight:  # the wave is done: the next one starts now
                self._start(self._waves.pop(0), end_s)
                snap = state.snapshot(end_s)
                on = self._record(snap)
                self.acc.close_time(on)
                prev, prev_on = snap, on

    def _complete(self, end_s: float, group: list[InFlight], prev: Snapshot, prev_on: np.ndarray, was_on):
        """Update all hosts at ``end_s``, move the VMs of ``group``, update again."""
        state = self.state
        moving_vm = Counter(m.vm for m in state.inflight)
        incoming = Counter(m.dst for m in state.inflight)
        snap = state.snapshot(end_s)
        self._charge(prev, prev_on, snap)
        self._record(snap)
        for m in group:
            src = int(state.vm_host[m.vm])
            state.host_vms[src].remove(m.vm)
            state.host_vms[m.dst].append(m.vm)
            state.vm_host[m.vm] = m.dst
            moving_vm[m.vm] -= 1
            incoming[m.dst] -= 1
            state.in_migration[m.vm] = moving_vm[m.vm] > 0
            emptied = not state.host_vms[src] and incoming[src] == 0
            if self.policy.switches_off_empty_hosts and emptied:
                state.powered[src] = False
        done = {id(m) for m in group}
        state.inflight = [m for m in state.inflight if id(m) not in done]
        snap = state.snapshot(end_s)
        on = self._record(snap)
        self.acc.close_time(on)
        self._count_switches(was_on, on, end_s)
        prev, prev_on, was_on = snap, on, on
        return prev, prev_on, was_on

    def _series_row(self, t, snap, on, joules, interval_s, moves, lb_w, overloaded: int, decided: bool) -> None:
        s = self.series
        power_w = joules / interval_s if interval_s > 0 else 0.0
        # the supply at the interval's middle: a step supply that changes at sample boundaries
        # is read inside the interval it applies to (see metrics.supply_at_midpoints)
        avail = None if self.available_power_w is None else float(self.available_power_w(t - interval_s / 2.0))
        demand = float(snap.vm_req_mips.sum())
        s.time_s.append(t)
        s.power_w.append(power_w)
        s.available_w.append(avail)
        s.power_lower_bound_w.append(lb_w)
        s.hosts_on.append(int(on.sum()))
        s.hosts_lower_bound.append(self._bound.hosts(demand, self.state.alive))
        s.migrations.append(moves)
        s.overloaded_hosts.append(overloaded)
        s.decided.append(int(decided))
        s.sla_violating_hosts.append(int((snap.host_violation & on).sum()))
        s.host_s.append(self.acc.active_s - self._host_s_before)
        s.violation_host_s.append(self.acc.violation_s - self._violation_host_s_before)
        self._host_s_before, self._violation_host_s_before = self.acc.active_s, self.acc.violation_s
        by_cause_s = self.acc.violation_by_cause_s - self._by_cause_s_before
        for cause, values in s.violation_by_cause().items():
            values.append(float(by_cause_s[cause]))
        self._by_cause_s_before = self.acc.violation_by_cause_s.copy()
        s.vms_running.append(int(self.state.alive.sum()))
        s.vms_shelved.append(int(self.book.shelved.sum()))
        s.step_s.append(0.0)

    def _result(self, unplaced: int, step_times, solver_times, planner_times, wall_s: float) -> RunResult:
        self.series.step_s = list(step_times)
        energy_kwh = self.energy_j / J_PER_KWH
        above = covered = None
        if self.available_power_w is not None:
            above = energy_above_supply_kwh(self.series.power_w, self.series.available_w, self.trace.step_s)
            covered = 1.0 - above / energy_kwh if energy_kwh > 0 else 1.0
        end_s = self.series.time_s[-1] if self.series.time_s else 0.0
        span_s = max(self.trace.samples * self.trace.step_s, end_s)  # deferred work may run past the trace
        cycles_max, cycles_mean = power_cycles_per_day(self.host_off_times_s, self.host_ever_on, span_s)
        return RunResult(
            policy=self.policy.name,
            datacenter=self.dc.name,
            fidelity=self.fid.mode.value,
            trace=self.trace.source,
            vms=self.dc.vms,
            hosts=self.dc.hosts,
            energy_kwh=energy_kwh,
            energy_lower_bound_kwh=self.lb_j / J_PER_KWH,
            migrations=self.migrations,
            slatah=self.acc.slatah,
            slatah_overload=self.acc.slatah_of(SlaCause.OVERLOAD),
            slatah_core_cap=self.acc.slatah_of(SlaCause.CORE_CAP),
            slatah_migration=self.acc.slatah_of(SlaCause.MIGRATION),
            pdm=self.acc.pdm,
            host_shutdowns=self.acc.shutdowns,
            host_power_ons=self.power_ons,
            host_power_offs=self.power_offs,
            vms_unplaced=unplaced,
            migrations_dropped=self.waves_dropped,
            decisions_skipped=self.decisions_skipped,
            energy_above_signal_kwh=above,
            energy_covered_share=covered,
            host_power_cycles_max=cycles_max,
            host_power_cycles_mean=cycles_mean,
            deferred_vm_hours=self.book.deferred_vm_hours,
            deadline_missed=tuple(self.book.missed(end_s)),
            step_seconds=step_times,
            solver_seconds=solver_times,
            planner_seconds=planner_times,
            wall_seconds=wall_s,
            series=self.series,
            work_vm_hours=self.book.work_vm_hours,
            repeat_days=self.repeat_days,
            day_s=self.trace.samples * self.trace.step_s,
            step_s=self.trace.step_s,
            host_off_times_s=tuple(tuple(times) for times in self.host_off_times_s),
            host_ever_on=tuple(self.host_ever_on.tolist()),
        )


def _waves(answer: list) -> tuple[list[Migration], list[list[Migration]]]:
    """A policy answers one list of migrations (started together) or a list of waves (lists)."""
    if answer and isinstance(answer[0], list | tuple):
        waves = [list(w) for w in answer if w]
        return (waves[0], waves[1:]) if waves else ([], [])
    return list(answer), []


_EngineArgs = ParamSpec("_EngineArgs")


def _replayer(engine: Callable[_EngineArgs, Engine]) -> Callable[_EngineArgs, RunResult]:
    """``engine``'s constructor turned into a function that runs it: the arguments (and their
    types, for an editor or a type checker) stay ``Engine.__init__``'s, written there once."""

    def replay(*args: _EngineArgs.args, **kwargs: _EngineArgs.kwargs) -> RunResult:
        return engine(*args, **kwargs).run()

    return replay


simulate = _replayer(Engine)
simulate.__name__ = simulate.__qualname__ = "simulate"
simulate.__doc__ = """Replay ``trace`` on ``dc`` under ``policy`` to its end: ``Engine(...).run()``, with
Engine's arguments (the supply in watts over time, a progress callback, deferrable VMs, days repeated)."""
