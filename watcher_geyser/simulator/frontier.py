"""Trade-off frontiers: which signal-blind settings are best, and where a policy stands against them.

A point is (SLATAH, cost), both lower-is-better; cost is typically the energy drawn above the
supply (kWh). The frontier is the lower-left staircase of the points (Pareto-efficient ones,
sorted by SLATAH), joined by straight lines. ``frontier_at`` reads it at a given SLATAH:

* inside its SLATAH range: linear interpolation between the two neighbouring points;
* left of it (a SLATAH no blind setting reached): the leftmost point's cost. The true frontier
  there costs at least that much, so a ratio against it is conservative (``where="below"``);
* right of it: the rightmost point's cost. The true frontier there may cost less, so a ratio
  against it flatters the policy (``where="above"``): say so when reporting it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FrontierReading:
    cost: float
    where: str  # "inside", "below" (SLATAH under the frontier's range) or "above"


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The Pareto-efficient (SLATAH, cost) points, by increasing SLATAH and strictly decreasing cost."""
    front: list[tuple[float, float]] = []
    for x, y in sorted(points, key=lambda p: (p[0], p[1])):
        if not front or y < front[-1][1]:
            front.append((x, y))
    return front


def frontier_at(front: list[tuple[float, float]], slatah: float) -> FrontierReading:
    """The frontier's cost at ``slatah`` (see the module docstring for the ends)."""
    if not front:
        raise ValueError("an empty frontier has no value")
    xs = np.array([p[0] for p in front])
    ys = np.array([p[1] for p in front])
    if slatah < xs[0]:
        return FrontierReading(float(ys[0]), "below")
    if slatah > xs[-1]:
        return FrontierReading(float(ys[-1]), "above")
    return FrontierReading(float(np.interp(slatah, xs, ys)), "inside")


def correlation(a, b) -> float | None:
    """Pearson correlation of two equal-length series; None when either is constant."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])
