"""A per-host power-cycle budget: at most ``max_per_day`` power cycles per host in any 24 h window.

**What a cycle is.** One period on that ends in a switch-off (on -> off); the switch-on
that began the period belongs to the same cycle. A host's cycles in a window are therefore
its switch-offs there, which is what the simulator's accounting counts
(``simulator.metrics.power_cycles_per_day``: the worst host's switch-offs in any 24 h
window). Why count switch-offs rather than switch-ons: a switch-off is what ends a period
on whatever caused it, and a host switched off for the night and never switched on again
has still made one cycle of wear that day.

**The rule: a host is switched on only while it has a switch-off left**, i.e. while it made
fewer than ``max_per_day`` switch-offs in the last ``window_s``. That is enough, whatever
switches a host off (consolidation, relief emptying a host, shelving its last instance,
instances deleted or finishing, an operator): a host switched on at t0 with n <= max - 1
switch-offs in (t0 - W, t0] makes its next switch-off at some t1 > t0 with none in
between, so (t1 - W, t1] holds at most n + 1 <= max; a host on since the start of the
record has none before its first. So a switch-off never needs forbidding and no host is
kept on (burning energy) to protect the budget: the price is paid at the switch-on, where
a host with no switch-off left stays off until its oldest switch-off in the window leaves
it (``Limits.keep_off``: left out of the problem, so neither consolidation nor relief
switches it on, and relief says so when that leaves a host hot; the simulator's scheduler
for deferred work skips it too).

A host that is *on* with no switch-off left was switched on outside the rule (an operator,
or while the record could not be read), or its last switch-off is already planned (a shell
may count approved switch-offs before they happen). It is held on (``Limits.keep_on``: ``pipeline.run``
anchors one instance so the solver cannot empty it; relief may still move the others; and
when it is empty already, the plan neither disables nor switches it off, saying
"host X stays on: no switch-off left in 24 h (budget N)", ``planner.hostactions``).

**Where the record comes from.** Each shell hands in the switch-offs as they happened, so
nothing is kept between decisions but the record itself: the simulator its engine's log
(plus hosts that went off since the last record), the Watcher strategy the power-off
actions Watcher executed in the last ``window_s`` (``strategies.cycles``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from watcher_geyser import defaults
from watcher_geyser.names import listed
from watcher_geyser.pipeline.settings import Settings

DAY_S = 86400.0


@dataclass(frozen=True)
class Hold:
    """Hosts the budget holds now: ``held_off`` may not be switched on, ``held_on`` may not be
    switched off; each maps to the seconds until it is free again. ``left``: the switch-offs
    left of each host that made any in the window (hosts not named have the whole budget), so that the solver spends
    the cycles of the hosts with most left first (``Problem.switch_offs_left``)."""

    held_off: Mapping[str, float] = field(default_factory=dict)
    held_on: Mapping[str, float] = field(default_factory=dict)
    max_per_day: int = defaults.MAX_POWER_CYCLES_PER_DAY
    window_s: float = DAY_S
    left: Mapping[str, int] = field(default_factory=dict)

    def apply(self, settings: Settings) -> Settings:
        """``settings`` with the held hosts as ``keep_off``/``keep_on``, every host's switch-offs
        left, and a note naming the held ones."""
        if self.left:
            settings = settings.with_limits(switch_offs_left={**settings.limits.switch_offs_left, **self.left})
        if not self.held_off and not self.held_on:
            return settings
        held = settings.with_limits(keep_off=settings.limits.keep_off | frozenset(self.held_off),
                                    keep_on=settings.limits.keep_on | frozenset(self.held_on),
                                    cycle_budget=(self.max_per_day, self.window_s))
        return held.noted(*self.notes())

    def notes(self) -> tuple[str, ...]:
        """One line per kind of hold, naming the hosts and when each is free again."""
        budget = f"power-cycle budget ({self.max_per_day} switch-offs per host per {self.window_s / 3600:g} h)"
        out = []
        if self.held_off:
            out.append(f"{budget}: held off, not switched on: {_named(self.held_off)}")
        if self.held_on:
            out.append(f"{budget}: held on (no switch-off left, counting any already planned), not emptied: "
                       f"{_named(self.held_on)}")
        return tuple(out)


@dataclass(frozen=True)
class CycleBudget:
    """At most ``max_per_day`` switch-offs per host in any window of ``window_s`` (module doc)."""

    max_per_day: int = defaults.MAX_POWER_CYCLES_PER_DAY
    window_s: float = DAY_S

    def __post_init__(self) -> None:
        if self.max_per_day < 1:
            raise ValueError(f"max_per_day must be >= 1, got {self.max_per_day}")
        if not self.window_s > 0:
            raise ValueError(f"window_s must be > 0, got {self.window_s}")

    def recent(self, times_s: Iterable[float], now_s: float) -> list[float]:
        """The switch-offs of ``times_s`` within the window ending at ``now_s``, in order."""
        start = now_s - self.window_s
        return sorted(t for t in times_s if start < t <= now_s)

    def free_in_s(self, times_s: Iterable[float], now_s: float) -> float:
        """Seconds until a host with these switch-offs has one left (0: it has one now)."""
        recent = self.recent(times_s, now_s)
        if len(recent) < self.max_per_day:
            return 0.0
        return recent[len(recent) - self.max_per_day] + self.window_s - now_s

    def hold(self, now_s: float, hosts_on: Iterable[tuple[str, bool]],
             switch_offs: Mapping[str, Iterable[float]]) -> Hold:
        """The hosts held at ``now_s``: off ones with no switch-off left stay off, on ones with
        none left stay on. ``hosts_on``: (name, on now); ``switch_offs``: name -> times."""
        held_off: dict[str, float] = {}
        held_on: dict[str, float] = {}
        left: dict[str, int] = {}
        for name, on in hosts_on:
            times = switch_offs.get(name)
            recent = self.recent(times, now_s) if times else ()
            if not recent:
                continue  # the whole budget left: not named in ``left``
            left[name] = max(self.max_per_day - len(recent), 0)
            if len(recent) >= self.max_per_day:
                wait_s = recent[len(recent) - self.max_per_day] + self.window_s - now_s
                (held_on if on else held_off)[name] = wait_s
        return Hold(held_off, held_on, self.max_per_day, self.window_s, left)


def _named(hosts: Mapping[str, float]) -> str:
    """'h1 (3.2 h more), h2 (40 min more), ..'."""
    return listed([f"{name} ({_duration(s)} more)" for name, s in sorted(hosts.items())])


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{max(seconds, 0) / 60:.0f} min"
