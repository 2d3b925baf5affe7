"""A per-host power-cycle budget: at most ``max_per_day`` switch-offs in any 24 h window.

Why: switching a server off and on costs wear, boot energy and time, and an operator
wants a bound, not a tendency. The signal policy's dwell and dead band make changes rare;
this budget makes the bound hard. Each cycle (off, then on again) contains one switch-off,
so bounding switch-offs per host in any window of ``window_s`` bounds cycles there too.

How it is respected: the caller ``observe``\\ s which hosts are on at each decision; hosts
whose budget is spent go to ``Limits.keep_on`` when they are on (``pipeline.run`` anchors
one instance on each so the solver cannot empty it; relief may still move the others off)
and to ``Limits.keep_off`` when they are off (left out of the problem, so neither
consolidation nor relief switches them on; other hosts serve relief). Each stays as it is
until its oldest switch-off leaves the window.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from watcher_geyser import defaults

DAY_S = 86400.0


@dataclass
class PowerCycles:
    """Switch-off times per host name, observed at decision steps."""

    max_per_day: int = defaults.MAX_POWER_CYCLES_PER_DAY
    window_s: float = DAY_S
    offs: dict[str, list[float]] = field(default_factory=dict)
    was_on: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_per_day < 1:
            raise ValueError(f"max_per_day must be >= 1, got {self.max_per_day}")

    def observe(self, now_s: float, hosts_on: Iterable[tuple[str, bool]]) -> None:
        """Record the hosts' power state now; an on -> off change counts one switch-off."""
        for name, on in hosts_on:
            if self.was_on.get(name, False) and not on:
                self.offs.setdefault(name, []).append(float(now_s))
            self.was_on[name] = bool(on)

    def count(self, name: str, now_s: float) -> int:
        """Switch-offs of ``name`` within the window ending at ``now_s``."""
        start = now_s - self.window_s
        times = [t for t in self.offs.get(name, ()) if t > start]
        self.offs[name] = times
        return len(times)

    def spent(self, now_s: float) -> frozenset[str]:
        """Hosts that may not be switched off again now (their budget for the window is used)."""
        return frozenset(name for name in list(self.offs) if self.count(name, now_s) >= self.max_per_day)
