"""What the solver is asked (``Problem``) and what it answers (``Target``).

Both are solver-neutral plain data: the greedy heuristic and CP-SAT take the same
``Problem`` and return the same ``Target``, and the planner, the simulator and the
Watcher strategy read only these two types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from watcher_geyser import defaults
from watcher_geyser.fleet import RAM, Fleet
from watcher_geyser.solver.clock import validate_time_limit
from watcher_geyser.solver.limits import CpuCeiling, check_host_ceilings, relief_limits

UNLIMITED_CYCLES = 1 << 30  # switch-offs left of a host no budget limits
#: How reasons name the migration cap: the request's field (the audit parameter has the same name),
#: its value right after; ``geyser plan`` puts its own flag in its place.
MIGRATION_CAP = "max_migrations="
MAX_SWAP_PAYBACK_S = 30 * 86400.0  # a month: no CPU average holds longer (and it keeps the number finite)


def check_swap_payback_s(value: float) -> None:
    """``swap_payback_s`` is seconds in [0, ``MAX_SWAP_PAYBACK_S``] (0: no swaps), else ValueError."""
    if not 0 <= value <= MAX_SWAP_PAYBACK_S:
        raise ValueError(f"swap_payback_s is seconds in [0, {MAX_SWAP_PAYBACK_S:g}], got {value}")


@dataclass(frozen=True)
class Problem:
    """A consolidation request over one fleet snapshot.

    ``ceiling`` is the fraction of each host's schedulable vcpu/ram/disk that may be used
    after consolidation (1.0 packs to the allocation ratios; 0.8 leaves 20 % head-room).
    ``cpu_ceiling`` caps measured CPU use at that fraction of physical cores (by default
    100 %: consolidation never plans a host past its cores); None ignores measured CPU.
    ``power_budget_w`` is the watts the supply makes available now: a soft target, never a
    constraint. Answers rank first by the watts they draw above it, then by memory moved,
    migrations and watts (``solver/budget.py``): a scarce supply packs as hard as the ceiling
    allows, a plentiful one buys no watt savings with migrations. An unmet budget is named
    in ``Target.messages`` with the watts above it.
    ``max_migrations`` caps how many instances may change host.
    ``cpu_host_ceilings``, when set, gives each host its own packing ceiling (one fraction per
    host, in fleet order, each at most ``cpu_ceiling``): a host with a steadier load may be packed
    closer to its cores (``pipeline/margin.py``); ``cpu_ceiling`` stays the fleet's, and the relief
    ceiling is unchanged, so the dead band only widens. None: every host packs to ``cpu_ceiling``.
    ``cpu_relief_ceiling``, when set above ``cpu_ceiling``, is where a host's measured CPU
    makes it shed instances; between the two a host keeps what it has but receives nothing
    (a dead band, so that a host hovering at the packing ceiling is not churned).
    ``max_consolidation_moves`` caps only the instances moved off hosts that end empty:
    moves that relieve hosts above their limits are not counted (a per-step budget for
    consolidation that never blocks relief).
    ``allow_power_on`` lets the solver switch on hosts that are off now.
    ``relieve`` (on by default) makes relief come first: a host above its relief limit
    (``solver/limits.py``: ``ceiling`` for vcpu/RAM/disk, ``cpu_relief_ceiling`` or else
    ``cpu_ceiling`` for measured CPU) sheds instances onto hosts that are on, else onto hosts
    switched on for it, before any consolidation, and an instance whose home's cores are too
    slow for it moves to cores fast enough (``rules/cores.starved``); hosts it cannot relieve
    are named in ``Target.unrelieved`` with the reason. Relief moves count against ``max_migrations``,
    never against ``max_consolidation_moves``. False keeps the older rule (a hot host keeps
    what it holds unless the consolidation happens to shed it).
    ``watts_tolerance`` (a fraction, 0 by default) lets the second objective, memory moved,
    buy answers drawing up to that much more than the fewest watts found, never with more
    hosts on: an operator's trade of a little energy for fewer migrations.
    ``swap_payback_s``: how long the target is expected to stand; a heavy instance moves onto a
    cheaper core of load, or two instances of a flavour swap hosts where it alone does not fit, only
    when the watts saved over this long pay for the migrations (``solver/swap.py``);
    where the exact model runs, a move that neither frees nor relieves a host stays only when it
    pays back likewise (``solver/payback.py``). 0: no swaps, and no such moves.
    ``switch_offs_left`` names, per host, the switch-offs its power-cycle budget has left
    (``pipeline.cycles``); hosts not named are not limited. Among otherwise equal hosts
    (same idle watts per unit, same memory to move) relief switches on, and consolidation
    empties, the one with the most left, which spreads the wear; it never outranks watts,
    memory moved or migrations (the last term of the ranking, ``solver/budget.py``).
    ``time_limit_s`` must be finite and above 0.
    ``deterministic`` gives the same answer for the same input on every run and machine:
    one CP-SAT worker under a work limit derived from ``time_limit_s``, no stage stopped by
    the wall clock (see ``solver/clock.py`` for what it costs).
    """

    fleet: Fleet
    ceiling: float = defaults.ALLOCATION_CEILING
    cpu_ceiling: float | None = 1.0
    cpu_relief_ceiling: float | None = None
    cpu_host_ceilings: tuple[float, ...] | None = None
    power_budget_w: float | None = None
    max_migrations: int | None = None
    max_consolidation_moves: int | None = None
    allow_power_on: bool = True
    relieve: bool = True
    watts_tolerance: float = 0.0
    swap_payback_s: float = defaults.SWAP_PAYBACK_S
    switch_offs_left: Mapping[str, int] = field(default_factory=dict)
    time_limit_s: float = defaults.TIME_LIMIT_S
    seed: int = 0
    workers: int = defaults.SOLVER_WORKERS
    deterministic: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.ceiling <= 1:
            raise ValueError(f"ceiling is a fraction in (0, 1], got {self.ceiling}")
        if self.cpu_ceiling is not None and not 0 < self.cpu_ceiling <= 1:
            raise ValueError(f"cpu_ceiling is a fraction in (0, 1], got {self.cpu_ceiling}")
        if self.cpu_relief_ceiling is not None and (
            self.cpu_ceiling is None or not self.cpu_ceiling <= self.cpu_relief_ceiling
        ):
            raise ValueError(
                f"cpu_relief_ceiling needs a cpu_ceiling at or under it, got {self.cpu_relief_ceiling} "
                f"with cpu_ceiling {self.cpu_ceiling}"
            )
        if self.cpu_host_ceilings is not None:
            check_host_ceilings(self.cpu_host_ceilings, self.cpu_ceiling, len(self.fleet.hosts))
        if self.power_budget_w is not None and self.power_budget_w < 0:
            raise ValueError(f"power_budget_w must be >= 0, got {self.power_budget_w}")
        if self.max_migrations is not None and self.max_migrations < 0:
            raise ValueError(f"max_migrations must be >= 0, got {self.max_migrations}")
        if self.max_consolidation_moves is not None and self.max_consolidation_moves < 0:
            raise ValueError(f"max_consolidation_moves must be >= 0, got {self.max_consolidation_moves}")
        if not 0 <= self.watts_tolerance < 1:
            raise ValueError(f"watts_tolerance is a fraction in [0, 1), got {self.watts_tolerance}")
        check_swap_payback_s(self.swap_payback_s)
        if any(left < 0 for left in self.switch_offs_left.values()):
            raise ValueError("switch_offs_left counts switch-offs: each must be >= 0")
        validate_time_limit(self.time_limit_s)

    @property
    def eviction_cap(self) -> int | None:
        """The most instances that may leave hosts being emptied, under either cap."""
        caps = [c for c in (self.max_migrations, self.max_consolidation_moves) if c is not None]
        return min(caps) if caps else None

    @property
    def limits(self) -> np.ndarray:
        """float64[H, 3]: vcpu/ram/disk each host may hold after consolidation."""
        return self.fleet.capacity * self.ceiling

    @cached_property
    def cpu_packing(self) -> CpuCeiling:
        """The packing ceiling on measured CPU: ``cpu_host_ceilings`` (float64[H]) when set, else
        ``cpu_ceiling`` (one fraction for every host, or None)."""
        if self.cpu_host_ceilings is None:
            return self.cpu_ceiling
        return np.asarray(self.cpu_host_ceilings, dtype=np.float64)

    @property
    def cpu_limits(self) -> np.ndarray:
        """float64[H]: measured cores each host may carry (infinite when no cpu_ceiling)."""
        if self.cpu_packing is None:
            return np.full(len(self.fleet.hosts), np.inf)
        return self.fleet.physical_cores * self.cpu_packing

    @property
    def relief_limits(self) -> np.ndarray:
        """float64[H, 4]: vcpu/ram/disk/cpu-cores above which a host sheds instances."""
        return relief_limits(self.fleet, self.ceiling, self.cpu_packing, self.cpu_relief_ceiling)

    @cached_property  # ranked on every candidate answer: built once per problem
    def cycles_left(self) -> np.ndarray:
        """int64[H]: switch-offs each host has left; ``UNLIMITED_CYCLES`` for hosts not named."""
        names = self.switch_offs_left
        return np.array([names.get(h.name, UNLIMITED_CYCLES) for h in self.fleet.hosts], dtype=np.int64)

    @property
    def may_receive(self) -> np.ndarray:
        """bool[H]: hosts a moved instance may go to."""
        fleet = self.fleet
        return fleet.accepts & (fleet.powered | self.allow_power_on)


@dataclass(frozen=True)
class Bounds:
    """Proven lower bounds: no placement of this problem does better than these."""

    hosts: int
    watts_w: float
    migration_cost_mb: float


#: The portfolio's passes (``solver/portfolio.py``), as ``Target.found_by`` names the one whose answer
#: was kept: the current placement; relief alone; the greedy consolidation; the greedy answer fitted to
#: a plentiful supply with fewer moves (``budget.fit_to_supply``); CP-SAT's host selection and repack;
#: the exact CP-SAT model; ejection chains; polish; swaps; CP-SAT on neighbourhoods. An answer the
#: payback rule trims (``payback``) keeps the name of the pass that found it.
PASSES = (
    "current", "relief", "greedy", "supply_fit", "host_selection", "exact", "ejection", "polish", "swap",
    "neighbourhood",
)


@dataclass(frozen=True)
class Target:
    """A solver's answer: where every instance should be, its figures, and how good it is.

    Figures are recomputed from ``placement`` (never read back from a solver), so two
    back-ends are always compared on the same arithmetic.
    """

    problem: Problem
    placement: np.ndarray  # int64[V]: host index of each instance
    bounds: Bounds
    status: str  # who found it: OPTIMAL / FEASIBLE (CP-SAT), GREEDY, RELIEF (relief alone), CURRENT (nothing moves)
    solve_seconds: float
    cpsat_status: str = "NOT_RUN"  # CP-SAT's own status: OPTIMAL, FEASIBLE, UNKNOWN, SKIPPED, ..
    messages: tuple[str, ...] = field(default_factory=tuple)
    relieved: tuple[str, ...] = ()  # hosts brought under their relief limit by this answer
    unrelieved: dict[str, str] = field(default_factory=dict)  # host name -> why it stays above its relief limit
    # (or keeps instances its cores are too slow for: the reason starts with ``unrelieved.SLOW_CORES``)
    found_by: str = "current"  # the pass whose answer was kept, one of ``PASSES``

    @property
    def fleet(self) -> Fleet:
        return self.problem.fleet

    @property
    def moved(self) -> np.ndarray:
        """bool[V]: instances whose target host differs from their current one."""
        return self.placement != self.fleet.placement

    @property
    def migrations(self) -> int:
        return int(self.moved.sum())

    @property
    def memory_moved_mb(self) -> float:
        return float(self.fleet.demand[self.moved, RAM].sum())

    @property
    def hosts_on(self) -> int:
        return int(self.fleet.occupied(self.placement).sum())

    @property
    def watts_w(self) -> float:
        return self.fleet.watts(self.placement)

    @property
    def gap(self) -> float:
        """Relative distance of the answer's watts from the watts lower bound (0 = proven optimal)."""
        if self.watts_w <= 0:
            return 0.0
        return max(0.0, (self.watts_w - self.bounds.watts_w) / self.watts_w)
