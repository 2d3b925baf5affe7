"""Which deferrable instances to shelve now, and which to bring back: the rule, pure.

Inputs: the energy now (``energy.Energy``: the signal policy's scarcity level, whether that
level is a substitute because the signal could not be read, and for a watts signal the
supply, the fleet's draw and the supply ahead), the clock, and per deferrable instance
whether geyser holds it shelved and the latest time it may run again (``resume_by_s``,
from ``Deferral.resume_by_s``: its deadline minus the running time its remaining work
needs, or its maximum deferral). The rule, in the order it is applied:

1. **Deadlines first.** A shelved instance is brought back once ``now + lead_s + plan_s``
   reaches its ``resume_by_s`` (its latest safe start), whatever the signal says. ``lead_s``
   covers one decision interval and the time an unshelve takes; ``plan_s`` is the expected
   duration of the plan this decision makes (``Plan.duration_estimate_s``, 0 before it is
   known). Watcher runs no audit while an action plan is ONGOING, and the simulator's
   ``--plans run-to-end`` skips decisions the same way: every decision until that plan ends is
   skipped, so an instance falling due in that time must come back in THIS plan, or no
   decision will bring it back before its deadline. With decisions at most ``lead_s`` apart
   once the plan has run, it is then running again before ``resume_by_s``. Bringing one back
   early costs a little energy; a miss breaks a promise. One already past it is brought back
   too and named in ``late`` (infeasible: it was shelved by someone who did not keep to the
   rule, or decisions stopped for longer than ``lead_s`` plus the plans' estimates). The
   same margin holds the other way: an instance is shelved only if it may stay shelved
   ``lead_s + plan_s + min_shelve_s``, so a shelve never has to be undone by the plan it is in.
   The shells call the rule twice when the plan's length matters (``horizon.through_plan``):
   first with ``plan_s`` 0, then with the built plan's estimate; when that brings more back,
   the plan is built again, and once more if the rebuilt plan is longer.
2. **A signal that cannot be read shelves nothing.** On the last good reading, instances
   already shelved stay so (a short outage should not wake a batch of jobs); on the safe
   default (the signal has been unreadable for longer than its time-to-live) every
   instance comes back, as if there were no signal.
3. **With the supply in watts** (``Energy.knows_supply``): work waits for watts that cover it.

   - *Bring back* while the supply covers the draw with ``resume_margin`` to spare: as many
     shelved instances as the surplus ``supply x (1 - resume_margin) - draw`` pays for at
     ``per_instance_w`` each, those with the nearest deadline first. A rising supply so
     brings work back a little at a time, within what it covers, not all at once. When the
     forecast shows the supply never below now's for ``min_shelve_s`` and then past it by the
     margin (a morning), the rise is the hysteresis: the whole surplus ``supply - draw`` counts.
   - *Shelve* while the draw exceeds the supply (any uncovered draw, not only deep
     scarcity): as many running instances as the deficit ``draw - supply`` is worth, those
     that can wait longest first. An instance is shelved only if it may stay shelved at least
     ``min_shelve_s`` and waiting buys it covered running time (``window.py``): the forecast,
     its surplus shared in turn with the instances that come back before it, covers it before
     its latest safe start; or, with the running time its work needs known, its run from its
     latest safe start is covered longer than its run from now (or the forecast ends before
     then: the deadline brings it back anyway). Waiting for a window that never comes would
     only move night-time work to another night.
     Nothing is shelved while the forecast shows the supply covering the draw in less than
     ``min_shelve_s``: a deficit a rising supply closes on its own is not worth a shelve.

   The margin between the two (shelve above the supply, bring back only under
   ``1 - resume_margin`` of it) is the hysteresis: a draw that wavers around the supply does
   not flap instances.
4. **Other signals** (carbon intensity, renewable share), or a draw not known: by the scarcity
   level. At or below ``resume_level`` every shelved instance comes back; at or above
   ``shelve_level`` a running instance is shelved when it may stay shelved at least
   ``min_shelve_s``; between the two nothing changes.

Never raises for well-formed inputs; imports nothing from OpenStack.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from watcher_geyser import defaults
from watcher_geyser.deferral.energy import Energy
from watcher_geyser.deferral.window import Window
from watcher_geyser.signal.decision import Fallback


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
    lead_s: float = defaults.DEFERRAL_LEAD_S  # at least the time between two decisions, plus an unshelve
    min_shelve_s: float = 1800.0
    resume_margin: float = 0.1  # watts: bring back only under (1 - this) x the supply

    def __post_init__(self) -> None:
        if not 0 <= self.resume_level < self.shelve_level <= 1:
            raise ValueError(
                f"need 0 <= resume_level < shelve_level <= 1, got {self.resume_level} and {self.shelve_level}"
            )
        if not 0 <= self.resume_margin < 1:
            raise ValueError(f"resume_margin is a fraction in [0, 1), got {self.resume_margin}")
        for name in ("lead_s", "min_shelve_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class Candidate:
    """A deferrable instance as the rule sees it."""

    uuid: str
    shelved: bool  # held shelved by geyser now
    resume_by_s: float  # latest time it may run again (if running: were it shelved now)
    runtime_s: float | None = None  # running time its remaining work needs, when known


@dataclass(frozen=True)
class DeferralPlan:
    """The rule's answer: ids to shelve and to bring back, and why, per instance."""

    shelve: tuple[str, ...] = ()
    resume: tuple[str, ...] = ()
    late: tuple[str, ...] = ()  # brought back after their resume_by_s had passed
    reasons: dict[str, str] = field(default_factory=dict)
    due: tuple[str, ...] = ()  # brought back by their deadline (late ones included): they may not wait for room

    def verdict(self, uuid: str) -> Verdict:
        if uuid in self.reasons and uuid in self.shelve:
            return Verdict.SHELVE
        if uuid in self.reasons and uuid in self.resume:
            return Verdict.RESUME
        return Verdict.KEEP


def decide_deferral(
    candidates: Iterable[Candidate], energy: Energy, now_s: float, config: DeferralConfig | None = None,
    plan_s: float = 0.0,
) -> DeferralPlan:
    """Apply the rule (module docstring) to every candidate at ``now_s``; ``plan_s``: the expected
    duration of the plan this decision makes, during which no decision runs."""
    config = config or DeferralConfig()
    if not plan_s >= 0:
        raise ValueError(f"plan_s is the plan's expected duration in seconds, >= 0; got {plan_s}")
    due_s = config.lead_s + plan_s  # no decision runs before the plan ends: it must come back now
    shelve: list[str] = []
    resume: list[str] = []
    late: list[str] = []
    due: list[str] = []
    reasons: dict[str, str] = {}
    waiting: list[Candidate] = []  # shelved, not forced back: the energy decides
    running: list[Candidate] = []  # running, could wait long enough to be worth shelving
    for c in candidates:
        slack_s = c.resume_by_s - now_s
        if c.shelved:
            reason = _forced_back(slack_s, energy, due_s, plan_s)
            if reason is not None:
                resume.append(c.uuid)
                reasons[c.uuid] = reason
                if slack_s <= due_s:
                    due.append(c.uuid)
                if slack_s < 0:
                    late.append(c.uuid)
            else:
                waiting.append(c)
        elif energy.fallback is None and slack_s >= due_s + config.min_shelve_s:
            running.append(c)
    if energy.fallback is None:
        by_supply = _by_supply if energy.knows_supply else _by_level
        more_resume, more_shelve = by_supply(waiting, running, energy, now_s, config, reasons)
        resume += more_resume
        shelve += more_shelve
    return DeferralPlan(tuple(shelve), tuple(resume), tuple(late), reasons, tuple(due))


def _forced_back(slack_s: float, energy: Energy, due_s: float, plan_s: float) -> str | None:
    """Why a shelved instance comes back whatever the supply does (deadline, unreadable signal), or None."""
    if slack_s < 0:
        return f"past its deadline by {-slack_s / 3600:.2f} h: brought back at once"
    if slack_s <= due_s:
        during = f", before this plan's expected {plan_s / 60:.0f} min end" if plan_s > 0 else ""
        return (f"its deadline is near ({slack_s / 60:.0f} min to spare{during}): "
                "brought back whatever the signal says")
    if energy.fallback is Fallback.SAFE_DEFAULT:
        return "the signal cannot be read: brought back, as without a signal"
    return None


def _by_level(waiting, running, energy: Energy, now_s: float, config: DeferralConfig, reasons):
    """Rule 4: scarcity levels with hysteresis (signals not in watts)."""
    if energy.level <= config.resume_level:
        for c in waiting:
            reasons[c.uuid] = f"energy returned (level {energy.level:.2f})"
        return [c.uuid for c in waiting], []
    if energy.level >= config.shelve_level:
        for c in running:
            wait_h = (c.resume_by_s - now_s) / 3600
            reasons[c.uuid] = f"energy scarce (level {energy.level:.2f}); may wait {wait_h:.1f} h"
        return [], [c.uuid for c in running]
    return [], []


def _by_supply(waiting, running, energy: Energy, now_s: float, config: DeferralConfig, reasons):
    """Rule 3: shelve what the supply does not cover, bring back what it does (watts signals)."""
    supply_w, need_w, unit_w = energy.supply_w, energy.need_w, energy.per_instance_w
    rising = _rising(energy, now_s, config)
    surplus_w = supply_w * (1.0 - (0.0 if rising else config.resume_margin)) - need_w
    if surplus_w >= unit_w and waiting:
        room = int(surplus_w // unit_w)
        back = sorted(waiting, key=lambda c: (c.resume_by_s, c.uuid))[:room]
        why = "; the supply is forecast to rise past the margin" if rising else ""
        for c in back:
            reasons[c.uuid] = (f"the supply covers it: {supply_w:.0f} W available, the fleet draws {need_w:.0f} W "
                               f"(room for {room} at {unit_w:.1f} W each{why})")
        return [c.uuid for c in back], []
    deficit_w = need_w - supply_w
    if deficit_w <= 0 or not running:
        return [], []
    closes_s = None if energy.forecast is None else energy.forecast.first_covered(now_s, now_s + config.min_shelve_s,
                                                                                  need_w)
    if closes_s is not None and closes_s < now_s + config.min_shelve_s:
        return [], []  # the supply closes the gap before a shelve would be worth it (a rising morning)
    count = math.ceil(deficit_w / unit_w)
    pays = _who_waits(waiting, running, energy, now_s, config)
    chosen = [c.uuid for c in sorted(running, key=lambda c: (-c.resume_by_s, c.uuid)) if c.uuid in pays][:count]
    for uuid in chosen:
        c = pays[uuid][0]
        reasons[uuid] = (f"the fleet draws {need_w:.0f} W, {deficit_w:.0f} W above the supply; "
                         f"may wait {(c.resume_by_s - now_s) / 3600:.1f} h, {pays[uuid][1]}")
    return [], chosen


def _who_waits(waiting, running, energy: Energy, now_s: float, config: DeferralConfig) -> dict:
    """The running instances for which waiting pays (uuid -> (candidate, why)), under one plan.

    The plan: the base is the fleet's draw without the running instances that may wait, and
    every instance that waits (shelved, or may wait) takes the sunny window in the order they
    come back (nearest latest safe start first). An instance for which waiting does not pay runs
    on, through the window too, so it joins the base: the plan is redrawn without it until every
    instance left in it pays (a few rounds; each round only removes instances).
    """
    pool = list(running)
    while True:
        window = None if energy.forecast is None else Window.of(energy.forecast, energy.need_w,
                                                               energy.per_instance_w, len(pool))
        queue = sorted([*waiting, *pool], key=lambda c: (c.resume_by_s, c.uuid))
        rank = {c.uuid: k for k, c in enumerate(queue, start=1)}
        pays = {c.uuid: (c, why) for c in pool
                if (why := _waiting_pays(c, rank[c.uuid], window, now_s, config)) is not None}
        if len(pays) == len(pool):
            return pays
        pool = [c for c in pool if c.uuid in pays]


def _rising(energy: Energy, now_s: float, config: DeferralConfig) -> bool:
    """True when the forecast shows the supply never below now's over the next ``min_shelve_s`` and
    then past now's by the resume margin: the rise is the hysteresis, and bringing back only
    under ``1 - resume_margin`` of it would leave covered morning watts unused."""
    forecast, supply_w = energy.forecast, energy.supply_w
    if forecast is None or config.resume_margin == 0:
        return False
    until_s = now_s + config.min_shelve_s
    lowest_w = forecast.lowest(now_s, until_s)
    later_w = forecast.lowest(until_s, until_s)
    return (lowest_w is not None and later_w is not None and lowest_w >= supply_w > 0
            and later_w * (1.0 - config.resume_margin) >= supply_w)


def _waiting_pays(c: Candidate, rank: int, window: Window | None, now_s: float, config: DeferralConfig) -> str | None:
    """Why waiting pays, or None when it does not (``deferral/window.py``).

    Either the forecast holds the fleet's base draw and the ``rank`` instances that come back no
    later than this one (the surplus is shared, not counted once per instance) before its latest
    safe start; or, with the running time its work needs known, its run from that latest safe
    start (its deadline brings it back, in the dark) is covered at least ``min_shelve_s`` longer
    than its run from now. Otherwise waiting would only move its work from one dark hour to another.
    """
    if window is None:
        return "no forecast: its deadline brings it back"
    latest_s = c.resume_by_s - config.lead_s
    forecast = window.forecast
    at = window.promise(rank, now_s + config.min_shelve_s, latest_s)
    if at is not None:
        return f"the supply is forecast to cover it and the {rank - 1} before it in {(at - now_s) / 3600:.1f} h"
    if forecast.end_s < latest_s:
        return f"the forecast ends in {(forecast.end_s - now_s) / 3600:.1f} h, before its deadline brings it back"
    if c.runtime_s is not None and (gain_s := window.gain_s(rank, now_s, latest_s, c.runtime_s)) >= config.min_shelve_s:
        return (f"back by its deadline in the dark, its {c.runtime_s / 3600:.1f} h of work then runs "
                f"{gain_s / 3600:.1f} h longer covered than from now")
    return None
