"""Replay a plan against a fleet and report every rule it breaks: the oracle for plans.

Written apart from the planner's own bookkeeping, on purpose simple (dicts keyed by
names, one wave at a time), so that it can judge the planner: the tests, the simulator
and the Watcher functional tests all call it. It shares with the planner only the rule
itself (``limits.transit_limits``).

Within a wave the actions may run in any order or all at once, so the wave is judged at
its worst moment: every incoming migration already counted on its destination while
every outgoing one still counts on its source (a migration holds both ends until it
ends). Loads only grow towards that moment, so no interleaving can do worse, and the
state between two waves is the exact state after every prefix of the plan. Only hosts
that receive in a wave can get worse in it, so only they are checked: a host over its
limit before the plan (with limits the caller chose) is not the plan's fault, and an
overload is reported in the wave that causes it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from watcher_geyser.fleet import Fleet
from watcher_geyser.planner.actions import Action, ActionKind, Plan
from watcher_geyser.planner.limits import (
    anti_affinity_groups,
    describe_excess,
    host_load,
    instance_demand,
    member_limits,
    transit_limits,
    within_member_limit,
)
from watcher_geyser.records import HostState, Instance


@dataclass(frozen=True)
class Violation:
    """One broken rule: in which wave (0-based), on which host or instance, and what."""

    wave: int
    rule: str  # capacity, anti_affinity, pinned, source, zone, host_state, power_off, parallelism, malformed
    detail: str
    host: str | None = None
    instance: str | None = None

    def __str__(self) -> str:
        return f"wave {self.wave + 1}: {self.rule}: {self.detail}"


@dataclass
class ReplayResult:
    """The fleet after the plan, and what went wrong on the way."""

    violations: list[Violation]
    placement: dict[str, str]  # instance uuid -> host name at the end
    host_states: dict[str, HostState]
    peak_load: np.ndarray = field(repr=False)  # float64[H, 4]: worst moment of each host

    @property
    def ok(self) -> bool:
        return not self.violations


def check_plan(fleet: Fleet, plan: Plan | list[list[Action]], limits: np.ndarray | None = None,
               **kwargs: int | None) -> list[Violation]:
    """The violations of ``replay`` (empty when the plan is safe)."""
    return replay(fleet, plan, limits, **kwargs).violations


def replay(
    fleet: Fleet,
    plan: Plan | list[list[Action]],
    limits: np.ndarray | None = None,
    parallelism: int | None = None,
    per_host_parallelism: int | None = None,
) -> ReplayResult:
    """Run ``plan`` on ``fleet`` wave by wave and collect every violation.

    ``limits`` is float64[H, 4] as ``transit_limits`` builds it (default: ceiling 1.0, no
    CPU cap). ``parallelism`` and ``per_host_parallelism``, when given, cap migrations per
    wave overall and per host (a migration occupies its source and its destination).
    """
    waves = plan.waves if isinstance(plan, Plan) else plan
    limits = transit_limits(fleet) if limits is None else np.asarray(limits, dtype=float)
    now = _ReplayState.start(fleet)
    out: list[Violation] = []
    for w, wave in enumerate(waves):
        bad = _Collector(out, w)
        migrations = [a for a in wave if a.kind.is_migration]
        host_actions = [a for a in wave if not a.kind.is_migration]
        _check_wave_shape(bad, migrations, host_actions, parallelism, per_host_parallelism)
        arrivals = _arrivals(bad, now, migrations, host_actions)
        _check_worst_moment(bad, now, arrivals, limits)
        for a in host_actions:
            _check_host_action(bad, a, now.state, now.hosted)
        now.end_wave(arrivals.valid, host_actions)
    return ReplayResult(out, now.where, now.state, now.peak)


@dataclass
class _ReplayState:
    """The fleet as the replay sees it between two waves: plain dicts keyed by names, so that the
    oracle shares no bookkeeping with the planner it judges."""

    fleet: Fleet
    hidx: dict[str, int]  # host name -> index
    inst: dict[str, tuple[int, Instance]]  # instance uuid -> (index, Instance)
    demand: np.ndarray  # float64[V, 4]
    group: np.ndarray  # int[V]: anti-affinity group index, -1 for none
    where: dict[str, str]  # instance uuid -> host name
    state: dict[str, HostState]
    load: np.ndarray  # float64[H, 4]
    peak: np.ndarray  # float64[H, 4]: the worst moment of each host so far
    members: Counter[tuple[int, str]]  # (group, host name) -> members there
    member_limit: dict[tuple[int, str], int]  # (group, host name) -> members allowed there (as before the plan)
    hosted: Counter[str]  # host name -> instances on it

    @classmethod
    def start(cls, fleet: Fleet) -> _ReplayState:
        group = anti_affinity_groups(fleet)
        where = {i.uuid: i.host for i in fleet.instances}
        load = host_load(fleet)
        members: Counter[tuple[int, str]] = Counter(
            (int(group[v]), i.host) for v, i in enumerate(fleet.instances) if group[v] >= 0
        )
        return cls(
            fleet=fleet,
            hidx={h.name: i for i, h in enumerate(fleet.hosts)},
            inst={i.uuid: (v, i) for v, i in enumerate(fleet.instances)},
            demand=instance_demand(fleet),
            group=group,
            where=where,
            state={h.name: h.state for h in fleet.hosts},
            load=load,
            peak=load.copy(),
            members=members,
            member_limit=member_limits(members),
            hosted=Counter(where.values()),
        )

    def end_wave(self, valid: list[tuple[int, str, str]], host_actions: list[Action]) -> None:
        """The wave ends: every migration has landed, every host action has taken effect."""
        for v, src, dst in valid:
            self.where[self.fleet.instances[v].uuid] = dst
            self.hosted[src] -= 1
            self.hosted[dst] += 1
            self.load[self.hidx[src]] -= self.demand[v]
            self.load[self.hidx[dst]] += self.demand[v]
            if self.group[v] >= 0:
                self.members[(int(self.group[v]), src)] -= 1
                self.members[(int(self.group[v]), dst)] += 1
        for a in host_actions:
            if a.host in self.state:
                self.state[a.host] = _STATE_AFTER[a.kind]


@dataclass
class _Arrivals:
    """What the well-formed migrations of one wave bring to their destinations."""

    incoming: dict[int, np.ndarray] = field(default_factory=dict)  # host index -> demand arriving
    arriving: Counter[tuple[int, str]] = field(default_factory=Counter)  # (group, host name) -> members arriving
    valid: list[tuple[int, str, str]] = field(default_factory=list)  # (instance index, source, destination)


def _check_wave_shape(bad: _Collector, migrations: list[Action], host_actions: list[Action],
                      parallelism: int | None, per_host: int | None) -> None:
    """Rules on the wave as a whole: one host action per host (their order is undefined), and the
    parallelism caps."""
    for name, n in Counter(a.host for a in host_actions).items():
        if n > 1:
            bad("host_state", f"{n} host actions on {name} in one wave: their order is undefined", host=name)
    _check_parallelism(bad, migrations, parallelism, per_host)


def _arrivals(bad: _Collector, now: _ReplayState, migrations: list[Action], host_actions: list[Action]) -> _Arrivals:
    """Check each migration on its own; the well-formed ones count on their destinations."""
    touched = Counter(a.host for a in host_actions)
    touched_power = Counter(a.host for a in host_actions if a.kind in _POWER)
    seen: set[str] = set()
    arrivals = _Arrivals()
    for a in migrations:
        if not _check_migration(bad, a, now.inst, now.where, now.hidx, now.state, touched, touched_power, seen,
                                now.fleet):
            continue
        v = now.inst[a.instance][0]
        h = now.hidx[a.destination]
        arrivals.incoming[h] = arrivals.incoming.get(h, 0.0) + now.demand[v]
        if now.group[v] >= 0:
            arrivals.arriving[(int(now.group[v]), a.destination)] += 1
        arrivals.valid.append((v, a.source, a.destination))
    return arrivals


def _check_worst_moment(bad: _Collector, now: _ReplayState, arrivals: _Arrivals, limits: np.ndarray) -> None:
    """Capacity and anti-affinity at the wave's worst moment: everything arriving already counted on
    its destination while everything leaving still counts on its source. Only a receiving host can
    get worse; the others keep or shed load."""
    for h in sorted(arrivals.incoming):
        worst = now.load[h] + arrivals.incoming[h]
        now.peak[h] = np.maximum(now.peak[h], worst)
        if (worst > limits[h]).any():
            name = now.fleet.hosts[h].name
            bad("capacity", f"{name} over its limit by {describe_excess(worst, limits[h])}", host=name)
    for (g, name), n in arrivals.arriving.items():
        total = now.members[(g, name)] + n
        if not within_member_limit(total, now.member_limit.get((g, name))):
            gname = now.fleet.server_groups[g].name
            bad("anti_affinity", f"{name} would hold {total} members of anti-affinity group {gname}", host=name)


_STATE_AFTER = {
    ActionKind.POWER_ON: HostState.DISABLED,
    ActionKind.ENABLE: HostState.ENABLED,
    ActionKind.DISABLE: HostState.DISABLED,
    ActionKind.POWER_OFF: HostState.OFF,
}
_POWER = (ActionKind.POWER_ON, ActionKind.POWER_OFF)
_STATE_BEFORE = {
    ActionKind.POWER_ON: HostState.OFF,
    ActionKind.ENABLE: HostState.DISABLED,
    ActionKind.DISABLE: HostState.ENABLED,
    ActionKind.POWER_OFF: HostState.DISABLED,
}


class _Collector:
    def __init__(self, out: list[Violation], wave: int) -> None:
        self.out, self.wave = out, wave

    def __call__(self, rule: str, detail: str, host: str | None = None, instance: str | None = None) -> None:
        self.out.append(Violation(self.wave, rule, detail, host, instance))


def _check_parallelism(bad: _Collector, migrations: list[Action], parallelism: int | None,
                       per_host: int | None) -> None:
    if parallelism is not None and len(migrations) > parallelism:
        bad("parallelism", f"{len(migrations)} migrations in one wave, more than {parallelism}")
    if per_host is not None:
        busy = Counter(name for a in migrations for name in (a.source, a.destination))
        for name, n in busy.items():
            if n > per_host:
                bad("parallelism", f"{n} migrations touch {name} in one wave, more than {per_host}", host=name)


def _check_migration(bad, a, inst, where, hidx, state, touched, touched_power, seen, fleet) -> bool:  # noqa: ANN001
    """True when the migration is well formed (its load then counts); flags what is wrong."""
    if a.instance not in inst:
        bad("malformed", f"unknown instance {a.instance!r}", instance=a.instance)
        return False
    _, i = inst[a.instance]
    if a.instance in seen:
        bad("malformed", f"{i.name} migrates twice in one wave", instance=a.instance)
        return False
    seen.add(a.instance)
    if a.source not in hidx or a.destination not in hidx or a.source == a.destination:
        bad("malformed", f"{i.name}: bad hosts {a.source!r} -> {a.destination!r}", instance=a.instance)
        return False
    if i.pinned_reason is not None:
        bad("pinned", f"{i.name} is {i.pinned_reason} but the plan moves it", instance=a.instance)
    elif ActionKind.for_migration(i.migration_kind) is not a.kind:
        bad("pinned", f"{i.name} is {i.state}: it needs {i.migration_kind.value} migration, not {a.kind.value}",
            instance=a.instance)
    if where[a.instance] != a.source:
        bad("source", f"{i.name} is on {where[a.instance]}, not on {a.source}", instance=a.instance)
        return False
    if fleet.hosts[hidx[a.source]].zone != fleet.hosts[hidx[a.destination]].zone:
        bad("zone", f"{i.name} crosses zones {a.source} -> {a.destination}", instance=a.instance)
    if state[a.destination] is not HostState.ENABLED:
        bad("host_state", f"{i.name} goes to {a.destination}, which is {state[a.destination].value}",
            host=a.destination, instance=a.instance)
    if touched[a.destination]:
        bad("host_state", f"{i.name} goes to {a.destination}, which changes state in the same wave",
            host=a.destination, instance=a.instance)
    if touched_power[a.source]:
        bad("host_state", f"{i.name} leaves {a.source}, which is powered on or off in the same wave",
            host=a.source, instance=a.instance)
    return True


def _check_host_action(bad: _Collector, a: Action, state, hosted: Counter[str]) -> None:  # noqa: ANN001
    if a.host not in state:
        bad("malformed", f"{a.kind.value} of unknown host {a.host!r}", host=a.host)
        return
    if state[a.host] is not _STATE_BEFORE[a.kind]:
        bad("host_state", f"{a.kind.value} of {a.host}, which is {state[a.host].value}", host=a.host)
    if a.kind is ActionKind.POWER_OFF and hosted[a.host] > 0:
        bad("power_off", f"power_off of {a.host}, which still runs {hosted[a.host]} instance(s)", host=a.host)
