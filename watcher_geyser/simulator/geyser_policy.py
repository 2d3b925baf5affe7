"""The ``geyser`` policy: the Watcher plugin's own code path, run at every simulated step.

fleet (with a CPU forecast) -> signal policy (budget, ceiling) -> ``solve`` -> ``plan`` ->
migrations in waves. What the simulator measures for this policy is what the strategy
would do in Watcher, with the same solver, planner and signal policy.

Why a forecast: a decision holds for the next interval (5 minutes), so placing on the
utilisation just measured invites overloads when demand rises. The forecast takes, per
VM, the highest of its last ``forecast_window`` samples, a cheap and robust guard against
the short bursts these traces are full of.

Migrations stay few without a cap: the solver moves only instances of hosts it empties or
relieves (never a reshuffle between hosts that stay on), and the forecast's head-room
keeps relief rare. ``max_consolidation_moves`` can still cap the consolidation per step
(relief is never capped: an overload is fixed at the first step that sees it); on the
PlanetLab days it costs energy for no gain in SLA.

Deferrable VMs (``geyser simulate --deferrable``): before the migrations, ``defer`` asks the
core's rule (``watcher_geyser.deferral``) which to shelve and which to bring back, from the
same signal decision. Without a signal nothing is ever shelved.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from watcher_geyser.deferral import DeferralConfig, Energy, decide_deferral
from watcher_geyser.planner import plan as plan_moves
from watcher_geyser.signal import Decision, PolicyConfig, Series, SignalPolicy, fleet_peak_w
from watcher_geyser.simulator.baselines import DecisionStats, pabfd_initial
from watcher_geyser.simulator.deferral import DeferralAnswer, DeferralBook
from watcher_geyser.simulator.fleet import fleet_from_view
from watcher_geyser.simulator.state import Migration, SimState
from watcher_geyser.solver import Problem, solve

REALISTIC_PARALLELISM = 8
REALISTIC_PER_HOST = 2


@dataclass
class SignalFeed:
    """An energy signal over the simulated period: a series, and the wall-clock time of t=0."""

    series: Series
    start_s: float
    config: PolicyConfig = field(default_factory=PolicyConfig)

    def available_w(self, t_s: float) -> float:
        """Available watts at simulated time ``t_s`` (the nearest point where the series has a gap)."""
        value = self.series.value_at(self.start_s + t_s)
        if value is None:
            i = int(np.clip(self.series.times_s.searchsorted(self.start_s + t_s) - 1, 0, len(self.series) - 1))
            value = float(self.series.values[i])
        return value


@dataclass
class GeyserPolicy:
    name: str = "geyser"
    charges_full_power: bool = False
    switches_off_empty_hosts: bool = True
    cpu_ceiling: float = 0.95  # without a signal: forecast CPU may fill 95 % of a host's MIPS
    relief_margin: float = 0.05  # a host sheds only when its forecast passes the ceiling by this much
    max_consolidation_moves: int | None = None  # per step, if set; moves that relieve overloads never count
    forecast_window: int = 3
    time_limit_s: float = 0.2
    method: str = "decompose"  # the plugin's path at scale; the exact model is too slow for every step
    parallelism: int | None = None  # None: unlimited in cloudsim fidelity (as CloudSim), 8 in realistic
    per_host_parallelism: int | None = None  # None: unlimited in cloudsim fidelity, 2 in realistic
    follow_signal: bool = True  # False: signal-blind even when the run has a signal (still accounted against it)
    signal: SignalFeed | None = None
    deferral: DeferralConfig | None = None  # None: the core's defaults, lead time one trace step
    seed: int = 0  # CP-SAT's random seed
    deterministic: bool = False  # same numbers on every run: the solver's work limit instead of the wall clock
    stats: DecisionStats = field(default_factory=DecisionStats)
    decisions: list[Decision] = field(default_factory=list, repr=False)
    _signal_policy: SignalPolicy | None = field(default=None, repr=False)

    def initial_placement(self, state: SimState) -> None:
        pabfd_initial(state, 1.0)

    def decide(self, view) -> list[list[Migration]]:
        started = time.perf_counter()
        state = view.state
        fleet = fleet_from_view(view, self._forecast(view))
        ceiling, budget = self.cpu_ceiling, None
        if self.signal is not None:
            decision = self._decide_signal(view.time_s, fleet_peak_w(fleet))
            ceiling, budget = decision.ceiling, decision.budget_w
        problem = Problem(
            fleet,
            cpu_ceiling=ceiling,
            # the dead band follows the ceiling: when the signal relaxes it, busy hosts spread out
            cpu_relief_ceiling=min(1.0, ceiling + self.relief_margin),
            power_budget_w=budget,
            max_consolidation_moves=self.max_consolidation_moves,
            time_limit_s=self.time_limit_s,
            workers=1,
            seed=self.seed,
            deterministic=self.deterministic,
        )
        target = solve(problem, method=self.method)
        solved = time.perf_counter()
        parallelism, per_host = self._parallelism(state)
        moves = plan_moves(target, parallelism=parallelism, per_host_parallelism=per_host)
        vm_index = {name: i for i, name in enumerate(state.dc.vm_names)}
        host_index = {name: i for i, name in enumerate(state.dc.host_names)}
        waves = []
        for wave in moves.waves:
            migrations = [
                Migration(vm_index[a.instance], host_index[a.destination]) for a in wave if a.kind.is_migration
            ]
            if migrations:
                waves.append(migrations)
        overloaded = int(view.snapshot.host_violation.sum())
        self.stats = DecisionStats(overloaded, solver_s=solved - started, planner_s=time.perf_counter() - solved)
        return waves

    def defer(self, view, book: DeferralBook) -> DeferralAnswer:
        """Shelve and bring back deferrable VMs by the core's rule, from this step's signal decision."""
        if self.signal is None:
            energy = Energy.blind()
        else:
            energy = Energy.from_decision(self._decide_signal(view.time_s, _peak_w(view.state)))
        config = self.deferral or DeferralConfig(lead_s=view.state.trace.step_s)
        plan = decide_deferral(book.candidates(view.time_s), energy, view.time_s, config)
        index = {name: i for i, name in enumerate(view.state.dc.vm_names)}
        return DeferralAnswer([index[u] for u in plan.shelve], [index[u] for u in plan.resume])

    def _parallelism(self, state: SimState) -> tuple[int, int]:
        """Migrations per wave (overall, per host). CloudSim starts every migration at once, so
        its fidelity gets no limit, for a fair comparison; realistic fidelity gets what a
        Watcher applier and Nova's per-host limit would allow."""
        unlimited = max(len(state.dc.vm_names), 1)
        if state.fidelity.is_cloudsim:
            defaults = (unlimited, unlimited)
        else:
            defaults = (REALISTIC_PARALLELISM, REALISTIC_PER_HOST)
        return (self.parallelism or defaults[0], self.per_host_parallelism or defaults[1])

    def _forecast(self, view) -> np.ndarray:
        """Per VM: the highest of the current utilisation and its last few recorded samples."""
        state = view.state
        current = view.snapshot.vm_req_mips / state.dc.vm_mips
        k = min(self.forecast_window, state.history_len)
        if k == 0:
            return current
        return np.maximum(current, state.history[:, :k].max(axis=1))

    def _decide_signal(self, t_s: float, peak_w: float) -> Decision:
        """The signal policy's decision at ``t_s``, taken once per step (``defer`` and ``decide`` share it)."""
        if self.decisions and self.decisions[-1].at_s == self.signal.start_s + t_s:
            return self.decisions[-1]
        if self._signal_policy is None:
            self._signal_policy = SignalPolicy(self.signal.config)
        decision = self._signal_policy.decide(self.signal.series, self.signal.start_s + t_s, peak_w, "simulated")
        self.decisions.append(decision)
        return decision


def _peak_w(state: SimState) -> float:
    """The fleet's nameplate peak, as ``fleet_peak_w`` computes it for the fleet."""
    return float(sum(p.max_w for p in state.dc.power))


__all__ = ["GeyserPolicy", "SignalFeed"]
