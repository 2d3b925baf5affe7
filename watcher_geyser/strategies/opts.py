"""Configuration of the Watcher plugin: per-strategy options and the shared power models.

Watcher registers each strategy's ``get_config_opts()`` under
``[watcher_strategies.<strategy name>]`` when it loads the strategy. The host power
models are shared by both strategies and live in ``[geyser_power]``; the energy signal
has its own group ``[geyser_signal]`` (``watcher_geyser.signal.opts``). ``list_opts``
gathers all of them for oslo-config-generator (namespace ``watcher_geyser``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from oslo_config import cfg

from watcher_geyser import defaults
from watcher_geyser.pipeline import DEFAULTS
from watcher_geyser.signal import opts as signal_opts
from watcher_geyser.solver.payback import MIGRATION_J_PER_MB
from watcher_geyser.solver.problem import MAX_SWAP_PAYBACK_S
from watcher_geyser.strategies.action_names import NODE_POWER_ACTION
from watcher_geyser.strategies.polling import polls_for
from watcher_geyser.strategies.power_config import PowerCatalog, PowerConfigError

STRATEGY_NAMES = ("geyser_consolidation", "geyser_energy")
#: Defaults of strategy options the strategy reads (``self.config.get(name, default)``): written once here.
CPU_PERIOD_S = defaults.CPU_PERIOD_S  # the look-back of the simulator's CPU forecast, in seconds
CPU_AGGREGATE = defaults.CPU_AGGREGATE
CPU_AGGREGATES = ("max", "mean")
CPU_GRANULARITY_S = defaults.CPU_SAMPLE_S
DISABLED_REASON = "watcher_geyser"  # recorded on the compute services the plan disables
POWER_GROUP = "geyser_power"

power_group = cfg.OptGroup(
    POWER_GROUP,
    title="Host power models",
    help="Watts each compute host draws, which Watcher's model does not carry. A default linear model, "
    "overrides per host name or pattern, and optional calibration from the datasource's host_power metric.",
)

POWER_OPTS = [
    cfg.FloatOpt("default_idle_w", default=defaults.HOST_IDLE_W, min=0.0,
                 help="Watts of a host that is on and idle, for hosts no override matches."),
    cfg.FloatOpt("default_max_w", default=defaults.HOST_MAX_W, min=0.0,
                 help="Watts of a host at 100 % CPU, for hosts no override matches."),
    cfg.DictOpt("host_models", default={},
                help="Power model per host name or fnmatch pattern, first match wins: 'IDLE/MAX' watts for a "
                "linear model, or 11 space-separated watts at 0, 10, .., 100 % CPU (a SPECpower curve). Example: "
                "compute-gpu-*:300/900,compute-old-*:93.7 97 101 105 110 116 121 125 129 133 135"),
    cfg.BoolOpt("calibrate", default=False,
                help="Where the datasource offers host_power and host_cpu_usage, scale each host's model so that "
                "it passes through the measured watts (by a factor between 0.5 and 2)."),
]


@dataclass(frozen=True)
class Wait:
    """The two options of an action that waits on OpenStack, in ``[watcher_actions.<action>]``:
    ``poll_interval_s`` between looks and ``timeout_key``, how long it waits before failing."""

    action: str
    poll_s: float
    poll_help: str
    timeout_key: str
    timeout_s: float
    timeout_help: str

    @property
    def group(self) -> str:
        """Where Watcher's loader puts the action's options."""
        return f"watcher_actions.{self.action}"

    def opts(self) -> list[cfg.Opt]:
        return [
            cfg.FloatOpt("poll_interval_s", default=self.poll_s, min=MIN_POLL_S, help=self.poll_help),
            cfg.FloatOpt(self.timeout_key, default=self.timeout_s, min=MIN_TIMEOUT_S, help=self.timeout_help),
        ]

    def polls(self, config: Mapping[str, object]) -> tuple[int, float]:
        """(how many looks, seconds apart) from the options the loader handed the action: the
        first look at once, the last no earlier than the timeout."""
        poll_s = float(config.get("poll_interval_s", self.poll_s))
        timeout_s = float(config.get(self.timeout_key, self.timeout_s))
        return polls_for(timeout_s, poll_s), poll_s


#: The least a waiting action may be told: a look every 0.1 s, a wait of 1 s.
MIN_POLL_S, MIN_TIMEOUT_S = 0.1, 1.0
INSTANCE_STATE_ACTION = "geyser_instance_state"  # Watcher 17 cannot unshelve; see instance_state_action
UNSHELVE_WAIT = Wait(
    INSTANCE_STATE_ACTION, 5.0,
    "Seconds between two looks at an instance geyser unshelved, while waiting for it to be ACTIVE: each look "
    "is one GET /servers/<id> that Nova answers instead of working, so a real cloud's pace, not a test's.",
    "unshelve_timeout_s", 300.0,
    "Seconds to wait for an unshelved instance to be ACTIVE before the action is marked FAILED; its "
    "geyser:shelved_at mark stays, so a later audit may bring it back again.",
)
NODE_POWER_WAIT = Wait(
    NODE_POWER_ACTION, 10.0,
    "Seconds between two looks at a node being switched, while waiting for Ironic or MAAS to report its new "
    "power state and, after a power-on, for its nova-compute service to be up.",
    "power_timeout_s", 600.0,
    "Seconds to wait for each of those (the node's power state, then its nova-compute service) before the "
    "action is marked FAILED; a host that boots slowly (firmware, RAID checks) needs more.",
)
INSTANCE_STATE_GROUP = UNSHELVE_WAIT.group
NODE_POWER_GROUP = NODE_POWER_WAIT.group


def instance_state_opts() -> list[cfg.Opt]:
    """Options of ``[watcher_actions.geyser_instance_state]``, handed to the action by Watcher's loader."""
    return UNSHELVE_WAIT.opts()


def node_power_opts() -> list[cfg.Opt]:
    """Options of ``[watcher_actions.geyser_node_power]``, handed to the action by Watcher's loader."""
    return NODE_POWER_WAIT.opts()


#: What the migration figures affect and how to measure them, for the options and the audit parameters.
MIGRATION_BANDWIDTH_HELP = (
    "Live-migration speed, MB/s > 0, that times each migration (its memory over this, plus "
    "migration_overhead_s) for the plan's expected duration: the wave timing estimate, and the deferral's "
    "due-during-plan rule (Watcher runs no audit while a plan is ONGOING, so a shelved instance due before the "
    "plan is expected to end comes back in it; too high a speed makes the estimate short and such an "
    "instance late). Measure it on your cloud: Nova's migration records, memory_total / duration "
    "(1-10 GbE with dirty-page rounds often gives 100-1000 MB/s).")
MIGRATION_OVERHEAD_HELP = (
    "Seconds each migration takes besides copying memory (setup, the last dirty-page round, switch-over), "
    ">= 0, in the same estimate as migration_bandwidth_mb_s.")
POWER_ON_TIME_HELP = (
    "Seconds a host takes from the power-on request until its nova-compute service is up, >= 0, for the plan's "
    "expected duration: a wave that switches hosts on lasts this long, and instances brought back onto a host "
    "switched on wait for it; through the deferral's due-during-plan rule (as migration_bandwidth_mb_s) too short "
    "a figure brings a shelved instance back late. Bare metal through Ironic often takes 5-15 minutes: measure "
    "it from the Ironic node's power state change (openstack baremetal node show: power_state and updated_at, "
    "or the node's power-set events) plus the time until openstack compute service list shows the host up.")
POWER_OFF_TIME_HELP = (
    "Seconds a host takes to power off, >= 0: the length of the plan's wave that switches emptied hosts off, "
    "in the same estimate. Measure it from the Ironic node's power state change (power on -> power off).")


def strategy_opts() -> list[cfg.Opt]:
    """Options of ``[watcher_strategies.<name>]`` besides Watcher's own ``datasources``."""
    return [
        cfg.IntOpt("parallelism", default=DEFAULTS.plan.parallelism, min=1,
                   help="Migrations at once: each wave of the plan holds at most this many, and the next wave "
                   "starts when the previous one has finished."),
        cfg.IntOpt("per_host_parallelism", default=DEFAULTS.plan.per_host_parallelism, min=1,
                   help="Migrations touching one host (as source or destination) within one wave; keep it at "
                   "Nova's max_concurrent_live_migrations."),
        cfg.FloatOpt("migration_bandwidth_mb_s", default=DEFAULTS.plan.bandwidth_mb_s, min=0.0,
                     help=MIGRATION_BANDWIDTH_HELP + " An audit's migration_bandwidth_mb_s parameter overrides it."),
        cfg.FloatOpt("migration_overhead_s", default=DEFAULTS.plan.migration_overhead_s, min=0.0,
                     help=MIGRATION_OVERHEAD_HELP + " An audit's migration_overhead_s parameter overrides it."),
        cfg.FloatOpt("host_power_on_s", default=DEFAULTS.plan.power_on_s, min=0.0,
                     help=POWER_ON_TIME_HELP + " An audit's host_power_on_s parameter overrides it."),
        cfg.FloatOpt("host_power_off_s", default=DEFAULTS.plan.power_off_s, min=0.0,
                     help=POWER_OFF_TIME_HELP + " An audit's host_power_off_s parameter overrides it."),
        cfg.IntOpt("cpu_period_s", default=CPU_PERIOD_S, min=60,
                   help="Seconds of instance CPU samples read from the datasource (cpu_aggregate of them): by "
                   f"default the last {defaults.CPU_FORECAST_WINDOW} samples of {defaults.CPU_SAMPLE_S} s, the "
                   "look-back the simulator's geyser policy places on. While the energy signal is fully scarce the "
                   "read is the load now instead: the mean over one cpu_granularity_s. Also the window of the host "
                   "CPU and power means the power calibration reads."),
        cfg.StrOpt("cpu_aggregate", default=CPU_AGGREGATE, choices=CPU_AGGREGATES,
                   help="How the instance CPU samples of cpu_period_s are aggregated: max, the peak (what the "
                   "simulator measured), or mean. A datasource that refuses max (Watcher's Gnocchi helper takes "
                   "only the mean of instance CPU) is read with mean, and the plan's notes say so. Watcher's "
                   "Prometheus and Aetos helpers aggregate across series, not over time (their max is the mean "
                   "over cpu_period_s), so on those the strategy takes max itself from the samples, with the "
                   "helper's own client ([prometheus_client])."),
        cfg.IntOpt("cpu_granularity_s", default=CPU_GRANULARITY_S, min=1,
                   help="Granularity of the datasource queries, seconds: one CPU sample (on Prometheus and "
                   "Aetos, the length of each rate whose max is taken)."),
        cfg.IntOpt("solver_workers", default=DEFAULTS.solve.workers, min=1,
                   help="CP-SAT worker threads; the decision engine shares its host with other services."),
        cfg.FloatOpt("swap_payback_s", default=DEFAULTS.limits.swap_payback_s, min=0.0, max=MAX_SWAP_PAYBACK_S,
                     help="How long a placement is expected to stand, seconds: two instances of a flavour swap "
                     "hosts for a flatter power curve only when the watts saved over this long pay for both "
                     f"migrations (about {MIGRATION_J_PER_MB:g} J per MB copied). 0: no swaps. An audit's "
                     "swap_payback_s parameter overrides it."),
        cfg.IntOpt("max_power_cycles_per_day", default=defaults.MAX_POWER_CYCLES_PER_DAY, min=1,
                   help="Power cycles (a period on ended by a switch-off) a host may make in any 24 h, counted on "
                   "the power-off actions Watcher executed or will execute (approved plans) and on hosts Nova "
                   "shows went off without Watcher: a host with none left stays off until its oldest "
                   "switch-off of the window is 24 h old, and the plan names it."),
        cfg.FloatOpt("deferral_lead_s", default=defaults.DEFERRAL_LEAD_S, min=0.0,
                     help="Seconds before its latest safe start a shelved deferrable instance is brought back, "
                     "whatever the energy signal says: at least the audit interval plus the time an unshelve "
                     "takes. Watcher runs no audit while an action plan is ONGOING, so the plan an audit makes "
                     "adds its expected duration to this: an instance due before that plan ends comes back in "
                     "it, and none is shelved that could not wait this long, that plan and the rule's min_shelve_s."),
        cfg.StrOpt("disabled_reason", default=DISABLED_REASON,
                   help="Reason recorded on the compute services the plan disables. Hosts disabled with this "
                   "reason (or Watcher's watcher_disabled) and powered off may be switched back on."),
    ]


def register_power_opts(conf: cfg.ConfigOpts) -> None:
    signal_opts.register_fresh_group(conf, power_group, POWER_OPTS)


def power_catalog(conf: cfg.ConfigOpts) -> tuple[PowerCatalog, str | None]:
    """The ``[geyser_power]`` models, or the defaults and why when an override cannot be read."""
    register_power_opts(conf)
    group = conf[POWER_GROUP]
    try:
        return PowerCatalog.from_specs(group.default_idle_w, group.default_max_w, dict(group.host_models or {})), None
    except PowerConfigError as exc:
        fallback = PowerCatalog.from_specs(defaults.HOST_IDLE_W, defaults.HOST_MAX_W)
        return fallback, (f"[{POWER_GROUP}] {exc}; every host uses {defaults.HOST_IDLE_W:g}/{defaults.HOST_MAX_W:g} W "
                          "instead")


def list_opts() -> list[tuple[str | cfg.OptGroup, list[cfg.Opt]]]:
    """For oslo-config-generator: entry point ``oslo.config.opts`` = ``watcher_geyser``."""
    from watcher.decision_engine.strategy.strategies import base

    groups: list[tuple[str | cfg.OptGroup, list[cfg.Opt]]] = [(power_group, POWER_OPTS)]
    groups.extend(signal_opts.list_opts())
    for name in STRATEGY_NAMES:
        groups.append((f"watcher_strategies.{name}", base.BaseStrategy.get_config_opts() + strategy_opts()))
    groups.append((INSTANCE_STATE_GROUP, instance_state_opts()))
    groups.append((NODE_POWER_GROUP, node_power_opts()))
    return groups
