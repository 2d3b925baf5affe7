"""Audit parameters of our strategies: the JSON schema Watcher's API validates, and their reading.

Watcher's API checks every audit's parameters against ``schema()`` (unknown names, wrong
types and out-of-range values get HTTP 400) and fills in the defaults, so the strategy
always receives every parameter. What one JSON schema cannot say (``ceiling_min`` not
above ``ceiling_max``) is checked in ``AuditParams.from_input``, which then keeps the
safe reading and says so instead of failing the audit.
"""

from __future__ import annotations

from dataclasses import dataclass

from watcher_geyser.pipeline import DEFAULTS, Limits, PlanSettings, Settings, SolveSettings
from watcher_geyser.planner.actions import check_migration_timing, check_power_timing
from watcher_geyser.solver.problem import MAX_SWAP_PAYBACK_S
from watcher_geyser.strategies.opts import (
    MIGRATION_BANDWIDTH_HELP,
    MIGRATION_OVERHEAD_HELP,
    POWER_OFF_TIME_HELP,
    POWER_ON_TIME_HELP,
)

LIM, SOL, PLAN = DEFAULTS.limits, DEFAULTS.solve, DEFAULTS.plan


def schema(power_off_default: bool) -> dict:
    """The audit parameters; ``power_off_default`` differs between the two strategies."""
    nullable_fraction = {"type": ["number", "null"], "exclusiveMinimum": True, "minimum": 0, "maximum": 1}
    return {
        "properties": {
            "time_limit_s": {
                "description": "Seconds the solver may search; it returns its best placement so far when time is up.",
                "type": "number", "minimum": 0.1, "maximum": 600, "default": SOL.time_limit_s,
            },
            "ceiling_min": {
                "description": "Lowest CPU ceiling (fraction of each host's physical cores that CPU use may fill) "
                "the energy signal may ask for.",
                "type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": 1,
                "default": LIM.signal_ceiling_min,
            },
            "ceiling_max": {
                "description": "Highest CPU ceiling the energy signal may ask for (1.0: a host's CPU use may "
                "reach all its cores when energy is scarce).",
                "type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": 1,
                "default": LIM.signal_ceiling_max,
            },
            "ceiling": dict(nullable_fraction, default=None, description=(
                "Allocation ceiling: fraction of each host's schedulable vcpu/RAM/disk (Placement's allocation "
                f"ratios included) usable after consolidation; the signal never moves it. null: {LIM.ceiling:g}.")),
            "cpu_ceiling": dict(nullable_fraction, default=None, description=(
                "CPU ceiling for this audit, overriding the signal's: measured CPU use may fill this fraction of "
                f"each host's physical cores. null: the signal decides (no signal: {LIM.cpu_ceiling:g}).")),
            "power_budget_w": {
                "description": "Power available to the fleet in watts, overriding the signal's; the solver prices "
                "watts above it. null: the signal decides (no signal: no limit).",
                "type": ["number", "null"], "minimum": 0, "default": None,
            },
            "signal_source": {
                "description": "Name of the energy signal source for this audit, one the operator configured in "
                "[geyser_signal] named_sources ('default': [geyser_signal] source). Empty: the configured source. "
                "A URL or a file path is refused: an audit cannot point the decision engine anywhere else.",
                "type": "string", "default": "", "pattern": "^[A-Za-z0-9_.-]{0,64}$",
            },
            "max_migrations": {
                "description": "Most instances this audit may move. null: no cap.",
                "type": ["integer", "null"], "minimum": 0, "default": None,
            },
            "watts_tolerance": {
                "description": "Fraction of the fewest watts found that may be given up for less memory to "
                "move (never for more hosts on). 0: watts strictly first.",
                "type": "number", "minimum": 0, "maximum": 0.2, "default": LIM.watts_tolerance,
            },
            "swap_payback_s": {
                "description": "How long the placement is expected to stand, seconds: two instances swap hosts "
                "for a flatter power curve only when the watts saved over this long pay for both migrations. "
                "0: no swaps. null: the strategy's swap_payback_s option "
                f"([watcher_strategies.<strategy>], default {LIM.swap_payback_s:g}).",
                "type": ["number", "null"], "minimum": 0, "maximum": MAX_SWAP_PAYBACK_S, "default": None,
            },
            "migration_bandwidth_mb_s": {
                "description": MIGRATION_BANDWIDTH_HELP + " null: the strategy's migration_bandwidth_mb_s option "
                f"([watcher_strategies.<strategy>], default {PLAN.bandwidth_mb_s:g}).",
                "type": ["number", "null"], "exclusiveMinimum": True, "minimum": 0, "default": None,
            },
            "migration_overhead_s": {
                "description": MIGRATION_OVERHEAD_HELP + " null: the strategy's migration_overhead_s option "
                f"(default {PLAN.migration_overhead_s:g}).",
                "type": ["number", "null"], "minimum": 0, "default": None,
            },
            "host_power_on_s": {
                "description": POWER_ON_TIME_HELP + " null: the strategy's host_power_on_s option "
                f"(default {PLAN.power_on_s:g}).",
                "type": ["number", "null"], "minimum": 0, "default": None,
            },
            "host_power_off_s": {
                "description": POWER_OFF_TIME_HELP + " null: the strategy's host_power_off_s option "
                f"(default {PLAN.power_off_s:g}).",
                "type": ["number", "null"], "minimum": 0, "default": None,
            },
            "deterministic": {
                "description": "Same cluster data, same plan on every audit: one solver worker under a work "
                "limit derived from time_limit_s instead of a time limit (slower to improve).",
                "type": "boolean", "default": SOL.deterministic,
            },
            "power_off": {
                "description": "Switch emptied hosts off (needs Ironic or MAAS); false only disables them.",
                "type": "boolean", "default": power_off_default,
            },
            "allow_power_on": {
                "description": "Let the plan switch hosts on that we switched off earlier, when it needs room.",
                "type": "boolean", "default": LIM.allow_power_on,
            },
            "use_measured_cpu": {
                "description": "Read instance CPU use from the datasource for the power estimate and cpu_ceiling; "
                "false assumes every vcpu busy.",
                "type": "boolean", "default": True,
            },
        },
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class AuditParams:
    """The parameters as one typed value, with the notes about anything adjusted."""

    time_limit_s: float = SOL.time_limit_s
    ceiling_min: float = LIM.signal_ceiling_min
    ceiling_max: float = LIM.signal_ceiling_max
    ceiling: float | None = None
    cpu_ceiling: float | None = None
    power_budget_w: float | None = None
    signal_source: str = ""
    max_migrations: int | None = None
    watts_tolerance: float = LIM.watts_tolerance
    swap_payback_s: float | None = None
    migration_bandwidth_mb_s: float | None = None
    migration_overhead_s: float | None = None
    host_power_on_s: float | None = None
    host_power_off_s: float | None = None
    deterministic: bool = SOL.deterministic
    power_off: bool = False
    allow_power_on: bool = LIM.allow_power_on
    use_measured_cpu: bool = True
    notes: tuple[str, ...] = ()

    @classmethod
    def from_input(cls, params) -> AuditParams:
        """From Watcher's ``input_parameters`` (a dict-like ``Struct``), defaults already filled."""
        get = params.get if hasattr(params, "get") else lambda k, d=None: getattr(params, k, d)
        names = [f for f in cls.__dataclass_fields__ if f != "notes"]
        values = {n: get(n, getattr(cls, n)) for n in names}
        notes = []
        if values["ceiling_min"] > values["ceiling_max"]:
            notes.append(
                f"ceiling_min {values['ceiling_min']} is above ceiling_max {values['ceiling_max']}: "
                f"both taken as {values['ceiling_max']}"
            )
            values["ceiling_min"] = values["ceiling_max"]
        values["signal_source"] = (values["signal_source"] or "").strip()
        checks = {"migration_bandwidth_mb_s": lambda v: check_migration_timing(v, 0.0),
                  "migration_overhead_s": lambda v: check_migration_timing(PLAN.bandwidth_mb_s, v),
                  "host_power_on_s": lambda v: check_power_timing(v, 0.0),
                  "host_power_off_s": lambda v: check_power_timing(0.0, v)}
        for name, check in checks.items():
            if values[name] is None:
                continue
            try:  # NaN passes the schema's bounds (every comparison with it is false)
                check(values[name])
            except ValueError as exc:
                notes.append(f"{exc}: the strategy's {name} option used instead")
                values[name] = None
        return cls(**values, notes=tuple(notes))

    def clamp_ceiling(self, ceiling: float) -> float:
        return min(max(ceiling, self.ceiling_min), self.ceiling_max)

    def settings(self, workers: int, parallelism: int, per_host_parallelism: int,
                 swap_payback_s: float = LIM.swap_payback_s, migration_bandwidth_mb_s: float = PLAN.bandwidth_mb_s,
                 migration_overhead_s: float = PLAN.migration_overhead_s, host_power_on_s: float = PLAN.power_on_s,
                 host_power_off_s: float = PLAN.power_off_s) -> Settings:
        """The pipeline's settings for this audit, before the energy signal; the arguments are the
        strategy's options (``swap_payback_s``, the migration figures and the hosts' power-on/off times
        unless the audit sets its own; a bad option raises ValueError naming it).

        Without measured CPU (``use_measured_cpu`` false) there is no CPU ceiling: every
        vcpu is taken as busy, and the signal's ceiling then caps allocation.
        """
        cpu_ceiling = None
        if self.use_measured_cpu:
            cpu_ceiling = LIM.cpu_ceiling if self.cpu_ceiling is None else self.cpu_ceiling
        return Settings(
            Limits(
                ceiling=LIM.ceiling if self.ceiling is None else self.ceiling,
                cpu_ceiling=cpu_ceiling,
                supply_w=self.power_budget_w,
                signal_ceiling_min=self.ceiling_min,
                signal_ceiling_max=self.ceiling_max,
                max_migrations=self.max_migrations,
                allow_power_on=self.allow_power_on,
                watts_tolerance=self.watts_tolerance,
                swap_payback_s=swap_payback_s if self.swap_payback_s is None else self.swap_payback_s,
            ),
            SolveSettings(time_limit_s=self.time_limit_s, workers=workers, deterministic=self.deterministic),
            PlanSettings(parallelism=parallelism, per_host_parallelism=per_host_parallelism,
                         allow_power_off=self.power_off,
                         bandwidth_mb_s=_either(self.migration_bandwidth_mb_s, migration_bandwidth_mb_s),
                         migration_overhead_s=_either(self.migration_overhead_s, migration_overhead_s),
                         power_on_s=_either(self.host_power_on_s, host_power_on_s),
                         power_off_s=_either(self.host_power_off_s, host_power_off_s)),
        )


def _either(audit: float | None, option: float) -> float:
    """The audit's value, else the strategy option's."""
    return option if audit is None else audit
