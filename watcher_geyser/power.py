"""Host power models: how many watts a powered-on host draws at a given CPU utilisation.

Two shapes are supported because operators have one or the other: a linear model from
idle and full-load watts (what a vendor sheet gives), and an 11-point curve at 0, 10, ..,
100 % CPU (what SPECpower publishes). Both answer ``watts(u)`` for u in [0, 1]; a host
that is switched off draws 0 W, which is the caller's business, not the model's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

CURVE_POINTS = 11


@dataclass(frozen=True)
class PowerModel:
    """Watts drawn by a powered-on host as a function of CPU utilisation in [0, 1].

    ``curve_w`` holds 11 points at 0 %, 10 %, .., 100 %, linearly interpolated; a linear
    model is the two-point special case, kept as such so that its slope is exact.
    """

    curve_w: tuple[float, ...]

    @classmethod
    def linear(cls, idle_w: float, max_w: float) -> PowerModel:
        if idle_w < 0 or max_w < idle_w:
            raise ValueError(f"power model needs 0 <= idle_w <= max_w, got idle_w={idle_w}, max_w={max_w}")
        return cls((float(idle_w), float(max_w)))

    @classmethod
    def curve(cls, curve_w: list[float] | tuple[float, ...]) -> PowerModel:
        points = tuple(float(p) for p in curve_w)
        if len(points) != CURVE_POINTS:
            raise ValueError(f"a power curve has {CURVE_POINTS} points (0, 10, .., 100 % CPU), got {len(points)}")
        if any(not np.isfinite(p) or p < 0 for p in points):
            raise ValueError("power curve points must be finite and >= 0 watts")
        if any(b < a for a, b in zip(points, points[1:])):
            raise ValueError("a power curve must not decrease with utilisation")
        return cls(points)

    @cached_property
    def _xs(self) -> np.ndarray:
        return np.linspace(0.0, 1.0, len(self.curve_w))

    @property
    def idle_w(self) -> float:
        return self.curve_w[0]

    @property
    def max_w(self) -> float:
        return self.curve_w[-1]

    @property
    def dynamic_w(self) -> float:
        """Watts between idle and full load: what a unit of utilisation costs on average."""
        return self.max_w - self.idle_w

    def watts(self, utilisation: float | np.ndarray) -> float | np.ndarray:
        """Watts at utilisation in [0, 1] (values outside are clipped: a host cannot exceed 100 %)."""
        u = np.clip(utilisation, 0.0, 1.0)
        result = np.interp(u, self._xs, self.curve_w)
        return float(result) if np.ndim(result) == 0 else result

    @cached_property
    def min_dynamic_slope_w(self) -> float:
        """The least (P(u) - idle) / u over the curve's points: idle + this * u never exceeds P(u)."""
        curve = np.asarray(self.curve_w)
        xs = np.linspace(0.0, 1.0, len(curve))[1:]
        return float(np.min((curve[1:] - curve[0]) / xs))

    def watts_per_unit_at_full_load(self) -> float:
        """Full-load watts; with capacity it ranks hosts by efficiency (watts per unit of work)."""
        return self.max_w

    def to_json(self) -> dict:
        if len(self.curve_w) == 2:
            return {"idle_w": self.idle_w, "max_w": self.max_w}
        return {"curve_w": list(self.curve_w)}


def fleet_watts(models: list[PowerModel], utilisation: np.ndarray, powered: np.ndarray) -> float:
    """Sum of host watts: each powered host at its utilisation, hosts that are off at 0 W."""
    total = 0.0
    for model, u, on in zip(models, utilisation, powered):
        if on:
            total += model.watts(float(u))
    return total
