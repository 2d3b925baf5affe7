"""Energy-availability signals: where availability comes from and what the solver is told.

Public API (pure, no OpenStack imports; the oslo.config adapter is ``signal.opts``):

- ``parse_spec(spec, http=None) -> SignalSource``: a source from a one-line spec.
- sources: ``ConstantSource``, ``FileSource``, ``HttpSource``, ``PrometheusSource``,
  ``SolarSource`` / ``SolarSite`` / ``solar_series`` (compute a simulated period once).
- ``SignalPolicy(PolicyConfig(...), PolicyState())``: ``decide(series_or_error, now_s,
  fleet_peak_w)`` and ``decide_from(source, now_s, fleet_peak_w)`` return a ``Decision``
  (``budget_w``, ``ceiling``, ``allow_power_off``, ``fallback``, ``reason``); they never raise.
- ``load_state`` / ``save_state``: persist ``policy.state`` between audits.
"""

from watcher_geyser.signal.fetch import HttpOptions
from watcher_geyser.signal.policy import Decision, Fallback, PolicyConfig, SignalPolicy, fleet_need_w, fleet_peak_w
from watcher_geyser.signal.prometheus import PrometheusSource
from watcher_geyser.signal.series import Series, SignalError, Unit
from watcher_geyser.signal.solar import SolarSite, SolarSource, solar_series
from watcher_geyser.signal.sources import ConstantSource, FileSource, HttpSource, SignalSource, read_safely
from watcher_geyser.signal.spec import parse_spec
from watcher_geyser.signal.state import PolicyState, load_state, save_state

__all__ = [
    "ConstantSource",
    "Decision",
    "Fallback",
    "FileSource",
    "HttpOptions",
    "HttpSource",
    "PolicyConfig",
    "PolicyState",
    "PrometheusSource",
    "Series",
    "SignalError",
    "SignalPolicy",
    "SignalSource",
    "SolarSite",
    "SolarSource",
    "Unit",
    "fleet_need_w",
    "fleet_peak_w",
    "load_state",
    "parse_spec",
    "read_safely",
    "save_state",
    "solar_series",
]
