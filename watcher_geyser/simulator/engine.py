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
   energy, move the VM, update again. Hosts left empty are switched off by consolidating policies,
   once the running plan sends them nothing more (``decision.targets``: as Watcher's plan powers a
   host off after its last migration, a host it empties and fills again is not cycled in between).
   In realistic fidelity the plan's own power-offs run too, in their wave (``decision.power_offs``):
   a host already empty when the plan was made (emptied by shelving, or by VMs that ended) goes off
   as Watcher's ``power_off`` action switches it off, not only when it is a migration's source.

Everything a run measures is in ``RunResult`` (definitions in ``metrics``). With a watts signal
(``available_power_w``) every policy is accounted against it, whether it follows it or not.
Deferred work is kept by ``Engine.book`` (a ``deferral.DeferralBook``): VMs a policy shelves, the
time-shift of their traces, the work done; its figures stay at 0 for policies that never defer.
``repeat_days`` > 1 replays the day that many times back to back, each day's VMs arriving at its
start (``arrivals``); a one-day replay has no arrivals and runs as it always did.

The loop is here with the migrations it starts and completes; what a decision is (skipped while a
plan runs, deferral settled with the plan) is ``decision.Decider``'s, and what the run measures
(energy, switches, SLA time, the series, the ``RunResult``) ``meter.Meter``'s.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import ParamSpec

import numpy as np

from watcher_geyser.simulator.arrivals import repeat_day
from watcher_geyser.simulator.baselines import Policy
from watcher_geyser.simulator.datacenter import DataCenter
from watcher_geyser.simulator.decision import Decider, power_offs, targets, waves
from watcher_geyser.simulator.deferral import DeferralBook, DeferralSetup
from watcher_geyser.simulator.fidelity import Fidelity
from watcher_geyser.simulator.meter import Meter
from watcher_geyser.simulator.result import RunResult
from watcher_geyser.simulator.state import InFlight, Migration, SimState, SlaCause, Snapshot
from watcher_geyser.simulator.traces import Trace
from watcher_geyser.simulator.view import StepView

__all__ = ["Engine", "RunResult", "simulate"]


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
        self.meter = Meter(trace, dc, policy, fidelity, self.state, self.book, available_power_w)
        self.decider = Decider(policy, fidelity, self.state, dc, self.book, self.meter.host_off_times_s)
        self.migrations = 0
        self._seq = 0
        self._booted_until = np.zeros(dc.hosts)  # realistic: when a host switched on is ready
        self._waves: list[list[Migration]] = []  # waves of this step still to start
        self._alive_at_plan = np.zeros(dc.vms, dtype=bool)  # the VMs running when the plan was made
        self.waves_dropped = 0  # migrations of waves still pending at the next decision
        #: hosts left empty while a pending wave still sends them a VM: kept on for it (``_switch_off_idle``)
        self._kept_on: set[int] = set()
        #: the running plan's power-offs still to run: entry i before pending wave i, the last one after
        #: its last migration (``decision.power_offs``; empty once run, or with the waves dropped)
        self._offs: list[set[int]] = []

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
        prev_on = self.meter.record(prev) if fid.charge_first_interval else np.zeros(self.dc.hosts, dtype=bool)
        if fid.charge_first_interval:
            self.meter.acc.close_time(prev_on)
        occupied = np.array([len(v) > 0 for v in state.host_vms])
        was_on = prev_on.copy() if fid.charge_first_interval else occupied
        self.meter.host_ever_on |= was_on
        self.meter.start_bound(prev)
        step_times: list[float] = []
        solver_times: list[float] = []
        planner_times: list[float] = []
        # energy charged since the last row: migrations completing between two decisions
        # charge their pieces of the interval as they happen, all of it belongs to the next row
        energy_before = self.meter.energy_j
        self.book.close_step(fid.decision_offset_s)
        k, more, t = 0, self._samples > 1, fid.decision_offset_s
        while more:  # the trace's steps, then as long as deferred work is left
            k += 1
            t = k * step + fid.decision_offset_s
            step_start = time.perf_counter()
            snap = state.snapshot(t)
            interval_s = t - (k - 1) * step - fid.decision_offset_s
            self.meter.charge(prev, prev_on, snap)
            lb_now = self.meter.bound_step(snap, interval_s)
            on = self.meter.record(snap)
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
                held_off = self.decider.held_off(StepView(k, t, state, now, self.meter.host_off_times_s, was_on))
                lost, offered = self.arrivals.admit(state, t, free_mips, ending_host, offer, held_off)
                unplaced += lost
                self.book.offer(offered)
                snap = state.snapshot(t)
                on = self.meter.record(snap)
            state.record_history(state.utilisation(t))
            # Watcher's audit finds the plan ONGOING: neither strategy nor deferral runs
            skipped = self.decider.skips(bool(self._waves or state.inflight))
            moves: list[Migration] = []
            offs_now: set[int] = set()
            if not skipped:
                answer, after, decide_s = self.decider.decide(k, t, snap, was_on)
                if after is not snap:  # the deferral changed the fleet
                    snap = after
                    on = self.meter.record(snap)
                moves, self._waves = waves(answer)
                self._alive_at_plan = state.alive.copy()
                offs_now, *self._offs = power_offs(self.policy, self.fid, len(self._waves) + bool(moves))
            # measured as the decision found it, asked or skipped: nothing decided is carried to this row
            overloaded = int((snap.host_sla_cause == SlaCause.OVERLOAD).sum())
            self._start(moves, t)
            # kept on for waves dropped: off unless sent a VM now; and the plan's first power-offs
            released = self._switch_off_idle(self._kept_on | offs_now)
            if moves or released:
                snap = state.snapshot(t)
                on = self.meter.record(snap)
            self.meter.acc.close_time(on)
            prev, prev_on = snap, on
            stats = None if skipped else getattr(self.policy, "stats", None)
            self.meter.series_row(t, snap, on, self.meter.energy_j - energy_before, interval_s, len(moves), lb_now,
                                  overloaded, not skipped, getattr(stats, "found_by", ""))
            energy_before = self.meter.energy_j
            self.meter.count_switches(was_on, on, t)
            was_on = on
            self.book.close_step(t)
            more = k + 1 < self._samples or self.book.pending(t)
            next_t = (k + 1) * step + fid.decision_offset_s if more else np.inf
            before = self.migrations
            prev, prev_on, was_on = self._complete_until(next_t, prev, prev_on, was_on)
            self.meter.series.migrations[-1] += self.migrations - before
            if not fid.plan_runs_to_end:  # the next decision replans: what is left of this plan is dropped
                self.waves_dropped += sum(len(w) for w in self._waves)
                self._waves, self._offs = [], []  # the plan's later power-offs with them: the next plan has its own
            solver_times.append(0.0 if skipped else float(getattr(stats, "solver_s", decide_s)))
            planner_times.append(float(getattr(stats, "planner_s", 0.0)))
            step_times.append(time.perf_counter() - step_start)
            if self.progress is not None:
                self.progress(1)
        # the migrations the last decision started ran on past it: their energy and SLA time in a row of their own
        self.meter.tail_row(t, prev, prev_on, self.meter.energy_j - energy_before)
        wall_s = time.perf_counter() - wall
        return self.meter.result(unplaced + self.book.unplaced, self.migrations, self.waves_dropped,
                                 self.decider.decisions_skipped, step_times, solver_times, planner_times, wall_s,
                                 self.repeat_days)

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
                self.meter.charge_boot(m.host)
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
            # the wave is done: the next one starts now, or the plan's last power-offs run
            if not state.inflight and (self._waves or (self._offs and self._offs[-1])):
                wave, offs = self._next_wave()
                self._start(wave, end_s)
                self._switch_off_idle(self._kept_on | offs)  # and a host kept on for a migration passed over
                snap = state.snapshot(end_s)
                on = self.meter.record(snap)
                self.meter.acc.close_time(on)
                self.meter.count_switches(was_on, on, end_s)
                prev, prev_on, was_on = snap, on, on

    def _next_wave(self) -> tuple[list[Migration], set[int]]:
        """The next pending wave, less the migrations of VMs that left while the plan ran (a deferrable
        VM whose work ended, a VM retired idle): Nova has deleted the instance, so Watcher's migration
        of it does not run, and the plan goes on. A wave left empty is passed over. The policy's own
        answer is still checked in full (``_start``): only a later wave can meet a VM gone meanwhile,
        which the longer plans of Watcher's parallelism (2 at a time, 1 per host) made happen.
        With it, the plan's power-offs due by then (``_offs``): those before it and any passed over,
        or, with no wave left, those after the plan's last migration."""
        alive, planned = self.state.alive, self._alive_at_plan

        def gone(m: Migration) -> bool:  # an index the policy got wrong is left to ``_start``'s error
            return 0 <= m.vm < self.dc.vms and bool(planned[m.vm]) and not alive[m.vm]

        offs: set[int] = set()
        while self._waves:
            if self._offs:
                offs |= self._offs.pop(0)
            wave = [m for m in self._waves.pop(0) if not gone(m)]
            if wave:
                return wave, offs
        offs.update(*self._offs)
        self._offs = []
        return [], offs

    def _complete(self, end_s: float, group: list[InFlight], prev: Snapshot, prev_on: np.ndarray, was_on):
        """Update all hosts at ``end_s``, move the VMs of ``group``, update again."""
        state = self.state
        moving_vm = Counter(m.vm for m in state.inflight)
        snap = state.snapshot(end_s)
        self.meter.charge(prev, prev_on, snap)
        self.meter.record(snap)
        for m in group:
            src = int(state.vm_host[m.vm])
            state.host_vms[src].remove(m.vm)
            state.host_vms[m.dst].append(m.vm)
            state.vm_host[m.vm] = m.dst
            state.moved_s[m.vm] = end_s
            moving_vm[m.vm] -= 1
            state.in_migration[m.vm] = moving_vm[m.vm] > 0
        done = {id(m) for m in group}
        state.inflight = [m for m in state.inflight if id(m) not in done]
        self._switch_off_idle({m.src for m in group})
        snap = state.snapshot(end_s)
        on = self.meter.record(snap)
        self.meter.acc.close_time(on)
        self.meter.count_switches(was_on, on, end_s)
        prev, prev_on, was_on = snap, on, on
        return prev, prev_on, was_on

    def _switch_off_idle(self, hosts: set[int]) -> bool:
        """Switch off those of ``hosts`` left empty (a consolidating policy's rule), unless a
        migration still arrives: in flight, or in a pending wave of the running plan (``decision.targets``),
        for which the host is kept on (``_kept_on``) rather than cycled. A kept host is looked at again
        when a wave starts, as the migration it waited for may be passed over, and (``--plans drop``)
        once the next decision, which dropped that wave, has started its own plan. Whether any went off."""
        state = self.state
        if not hosts:
            return False
        incoming = {m.dst for m in state.inflight}
        later = targets(self._waves)
        off = False
        for h in sorted(hosts):
            self._kept_on.discard(h)
            if state.host_vms[h] or h in incoming:
                continue
            if h in later:
                self._kept_on.add(h)
            elif self.policy.switches_off_empty_hosts:
                off = off or bool(state.powered[h])
                state.powered[h] = False
        return off


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
