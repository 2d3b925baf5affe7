"""Which deferrable instances to shelve now, and which to bring back: the rule, pure.

Inputs: the energy now (the signal policy's scarcity level, and whether that level is a
substitute because the signal could not be read), the clock, and per deferrable instance
whether geyser holds it shelved and the latest time it may run again (``resume_by_s``,
from ``Deferral.resume_by_s``: its deadline minus the running time its remaining work
needs, or its maximum deferral). The rule, in the order it is applied:

1. **Deadlines first.** A shelved instance is brought back once ``now + lead_s`` reaches
   its ``resume_by_s``, whatever the signal says. With decisions at most ``lead_s`` apart,
   it is then running again before ``resume_by_s``. One already past it is brought back
   too and named in ``late`` (infeasible: it was shelved by someone who did not keep to
   the rule, or decisions stopped for longer than ``lead_s``).
2. **A signal that cannot be read shelves nothing.** On the last good reading, instances
   already shelved stay so (a short outage should not wake a batch of jobs); on the safe
   default (the signal has been unreadable for longer than its time-to-live) every
   instance comes back, as if there were no signal.
3. **Energy returns**: at or below ``resume_level`` every shelved instance comes back.
4. **Energy is scarce**: at or above ``shelve_level`` a running instance is shelved when it
   could stay shelved at least ``min_shelve_s`` before its own deadline forces it back
   (``resume_by_s - now >= lead_s + min_shelve_s``); otherwise shelving would only cost a
   shelve and an unshelve.

Between the two levels nothing changes (hysteresis), so a level that wavers does not
flap instances. Never raises for well-formed inputs; imports nothing from OpenStack.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from watcher_geyser.signal.decision import Decision, Fallback


class Verdict(enum.StrEnum):
    """What the rule says about one instance."""

    SHELVE = "shelve"
    RESUME = "resume"
    KEEP = "keep"


@dataclass(frozen=True)
class DeferralConfig:
    """The rule's thresholds (scarcity levels in 0 plenty .. 1 scarce, times in seconds)."""

    shelve_level: float = 0.7
    resume_level: float = 0.3
    lead_s: float = 900.0  # at least the time between two decisions, plus the time an unshelve takes
    min_shelve_s: float = 1800.0

    def __post_init__(self) -> None:
        if not 0 <= self.resume_level < self.shelve_level <= 1:
            raise ValueError(
                f"need 0 <= resume_level < shelve_level <= 1, got {self.resume_level} and {self.shelve_level}"
            )
        for name in ("lead_s", "min_shelve_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class Energy:
    """The part of a signal decision the rule reads."""

    level: float  # scarcity, 0 plenty .. 1 scarce
    fallback: Fallback | None = None  # set: the level is a substitute, the signal could not be read

    @classmethod
    def from_decision(cls, decision: Decision) -> Energy:
        return cls(decision.level, decision.fallback)

    @classmethod
    def blind(cls) -> Energy:
        """No signal at all: behave as the safe default (run everything)."""
        return cls(0.0, Fallback.SAFE_DEFAULT)


@dataclass(frozen=True)
class Candidate:
    """A deferrable instance as the rule sees it."""

    uuid: str
    shelved: bool  # held shelved by geyser now
    resume_by_s: float  # latest time it may run again (if running: were it shelved now)


@dataclass(frozen=True)
class DeferralPlan:
    """The rule's answer: ids to shelve and to bring back, and why, per instance."""

    shelve: tuple[str, ...] = ()
    resume: tuple[str, ...] = ()
    late: tuple[str, ...] = ()  # brought back after their resume_by_s had passed
    reasons: dict[str, str] = field(default_factory=dict)

    def verdict(self, uuid: str) -> Verdict:
        if uuid in self.reasons and uuid in self.shelve:
            return Verdict.SHELVE
        if uuid in self.reasons and uuid in self.resume:
            return Verdict.RESUME
        return Verdict.KEEP


def decide_deferral(
    candidates: Iterable[Candidate], energy: Energy, now_s: float, config: DeferralConfig | None = None
) -> DeferralPlan:
    """Apply the rule (module docstring) to every candidate at ``now_s``."""
    config = config or DeferralConfig()
    shelve: list[str] = []
    resume: list[str] = []
    late: list[str] = []
    reasons: dict[str, str] = {}
    for c in candidates:
        slack_s = c.resume_by_s - now_s
        if c.shelved:
            reason = _resume_reason(slack_s, energy, config)
            if reason is not None:
                resume.append(c.uuid)
                reasons[c.uuid] = reason
                if slack_s < 0:
                    late.append(c.uuid)
        elif _may_shelve(slack_s, energy, config):
            shelve.append(c.uuid)
            reasons[c.uuid] = f"energy scarce (level {energy.level:.2f}); may wait {slack_s / 3600:.1f} h"
    return DeferralPlan(tuple(shelve), tuple(resume), tuple(late), reasons)


def _may_shelve(slack_s: float, energy: Energy, config: DeferralConfig) -> bool:
    readable = energy.fallback is None
    return readable and energy.level >= config.shelve_level and slack_s >= config.lead_s + config.min_shelve_s


def _resume_reason(slack_s: float, energy: Energy, config: DeferralConfig) -> str | None:
    if slack_s < 0:
        return f"past its deadline by {-slack_s / 3600:.2f} h: brought back at once"
    if slack_s <= config.lead_s:
        return f"its deadline is near ({slack_s / 60:.0f} min to spare): brought back whatever the signal says"
    if energy.fallback is Fallback.SAFE_DEFAULT:
        return "the signal cannot be read: brought back, as without a signal"
    if energy.fallback is None and energy.level <= config.resume_level:
        return f"energy returned (level {energy.level:.2f})"
    return None
