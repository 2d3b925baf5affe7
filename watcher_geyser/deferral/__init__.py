"""Deferrable instances: what operators promise (``spec``), what the rule reads about energy
(``energy``) and when geyser shelves or brings back (``decide``).

Pure: imports nothing from OpenStack. docs/design/deferral.md has the why.
"""

from watcher_geyser.deferral.decide import (
    Candidate,
    DeferralConfig,
    DeferralPlan,
    Verdict,
    decide_deferral,
)
from watcher_geyser.deferral.energy import Energy, Forecast
from watcher_geyser.deferral.spec import Deferral, parse_deferral, parse_duration

__all__ = [
    "Candidate",
    "Deferral",
    "DeferralConfig",
    "DeferralPlan",
    "Energy",
    "Forecast",
    "Verdict",
    "decide_deferral",
    "parse_deferral",
    "parse_duration",
]
