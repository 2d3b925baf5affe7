"""Run metrics, accumulated as CloudSim accumulates them, and the per-step series.

* energy: per host, (P(u_start) + P(u_end)) / 2 x interval between consecutive updates (decisions and
  migration ends); in ``cloudsim`` fidelity a host at 0 % at the start of an interval uses 0 J.
* SLATAH: time hosts were active with allocated < requested MIPS / time hosts were active, split by
  cause (``state.SlaCause``, the cause found at an update holding until the next, as the violation
  does): ``slatah_overload`` (host oversubscribed), ``slatah_core_cap`` (a VM asks more than its
  cores get there), ``slatah_migration`` (only a VM migrating in, counted at its full request with
  10 % allocated); the three sum to SLATAH.
* PDM: sum over VMs of (requested - allocated) x time while migrating / sum of requested x time.
* SLAV = SLATAH x PDM (CloudSim's; it counts migrations twice, in PDM and in ``slatah_migration``);
  ESV = energy (kWh) x SLAV.
* host shutdowns: on -> off transitions of each host's activity, counted as CloudSim does (a host
  that is idle at its first record counts as one).
* energy above the supply (with a watts signal): per decision interval, the fleet's mean power
  over the interval less the supply at the interval's midpoint, where positive, times the
  interval. Both are the step series' ``power_w`` and ``available_w``, so the plotted gap is
  the figure. ``energy_covered_share`` = 1 - above / energy. ``day_folded_above_supply_kwh``
  folds a replay that ran past its day (deferred work) onto one day before the same sum.
* a window of a run (``window_figures``, e.g. the last day of ``--repeat-day N``, the steady
  state): the step series' rows whose interval's midpoint lies in ``[start, end)``, summed.
* power cycles: each on -> off transition of a host (a switch-off; the boot before or after it
  belongs to the same cycle), the engine's ``host_power_offs``. A host on at the start and switched
  off has made one (its first on-period ended by a switch-off); a host never on has made none, though
  CloudSim's shutdowns above count it (the table shows switch-offs). ``host_power_cycles_max``:
  the worst host's switch-offs in any 24 h window (the bound the pipeline's ``CycleBudget`` keeps,
  on the same count); ``..._mean``: switch-offs per host per day, over the hosts ever on, the run's
  span counted as at least a day (a replay may run past the trace while deferred work finishes).
* deferral: VM-hours deferred work waited and deadlines missed, kept by ``deferral.DeferralBook``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from watcher_geyser.simulator.state import SlaCause, Snapshot

J_PER_KWH = 3.6e6


def percentile_summary(values: list[float]) -> tuple[float, float, float]:
    """(mean, p95, max) of ``values``; zeros for an empty list."""
    if not values:
        return 0.0, 0.0, 0.0
    arr = np.asarray(values)
    return float(arr.mean()), float(np.percentile(arr, 95)), float(arr.max())


def supply_at_midpoints(time_s, interval_s: float, available_w) -> np.ndarray:
    """float64[N]: ``available_w(t - interval_s / 2)`` for each decision time ``t`` (interval ends)."""
    return np.array([float(available_w(t - interval_s / 2.0)) for t in time_s], dtype=np.float64)


def energy_above_supply_kwh(power_w, supply_w, interval_s: float) -> float:
    """kWh drawn above the supply: sum of max(0, power - supply) x interval over the intervals."""
    gap = np.asarray(power_w, dtype=np.float64) - np.asarray(supply_w, dtype=np.float64)
    return float(np.clip(gap, 0.0, None).sum() * interval_s / J_PER_KWH)


def day_folded_above_supply_kwh(time_s, power_w, supply_w, interval_s: float, day_s: float) -> float:
    """kWh drawn above the supply with the replay folded onto one day of ``day_s`` seconds: the
    draw of every interval is added to the interval at the same time of day, each time of day
    keeping the supply of its first occurrence, and the sum is held against that supply.

    Why: deferred work may run past the trace's end (up to its deadline), into a next day whose
    supply no other work claims, so the replay's own figure counts that supply as free. If every
    day is like the replayed one, the work that spills into tomorrow meets tomorrow's own
    workload; folding charges it for that. A replay that ends with its day gives the plain figure.
    """
    t = np.asarray(time_s, dtype=np.float64)
    bins_per_day = max(int(round(day_s / interval_s)), 1)
    slot = np.floor(np.mod(t, day_s) / interval_s).astype(np.int64) % bins_per_day
    power = np.bincount(slot, weights=np.asarray(power_w, dtype=np.float64), minlength=bins_per_day)
    supply = np.full(bins_per_day, np.nan)
    supply_w = np.asarray(supply_w, dtype=np.float64)
    for i in np.argsort(t, kind="stable"):  # the first occurrence of each time of day gives its supply
        if np.isnan(supply[slot[i]]):
            supply[slot[i]] = supply_w[i]
    seen = ~np.isnan(supply)
    return energy_above_supply_kwh(power[seen], supply[seen], interval_s)


DAY_S = 86400.0


@dataclass(frozen=True)
class WindowFigures:
    """A run's figures over ``[start_s, end_s)``: what ``window_figures`` sums."""

    start_s: float
    end_s: float
    energy_kwh: float
    above_supply_kwh: float | None  # None without a watts supply
    slatah: float
    slatah_overload: float  # SLATAH's share from oversubscribed hosts (``state.SlaCause``)
    slatah_core_cap: float  # ... from a VM capped by the host's cores
    slatah_migration: float  # ... from a VM migrating in only
    migrations: int
    deferred_vm_hours: float  # VMs held shelved at each row x the interval
    power_cycles_max: float  # the worst host's switch-offs in the window, per day
    power_cycles_mean: float  # switch-offs per host per day, over the hosts ever on in the run (as the run's)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def window_figures(series: StepSeries, interval_s: float, start_s: float, end_s: float,
                   off_times_s=(), ever_on=None) -> WindowFigures:
    """The run's figures over ``[start_s, end_s)``: each decision row's interval ``(t - interval_s, t]``
    belongs to the window holding its midpoint (energy, energy above the supply, SLATAH's host
    time and its split by cause, shelved VM-hours); migrations (started at the row's decision ``t``
    or in the waves after it) and switch-offs (``off_times_s[h]``, host h's times) by their time. Over a window holding
    every row it gives the whole run's figures (power cycles: the window's length, at least a day,
    not the run's, divides; the mean is over ``ever_on``, the hosts ever on in the run, as the run's
    is, or over the hosts with a switch-off when it is not given)."""
    if not end_s > start_s:
        raise ValueError(f"a window needs start < end, got [{start_s}, {end_s})")
    t = np.asarray(series.time_s, dtype=np.float64)
    inside = (t - interval_s / 2.0 >= start_s) & (t - interval_s / 2.0 < end_s)

    def rows(values, where=inside) -> np.ndarray:
        return np.asarray(values, dtype=np.float64)[where] if len(values) else np.zeros(0)

    power = rows(series.power_w)
    supply = series.available_w
    above = None
    if supply and all(a is not None for a in supply):
        above = energy_above_supply_kwh(power, rows(supply), interval_s)
    host_s, violation_s = rows(series.host_s).sum(), rows(series.violation_host_s).sum()
    by_cause = {cause: rows(values).sum() for cause, values in series.violation_by_cause().items()}

    def share(violating_s: float) -> float:  # of the window's active host time
        return float(violating_s / host_s) if host_s > 0 else 0.0

    days = max((end_s - start_s) / DAY_S, 1.0)  # as the run counts: a shorter window is within one day
    counts = np.array([sum(start_s <= t < end_s for t in times) for times in off_times_s], dtype=np.float64)
    cycled = np.array([len(times) > 0 for times in off_times_s], dtype=bool)
    if ever_on is not None and len(ever_on):
        cycled = np.asarray(ever_on, dtype=bool) | cycled
    return WindowFigures(
        start_s=start_s, end_s=end_s,
        energy_kwh=float(power.sum() * interval_s / J_PER_KWH),
        above_supply_kwh=above,
        slatah=share(violation_s),
        slatah_overload=share(by_cause[SlaCause.OVERLOAD]),
        slatah_core_cap=share(by_cause[SlaCause.CORE_CAP]),
        slatah_migration=share(by_cause[SlaCause.MIGRATION]),
        migrations=int(rows(series.migrations, (t >= start_s) & (t < end_s)).sum()),
        deferred_vm_hours=float(rows(series.vms_shelved).sum() * interval_s / 3600.0),
        power_cycles_max=float(counts.max() / days) if len(counts) else 0.0,
        power_cycles_mean=float(counts[cycled].mean() / days) if cycled.any() else 0.0,
    )


def power_cycles_per_day(off_times_s: list[list[float]], ever_on: np.ndarray, span_s: float) -> tuple[float, float]:
    """(worst host's switch-offs in any 24 h window, mean switch-offs per day over hosts ever on).

    ``off_times_s[h]`` lists host h's switch-off times in order; the mean divides by the span in
    days, at least 1 (a shorter run is within one day).
    """
    if not ever_on.any():
        return 0.0, 0.0
    worst = 0
    for times in off_times_s:
        lo = 0
        for hi, t in enumerate(times):  # two pointers: switch-offs in (t - 1 day, t]
            while times[lo] <= t - DAY_S:
                lo += 1
            worst = max(worst, hi - lo + 1)
    counts = np.array([len(times) for times in off_times_s], dtype=np.float64)
    days = max(span_s / DAY_S, 1.0)
    return float(worst), float(counts[ever_on].mean() / days)


@dataclass
class Accounting:
    """SLA time and PDM bookkeeping over the records each update leaves (one per host / VM and time)."""

    hosts: int
    vms: int
    active_s: float = 0.0
    violation_s: float = 0.0
    violation_by_cause_s: np.ndarray = field(init=False)  # float64[len(SlaCause)]: violation_s by cause (NONE: 0)
    requested_mips_s: float = 0.0
    degraded_mips_s: float = 0.0
    shutdowns: int = 0
    _host_t: np.ndarray = field(init=False)
    _host_active: np.ndarray = field(init=False)
    _host_viol: np.ndarray = field(init=False)
    _host_cause: np.ndarray = field(init=False)
    _vm_t: np.ndarray = field(init=False)
    _vm_req: np.ndarray = field(init=False)
    _vm_alloc: np.ndarray = field(init=False)
    _vm_mig: np.ndarray = field(init=False)
    _vm_has: np.ndarray = field(init=False)
    _cloudsim_active: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self._host_t = np.full(self.hosts, np.nan)
        self._host_active = np.zeros(self.hosts, dtype=bool)
        self._host_viol = np.zeros(self.hosts, dtype=bool)
        self._host_cause = np.zeros(self.hosts, dtype=np.int8)
        self.violation_by_cause_s = np.zeros(len(SlaCause))
        self._cloudsim_active = np.ones(self.hosts, dtype=bool)  # CloudSim starts every host "active"
        self._vm_t = np.zeros(self.vms)
        self._vm_req = np.zeros(self.vms)
        self._vm_alloc = np.zeros(self.vms)
        self._vm_mig = np.zeros(self.vms, dtype=bool)
        self._vm_has = np.zeros(self.vms, dtype=bool)

    def record(self, snap: Snapshot, active: np.ndarray, alive: np.ndarray, in_migration: np.ndarray) -> None:
        """Take the records of an update at ``snap.time_s`` (a later record at the same time replaces it)."""
        t = snap.time_s
        seen = ~np.isnan(self._host_t)
        dt = np.where(seen, t - np.nan_to_num(self._host_t), 0.0)
        gone = dt > 0
        self.active_s += float(dt[gone & self._host_active].sum())
        violating = gone & self._host_active & self._host_viol
        self.violation_s += float(dt[violating].sum())
        self.violation_by_cause_s += np.bincount(self._host_cause[violating], dt[violating], len(SlaCause))
        self._host_t[:] = t
        self._host_active = active.copy()
        self._host_viol = snap.host_violation.copy()
        self._host_cause = snap.host_sla_cause.copy()

        keep = alive & self._vm_has
        vdt = np.where(keep, t - self._vm_t, 0.0)
        self.requested_mips_s += float((self._vm_req * vdt).sum())
        short = self._vm_mig & (self._vm_alloc < self._vm_req)
        self.degraded_mips_s += float(((self._vm_req - self._vm_alloc) * vdt)[short].sum())
        self._vm_t = np.where(alive, t, self._vm_t)
        self._vm_req = np.where(alive, snap.vm_req_mips, 0.0)
        self._vm_alloc = np.where(alive, snap.vm_alloc_mips, 0.0)
        self._vm_mig = alive & in_migration
        self._vm_has = alive.copy()

    def close_time(self, active: np.ndarray) -> None:
        """Count on -> off transitions at the end of one time point (CloudSim keeps the last record)."""
        self.shutdowns += int((self._cloudsim_active & ~active).sum())
        self._cloudsim_active = active.copy()

    @property
    def slatah(self) -> float:
        return self.violation_s / self.active_s if self.active_s > 0 else 0.0

    def slatah_of(self, cause: SlaCause) -> float:
        """SLATAH's share from ``cause``: its violation time / active time (the causes sum to ``slatah``)."""
        return float(self.violation_by_cause_s[cause]) / self.active_s if self.active_s > 0 else 0.0

    @property
    def pdm(self) -> float:
        return self.degraded_mips_s / self.requested_mips_s if self.requested_mips_s > 0 else 0.0


@dataclass
class StepSeries:
    """One row per decision step, for the report's CSV, JSON and plots."""

    time_s: list[float] = field(default_factory=list)
    power_w: list[float] = field(default_factory=list)
    available_w: list[float | None] = field(default_factory=list)
    power_lower_bound_w: list[float] = field(default_factory=list)
    hosts_on: list[int] = field(default_factory=list)
    hosts_lower_bound: list[int] = field(default_factory=list)
    migrations: list[int] = field(default_factory=list)
    # hosts overloaded (SLA cause ``OVERLOAD``: the requests held against them exceed their MIPS; not
    # a VM capped by its cores, not a migration's destination), measured at the decision instant as the
    # decision found them (after its shelving, before its moves start), whether the policy was asked or
    # the decision skipped; what thr-mmt's and lr-mmt's detectors call overloaded (a threshold, a
    # regression) is their decision, not this measure
    overloaded_hosts: list[int] = field(default_factory=list)
    # 1: the policy was asked; 0: the decision was skipped while the last plan ran (``Fidelity.plan_runs_to_end``,
    # as Watcher skips its audit), or the tail row (``RunResult.tail``): the row's state is measured, nothing in
    # it was decided at this step
    decided: list[int] = field(default_factory=list)
    sla_violating_hosts: list[int] = field(default_factory=list)  # at the decision instant, after its moves start
    host_s: list[float] = field(default_factory=list)  # active host-seconds since the last row (SLATAH's denominator)
    # of which violating the SLA, whatever the cause (SLATAH's numerator; overload is one cause of three)
    violation_host_s: list[float] = field(default_factory=list)
    # that numerator by cause (``state.SlaCause``): the three sum to ``violation_host_s``
    violation_overload_host_s: list[float] = field(default_factory=list)
    violation_core_cap_host_s: list[float] = field(default_factory=list)
    violation_migration_host_s: list[float] = field(default_factory=list)
    vms_running: list[int] = field(default_factory=list)
    vms_shelved: list[int] = field(default_factory=list)  # deferrable VMs held shelved (0 without deferral)
    step_s: list[float] = field(default_factory=list)  # wall seconds the step took (0 on the tail row)
    # simulated seconds the row covers, up to ``time_s``: the decision interval, or the tail's length;
    # the row's energy is ``power_w`` x ``interval_s``
    interval_s: list[float] = field(default_factory=list)
    # the solver pass whose answer the decision kept (``solver.problem.PASSES``); empty when the policy
    # has no solver (the baselines), the decision was skipped, or on the tail row
    found_by: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list]:
        return {k: list(v) for k, v in self.__dict__.items()}

    def joined(self, other: StepSeries) -> StepSeries:
        """This series' rows, then ``other``'s (the decision rows and the tail: ``RunResult.rows``)."""
        return StepSeries(**{k: list(v) + list(getattr(other, k)) for k, v in self.__dict__.items()})

    def violation_by_cause(self) -> dict[SlaCause, list[float]]:
        """The per-row violating host-seconds of each cause."""
        return {SlaCause.OVERLOAD: self.violation_overload_host_s, SlaCause.CORE_CAP: self.violation_core_cap_host_s,
                SlaCause.MIGRATION: self.violation_migration_host_s}
