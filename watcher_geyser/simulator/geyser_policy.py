"""The ``geyser`` policy: the Watcher plugin's own code path, run at every simulated step.

fleet (with a CPU forecast, and a claim on the destination of each migration in flight, as the
plugin reads Nova's migrations: ``fleet.py``) -> signal policy (``Decision``) -> ``pipeline.apply_decision``
-> ``pipeline.run`` (solve, plan) -> migrations in waves. What the simulator measures for
this policy is what the strategy would do in Watcher: the same settings, the same mapping
of the signal, the same solver and planner, and in realistic fidelity the same parallelism
(Watcher's 2 migrations at a time, Nova's 1 per host: the plan settings' defaults). Only the
solver's time limit and method differ (``SIM_SETTINGS``), because a day replays 288 steps, and
cloudsim fidelity's waves are unlimited, as CloudSim starts every migration at once. The limit,
1 s a step, still runs the portfolio's ejection chains, swaps and CP-SAT neighbourhoods, and
replays a PlanetLab day as Watcher's 10 s does (docs/design/simulator-cloudsim-fidelity.md, "The
solver's time per step", has what a shorter limit changes and what each costs).

Power-off follows the settings: in realistic fidelity a host emptied while the decision forbids
power-off stays on (idle); in cloudsim fidelity an empty host draws nothing, as in CloudSim,
whatever the decision. The plan's ``power_off`` actions are handed to the engine (``power_offs``, by
the wave they run in), so a host already empty when the plan is made (shelved VMs, ended ones) goes
off as in Watcher; the plan holds none for a host the budget holds on (``planner.hostactions``).
The per-host power-cycle budget (``pipeline.CycleBudget``) reads the engine's own record of switch-offs at every step
(``StepView.switch_offs``): a host with no switch-off left in the last 24 h is not switched on,
neither by the solver nor by the scheduler that brings deferred VMs back. That bounds every window
only if a plan switches on no host it switched off itself, which the replay ensures as Watcher's
plan does (a host goes off after the plan's last migration to or from it:
``Engine._switch_off_idle``; before, a staging host emptied and filled again within one plan was
switched off at each visit, 4 switch-offs in 24 h on 20110303 realistic with deferral). Two
exceptions spend a held host on purpose: a VM due back by its deadline that no other host can take,
and a new instance (a repeated day's copy) when no other host has room
(``deferral.place_like_nova``, ``deferral.place_new``: a deadline or a request beats wear).

Why a forecast: a decision holds for the next interval (5 minutes), so placing on the
utilisation just measured invites overloads when demand rises. The forecast takes, per
VM, the highest of its last ``forecast_window`` samples, a cheap and robust guard against
the short bursts these traces are full of; fully scarce, the load now (``pipeline.reads_load_now``).
The Watcher strategy reads the same from its datasource (``strategies.metrics.cpu_read``: the
peak over ``defaults.CPU_PERIOD_S``, or the mean over one sample), from the same constants.

Migrations stay few without a cap: the solver moves instances of hosts it empties or
relieves, and others only to make room for them (``solver/eject.py``: a small instance steps
aside so a large one fits, when that empties a host), and the forecast's head-room
keeps relief rare. ``Limits.max_consolidation_moves`` can still cap the consolidation per step
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

from watcher_geyser import defaults
from watcher_geyser.deferral import DeferralConfig, Energy, decide_deferral
from watcher_geyser.deferral.fleet import spare_hosts
from watcher_geyser.pipeline import (
    CycleBudget,
    Hold,
    PlanSettings,
    Settings,
    SolveSettings,
    apply_decision,
    cpu_window,
    run,
)
from watcher_geyser.planner.actions import ActionKind
from watcher_geyser.signal import Decision, PolicyConfig, Series, SignalPolicy
from watcher_geyser.simulator.baselines import DecisionStats, pabfd_initial, start_from_scenario
from watcher_geyser.simulator.decision import targets
from watcher_geyser.simulator.deferral import DeferralAnswer, DeferralBook
from watcher_geyser.simulator.fleet import fleet_from_view
from watcher_geyser.simulator.state import Migration, SimState

#: The plugin's settings with what a replay of 288 steps a day needs: a shorter time limit, the
#: decomposition (the plugin's path at scale; the exact model is too slow for every step), one
#: worker, and emptied hosts switched off (as ``geyser_energy`` does by default).
SIM_SETTINGS = Settings(
    solve=SolveSettings(time_limit_s=defaults.SIM_TIME_LIMIT_S, method="decompose", workers=1),
    plan=PlanSettings(allow_power_off=True),
)
#: ``--policy geyser:key=value`` keywords that set the pipeline's settings (section, field).
SETTING_KEYWORDS = {
    "cpu_ceiling": ("limits", "cpu_ceiling"),
    "relief_margin": ("limits", "relief_margin"),
    "host_margin_k": ("limits", "host_margin_k"),  # blind; a following policy takes it from its config too
    "max_consolidation_moves": ("limits", "max_consolidation_moves"),
    "swap_payback_s": ("limits", "swap_payback_s"),
    "time_limit_s": ("solve", "time_limit_s"),
    "method": ("solve", "method"),
    "seed": ("solve", "seed"),
    "deterministic": ("solve", "deterministic"),
}


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
    switches_off_empty_hosts: bool = True  # follows the settings' allow_power_off at each step
    settings: Settings = SIM_SETTINGS
    forecast_window: int = defaults.CPU_FORECAST_WINDOW  # the strategy reads the peak of as many (``cpu_period_s``)
    scarce_forecast_window: int = defaults.CPU_SCARCE_WINDOW  # fully scarce: the load now, head-room in the margin
    #: None: unlimited in cloudsim fidelity (as CloudSim), the plan settings' (Watcher's) in realistic
    parallelism: int | None = None
    per_host_parallelism: int | None = None  # None: unlimited in cloudsim fidelity, the settings' in realistic
    follow_signal: bool = True  # False: signal-blind even when the run has a signal (still accounted against it)
    #: migrations in flight hold room on their destination too (``fleet.fleet_from_view``), as the plugin
    #: reads them from Nova; False leaves them off it, as the simulator did before (for side-by-side replays)
    claims: bool = True
    signal: SignalFeed | None = None
    deferral: DeferralConfig | None = None  # None: the core's defaults, lead time one trace step
    policy_config: PolicyConfig | None = None  # None: the feed's (``--policy geyser:relaxed=..,tight=..``)
    budget: CycleBudget = field(default_factory=CycleBudget)
    stats: DecisionStats = field(default_factory=DecisionStats)
    decisions: list[Decision] = field(default_factory=list, repr=False)
    #: per decision: (migrations in flight, claim rows its fleet held for them)
    in_flight: list[tuple[int, int]] = field(default_factory=list, repr=False)
    _signal_policy: SignalPolicy | None = field(default=None, repr=False)
    #: how long the last plan will run (``replay_s``): the engine brings back now the VMs due before
    #: it ends (``decision.Decider.decide``), as Watcher's strategy does with the planner's estimate
    plan_s: float = field(default=0.0, repr=False)
    _decided_at: float | None = field(default=None, repr=False)  # the time of the last ``decide``
    #: the last plan's power-offs (host indices): entry i once i of its migration waves have ended,
    #: the last entry after its last migration (``Engine``: already empty hosts too, as Watcher's plan)
    power_offs: list[set[int]] = field(default_factory=list, repr=False)

    @classmethod
    def with_params(cls, **kwargs) -> GeyserPolicy:
        """A policy from flat keywords (``policy_params``): those naming a setting go into ``settings``,
        those naming a ``PolicyConfig`` field (``relaxed_ceiling``, ``tight_ceiling``, ..) into its config."""
        sections: dict[str, dict] = {"limits": {}, "solve": {}}
        policy = {"host_margin_k": kwargs["host_margin_k"]} if "host_margin_k" in kwargs else {}
        for keyword in [k for k in kwargs if k in SETTING_KEYWORDS]:
            section, name = SETTING_KEYWORDS[keyword]
            sections[section][name] = kwargs.pop(keyword)
        policy |= {k: kwargs.pop(k) for k in [k for k in kwargs if k in PolicyConfig.__dataclass_fields__]}
        settings = SIM_SETTINGS.with_limits(**sections["limits"]).with_solve(**sections["solve"])
        if "max_power_cycles" in kwargs:
            kwargs["budget"] = CycleBudget(kwargs.pop("max_power_cycles"))
        return cls(settings=settings, policy_config=PolicyConfig(**policy) if policy else None, **kwargs)

    def initial_placement(self, state: SimState) -> None:
        if not start_from_scenario(state):
            pabfd_initial(state, 1.0)

    def decide(self, view) -> list[list[Migration]]:
        started = time.perf_counter()
        state = view.state
        fleet = fleet_from_view(view, self._forecast(view), claims=self.claims)
        again = self._decided_at == view.time_s  # planned again: the plan's length brought VMs back
        if again:
            self.in_flight.pop()
        self.in_flight.append((len(state.inflight), sum(i.claim_of is not None for i in fleet.instances)))
        self._decided_at = view.time_s
        settings = self.step_settings(view, fleet)
        self.switches_off_empty_hosts = settings.plan.allow_power_off
        result = run(fleet, settings)
        vm_index, host_index = _indices(state)
        waves: list[list[Migration]] = []
        self.power_offs = [set()]
        for wave in result.plan.waves:
            # a host action runs when its wave starts: once the migration waves before it have ended
            self.power_offs[-1] |= {host_index[a.host] for a in wave if a.kind is ActionKind.POWER_OFF}
            migrations = [
                Migration(vm_index[a.instance], host_index[a.destination]) for a in wave if a.kind.is_migration
            ]
            if migrations:
                waves.append(migrations)
                self.power_offs.append(set())
        self.plan_s = replay_s(state, waves, self.switches_off_empty_hosts)
        planner_s = result.plan.plan_seconds
        stats = DecisionStats(solver_s=time.perf_counter() - started - planner_s, planner_s=planner_s,
                              found_by=result.target.found_by)
        if again:  # the step's times are those of every plan it made; its pass the last plan's
            stats = DecisionStats(stats.solver_s + self.stats.solver_s, stats.planner_s + self.stats.planner_s,
                                  stats.found_by)
        self.stats = stats
        return waves

    def step_settings(self, view, fleet) -> Settings:
        """This step's settings: parallelism for the fidelity, the signal's decision, the power-cycle budget."""
        parallelism, per_host = self._parallelism(view.state)
        settings = self.settings.with_plan(parallelism=parallelism, per_host_parallelism=per_host)
        if self.signal is not None:
            settings = apply_decision(settings, self._decide_signal(view))
        return self.hold(view).apply(settings)

    def hold(self, view) -> Hold:
        """The hosts the power-cycle budget holds now, from the engine's record of switch-offs
        (deferral asks before shelving, the decision after: each sees the hosts as they are)."""
        on = view.hosts_on().tolist()
        return self.budget.hold(view.time_s, zip(view.state.dc.host_names, on), view.switch_offs())

    def held_off(self, view) -> frozenset[int]:
        """Indices of the hosts the power-cycle budget holds off now: the replay's Nova switches
        none of them on for a new instance while another host has room (``deferral.place_new``)."""
        return _held_off(self.hold(view), view.state)

    def defer(self, view, book: DeferralBook, plan_s: float = 0.0) -> DeferralAnswer:
        """Shelve and bring back deferrable VMs by the core's rule, from this step's signal decision.

        The rule runs on the signal's clock (epoch seconds), as in the plugin: the forecast is.
        ``plan_s`` > 0: asked again once this step's plan is built, with its expected duration
        (``deferral.horizon``); the first answer is applied already, so only the bring-backs that
        duration makes due are taken (a VM shelved by the first answer and due before the plan
        ends comes back with them: the replay shelves before its plan is known)."""
        if self.signal is None:
            energy, clock_s = Energy.blind(), 0.0
        else:
            energy = Energy.from_decision(self._decide_signal(view), self.signal.series, _need_w(view),
                                          int(view.state.alive.sum()), _peak_w(view.state),
                                          min(p.idle_w for p in view.state.dc.power))
            clock_s = self.signal.start_s
        config = self.deferral or DeferralConfig(lead_s=view.state.trace.step_s)
        plan = decide_deferral(book.candidates(view.time_s, clock_s), energy, view.time_s + clock_s, config, plan_s)
        state, names = view.state, view.state.dc.host_names
        index, hosts = _indices(state)
        hold = self.hold(view)
        if plan_s > 0:
            return DeferralAnswer([], [index[u] for u in plan.due], _held_off(hold, state),
                                  frozenset(index[u] for u in plan.due))
        # the power-cycle budget: no host it holds on is emptied by shelving, none it holds off switched on
        host_of = {u: names[int(state.vm_host[index[u]])] for u in plan.shelve if state.vm_host[index[u]] >= 0}
        occupants = {names[h]: len(vms) for h, vms in enumerate(state.host_vms) if vms}
        shelve, _ = spare_hosts(plan.shelve, host_of, occupants, frozenset(hold.held_on))
        return DeferralAnswer([index[u] for u in shelve], [index[u] for u in plan.resume], _held_off(hold, state),
                              frozenset(index[u] for u in plan.due))

    def _parallelism(self, state: SimState) -> tuple[int, int]:
        """Migrations per wave (overall, per host). CloudSim starts every migration at once, so
        its fidelity gets no limit, for a fair comparison; realistic fidelity gets the plan
        settings', which default to what the Watcher strategy plans with (Watcher's concurrent
        migrations, Nova's max_concurrent_live_migrations): parallelism decides how long a plan
        runs, and so which decisions ``--plans run-to-end`` skips (measured against 8 and 2 in
        docs/design/simulator-cloudsim-fidelity.md, "Parallelism")."""
        if state.fidelity.is_cloudsim:
            unlimited = max(len(state.dc.vm_names), 1)
            fallback = (unlimited, unlimited)
        else:
            fallback = (self.settings.plan.parallelism, self.settings.plan.per_host_parallelism)
        return (self.parallelism or fallback[0], self.per_host_parallelism or fallback[1])

    def _forecast(self, view) -> np.ndarray:
        """Per VM: the highest of the current utilisation and its last few recorded samples.

        While the signal says energy is fully scarce the look-back shortens to
        ``scarce_forecast_window`` (one sample: the load now, as the plugin measures it): every
        watt then goes uncovered, and a per-VM look-back sums every VM's burst as if all
        burst at once, while the scarce end keeps one margin per host, sized by how smooth
        the host's summed load is (``pipeline/margin.py``; docs/design/signal-policy.md)."""
        state = view.state
        current = view.snapshot.vm_req_mips / state.dc.vm_mips
        window = self.forecast_window
        if self.signal is not None:
            window = cpu_window(self._decide_signal(view).level, window, self.scarce_forecast_window)
        k = min(window, state.history_len)
        if k == 0:
            return current
        return np.maximum(current, state.history[:, :k].max(axis=1))

    def _decide_signal(self, view) -> Decision:
        """The signal policy's decision at this step, taken once per step (``defer`` and ``decide`` share it)."""
        t_s = self.signal.start_s + view.time_s
        if self.decisions and self.decisions[-1].at_s == t_s:
            return self.decisions[-1]
        if self._signal_policy is None:
            self._signal_policy = SignalPolicy(self.policy_config or self.signal.config)
        decision = self._signal_policy.decide(self.signal.series, t_s, _peak_w(view.state), "simulated",
                                              need_w=_need_w(view))
        self.decisions.append(decision)
        return decision


def _indices(state: SimState) -> tuple[dict[str, int], dict[str, int]]:
    """VM and host names to their trace and data-centre indices, built once per run."""
    cached = getattr(state, "_geyser_indices", None)
    if cached is None:
        dc = state.dc
        cached = ({name: i for i, name in enumerate(dc.vm_names)}, {name: i for i, name in enumerate(dc.host_names)})
        state._geyser_indices = cached
    return cached


def _held_off(hold: Hold, state: SimState) -> frozenset[int]:
    """The data-centre indices of the hosts ``hold`` keeps off."""
    hosts = _indices(state)[1]
    return frozenset(hosts[name] for name in hold.held_off)


def replay_s(state: SimState, waves: list[list[Migration]], switches_off: bool = True) -> float:
    """How long the replay runs ``waves`` started now (``Engine._start``, ``Engine._complete``): one
    after another, each as long as its slowest migration, which waits ``boot_s`` first when it goes
    to a host that is off: off now, or emptied by an earlier wave and so switched off
    (``switches_off``: the policy switches off the hosts it empties), which the replay does only
    to a host no later wave sends a VM to (``decision.targets``), so none of those boots.

    The replay's own model, not the planner's ``Timing`` (``Plan.duration_estimate_s``, Watcher's
    estimate): the replay boots a host in the wave that first needs it, not in a power-on wave of
    its own, and copies memory at ``Fidelity.migration_s``'s bandwidth."""
    fid, dc = state.fidelity, state.dc
    powered = state.powered.copy()
    host = state.vm_host.copy()
    occupants = np.bincount(host[host >= 0], minlength=dc.hosts)
    total_s = 0.0
    for w, wave in enumerate(waves):
        longest_s = 0.0
        for m in wave:
            boot_s = fid.boot_s if not fid.zero_utilisation_is_off and not powered[m.host] else 0.0
            longest_s = max(longest_s, boot_s + fid.migration_s(float(dc.vm_ram_mb[m.vm]), float(dc.bw_kbit[m.host])))
        for m in wave:
            powered[m.host] = True
            occupants[host[m.vm]] -= 1
            occupants[m.host] += 1
            host[m.vm] = m.host
        if switches_off:
            kept = np.zeros(dc.hosts, dtype=bool)
            kept[list(targets(waves[w + 1:]))] = True
            powered &= (occupants > 0) | kept
        total_s += longest_s
    return total_s


def _need_w(view) -> float:
    """What the fleet draws now (hosts that are on, at their current load): the supply's yardstick."""
    state, snap = view.state, view.snapshot
    on = snap.host_util > 0 if state.fidelity.zero_utilisation_is_off else state.powered
    return float(snap.host_watts[on].sum())


def _peak_w(state: SimState) -> float:
    """The fleet's nameplate peak, as ``fleet_peak_w`` computes it for the fleet."""
    return float(sum(p.max_w for p in state.dc.power))


__all__ = ["GeyserPolicy", "SignalFeed"]
