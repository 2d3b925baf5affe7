"""Relief: hosts above their relief limits shed instances before anything is consolidated.

A host is *hot* when its load (flavour vcpu/RAM/disk, or measured CPU) is above its relief
limit (``solver/limits.py``). Relief has priority over consolidation, so ``solve`` runs it
first and every back-end (greedy, decomposition, exact) then starts from the relieved
fleet. For each hot host, most over first, it moves the fewest and cheapest instances that bring
the host under its relief limit, to hosts that are on before any host is switched on, by the
placement rules (which instances and where: ``solver/shedder.py``).

*Starved instances.* An instance still at home whose CPU use per core (``Fleet.cpu_per_core``, the
measured or forecast load) is above its host's core size (``rules/cores.starved``) is starved
there however cool the host is: its vCPUs cannot borrow a second core's speed, and no host looks
hot for it. After the hot hosts, relief moves each such instance (most over its core size first)
to a host whose cores are fast enough, by the same destinations and rules: every one is
tried on hosts that are on before any host is switched on. Consolidation moves it back onto slow
cores only once its use fits them (a moved instance lands only on cores that cover it).

It relieves at need > core size, no margin (``rules/cores.STARVED_MARGIN``): CloudSim counts a VM
1 % over its core as violating for as long as it stays, and the churn a margin would save is
small. On the bundled demo (following a solar supply, ``--deterministic``) a margin of 0 or 0.01
took following's SLATAH from 3.07 to 0.85 % (core cap 2.27 to 0.01 points), 0.03 to 1.08 % (0.20
left), 0.05 left it at 3.07 % (its starved VM sits 1-5 % over a G4 core); relief moved starved
instances 3 times that day, 4 times on the PlanetLab day 20110303 (one VM 3 times: its use
crossing its core size back and forth). A fleet without core sizes has no starved instance: relief
decides exactly as before.

Relief counts against ``max_migrations`` (an explicit hard cap), never against
``max_consolidation_moves``. A host relief cannot bring under its limit, or leaves holding starved
instances, is named in ``Target.unrelieved`` with why, one message per host
(``solver/unrelieved.py``, whose names this module re-exports for its callers). The planner emits
the ``power_on`` (and ``enable``) of a host before any migration lands on it.

This module runs the two passes (hot hosts, then starved instances) over one ``Shedder`` and turns
what they did into ``Relief`` and the ``Target``; ``solver/shedder.py`` holds the state and the
choice of one move, ``solver/unrelieved.py`` the reasons. Three files, one job each (STYLE.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from watcher_geyser import bounds
from watcher_geyser.solver.checks import check_placement
from watcher_geyser.solver.limits import above, host_load
from watcher_geyser.solver.problem import Bounds, Problem, Target
from watcher_geyser.solver.rules.cores import starved
from watcher_geyser.solver.shedder import EMPTY, OFF, ON, Shedder
from watcher_geyser.solver.unrelieved import (
    POWER_ON_FORBIDDEN,
    SLOW_CORES,
    cap_reason,
    describe,
    for_want_of_room,
    no_faster_room_reason,
    no_room_reason,
    pinned_reason,
    starved_reason,
    stuck_reason,
    unrelieved_message,
)

__all__ = [
    "POWER_ON_FORBIDDEN",
    "SLOW_CORES",
    "Relief",
    "for_want_of_room",
    "relieve",
    "relieved_problem",
    "relieved_target",
    "unrelieved_message",
]


@dataclass(frozen=True)
class Relief:
    """What relief did: the relieved placement, and per host what happened."""

    placement: np.ndarray  # int64[V]
    hot: tuple[int, ...] = ()  # hosts above their relief limit before relief
    relieved: tuple[int, ...] = ()
    unrelieved: dict[int, str] = field(default_factory=dict)  # host index -> reason
    powered_on: tuple[int, ...] = ()  # hosts off now that relief switches on
    messages: tuple[str, ...] = ()
    moves: int = 0
    seconds: float = 0.0

    @property
    def needed(self) -> bool:
        """Whether relief had anything to do: a host hot, or an instance its cores are too slow for."""
        return bool(self.hot or self.moves or self.unrelieved)


def relieve(problem: Problem) -> Relief:
    """Move instances off every hot host of ``problem`` where the rules allow (module doc)."""
    started = time.monotonic()
    fleet = problem.fleet
    if not problem.relieve or not fleet.instances:
        return Relief(fleet.placement.copy())
    if not above(host_load(fleet), problem.relief_limits).any() and not starved(fleet).any():
        return Relief(fleet.placement.copy())  # nothing hot or starved: no shedder to set up (most simulated steps)
    shedder = Shedder(problem)
    hot = shedder.hot_hosts()
    for h in hot:
        _shed(shedder, int(h))
    _move_starved(shedder)
    if not len(hot) and not shedder.moves and not shedder.unrelieved:
        return Relief(fleet.placement.copy())
    return _result(shedder, tuple(int(h) for h in hot), time.monotonic() - started)


def relieved_problem(problem: Problem, relief: Relief) -> Problem:
    """The problem the back-ends solve after relief: the relieved fleet (hosts switched on
    are on), what is left of the migration cap, the time left, relief done."""
    fleet = problem.fleet.with_placement(relief.placement) if relief.moves else problem.fleet
    cap = None if problem.max_migrations is None else max(problem.max_migrations - relief.moves, 0)
    time_left = max(problem.time_limit_s - relief.seconds, min(0.05, problem.time_limit_s))
    if problem.deterministic:  # its work limit derives from the time limit: no wall clock in it
        time_left = problem.time_limit_s
    return replace(problem, fleet=fleet, max_migrations=cap, relieve=False, time_limit_s=time_left)


def relieved_target(problem: Problem, relief: Relief, inner: Target, proven_hosts: int, proven_w: float) -> Target:
    """The answer to ``problem`` from a back-end's answer to ``relieved_problem``.

    The placement is judged again against the original problem, relief rule included; if
    it fails (a back-end bug), relief's own placement stands. Bounds are the analytic ones
    of the original problem where the back-end's are not proven for it."""
    fleet = problem.fleet
    names = {fleet.hosts[h].name: reason for h, reason in relief.unrelieved.items()}
    placement, status, found_by = inner.placement, inner.status, inner.found_by
    messages = list(relief.messages)
    violations = check_placement(problem, placement, unrelieved=names)
    if violations:
        messages.append(f"internal: discarded an invalid {status} answer after relief ({violations[0]})")
        placement, status, found_by = relief.placement, "CURRENT", "current"
    if relief.moves and status == "CURRENT":
        status = "RELIEF"
    elif relief.moves and status == "OPTIMAL":
        status = "FEASIBLE"  # optimal from the relieved fleet, not proven for the whole problem
        messages.append("CP-SAT proved its answer optimal from the relieved fleet, not over every relief")
    if relief.moves and found_by == "current":  # the relieved fleet, kept as it was: relief's answer
        found_by = "relief"
    still_hot = above(host_load(fleet, placement), problem.relief_limits)
    still_hot[placement[starved(fleet, placement) & (placement == fleet.placement)]] = True
    unrelieved = {name: reason for name, reason in names.items() if still_hot[fleet.host_index(name)]}
    cooled = {unrelieved_message(name, reason) for name, reason in names.items() if name not in unrelieved}
    messages = [m for m in messages if m not in cooled]
    hidden = tuple(f"host {name} stays above its limits" for name in names)
    messages += [m for m in inner.messages if not m.startswith(hidden)]
    migration_bound = bounds.migration_cost_lower_bound_mb(fleet, bounds.hosts_on_by_zone(fleet, placement))
    return Target(
        problem=problem,
        placement=placement,
        bounds=Bounds(
            hosts=min(inner.bounds.hosts, proven_hosts),
            watts_w=min(inner.bounds.watts_w, proven_w),
            migration_cost_mb=migration_bound,
        ),
        status=status,
        cpsat_status=inner.cpsat_status,
        solve_seconds=inner.solve_seconds + relief.seconds,
        messages=tuple(dict.fromkeys(messages)),
        relieved=tuple(fleet.hosts[h].name for h in relief.relieved),
        found_by=found_by,
        unrelieved=unrelieved,
    )


def _shed(s: Shedder, h: int) -> None:
    """The hot pass for ``h``: move instances off it until it is under its relief limit, then
    record it as relieved, or as unrelieved with the reason and its one message."""
    reason = None
    moved: list[int] = []
    while above(s.load[h : h + 1], s.goal[h : h + 1])[0]:
        if s.moves_left <= 0:
            reason = cap_reason(s)
            break
        v, dst = s.next_move(h)
        if v is None:
            reason = reason or pinned_reason(s, h)
            break
        if dst is None:
            reason = no_room_reason(s, h)
            break
        s.move(v, h, dst)
        moved.append(v)
    name = s.fleet.hosts[h].name
    what = describe(s.load[h], s.relief[h])
    if moved:
        destinations = sorted({s.fleet.hosts[int(s.placement[v])].name for v in moved})
        s.messages.append(f"relief: {len(moved)} instance(s) moved off {name} to {', '.join(destinations)}")
    if reason is None or not above(s.load[h : h + 1], s.relief[h : h + 1])[0]:
        s.relieved.append(h)
    else:
        s.unrelieved[h] = f"{what}; {reason}"
        s.messages.append(unrelieved_message(name, s.unrelieved[h]))


def _move_starved(s: Shedder) -> None:
    """The starved pass: move every instance still at home whose host's cores are too slow for it
    (module doc) to a host whose cores are fast enough: every one is tried on hosts that are on
    before any host is switched on, the most starved first. Those left are named per host."""
    fleet = s.fleet
    home = s.placement == fleet.placement
    waiting = np.flatnonzero(starved(fleet) & home)
    if not len(waiting):
        return
    over = fleet.cpu_per_core[waiting] / fleet.core_size[fleet.placement[waiting]]
    waiting = waiting[np.argsort(-over, kind="stable")]
    left: dict[int, list[tuple[int, str]]] = {}
    for tiers in ((ON,), (ON, EMPTY, OFF)):
        still = []
        for v in waiting.tolist():
            h = int(s.placement[v])
            why = stuck_reason(s, v)
            dst = None if why else s.destination(v, h, tiers)
            if dst is not None:
                s.move(v, h, dst)
                name = fleet.hosts[dst].name
                s.messages.append(f"relief: {fleet.instances[v].uuid} moved off {fleet.hosts[h].name}, its "
                                  f"cores too slow for it, to {name}")
            elif why or tiers != (ON,):
                left.setdefault(h, []).append((v, why or no_faster_room_reason(s, v, h)))
            else:
                still.append(v)
        waiting = np.array(still, dtype=np.int64)
    for h, stuck in left.items():
        _name_starved(s, h, stuck)


def _name_starved(s: Shedder, h: int, stuck: list[tuple[int, str]]) -> None:
    """Name ``h`` in the unrelieved with its starved instances left; on a host also hot the reason
    follows the hot one, still one entry and one message."""
    reason = starved_reason(s, h, stuck)
    name = s.fleet.hosts[h].name
    if h in s.unrelieved:  # hot and starved: still one reason, one message
        old = unrelieved_message(name, s.unrelieved[h])
        s.unrelieved[h] = f"{s.unrelieved[h]}; {reason}"
        s.messages = [unrelieved_message(name, s.unrelieved[h]) if m == old else m for m in s.messages]
        return
    s.unrelieved[h] = reason
    s.messages.append(unrelieved_message(name, reason))


def _result(s: Shedder, hot: tuple[int, ...], seconds: float) -> Relief:
    if s.powered_on:
        names = ", ".join(s.fleet.hosts[h].name for h in s.powered_on)
        s.messages.append(f"relief: switched on {names} to make room")
    return Relief(
        placement=s.placement,
        hot=hot,
        relieved=tuple(s.relieved),
        unrelieved=dict(s.unrelieved),
        powered_on=tuple(s.powered_on),
        messages=tuple(s.messages),
        moves=s.moves,
        seconds=seconds,
    )
