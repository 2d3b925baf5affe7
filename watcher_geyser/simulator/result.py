"""What one replay measured: ``RunResult``, its summary figures and its per-step series."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from watcher_geyser.simulator.metrics import StepSeries, WindowFigures, percentile_summary, window_figures


@dataclass
class RunResult:
    policy: str
    datacenter: str
    fidelity: str
    trace: str
    vms: int
    hosts: int
    energy_kwh: float
    energy_lower_bound_kwh: float
    migrations: int
    slatah: float
    slatah_overload: float  # SLATAH's share from oversubscribed hosts (``state.SlaCause``)
    slatah_core_cap: float  # ... from a VM asking more than the host's cores give it
    slatah_migration: float  # ... from a VM migrating in only (CloudSim counts its full request)
    pdm: float
    host_shutdowns: int
    host_power_ons: int
    host_power_offs: int
    vms_unplaced: int
    migrations_dropped: int
    energy_above_signal_kwh: float | None
    energy_covered_share: float | None
    host_power_cycles_max: float  # switch-offs per host per day, worst host
    host_power_cycles_mean: float  # the same, mean over hosts ever on
    deferred_vm_hours: float  # time deferrable VMs spent shelved, summed
    step_seconds: list[float]
    solver_seconds: list[float]
    planner_seconds: list[float]
    wall_seconds: float
    series: StepSeries = field(repr=False)
    work_vm_hours: float = 0.0  # utilisation-weighted VM-hours of work done: equal with and without deferral
    deadline_missed: tuple[str, ...] = ()  # deferrable VMs held shelved past their deadline
    repeat_days: int = 1  # the day replayed that many times back to back (``simulator.arrivals``)
    day_s: float = 0.0  # one day of the trace (samples x step); 0: unknown
    step_s: float = 0.0  # the decision interval; 0: unknown
    host_off_times_s: tuple[tuple[float, ...], ...] = field(default=(), repr=False)  # each host's switch-offs
    host_ever_on: tuple[bool, ...] = field(default=(), repr=False)  # the hosts the cycles' mean is over
    decisions_skipped: int = 0  # decisions due while a plan still ran (``Fidelity.plan_runs_to_end``)
    #: the row after the last decision (none when no migration ran past it): the migrations it started
    #: run on, and their energy and SLA host time count in the totals; ``series`` holds the decision
    #: rows alone (what the above-supply figure, the windows and the benchmarks read), ``rows()`` both
    tail: StepSeries = field(default_factory=StepSeries, repr=False)

    def rows(self) -> StepSeries:
        """Every row, the decisions' then the tail's: what ``steps.csv`` and ``report.json`` hold, and
        what sums to the run's energy and SLATAH host time."""
        return self.series.joined(self.tail)

    @property
    def passes_won(self) -> dict[str, int]:
        """How many decisions kept each solver pass's answer (``StepSeries.found_by``), by pass name;
        empty for a policy without a solver."""
        return dict(sorted(Counter(name for name in self.series.found_by if name).items()))

    def window(self, start_s: float, end_s: float) -> WindowFigures:
        """The run's figures over ``[start_s, end_s)`` (``metrics.window_figures``)."""
        return window_figures(self.series, self.step_s, start_s, end_s, self.host_off_times_s, self.host_ever_on)

    def last_day(self) -> WindowFigures | None:
        """The steady state of a repeated day: the last repetition's window ``[(N-1) x day, N x day)``,
        which holds the previous day's spill and the day's own work (None for a single day)."""
        if self.repeat_days < 2 or not self.day_s:
            return None
        return self.window((self.repeat_days - 1) * self.day_s, self.repeat_days * self.day_s)

    @property
    def deadline_misses(self) -> int:
        return len(self.deadline_missed)

    @property
    def slav(self) -> float:
        return self.slatah * self.pdm

    @property
    def esv(self) -> float:
        return self.energy_kwh * self.slav

    def summary(self) -> dict:
        mean, p95, mx = percentile_summary(self.step_seconds)
        smean, sp95, smax = percentile_summary(self.solver_seconds)
        pmean, pp95, pmax = percentile_summary(self.planner_seconds)
        return {
            "policy": self.policy,
            "datacenter": self.datacenter,
            "fidelity": self.fidelity,
            "trace": self.trace,
            "vms": self.vms,
            "hosts": self.hosts,
            "energy_kwh": self.energy_kwh,
            "energy_lower_bound_kwh": self.energy_lower_bound_kwh,
            "migrations": self.migrations,
            "slatah": self.slatah,
            "slatah_overload": self.slatah_overload,
            "slatah_core_cap": self.slatah_core_cap,
            "slatah_migration": self.slatah_migration,
            "pdm": self.pdm,
            "slav": self.slav,
            "esv": self.esv,
            "host_shutdowns": self.host_shutdowns,
            "host_power_ons": self.host_power_ons,
            "host_power_offs": self.host_power_offs,
            "vms_unplaced": self.vms_unplaced,
            "migrations_dropped": self.migrations_dropped,
            "decisions_skipped": self.decisions_skipped,
            "passes_won": self.passes_won,
            "energy_above_signal_kwh": self.energy_above_signal_kwh,
            "energy_covered_share": self.energy_covered_share,
            "host_power_cycles_max": self.host_power_cycles_max,
            "host_power_cycles_mean": self.host_power_cycles_mean,
            "deferred_vm_hours": self.deferred_vm_hours,
            "deadline_misses": self.deadline_misses,
            "deadline_missed": list(self.deadline_missed),
            "work_vm_hours": self.work_vm_hours,
            "repeat_days": self.repeat_days,
            **({"last_day": last.as_dict()} if (last := self.last_day()) is not None else {}),
            "step_seconds_mean": mean,
            "step_seconds_p95": p95,
            "step_seconds_max": mx,
            "solver_seconds_mean": smean,
            "solver_seconds_p95": sp95,
            "solver_seconds_max": smax,
            "planner_seconds_mean": pmean,
            "planner_seconds_p95": pp95,
            "planner_seconds_max": pmax,
            "wall_seconds": self.wall_seconds,
        }
