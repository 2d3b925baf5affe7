"""Deferrable instances: what operators promise (``spec``) and when geyser shelves or brings back (``decide``).

Pure: imports nothing from OpenStack. docs/design/deferral.md has the why.
"""

from watcher_geyser.deferral.decide import (
    Candidate,
    DeferralConfig,
    DeferralPlan,
    Energy,
    Verdict,
    decide_deferral,
)
from watcher_geyser.deferral.spec import Deferral, parse_deferral, parse_duration, parse_utc

__all__ = [
    "Candidate",
    "Deferral",
    "DeferralConfig",
    "DeferralPlan",
    "Energy",
    "Verdict",
    "decide_deferral",
    "parse_deferral",
    "parse_duration",
    "parse_utc",
]
