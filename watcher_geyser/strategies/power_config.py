"""Host power models for a real cloud, where Watcher's model carries no power figures.

Operators describe their hosts once, in configuration; measurements refine it:

- a default model for every host (``default_idle_w`` / ``default_max_w``);
- overrides per host name or ``fnmatch`` pattern (``compute-gpu-*``), first match wins,
  each either linear (``"170/420"``: idle and full-load watts) or an 11-point
  SPECpower-style curve (``"93.7 97 101 105 110 116 121 125 129 133 135"``: watts at
  0, 10, .., 100 % CPU);
- where the datasource offers ``host_power`` and ``host_cpu_usage``, ``calibrate``
  scales a host's configured curve so that it passes through the measured point. The
  factor is bounded (``MAX_CALIBRATION``), so one noisy reading cannot invent a host
  twice as hungry as its data sheet.

Pure: no OpenStack imports; the oslo options that feed it live in ``strategies.opts``.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from watcher_geyser.defaults import HOST_IDLE_W, HOST_MAX_W
from watcher_geyser.power import CURVE_POINTS, PowerModel

MAX_CALIBRATION = 2.0  # a measured point may scale a configured curve by 1/2 .. 2 at most


class PowerConfigError(ValueError):
    """A power model spec that cannot be read; the message names the host pattern and the fix."""


def parse_model_spec(spec: str, where: str = "power model") -> PowerModel:
    """``"IDLE/MAX"`` (watts) or 11 space-separated watts at 0, 10, .., 100 % CPU."""
    text = spec.strip()
    try:
        if "/" in text:
            idle, _, peak = text.partition("/")
            return PowerModel.linear(float(idle), float(peak))
        points = [float(p) for p in text.replace(";", " ").split()]
        if len(points) == 2:
            return PowerModel.linear(points[0], points[1])
        return PowerModel.curve(points)
    except ValueError as exc:
        raise PowerConfigError(
            f"{where}: cannot read {spec!r} ({exc}); write 'IDLE_W/MAX_W' such as '{HOST_IDLE_W:g}/{HOST_MAX_W:g}', or "
            f"{CURVE_POINTS} space-separated watts at 0, 10, .., 100 % CPU"
        ) from None


@dataclass(frozen=True)
class PowerCatalog:
    """Which power model each host gets: the first matching override, else the default."""

    default: PowerModel = field(default_factory=lambda: PowerModel.linear(HOST_IDLE_W, HOST_MAX_W))
    overrides: tuple[tuple[str, PowerModel], ...] = ()

    @classmethod
    def from_specs(cls, default_idle_w: float, default_max_w: float,
                   overrides: Mapping[str, str] | Iterable[tuple[str, str]] | None = None) -> PowerCatalog:
        try:
            default = PowerModel.linear(default_idle_w, default_max_w)
        except ValueError as exc:
            raise PowerConfigError(f"default power model: {exc}") from None
        items = overrides.items() if isinstance(overrides, Mapping) else (overrides or ())
        parsed = tuple((pattern, parse_model_spec(spec, f"power model for {pattern!r}")) for pattern, spec in items)
        return cls(default, parsed)

    def model_for(self, hostname: str) -> PowerModel:
        for pattern, model in self.overrides:
            if pattern == hostname or fnmatch.fnmatchcase(hostname, pattern):
                return model
        return self.default


@dataclass(frozen=True)
class Calibration:
    """What calibrating one host did: the factor applied and the evidence."""

    host: str
    utilisation: float
    measured_w: float
    modelled_w: float
    factor: float
    clamped: bool


def calibrate(model: PowerModel, utilisation: float, measured_w: float,
              host: str = "") -> tuple[PowerModel, Calibration | None]:
    """Scale ``model`` so that it draws ``measured_w`` at ``utilisation`` (0..1).

    Returns the model unchanged (and no calibration) when the reading is unusable: not
    finite, not positive, or the model predicts 0 W there.
    """
    if not (math.isfinite(utilisation) and math.isfinite(measured_w)) or measured_w <= 0:
        return model, None
    modelled = float(model.watts(min(max(utilisation, 0.0), 1.0)))
    if modelled <= 0:
        return model, None
    raw = measured_w / modelled
    factor = min(max(raw, 1.0 / MAX_CALIBRATION), MAX_CALIBRATION)
    scaled = tuple(p * factor for p in model.curve_w)
    new = PowerModel(scaled)
    return new, Calibration(host, utilisation, measured_w, modelled, factor, clamped=factor != raw)
