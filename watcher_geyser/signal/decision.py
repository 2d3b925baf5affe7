"""The policy's inputs and outputs as plain data: ``PolicyConfig`` in, ``Decision`` out.

Kept apart from ``policy`` (the rule) so callers, the CLI and the oslo.config adapter can
use these types without the rule, and so each file holds one job.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from watcher_geyser import defaults
from watcher_geyser.inputs import iso
from watcher_geyser.signal.series import Unit


class Fallback(enum.StrEnum):
    """Which substitute value a decision used, when the signal itself could not be."""

    LAST_GOOD = "last_good"
    SAFE_DEFAULT = "safe_default"
    UNCONFIRMED = "unconfirmed"  # an implausibly low reading not yet confirmed (a sudden drop, under the dwell)


AGGREGATES = ("worst", "mean", "now")


@dataclass(frozen=True)
class PolicyConfig:
    """Thresholds and timings; defaults suit a fleet re-planned every 5 to 15 minutes."""

    relaxed_ceiling: float = defaults.RELAXED_CPU_CEILING  # CPU ceiling when energy is plentiful (head-room)
    neutral_ceiling: float = defaults.CPU_CEILING  # at mid scarcity: the signal-blind ceiling
    tight_ceiling: float = defaults.TIGHT_CPU_CEILING  # when scarce: beyond blind, packs harder than no signal
    relaxed_relief_margin: float = defaults.RELAXED_RELIEF_MARGIN  # plentiful: a host sheds at ceiling + this
    tight_relief_margin: float = defaults.TIGHT_RELIEF_MARGIN  # scarce: a host sheds at ceiling + this
    host_margin_k: float | None = defaults.HOST_MARGIN_K  # each host packs to at most 1 - its margin; None: no cap
    scarce_ratio: float = 1.0  # available power at or below this x what the fleet draws now: scarce
    plenty_ratio: float = 1.5  # at or above: plentiful
    scarce_fraction: float = 0.4  # without the fleet's draw: available at or below this x fleet peak: scarce
    plenty_fraction: float = 0.9  # without the fleet's draw: at or above: plentiful
    scarce_renewable_pct: float = 30.0
    plenty_renewable_pct: float = 70.0
    scarce_carbon_g_per_kwh: float = 350.0
    plenty_carbon_g_per_kwh: float = 150.0
    scarce_budget_fraction: float | None = None  # carbon/renewable units: budget at full scarcity, x fleet peak
    horizon_s: float = 900.0  # look-ahead: three 5-minute steps (an hour tightened while energy was free)
    aggregate: str = "worst"
    min_dwell_s: float = defaults.SIGNAL_MIN_DWELL_S
    dead_band: float = 0.1  # in availability position units (fraction of the scarce..plenty range)
    tighten_immediately: bool = False
    ttl_s: float = 900.0
    safe_ceiling: float | None = None  # None: relaxed_ceiling
    safe_budget_w: float | None = None  # None: no cap
    suspicious_fraction: float = 0.05  # watts under this x the fleet's draw (peak if unknown), or 0: confirm first

    def __post_init__(self) -> None:
        for name in ("relaxed_ceiling", "neutral_ceiling", "tight_ceiling"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"{name} is a fraction in (0, 1], got {value}")
        for name in ("relaxed_relief_margin", "tight_relief_margin"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} is a fraction in [0, 1], got {getattr(self, name)}")
        if self.host_margin_k is not None and not self.host_margin_k >= 0:
            raise ValueError(f"host_margin_k must be >= 0, got {self.host_margin_k}")
        if self.safe_ceiling is not None and not 0 < self.safe_ceiling <= 1:
            raise ValueError(f"safe_ceiling is a fraction in (0, 1], got {self.safe_ceiling}")
        pairs = (
            ("scarce_ratio", "plenty_ratio"),
            ("scarce_fraction", "plenty_fraction"),
            ("scarce_renewable_pct", "plenty_renewable_pct"),
            ("plenty_carbon_g_per_kwh", "scarce_carbon_g_per_kwh"),
        )
        for low, high in pairs:
            if not 0 <= getattr(self, low) < getattr(self, high):
                raise ValueError(f"need 0 <= {low} < {high}, got {getattr(self, low)} and {getattr(self, high)}")
        if self.scarce_budget_fraction is not None and not 0 <= self.scarce_budget_fraction <= 1:
            raise ValueError(f"scarce_budget_fraction is a fraction in [0, 1], got {self.scarce_budget_fraction}")
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}, got {self.aggregate!r}")
        for name in ("horizon_s", "min_dwell_s", "ttl_s", "dead_band"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.suspicious_fraction < 1:
            raise ValueError(f"suspicious_fraction is a fraction in [0, 1), got {self.suspicious_fraction}")
        if self.safe_budget_w is not None and self.safe_budget_w < 0:
            raise ValueError(f"safe_budget_w must be >= 0, got {self.safe_budget_w}")

    def ceiling_at(self, level: float) -> float:
        """The ceiling at scarcity ``level`` (0 plenty .. 1 scarce): piecewise linear through
        ``relaxed_ceiling`` (0), ``neutral_ceiling`` (0.5, the signal-blind ceiling) and
        ``tight_ceiling`` (1), so a signal halfway between plenty and scarcity asks what no
        signal asks, and each end reaches beyond it."""
        if level <= 0.5:
            return self.relaxed_ceiling + 2 * level * (self.neutral_ceiling - self.relaxed_ceiling)
        return self.neutral_ceiling + (2 * level - 1) * (self.tight_ceiling - self.neutral_ceiling)

    def relief_margin_at(self, level: float) -> float:
        """The relief margin at scarcity ``level``: linear from ``relaxed_relief_margin`` (0) to
        ``tight_relief_margin`` (1). A small margin while energy is free sheds early (head-room
        bought with free watts); a larger one while it is scarce keeps hosts full."""
        return self.relaxed_relief_margin + level * (self.tight_relief_margin - self.relaxed_relief_margin)

    @property
    def safe_ceiling_value(self) -> float:
        return self.relaxed_ceiling if self.safe_ceiling is None else self.safe_ceiling


@dataclass(frozen=True)
class Decision:
    """What to ask of the solver now, with the evidence for it.

    ``budget_w`` None means no power cap. ``allow_power_off`` is False whenever the
    caller must not switch hosts off (plentiful energy, or any ``fallback``: the last good
    value, the safe default, an unconfirmed implausibly low reading): the Watcher strategy
    then emits no power-off action and the simulator keeps hosts on. Nothing may be shelved
    either while ``fallback`` is set. ``consolidate`` is True when energy is not plentiful (level > 0).
    """

    at_s: float
    budget_w: float | None
    ceiling: float
    level: float  # scarcity, 0 plenty .. 1 scarce
    consolidate: bool
    allow_power_off: bool
    value: float | None  # the value decided on (aggregate over the horizon)
    value_now: float | None  # the series' value at ``at_s``
    unit: Unit | None
    source: str
    fallback: Fallback | None
    held: bool  # hysteresis kept the previous decision
    reason: str
    proposed_budget_w: float | None = None  # what the signal alone asked for (differs when held)
    proposed_ceiling: float | None = None
    relief_margin: float | None = None  # CPU relief above the ceiling (None: the caller's own margin)
    host_margin_k: float | None = None  # per-host margin factor (pipeline/margin.py); None: one ceiling for all
    notes: tuple[str, ...] = field(default_factory=tuple)

    def problem_kwargs(self) -> dict[str, float | None]:
        """``Problem(fleet, **decision.problem_kwargs())``."""
        return {"power_budget_w": self.budget_w, "ceiling": self.ceiling}

    def to_dict(self) -> dict:
        return {
            "at": iso(self.at_s),
            "source": self.source,
            "value": self.value,
            "value_now": self.value_now,
            "unit": self.unit.value if self.unit else None,
            "unit_symbol": self.unit.symbol if self.unit else None,
            "power_budget_w": self.budget_w,
            "ceiling": self.ceiling,
            "level": self.level,
            "consolidate": self.consolidate,
            "allow_power_off": self.allow_power_off,
            "fallback": self.fallback.value if self.fallback else None,
            "held": self.held,
            "reason": self.reason,
            "proposed_power_budget_w": self.proposed_budget_w,
            "proposed_ceiling": self.proposed_ceiling,
            "relief_margin": self.relief_margin,
            "host_margin_k": self.host_margin_k,
            "notes": list(self.notes),
        }
