"""The Watcher strategies: ``geyser_consolidation`` (goal ``server_consolidation``) and
``geyser_energy`` (our goal ``energy_budget``).

Both run the same five steps, each a function of its own module:

1. adapt: Watcher's ``ModelRoot`` and CPU metrics -> ``Fleet`` (``adapter``, ``metrics``,
   ``fleet_source``; on Prometheus or Aetos the peak over time through ``prometheus_peak``);
2. decide: the audit parameters and the energy signal -> the pipeline's ``Settings`` (``energy``),
   and so the CPU read the fleet is planned on: the peak of the last three samples, as the
   simulator's forecast, or while energy is fully scarce the load now (``metrics.cpu_read``);
3. solve and plan: the power-cycle budget from Watcher's own history of power actions
   (``cycles``: hosts out of switch-offs for the day stay off), then
   ``watcher_geyser.pipeline.run(fleet, settings)`` -> target, capacity-safe waves (the same
   call as ``geyser plan`` and the simulator);
5. emit: the waves -> Watcher actions, plus the efficacy indicators (``emit``); the
   ``geyser`` planner (``wave_planner``) keeps their order in the action graph.

Whatever fails on the way (signal, metrics, solver), the audit still succeeds: with a safe
plan, possibly empty, and a ``nop`` action whose message says what happened.

Zones, server groups, bare-metal power states, the Nova tasks in flight (the instances
Nova is migrating, resizing, rebuilding, ..: they stay) and the migrations finished within the
swap payback time (the instances they moved stay out of swaps, ``settled``) come through
``self.cloud`` (a ``cloud.CloudLookups``; Watcher's helpers unless a caller hands in another).
"""

from __future__ import annotations

import logging
import time

from oslo_config import cfg
from oslo_log import log
from watcher._i18n import _
from watcher.common import exception
from watcher.decision_engine.strategy.strategies import base

from watcher_geyser import defaults
from watcher_geyser.deferral import DeferralConfig
from watcher_geyser.deferral.fleet import FleetDeferral, Shelved, defer_in_fleet, with_groups
from watcher_geyser.deferral.horizon import Settled, through_plan
from watcher_geyser.deferral.room import with_room
from watcher_geyser.pipeline import DEFAULTS, CycleBudget, Hold, Settings
from watcher_geyser.pipeline.request import packing_ceilings
from watcher_geyser.settled import settled_seconds
from watcher_geyser.strategies import cloud, cycles, emit, metrics, opts, prometheus_peak
from watcher_geyser.strategies.adapter import OUR_DISABLED_REASONS, AdaptedFleet
from watcher_geyser.strategies.energy import EnergyDecision, decide_energy
from watcher_geyser.strategies.fleet_source import FleetSource, calibrated
from watcher_geyser.strategies.goal import GOAL_NAME
from watcher_geyser.strategies.params import AuditParams, schema

LOG = log.getLogger(__name__)
CONF = cfg.CONF
PLANNER_NAME = "geyser"


class _GeyserStrategy(base.BaseStrategy):
    """Shared body of both strategies; subclasses set the goal, the name and the indicators."""

    DATASOURCE_METRICS = ["instance_cpu_usage"]
    POWER_OFF_DEFAULT = False

    def __init__(self, config, osc=None):
        super().__init__(config, osc)
        self._planner = PLANNER_NAME
        self.solution = emit.WavedSolution(goal=self.goal, strategy=self)
        self.outcome: dict = {}
        self.cloud: cloud.CloudLookups = cloud.WatcherCloud(osc, self.ctx)

    @classmethod
    def get_schema(cls):
        return schema(cls.POWER_OFF_DEFAULT)

    @classmethod
    def get_config_opts(cls):
        return super().get_config_opts() + opts.strategy_opts()

    def pre_execute(self):
        # Watcher's _pre_execute builds the whole model as XML for a debug line even when debug
        # logging is off: seconds at 15,000 instances. Same checks, text only when it is logged.
        LOG.info("Initializing %s", self.get_display_name())
        if not self.compute_model:
            raise exception.ClusterStateNotDefined()
        if LOG.isEnabledFor(logging.DEBUG):
            LOG.debug(self.compute_model.to_string())

    def post_execute(self):
        self.solution.model = self.compute_model

    def do_execute(self, audit=None):
        started = time.monotonic()
        params = AuditParams.from_input(self.input_parameters)
        notes = list(params.notes)
        metal = self.cloud.metal_inventory()
        if params.power_off and metal.error:
            notes.append(f"no bare-metal service ({metal.error}): emptied hosts are disabled, not switched off")
        base = self._base_settings(params)
        try:
            source = self._source(params, metal, notes, base.limits.swap_payback_s)
        except Exception as exc:  # noqa: BLE001 - a model we cannot read gives an empty plan, not a failed audit
            self._cannot_read(exc, notes)
            return
        # a signal is weighed against the fleet's draw now: its load now (level 1's read), built only if one is read
        decision = decide_energy(params, lambda: source.fleet(self._cpu_read(1.0))[0].fleet, CONF, base)
        LOG.info("%s: %s", self.get_name(), decision.reason)
        if decision.fallback:
            notes.append(decision.reason)
        read = self._cpu_read(decision.energy.level)  # the peak of the last samples, or fully scarce the load now
        try:
            adapted, read_notes = source.fleet(read)
        except Exception as exc:  # noqa: BLE001 - as above
            self._cannot_read(exc, notes)
            return
        notes.extend(read_notes)
        if source.datasource is not None:
            LOG.info("%s: instance CPU read as the datasource's %s", self.get_name(), read.describe())
        hold = self._power_cycles(adapted, metal, notes)
        settings = decision.settings.with_plan(allow_power_off=False) if hold is None else hold.apply(
            decision.settings)
        now = adapted.fleet  # as it stands: the instances to shelve running, hosts to switch on still off
        settled = self._defer_and_plan(adapted, decision, settings, hold, metal)
        (deferral, deferral_notes), (plan, target_notes) = settled.answer, settled.plan
        adapted.fleet = deferral.fleet  # the fleet the plan was made for
        notes.extend(deferral_notes)
        if settled.builds > 1:
            notes.append(f"planned {settled.builds} times: this plan's expected {settled.plan_s / 60:.0f} min "
                         "changed which deferrable instances are due before the next audit")
        notes.extend(target_notes)
        emitted = emit.emit_plan(self.solution, plan, adapted.fleet, adapted.node_uuids, metal.node_ids,
                                 self.config.get("disabled_reason", opts.DISABLED_REASON), notes, deferral, now)
        for line in notes + list(emitted.skipped):
            LOG.warning("%s: %s", self.get_name(), line)
        self._set_indicators(adapted, decision, emitted)
        self.outcome = {"decision": decision, "emitted": emitted, "notes": notes, "cpu_read": read,
                        "seconds": time.monotonic() - started}

    def _cannot_read(self, exc: Exception, notes: list[str]) -> None:
        LOG.exception("%s: cannot read the cluster model", self.get_name())
        self._give_up(f"cannot read Watcher's cluster model ({type(exc).__name__}: {exc}): no plan this time", notes)

    def _give_up(self, reason: str, notes: list[str]) -> None:
        """An empty plan whose only action says why; indicators that satisfy the goal."""
        notes.append(reason)
        self.solution.add_action("nop", input_parameters={"message": " | ".join(notes)[: emit.MAX_NOP_CHARS]})
        enabled = sum(1 for n in self.compute_model.get_all_compute_nodes().values()
                      if (n.status or "enabled") == "enabled" and (n.state or "up") == "up")
        self.solution.set_efficacy_indicators(compute_nodes_count=enabled, released_compute_nodes_count=0,
                                              instance_migrations_count=0)
        if self.get_goal_name() == GOAL_NAME:
            self.solution.set_efficacy_indicators(watts_before=0.0, watts_after=0.0)
        self.outcome = {"notes": notes}

    # --- steps -----------------------------------------------------------------------------
    def _base_settings(self, params: AuditParams) -> Settings:
        """The audit's settings before the signal, with the strategy's options; an option NaN or out of
        range (oslo.config's bounds let NaN through) raises ValueError naming it and its section."""
        option = self.config.get
        try:
            return params.settings(option("solver_workers", DEFAULTS.solve.workers),
                                   option("parallelism", DEFAULTS.plan.parallelism),
                                   option("per_host_parallelism", DEFAULTS.plan.per_host_parallelism),
                                   option("swap_payback_s", DEFAULTS.limits.swap_payback_s),
                                   option("migration_bandwidth_mb_s", DEFAULTS.plan.bandwidth_mb_s),
                                   option("migration_overhead_s", DEFAULTS.plan.migration_overhead_s),
                                   option("host_power_on_s", DEFAULTS.plan.power_on_s),
                                   option("host_power_off_s", DEFAULTS.plan.power_off_s))
        except ValueError as exc:
            raise ValueError(f"[watcher_strategies.{self.get_name()}] {exc}: fix it in the decision engine's "
                             "configuration (watcher-geyser.conf.sample documents each option)") from exc

    def _defer_and_plan(self, adapted: AdaptedFleet, decision: EnergyDecision, settings: Settings,
                        hold: Hold | None, metal: cloud.MetalInventory) -> Settled:
        """The deferral (with its notes) and the plan made with it (with its notes), settled together
        (``deferral.horizon.through_plan``): Watcher runs no audit while this plan is ONGOING, so
        an instance due before its expected end comes back in it, and none is shelved that could
        not wait that long. ``adapted.fleet`` is the fleet as it stands on entry; on return it is
        the one the last plan was made for."""
        now, clock_s = adapted.fleet, time.time()
        keep_on = frozenset(hold.held_on) if hold else frozenset()  # none emptied by shelving (``spare_hosts``)
        lead_s = self.config.get("deferral_lead_s", defaults.DEFERRAL_LEAD_S)
        timing = settings.plan.timing
        shelved: list[list[Shelved]] = []  # asked of Nova once per audit

        def decide(plan_s: float) -> tuple[FleetDeferral, list[str]]:
            round_notes: list[str] = []
            adapted.fleet = now
            deferral = self._defer(adapted, decision, round_notes, keep_on, clock_s, plan_s, lead_s, shelved)
            deferral = self._make_room(deferral, settings, hold, metal, round_notes, not adapted.groups_unknown)
            return deferral, round_notes

        def build(answer: tuple[FleetDeferral, list[str]]):
            # without the instances to shelve (the plan may empty their hosts), with those brought back held in place
            adapted.fleet = answer[0].fleet
            plan, target_notes = self._solve_and_plan(adapted, decision, settings)
            # the planner's action times: hosts switched on for instances brought back add a power-on
            switch_on_s = timing.power_on_s + timing.service_s if answer[0].switch_on else 0.0
            return (plan, target_notes), plan.duration_estimate_s + switch_on_s

        def changed(before, after) -> bool:
            return (set(before[0].shelve), set(before[0].resume)) != (set(after[0].shelve), set(after[0].resume))

        return through_plan(decide, build, changed)

    def _defer(self, adapted: AdaptedFleet, decision: EnergyDecision, notes: list[str],
               keep_on: frozenset[str] = frozenset(), now_s: float | None = None, plan_s: float = 0.0,
               lead_s: float = defaults.DEFERRAL_LEAD_S, shelved: list[list[Shelved]] | None = None) -> FleetDeferral:
        """Deferrable instances to shelve and to bring back (docs/design/deferral.md); never raises.

        Asks Nova for the instances geyser holds shelved at every audit (they are on no host,
        so not in Watcher's model; once per audit, kept in ``shelved``): deadlines are kept
        whatever the signal says, and those due before the end of a plan expected to take
        ``plan_s`` come back now. No host of ``keep_on`` is emptied by shelving.
        """
        try:
            shelved = [] if shelved is None else shelved
            if not shelved:
                shelved.append(with_groups(self.cloud.shelved_by_geyser(notes), adapted.member_groups))
            result = defer_in_fleet(adapted.fleet, shelved[0], decision.energy,
                                    time.time() if now_s is None else now_s, DeferralConfig(lead_s=lead_s), keep_on,
                                    plan_s)
        except Exception as exc:  # noqa: BLE001 - deferral is an extra; the audit goes on without it
            LOG.exception("%s: deferral failed", self.get_name())
            notes.append(f"no deferral this time ({type(exc).__name__}: {exc}): nothing shelved or brought back")
            return FleetDeferral(adapted.fleet)
        notes.extend(result.notes)
        return result

    def _make_room(self, deferral: FleetDeferral, settings: Settings, hold: Hold | None, metal: cloud.MetalInventory,
                   notes: list[str], groups_known: bool = True) -> FleetDeferral:
        """``deferral`` with a destination for each instance it brings back (``deferral.room``), under
        the packing limits the solver will use; hosts switched on for them only through the bare-metal
        service, and held off by the power-cycle budget only for a due instance. With the server groups
        unknown (``groups_known`` False), none gets a destination: Nova's scheduler, which knows their
        groups, places them (``room.with_room``). Never raises: on a failure, Nova's scheduler places
        them, as the note says."""
        if not deferral.resume:
            return deferral
        try:
            ceiling, cpu_ceiling = packing_ceilings(deferral.fleet, settings.limits)
            allow_power_on = settings.limits.allow_power_on and not metal.error
            held_off = frozenset(hold.held_off) if hold else frozenset()
            placed = with_room(deferral, ceiling, cpu_ceiling, allow_power_on, held_off, groups_known)
        except Exception as exc:  # noqa: BLE001 - the bring-backs go on, placed by Nova
            LOG.exception("%s: no room made for the instances brought back", self.get_name())
            notes.append(f"no destination for the instances brought back ({type(exc).__name__}: {exc}): "
                         "Nova's scheduler places them")
            return deferral
        notes.extend(placed.notes[len(deferral.notes):])
        return placed

    def _power_cycles(self, adapted: AdaptedFleet, metal: cloud.MetalInventory, notes: list[str]) -> Hold | None:
        """The power-cycle budget's hold (``pipeline.cycles``), counted on the power-offs Watcher
        executed in the last 24 h or will execute, and hosts Nova shows went off without Watcher
        (``strategies.cycles``); None when that history is unknown (then no
        host is switched off). Never raises. The hosts held off (or on) are named in the notes, so
        the plan says why they were left as they are."""
        budget = CycleBudget(self.config.get("max_power_cycles_per_day", defaults.MAX_POWER_CYCLES_PER_DAY))
        now_s = time.time()
        try:
            actions = self.cloud.power_actions(now_s - budget.window_s, now_s, notes)
            if actions is None:  # the history is unknown: a switch-off could be one too many
                return None
            fleet = adapted.fleet
            hosts_on = zip([h.name for h in fleet.hosts], fleet.powered.tolist())
            down = self.cloud.services_down_since(notes)
            hold = cycles.hold_from_history(budget, now_s, hosts_on, actions, metal.node_ids, down, notes)
        except Exception as exc:  # noqa: BLE001 - the audit goes on, without switching anything off
            LOG.exception("%s: power-cycle budget failed", self.get_name())
            notes.append(f"power cycles unknown ({type(exc).__name__}: {exc}): no host is switched off this time")
            return None
        notes.extend(hold.notes())
        return hold

    def _cpu_read(self, level: float) -> metrics.CpuRead:
        """The instance CPU read at a decision of scarcity ``level`` (1: the load now), with the strategy's
        options (``metrics.cpu_read``)."""
        option = self.config.get
        return metrics.cpu_read(level, option("cpu_period_s", opts.CPU_PERIOD_S),
                                option("cpu_aggregate", opts.CPU_AGGREGATE),
                                option("cpu_granularity_s", opts.CPU_GRANULARITY_S))

    def _source(self, params: AuditParams, metal: cloud.MetalInventory, notes: list[str],
                swap_payback_s: float) -> FleetSource:
        """The cloud looked up once for this audit; the fleet is built from it at the CPU read the decision asks for."""
        model = self.compute_model
        datasource = None
        if params.use_measured_cpu:
            try:
                # on Prometheus or Aetos, max asked as the peak over time (Watcher's is across series)
                datasource = prometheus_peak.with_peak(self.datasource_backend)
            except Exception as exc:  # noqa: BLE001
                notes.append(f"no datasource for instance CPU ({type(exc).__name__}: {exc}): every vcpu taken as busy")
        groups, why = self.cloud.server_groups()
        if why:
            notes.append(why)
        catalog, problem = opts.power_catalog(CONF)
        if problem:
            notes.append(problem)
        power_for = catalog.model_for
        if CONF[opts.POWER_GROUP].calibrate and datasource is not None:
            power_for = calibrated(catalog, datasource, list(model.get_all_compute_nodes().values()),
                                   metrics.CpuRead(self.config.get("cpu_period_s", opts.CPU_PERIOD_S), "mean",
                                                   self.config.get("cpu_granularity_s", opts.CPU_GRANULARITY_S)),
                                   notes)
        reasons = (self.config.get("disabled_reason", opts.DISABLED_REASON), *OUR_DISABLED_REASONS)
        tasks = self.cloud.tasks_in_flight(notes)  # pinned where they are: Nova refuses to migrate them now
        migrations = self.cloud.migrations_in_flight(notes)  # counted on both their hosts, as Nova counts them
        return FleetSource(model, power_for, datasource, self.cloud.host_zones(notes), metal.power_states, groups,
                           reasons, why is not None, tasks, migrations, self._settled(swap_payback_s, notes))

    def _settled(self, swap_payback_s: float, notes: list[str]) -> dict[str, float]:
        """Instance uuid -> seconds since a migration that ended within ``swap_payback_s`` moved it
        (``settled``): the swap pass leaves those where they are. Not asked when no swap is made."""
        if swap_payback_s <= 0:
            return {}
        now_s = time.time()
        settled = settled_seconds(self.cloud.migrations_finished(now_s - swap_payback_s, notes), now_s)
        if settled:
            LOG.info("%s: %d instance(s) moved in the last %.3g h stay out of swaps", self.get_name(), len(settled),
                     swap_payback_s / 3600)
        return settled

    def _solve_and_plan(self, adapted: AdaptedFleet, decision: EnergyDecision, settings: Settings):
        """(plan, notes) for ``settings`` (the decision's, under the power-cycle budget); on any
        failure an empty plan and the reason."""
        from watcher_geyser.pipeline import run
        from watcher_geyser.planner import Plan

        notes: list[str] = []
        try:
            if adapted.groups_unknown:  # server groups unknown: nothing moves, nothing is switched off
                settings = settings.with_plan(allow_power_off=False)
            result = run(adapted.fleet, settings)
            target = result.target
            for message in target.messages:
                LOG.info("%s: solver: %s", self.get_name(), message)
            notes.extend(m for m in decision.settings.notes + target.messages if _worth_noting(m))
            # which pass gave the answer: logged, not a note (a note is a nop in every plan, kept for
            # what the operator must act on; efficacy indicators are the goal's numbers)
            LOG.info("%s: solver %s, found by %s, in %.1f s, %d host(s) on, %.0f W; %s", self.get_name(),
                     target.status, target.found_by, target.solve_seconds, target.hosts_on, target.watts_w,
                     " ".join(result.plan.messages))
            notes.extend(result.plan.messages[1:])  # moves left undone, held affinity groups, impossible groups
            return result.plan, notes
        except Exception as exc:  # noqa: BLE001 - the audit must succeed with a safe (empty) plan
            LOG.exception("%s: solving failed", self.get_name())
            notes.append(f"no consolidation this time: {type(exc).__name__}: {exc}")
            return Plan(waves=[]), notes

    def _set_indicators(self, adapted: AdaptedFleet, decision: EnergyDecision, emitted: emit.Emitted) -> None:
        self.solution.set_efficacy_indicators(
            compute_nodes_count=emit.enabled_hosts(adapted.fleet),
            released_compute_nodes_count=emitted.released_hosts,
            instance_migrations_count=emitted.migrations,
        )


NOTEWORTHY = ("in time", "cannot", "stays above", "too slow for", "no consolidation", "internal:",
              "no host is switched off")


def _worth_noting(message: str) -> bool:
    """Solver messages the operator should see in the plan: limits hit, time out, budget missed."""
    text = message.lower()
    return any(word in text for word in NOTEWORTHY)


class GeyserConsolidation(_GeyserStrategy, base.ServerConsolidationBaseStrategy):
    """Geyser consolidation

    *Description*

    Packs instances onto as few compute hosts as capacity (with Placement's allocation
    ratios and a packing ceiling) allows, with an OR-Tools CP-SAT solver, and releases
    the emptied hosts: disabled, and switched off when ``power_off`` is set and Ironic or
    MAAS manages them. The ceiling and an optional power budget follow an
    energy-availability signal (``[geyser_signal]``) or the audit's parameters.

    *Requirements*

    The ``geyser`` planner (installed with this package) to keep the plan's order;
    optionally a datasource with ``instance_cpu_usage``; Ironic or MAAS for power actions.

    *Limitations*

    Instances in states other than active (live) or stopped (cold) stay where they are,
    as do locked and excluded ones and those with a Nova task in flight (migrating,
    resizing, rebuilding, ..: Nova's ``task_state``).
    """

    @classmethod
    def get_name(cls):
        return "geyser_consolidation"

    @classmethod
    def get_display_name(cls):
        return _("Geyser energy-aware consolidation")

    @classmethod
    def get_translatable_display_name(cls):
        return "Geyser energy-aware consolidation"


class GeyserEnergy(_GeyserStrategy):
    """Geyser energy budget

    *Description*

    The same consolidation as ``geyser_consolidation``, for the ``energy_budget`` goal: its
    efficacy indicators show the estimated watts before and after the plan and the budget,
    and emptied hosts are switched off by default.

    *Requirements*

    As ``geyser_consolidation``; Ironic or MAAS to switch hosts off.

    *Limitations*

    As ``geyser_consolidation``.
    """

    POWER_OFF_DEFAULT = True

    @classmethod
    def get_name(cls):
        return "geyser_energy"

    @classmethod
    def get_display_name(cls):
        return _("Geyser energy budget")

    @classmethod
    def get_translatable_display_name(cls):
        return "Geyser energy budget"

    @classmethod
    def get_goal_name(cls):
        return GOAL_NAME

    def _set_indicators(self, adapted: AdaptedFleet, decision: EnergyDecision, emitted: emit.Emitted) -> None:
        super()._set_indicators(adapted, decision, emitted)
        values = {"watts_before": round(emitted.watts_before_w, 1), "watts_after": round(emitted.watts_after_w, 1)}
        if decision.budget_w is not None:
            values["power_budget_w"] = round(decision.budget_w, 1)
        self.solution.set_efficacy_indicators(**values)
