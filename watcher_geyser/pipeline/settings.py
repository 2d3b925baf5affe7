"""The request to the core as plain, frozen data: what limits, how to solve, how to plan.

Like a disruption budget in Karpenter, the request is built once (by a shell, from its
parameters and the signal's decision) and handed to ``pipeline.run``. Every default comes
from ``watcher_geyser.defaults``; argparse, the audit JSON schema and the oslo options read
these dataclasses' defaults rather than retyping numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from watcher_geyser import defaults
from watcher_geyser.planner.actions import Timing, check_migration_timing, check_power_timing
from watcher_geyser.solver import METHODS
from watcher_geyser.solver.problem import check_swap_payback_s


@dataclass(frozen=True)
class Limits:
    """What the target may look like.

    ``ceiling`` caps allocation (vcpu/RAM/disk against Placement's ratios): the operator's
    contract, never moved by the signal. ``cpu_ceiling`` caps CPU use (measured or
    forecast) as a fraction of physical cores; it is what the energy signal moves (see
    docs/design/signal-policy.md). None: the shell has no CPU measure, and the signal's
    ceiling then caps allocation instead. A host sheds instances once its CPU use passes
    ``relief_ceiling`` (``cpu_ceiling + relief_margin``, at most 1); between the two it
    keeps what it has but receives nothing. ``host_margin_k``, when set, lowers each host's
    packing ceiling to ``1 - its margin`` where that is lower (``pipeline/margin.py``: a host's
    margin from how smooth its load is; the signal sets it, None keeps one ceiling for every host).
    ``supply_w`` is the power available now (None: not known or not limited): the solver
    prices watts drawn above it. ``signal_ceiling_min``/``max`` bound what the signal may
    ask for. ``relieve``: hosts above their relief limit shed first (``Problem.relieve``).
    ``keep_on`` names hosts that must not be emptied and ``keep_off`` hosts that must not be
    switched on (their power-cycle budget for the day is spent; see ``pipeline.cycles``);
    ``switch_offs_left`` what each host's budget has left (hosts not named: not limited);
    ``cycle_budget`` that budget as (switch-offs per window, window in s), for the plan's notes on
    the hosts it keeps on (None: ``keep_on`` comes from elsewhere).
    ``swap_payback_s``: how long a placement is expected to stand, over which a swap must save
    what its two migrations cost (``Problem.swap_payback_s``; 0: no swaps).
    """

    ceiling: float = defaults.ALLOCATION_CEILING
    cpu_ceiling: float | None = defaults.CPU_CEILING
    relief_margin: float = defaults.RELIEF_MARGIN
    host_margin_k: float | None = None
    supply_w: float | None = None
    signal_ceiling_min: float = defaults.SIGNAL_CEILING_MIN
    signal_ceiling_max: float = defaults.SIGNAL_CEILING_MAX
    max_migrations: int | None = None
    max_consolidation_moves: int | None = None
    allow_power_on: bool = True
    relieve: bool = True
    watts_tolerance: float = 0.0
    swap_payback_s: float = defaults.SWAP_PAYBACK_S
    keep_on: frozenset[str] = frozenset()
    keep_off: frozenset[str] = frozenset()
    switch_offs_left: Mapping[str, int] = field(default_factory=dict)
    cycle_budget: tuple[int, float] | None = None

    def __post_init__(self) -> None:
        for name in ("ceiling", "signal_ceiling_min", "signal_ceiling_max"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} is a fraction in (0, 1], got {getattr(self, name)}")
        if self.cpu_ceiling is not None and not 0 < self.cpu_ceiling <= 1:
            raise ValueError(f"cpu_ceiling is a fraction in (0, 1], got {self.cpu_ceiling}")
        if not 0 <= self.relief_margin <= 1:
            raise ValueError(f"relief_margin is a fraction in [0, 1], got {self.relief_margin}")
        if self.host_margin_k is not None and not self.host_margin_k >= 0:
            raise ValueError(f"host_margin_k must be >= 0, got {self.host_margin_k}")
        if self.signal_ceiling_min > self.signal_ceiling_max:
            raise ValueError(
                f"signal_ceiling_min {self.signal_ceiling_min} is above signal_ceiling_max {self.signal_ceiling_max}"
            )
        if self.supply_w is not None and self.supply_w < 0:
            raise ValueError(f"supply_w must be >= 0, got {self.supply_w}")
        check_swap_payback_s(self.swap_payback_s)

    @property
    def relief_ceiling(self) -> float | None:
        """CPU use (fraction of cores) above which a host sheds instances; None without a CPU ceiling."""
        if self.cpu_ceiling is None:
            return None
        return min(1.0, self.cpu_ceiling + self.relief_margin)

    def keep_on_reasons(self) -> dict[str, str]:
        """Each host of ``keep_on`` -> why it stays on, for the plan's notes."""
        if self.cycle_budget is None:
            why = "held on (keep_on)"
        else:
            per_window, window_s = self.cycle_budget
            why = f"no switch-off left in {window_s / 3600:g} h (budget {per_window})"
        return dict.fromkeys(sorted(self.keep_on), why)

    def clamp_signal_ceiling(self, ceiling: float) -> float:
        return min(max(ceiling, self.signal_ceiling_min), self.signal_ceiling_max)


@dataclass(frozen=True)
class SolveSettings:
    """How the solver searches. ``deterministic``: the same answer on every run and machine."""

    time_limit_s: float = defaults.TIME_LIMIT_S
    method: str = "auto"
    seed: int = 0
    workers: int = defaults.SOLVER_WORKERS
    deterministic: bool = False

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}; got {self.method!r}")
        if not self.time_limit_s > 0:
            raise ValueError(f"time_limit_s must be > 0, got {self.time_limit_s}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")


@dataclass(frozen=True)
class PlanSettings:
    """How the moves are ordered. ``allow_power_off``: the plan switches off the hosts it empties.

    ``bandwidth_mb_s`` and ``migration_overhead_s`` time each migration for the plan's duration
    estimate (``timing``), which also says which shelved instances fall due before the plan ends
    (``deferral/horizon.py``): the operator's figures for their cloud (the strategy's
    ``migration_bandwidth_mb_s``/``migration_overhead_s``, ``geyser plan --bandwidth``/``--migration-overhead``).
    ``power_on_s`` and ``power_off_s`` time the waves that switch hosts on and off in the same
    estimate (the strategy's ``host_power_on_s``/``host_power_off_s``, ``geyser plan
    --power-on-time``/``--power-off-time``): bare metal through Ironic often takes 5-15 min to come up.
    """

    parallelism: int = defaults.PARALLELISM
    per_host_parallelism: int = defaults.PER_HOST_PARALLELISM
    allow_power_off: bool = False
    bandwidth_mb_s: float = defaults.BANDWIDTH_MB_S
    migration_overhead_s: float = defaults.MIGRATION_OVERHEAD_S
    power_on_s: float = defaults.POWER_ON_S
    power_off_s: float = defaults.POWER_OFF_S
    stage_on_emptied_hosts: bool = False

    def __post_init__(self) -> None:
        if self.parallelism < 1 or self.per_host_parallelism < 1:
            raise ValueError(
                f"parallelism and per_host_parallelism must be >= 1, got {self.parallelism} "
                f"and {self.per_host_parallelism}"
            )
        check_migration_timing(self.bandwidth_mb_s, self.migration_overhead_s)
        check_power_timing(self.power_on_s, self.power_off_s)

    @property
    def timing(self) -> Timing:
        """The planner's action times with this request's migration and power figures."""
        return Timing(self.bandwidth_mb_s, self.migration_overhead_s, self.power_on_s, self.power_off_s)


@dataclass(frozen=True)
class Settings:
    """One request: limits, solving, planning, and the notes on how they were chosen."""

    limits: Limits = field(default_factory=Limits)
    solve: SolveSettings = field(default_factory=SolveSettings)
    plan: PlanSettings = field(default_factory=PlanSettings)
    notes: tuple[str, ...] = ()

    def with_limits(self, **changes) -> Settings:
        return replace(self, limits=replace(self.limits, **changes))

    def with_solve(self, **changes) -> Settings:
        return replace(self, solve=replace(self.solve, **changes))

    def with_plan(self, **changes) -> Settings:
        return replace(self, plan=replace(self.plan, **changes))

    def noted(self, *notes: str) -> Settings:
        return replace(self, notes=self.notes + tuple(n for n in notes if n))


DEFAULTS = Settings()
