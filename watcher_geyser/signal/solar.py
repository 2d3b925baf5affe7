"""Clear-sky photovoltaic production for simulations: a realistic day-night supply, offline.

pvlib computes the sun's position, the clear-sky irradiance (Ineichen with the Linke
turbidity climatology shipped inside pvlib, or simplified Solis, or Haurwitz; none
downloads anything), the irradiance on a tilted array (isotropic sky), the cell
temperature (SAPM open-rack model at a fixed air temperature and wind) and the DC power
(PVWatts), less system losses and clipped at the inverter's rating. The result is an upper
envelope of a real day: clouds only lower it.

pvlib is imported on first use (it takes about a second), so commands that never touch
solar do not pay for it. For the simulator, ``solar_series`` computes a whole period once;
``SolarSource.read`` caches three days around ``now`` and reuses them.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from watcher_geyser.signal.series import Series, SignalError, Unit

MODELS = ("ineichen", "simplified_solis", "haurwitz")
DAY_S = 86400.0


@dataclass(frozen=True)
class SolarSite:
    """A PV array: where it is, how it faces, how big it is (``peak_w`` DC at 1000 W/m2, 25 C)."""

    latitude: float
    longitude: float
    peak_w: float
    altitude_m: float = 0.0
    tilt_deg: float = 30.0
    azimuth_deg: float = 180.0  # 180 faces south
    losses: float = 0.14  # wiring, soiling, mismatch, inverter: PVWatts' default
    inverter_w: float | None = None  # AC rating; None: peak_w
    air_temp_c: float = 20.0
    wind_m_s: float = 1.0
    model: str = "ineichen"

    def __post_init__(self) -> None:
        checks = (
            (-90 <= self.latitude <= 90, f"latitude must be in [-90, 90], got {self.latitude}"),
            (-180 <= self.longitude <= 180, f"longitude must be in [-180, 180], got {self.longitude}"),
            (self.peak_w > 0 and math.isfinite(self.peak_w), f"peak_w must be > 0, got {self.peak_w}"),
            (-500 <= self.altitude_m <= 9000, f"altitude_m must be in [-500, 9000], got {self.altitude_m}"),
            (0 <= self.tilt_deg <= 90, f"tilt_deg must be in [0, 90], got {self.tilt_deg}"),
            (0 <= self.azimuth_deg <= 360, f"azimuth_deg must be in [0, 360], got {self.azimuth_deg}"),
            (0 <= self.losses < 1, f"losses is a fraction in [0, 1), got {self.losses}"),
            (self.model in MODELS, f"model must be one of {', '.join(MODELS)}, got {self.model!r}"),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        if self.inverter_w is not None and not self.inverter_w > 0:
            raise ValueError(f"inverter_w must be > 0, got {self.inverter_w}")


def solar_watts(site: SolarSite, times_s: np.ndarray) -> np.ndarray:
    """float64[N]: clear-sky AC watts of ``site`` at each epoch second in ``times_s``."""
    try:
        import pandas as pd
        import pvlib
    except ImportError as exc:
        raise SignalError(f"the solar source needs pvlib ({exc}); install watcher-geyser[sim]") from None
    with warnings.catch_warnings():  # pvlib's use of deprecated pandas names is not ours to report
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return _solar_watts(site, times_s, pd, pvlib)


def _solar_watts(site: SolarSite, times_s: np.ndarray, pd, pvlib) -> np.ndarray:
    times = pd.DatetimeIndex(pd.to_datetime(np.asarray(times_s, dtype=np.float64), unit="s", utc=True))
    location = pvlib.location.Location(site.latitude, site.longitude, altitude=site.altitude_m)
    position = location.get_solarposition(times)
    clear = location.get_clearsky(times, model=site.model, solar_position=position)
    if "dni" not in clear:  # Haurwitz gives only GHI: split it into beam and diffuse (Erbs)
        split = pvlib.irradiance.erbs(clear["ghi"], position["zenith"], times)
        clear = clear.assign(dni=split["dni"], dhi=split["dhi"])
    poa = pvlib.irradiance.get_total_irradiance(
        site.tilt_deg,
        site.azimuth_deg,
        position["apparent_zenith"],
        position["azimuth"],
        clear["dni"],
        clear["ghi"],
        clear["dhi"],
    )["poa_global"]
    params = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["open_rack_glass_glass"]
    temp_cell = pvlib.temperature.sapm_cell(poa, site.air_temp_c, site.wind_m_s, **params)
    dc_w = pvlib.pvsystem.pvwatts_dc(poa, temp_cell, pdc0=site.peak_w, gamma_pdc=-0.004)
    ac_w = np.nan_to_num(np.asarray(dc_w, dtype=np.float64)) * (1.0 - site.losses)
    return np.clip(ac_w, 0.0, site.inverter_w or site.peak_w)


def solar_series(site: SolarSite, start_s: float, end_s: float, step_s: float = 300.0) -> Series:
    """The production over ``[start_s, end_s)`` at ``step_s``: compute once, decide many times.

    Each point holds the production at the middle of its step (a fair average of the step).
    """
    if not end_s > start_s or not step_s > 0:
        raise SignalError(f"need start < end and step_s > 0, got {start_s}, {end_s}, {step_s}")
    n = math.ceil((end_s - start_s) / step_s)
    if n > 2_000_000:
        raise SignalError(f"{n} steps is too many; raise step_s")
    times = start_s + step_s * np.arange(n, dtype=np.float64)
    watts = solar_watts(site, times + step_s / 2)
    origin = f"solar clear-sky {site.peak_w:g} W at {site.latitude:g},{site.longitude:g}"
    return Series.build(times, watts, Unit.WATTS, np.full(n, step_s), origin=origin)


@dataclass
class SolarSource:
    """Clear-sky production of ``site`` at ``step_s``; computes three days around ``now`` at a time."""

    site: SolarSite
    step_s: float = 300.0
    _cache: Series | None = field(default=None, repr=False)

    def read(self, now_s: float) -> Series:
        cache = self._cache
        if cache is None or not (cache.start_s <= now_s and now_s + DAY_S <= cache.end_s):
            day_start = math.floor(now_s / DAY_S) * DAY_S
            cache = solar_series(self.site, day_start - DAY_S, day_start + 2 * DAY_S, self.step_s)
            self._cache = cache
        return cache

    def describe(self) -> str:
        s = self.site
        return f"solar clear-sky {s.peak_w:g} W peak at {s.latitude:g},{s.longitude:g} tilt {s.tilt_deg:g}"
