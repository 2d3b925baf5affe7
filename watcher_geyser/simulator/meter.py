"""What one replay measures as it runs, and the ``RunResult`` it adds up to.

The replay loop (``engine``) moves the clock and the VMs; at every update it hands the snapshot
here: energy charged between two updates (trapezoid over each host's watts), the lower bound's
energy, hosts switched on and off (each host's switch-off times, for the power-cycle count), SLA
time (``metrics.Accounting``) and one row of the per-step series at each decision. Definitions of
the figures are in ``metrics``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from watcher_geyser.simulator.baselines import Policy
from watcher_geyser.simulator.bound import StepBound
from watcher_geyser.simulator.datacenter import DataCenter
from watcher_geyser.simulator.deferral import DeferralBook
from watcher_geyser.simulator.fidelity import Fidelity
from watcher_geyser.simulator.metrics import (
    J_PER_KWH,
    Accounting,
    StepSeries,
    energy_above_supply_kwh,
    power_cycles_per_day,
)
from watcher_geyser.simulator.result import RunResult
from watcher_geyser.simulator.state import SimState, SlaCause, Snapshot
from watcher_geyser.simulator.traces import Trace


class Meter:
    """Energy, host switches, SLA time and the per-step series of one replay."""

    def __init__(self, trace: Trace, dc: DataCenter, policy: Policy, fidelity: Fidelity, state: SimState,
                 book: DeferralBook, available_power_w: Callable[[float], float] | None) -> None:
        self.trace, self.dc, self.policy, self.fid, self.state, self.book = trace, dc, policy, fidelity, state, book
        self.available_power_w = available_power_w
        self.acc = Accounting(dc.hosts, dc.vms)
        self.series = StepSeries()
        self.tail = StepSeries()  # at most one row: after the last decision (``tail_row``)
        self._host_s_before = self._violation_host_s_before = 0.0  # SLATAH's sums at the last series row
        self._by_cause_s_before = self.acc.violation_by_cause_s.copy()
        self.energy_j = 0.0
        self.lb_j = 0.0
        self._lb_prev_w = 0.0  # the lower bound at the last decision
        self.power_ons = self.power_offs = 0
        self.host_off_times_s: list[list[float]] = [[] for _ in range(dc.hosts)]  # switch-off times per host
        self.host_ever_on = np.zeros(dc.hosts, dtype=bool)
        self._max_w = np.array([p.max_w for p in dc.power])
        self._idle_w = np.array([p.idle_w for p in dc.power])
        self._bound = StepBound(dc, counts_idle=not fidelity.zero_utilisation_is_off, enforces_ram=fidelity.enforce_ram)

    def _on(self, snap: Snapshot) -> np.ndarray:
        """Hosts counted as on: running something (cloudsim) or powered (realistic); as ``StepView.hosts_on``."""
        if self.fid.zero_utilisation_is_off:
            return snap.host_util > 0
        return self.state.powered.copy()

    def charge(self, prev: Snapshot, prev_on: np.ndarray, snap: Snapshot) -> float:
        """Charge the energy from ``prev`` to ``snap`` (hosts on at ``prev``); the joules charged."""
        dt = snap.time_s - prev.time_s
        if dt <= 0:
            return 0.0
        if self.policy.charges_full_power:
            joules = float(self._max_w.sum() * dt)
        else:
            joules = float((np.where(prev_on, (prev.host_watts + snap.host_watts) / 2.0, 0.0)).sum() * dt)
        self.energy_j += joules
        return joules

    def charge_boot(self, host: int) -> None:
        """A realistic host booting: charged at full power, idle here, the rest as boot energy."""
        boot_j = (self._max_w[host] - self._idle_w[host]) * self.fid.boot_s
        self.energy_j += float(boot_j)

    def record(self, snap: Snapshot) -> np.ndarray:
        """Account ``snap``'s SLA time; the hosts counted as on."""
        on = self._on(snap)
        self.acc.record(snap, on, self.state.alive, self.state.in_migration)
        return on

    def count_switches(self, was_on: np.ndarray, on: np.ndarray, t: float) -> None:
        self.power_ons += int((~was_on & on).sum())
        off = np.flatnonzero(was_on & ~on)
        self.power_offs += len(off)
        for h in off.tolist():
            self.host_off_times_s[h].append(t)
        self.host_ever_on |= on

    def _lower_bound_w(self, snap: Snapshot) -> float:
        return self._bound.watts(float(snap.vm_req_mips.sum()), self.state.alive)

    def start_bound(self, snap: Snapshot) -> None:
        """The lower bound at the replay's start."""
        self._lb_prev_w = self._lower_bound_w(snap)

    def bound_step(self, snap: Snapshot, interval_s: float) -> float:
        """Charge the lower bound's energy over the interval ending at ``snap``; its watts now."""
        lb_now = self._lower_bound_w(snap)
        self.lb_j += (self._lb_prev_w + lb_now) / 2.0 * interval_s
        self._lb_prev_w = lb_now
        return lb_now

    def series_row(self, t, snap, on, joules, interval_s, moves, lb_w, overloaded: int, decided: bool,
                   found_by: str = "", into: StepSeries | None = None) -> None:
        """One row of the per-step series (``into``: another series, the tail's) for the interval
        ``(t - interval_s, t]``: ``joules`` charged in it, SLA host time since the last row."""
        s = self.series if into is None else into
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
        s.interval_s.append(float(interval_s))
        s.found_by.append(found_by)

    def tail_row(self, last_decision_s: float, snap: Snapshot, on: np.ndarray, joules: float) -> None:
        """The tail (``RunResult.tail``): the time from the last decision until the migrations then
        still running ended (``snap``, the replay's last update), their energy ``joules`` and SLA
        host time, which no decision row holds; nothing when none ran past it."""
        interval_s = snap.time_s - last_decision_s
        if interval_s <= 0:
            return
        overloaded = int((snap.host_sla_cause == SlaCause.OVERLOAD).sum())
        self.series_row(snap.time_s, snap, on, joules, interval_s, 0, self._lower_bound_w(snap), overloaded, False,
                        into=self.tail)

    def result(self, unplaced: int, migrations: int, dropped: int, skipped: int, step_times, solver_times,
               planner_times, wall_s: float, repeat_days: int) -> RunResult:
        """The run's figures: ``migrations`` started, ``dropped`` (waves pending at a decision),
        ``skipped`` decisions, and the seconds each step, solver and planner took."""
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
            migrations=migrations,
            slatah=self.acc.slatah,
            slatah_overload=self.acc.slatah_of(SlaCause.OVERLOAD),
            slatah_core_cap=self.acc.slatah_of(SlaCause.CORE_CAP),
            slatah_migration=self.acc.slatah_of(SlaCause.MIGRATION),
            pdm=self.acc.pdm,
            host_shutdowns=self.acc.shutdowns,
            host_power_ons=self.power_ons,
            host_power_offs=self.power_offs,
            vms_unplaced=unplaced,
            migrations_dropped=dropped,
            decisions_skipped=skipped,
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
            tail=self.tail,
            work_vm_hours=self.book.work_vm_hours,
            repeat_days=repeat_days,
            day_s=self.trace.samples * self.trace.step_s,
            step_s=self.trace.step_s,
            host_off_times_s=tuple(tuple(times) for times in self.host_off_times_s),
            host_ever_on=tuple(self.host_ever_on.tolist()),
        )
