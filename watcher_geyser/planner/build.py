"""``plan(target)``: from the fleet as it is to the solver's target, in capacity-safe waves.

The steps read like the rule they implement:

1. refuse the moves no order can make (pinned instances, disabled or forbidden
   destinations, zone crossings): they go to ``left_undone`` with their reason;
2. order the rest into waves (``waves.WaveBuilder``), staging through a host with room
   where moves block each other in a cycle (``cycles``);
3. explain every move still pending (``undone``); where moves left undone would leave a
   hard affinity group split, keep that whole group where it is and plan again (``groups``);
4. add the host actions around the migrations (``hostactions``) and estimate the time.

The fleet is the target's own (``target.fleet``, the snapshot the solver solved), so a
plan can never pair a target with another fleet.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from watcher_geyser import defaults
from watcher_geyser.fleet import Fleet
from watcher_geyser.planner import groups
from watcher_geyser.planner.actions import Action, ActionKind, Plan, Timing, UndoneMove, UndoneReason
from watcher_geyser.planner.hostactions import FIRST_WAVE_AFTER_POWER_ON, host_actions
from watcher_geyser.planner.limits import (
    anti_affinity_groups,
    host_load,
    instance_demand,
    member_counts,
    member_limits,
    problem_limits,
)
from watcher_geyser.planner.undone import explain_pending
from watcher_geyser.planner.waves import Move, TransitState, WaveBuilder
from watcher_geyser.records import HostState, MigrationKind
from watcher_geyser.solver.problem import Target
from watcher_geyser.solver.rules.cores import core_tiers, too_slow
from watcher_geyser.solver.rules.groups import affinity_members

DEFAULT_PARALLELISM = defaults.PARALLELISM
DEFAULT_PER_HOST_PARALLELISM = defaults.PER_HOST_PARALLELISM


def plan(
    target: Target,
    parallelism: int = DEFAULT_PARALLELISM,
    per_host_parallelism: int = DEFAULT_PER_HOST_PARALLELISM,
    allow_power_off: bool = False,
    bandwidth_mb_s: float | None = None,
    timing: Timing | None = None,
    stage_on_emptied_hosts: bool = False,
    keep_on: Mapping[str, str] | None = None,
) -> Plan:
    """Order the moves from ``target.fleet`` to ``target.placement`` into safe waves.

    ``parallelism`` caps migrations per wave; ``per_host_parallelism`` caps the migrations
    touching one host in a wave (as source or destination: a migration loads both ends).
    ``allow_power_off`` lets the plan switch off hosts it empties. ``bandwidth_mb_s``
    (or ``timing``) feeds the duration estimate. ``stage_on_emptied_hosts`` lets cycles be
    broken through hosts that hold instances now and end empty (by default only hosts that
    stay on, then spare hosts, empty now and at the end, serve as staging hosts).
    ``keep_on``: host name -> why it must stay on (the power-cycle budget's held-on hosts); one
    that ends empty is neither disabled nor switched off, and the messages say why (``hostactions``).
    After any prefix of the plan, and at every moment within a wave, each host stays
    within ``limits.transit_limits`` of the target's problem; see ``replay.replay``.
    """
    started = time.perf_counter()
    _check_arguments(parallelism, per_host_parallelism)
    timing = timing or Timing()
    if bandwidth_mb_s is not None:
        timing = Timing(bandwidth_mb_s, timing.migration_overhead_s, timing.power_on_s, timing.power_off_s,
                        timing.service_s)
    fleet = target.fleet
    wanted = _target_placement(target)
    goal = wanted.copy()
    held: set[int] = set()
    while True:  # each round holds at least one more affinity group, so it ends
        refused, moves = _refuse_impossible(target, goal)
        state = _transit_state(target, goal, moves, stage_on_emptied_hosts)
        outcome = WaveBuilder(state, moves, parallelism, per_host_parallelism).run()
        split = groups.split_affinity(fleet, state.cur, held)
        if not split:
            break
        held.update(split)
        groups.hold(goal, fleet, split)
    left_undone = refused + explain_pending(fleet, state, outcome.pending) + groups.held_moves(fleet, wanted, held)
    keep_on = keep_on or {}
    kept_on = {h: keep_on[host.name] for h, host in enumerate(fleet.hosts) if host.name in keep_on}
    waves = _assemble(fleet, outcome.waves, state.cur, allow_power_off, frozenset(kept_on))
    result = Plan(
        waves=waves,
        left_undone=left_undone,
        staging_moves=outcome.staging_moves,
        duration_estimate_s=sum(timing.wave_s(w) for w in waves),
        parallelism=parallelism,
        per_host_parallelism=per_host_parallelism,
    )
    result.messages = (_summary(result, int((wanted != fleet.placement).sum())) + groups.group_notes(fleet)
                       + (_kept_on_notes(fleet, state.cur, kept_on) if allow_power_off else []))
    result.plan_seconds = time.perf_counter() - started
    return result


def _check_arguments(parallelism: int, per_host: int) -> None:
    for name, value in (("parallelism", parallelism), ("per_host_parallelism", per_host)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1 (migrations at once), got {value!r}")


def _target_placement(target: Target) -> np.ndarray:
    fleet = target.fleet
    goal = np.asarray(target.placement)
    if goal.shape != (len(fleet.instances),):
        raise ValueError(
            f"target placement has shape {goal.shape}, expected ({len(fleet.instances)},): one host index per instance"
        )
    if len(goal) and (not np.issubdtype(goal.dtype, np.integer) or goal.min() < 0 or goal.max() >= len(fleet.hosts)):
        raise ValueError(f"target placement must hold host indices in 0..{len(fleet.hosts) - 1}")
    return goal.astype(np.int64)


def _refuse_impossible(target: Target, goal: np.ndarray) -> tuple[list[UndoneMove], np.ndarray]:
    """Moves no order can make, with their reasons; and the indices of the others."""
    fleet = target.fleet
    candidates = np.flatnonzero(goal != fleet.placement)
    disabled = np.array([h.state is HostState.DISABLED for h in fleet.hosts], dtype=bool)
    off = ~fleet.powered
    bad = (
        ~fleet.movable[candidates]
        | disabled[goal[candidates]]
        | (off[goal[candidates]] & (not target.problem.allow_power_on))
        | (fleet.host_zone[goal[candidates]] != fleet.host_zone[fleet.placement[candidates]])
        | too_slow(fleet, candidates, goal[candidates])
    )
    refused = [_refusal(target, int(v), int(goal[v])) for v in candidates[bad]]
    return refused, candidates[~bad].astype(np.int64)


def _refusal(target: Target, v: int, goal: int) -> UndoneMove:
    fleet = target.fleet
    inst = fleet.instances[v]
    dst = fleet.hosts[goal]
    src = fleet.hosts[fleet.placement[v]]
    if inst.pinned_reason is not None:
        code, reason = UndoneReason.PINNED, f"{inst.name} is {inst.pinned_reason}: it does not move"
    elif dst.state is HostState.DISABLED:
        code, reason = UndoneReason.DESTINATION_DISABLED, f"{dst.name} is disabled and receives no instance"
    elif dst.state is HostState.OFF and not target.problem.allow_power_on:
        code = UndoneReason.POWER_ON_NOT_ALLOWED
        reason = f"{dst.name} is off and the problem does not allow powering hosts on"
    elif src.zone != dst.zone:
        code = UndoneReason.CROSSES_ZONES
        reason = f"{inst.name} would cross from zone {src.zone} to {dst.zone}; instances never cross zones"
    else:
        code = UndoneReason.CORES_TOO_SLOW
        reason = (f"{inst.name} uses {fleet.cpu_per_core[v]:.6g} of CPU per core, more than one of "
                  f"{dst.name}'s cores gives ({fleet.core_size[goal]:.6g})")
    return UndoneMove(inst.uuid, inst.name, src.name, dst.name, code, reason)


def _transit_state(target: Target, goal: np.ndarray, moves: np.ndarray, stage_on_emptied: bool) -> TransitState:
    fleet = target.fleet
    limits = problem_limits(target.problem)
    demand = instance_demand(fleet)
    load = host_load(fleet)  # the solver's load arithmetic, written once (solver/limits.py)
    dest = np.full(len(fleet.instances), -1, dtype=np.int64)
    dest[moves] = goal[moves]
    off = ~fleet.powered
    ready = np.where(off, FIRST_WAVE_AFTER_POWER_ON, 0)
    # Where instances end if every planned move runs: hosts that stay on are staging hosts.
    end = fleet.placement.copy()
    end[moves] = goal[moves]
    stays_on = fleet.occupied(end)
    # Staging tiers (cycles.py): 0 stays on, 1 spare (empty now and at the end), 2 being emptied.
    tier = np.where(stays_on, 0, np.where(~fleet.occupied(), 1, 2 if stage_on_emptied else -1))
    tier[~fleet.accepts | (off & ~stays_on)] = -1
    group = anti_affinity_groups(fleet)
    members = member_counts(group, fleet.placement)
    host_core_tier, core_tier = core_tiers(fleet)
    return TransitState(
        cur=fleet.placement.tolist(),
        dest=dest.tolist(),
        load=load.tolist(),
        limit=limits.tolist(),
        demand=[tuple(row) for row in demand.tolist()],
        group=group.tolist(),
        members=members,
        member_limit=member_limits(members),
        zone=fleet.host_zone.tolist(),
        ready_wave=ready.tolist(),
        stage_tier=tier.tolist(),
        no_stage={v for members in affinity_members(fleet).values() for v in members},
        host_core_tier=host_core_tier.tolist() if int(core_tier.max(initial=0)) else [],
        core_tier=core_tier.tolist() if int(core_tier.max(initial=0)) else [],
    )


def _kept_on_notes(fleet: Fleet, final_hosts: list[int], kept_on: dict[int, str]) -> list[str]:
    """One line per powered host of ``kept_on`` the plan leaves empty: it would have gone off."""
    occupied = set(final_hosts)
    return [f"host {fleet.hosts[h].name} stays on: {why}" for h, why in sorted(kept_on.items())
            if h not in occupied and fleet.powered[h]]


def _assemble(fleet: Fleet, moves: list[list[Move]], final_hosts: list[int],
              allow_power_off: bool, keep_on: frozenset[int] = frozenset()) -> list[list[Action]]:
    extra = host_actions(fleet, moves, final_hosts, allow_power_off, keep_on)
    n_waves = max([len(moves), *(w + 1 for w in extra)])
    waves: list[list[Action]] = []
    hosts, instances = fleet.hosts, fleet.instances
    kind_of = {MigrationKind.LIVE: ActionKind.LIVE_MIGRATE, MigrationKind.COLD: ActionKind.COLD_MIGRATE}
    for w in range(n_waves):
        wave = [Action(kind, host=hosts[h].name) for kind, h in sorted(extra.get(w, []), key=_host_action_order)]
        for v, src, dst, staging in moves[w] if w < len(moves) else ():
            inst = instances[v]
            wave.append(Action(kind_of[inst.migration_kind], instance=inst.uuid,
                               source=hosts[src].name, destination=hosts[dst].name, instance_name=inst.name,
                               memory_mb=inst.memory_mb, disk_gb=inst.disk_gb, staging=staging))
        if wave:
            waves.append(wave)
    return waves


_KIND_ORDER = {k: i for i, k in enumerate(ActionKind)}


def _host_action_order(item: tuple[ActionKind, int]) -> tuple[int, int]:
    return _KIND_ORDER[item[0]], item[1]


def _summary(result: Plan, wanted: int) -> list[str]:
    lines = [
        f"{result.migrations} migration(s) in {result.wave_count} wave(s), "
        f"about {result.duration_estimate_s / 60:.1f} min; {result.staging_moves} extra staging move(s)."
    ]
    if result.left_undone:
        lines.append(
            f"{len(result.left_undone)} of {wanted} target move(s) left undone: the plan stops short of the "
            "target where no safe order exists (see left_undone for each reason)."
        )
    return lines
