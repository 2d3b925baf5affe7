"""The sunny window, shared: what the forecast surplus can hold of the deferrable work, and what waiting buys.

Every shelved instance, and every running one the rule could shelve, wants the same thing: to
run while the supply covers it. The surplus a forecast step offers is the supply over the
fleet's draw *without* the deferrable work that may wait (``base_w``: instances too near their
deadline to be shelved run on through the window, so they stay in it); at ``unit_w`` an instance it holds a
number of them. The instances take it in turn, in the order the rule brings them back (nearest
latest safe start first): the k-th is promised the earliest time the forecast holds the base
and k instances, so the surplus promised at any time never exceeds the surplus forecast then
(``Window.promise``). Checking each instance against the forecast on its own would let every one
of them count on the same watts.

What waiting buys (``Window.gain_s``): an instance shelved now runs later, from its promised
time (or, when the forecast promises it nothing in time, from its latest safe start: its
deadline brings it back). With the running time its remaining work needs (``runtime_s``, when
known), the covered time of that later run is weighed against running now; shelving pays only
when the later run is covered longer. Resumed at its deadline in the dark, an instance whose
work reaches into the next sunny window still gains (its dark hours move to the window); one
whose work ends in the dark moves work from one dark hour to another, and is left running.

Pure: imports nothing from OpenStack.
"""

from __future__ import annotations

from dataclasses import dataclass

from watcher_geyser.deferral.energy import Forecast


@dataclass(frozen=True)
class Window:
    """The forecast surplus over the fleet's draw without deferrable work, in instances."""

    forecast: Forecast
    base_w: float  # what the fleet draws without the deferrable instances that may wait
    unit_w: float  # what one instance costs

    @classmethod
    def of(cls, forecast: Forecast, need_w: float, unit_w: float, may_wait: int) -> Window:
        """The window seen from now: ``need_w`` drawn with ``may_wait`` running instances that could be shelved."""
        return cls(forecast, max(need_w - may_wait * unit_w, 0.0), unit_w)

    def need_w(self, instances: int) -> float:
        """Watts the supply must give to cover the base and ``instances`` deferrable instances."""
        return self.base_w + instances * self.unit_w

    def promise(self, rank: int, from_s: float, latest_s: float) -> float | None:
        """When the ``rank``-th instance in turn may run covered: the earliest time in ``[from_s,
        latest_s]`` the forecast holds the base, it and every instance before it; None if never."""
        return self.forecast.first_covered(from_s, latest_s, self.need_w(rank))

    def gain_s(self, rank: int, now_s: float, resume_s: float, runtime_s: float) -> float:
        """Covered running time bought by waiting: the run from ``resume_s`` against the run from now,
        each ``runtime_s`` long, covered where the forecast holds the base and ``rank`` instances."""
        need_w = self.need_w(rank)
        return (self.forecast.covered_s(resume_s, resume_s + runtime_s, need_w)
                - self.forecast.covered_s(now_s, now_s + runtime_s, need_w))
