"""Say why each move still pending when the waves stop could not be made.

Three cases, told apart from the state the waves leave:

- ``anti_affinity``: a member of the instance's hard anti-affinity group stays on the
  destination (it is not itself leaving);
- ``no_room``: the destination would be over its transit limit even if every pending
  move ran, so no order can make this move (the target overloads the host, or moves
  before it were left undone);
- ``deadlock``: the destination would have room once other pending moves leave it, but
  those wait in turn, in a cycle, and no staging host had room to break it.
"""

from __future__ import annotations

from collections import defaultdict

from watcher_geyser.fleet import Fleet
from watcher_geyser.planner.actions import UndoneMove, UndoneReason
from watcher_geyser.planner.limits import describe_excess, within_member_limit
from watcher_geyser.planner.rows import Row, add_to, plus, take_from
from watcher_geyser.planner.waves import TransitState


def explain_pending(fleet: Fleet, s: TransitState, pending: list[int]) -> list[UndoneMove]:
    if not pending:
        return []
    end_load: dict[int, Row] = {}  # host -> load once every pending move has run
    leaving: dict[int, set[int]] = defaultdict(set)
    for v in pending:
        src, dst = s.cur[v], s.dest[v]
        leaving[src].add(v)
        add_to(end_load.setdefault(dst, list(s.load[dst])), s.demand[v])
        take_from(end_load.setdefault(src, list(s.load[src])), s.demand[v])
    out = []
    for v in pending:
        inst = fleet.instances[v]
        src, dst = s.cur[v], s.dest[v]
        code, reason = _why(fleet, s, v, dst, end_load[dst], leaving[dst])
        if src != fleet.placement[v]:
            reason = f"staged on {fleet.hosts[src].name}, then stuck: {reason}"
        out.append(UndoneMove(inst.uuid, inst.name, fleet.hosts[src].name, fleet.hosts[dst].name, code, reason))
    return out


def _why(fleet: Fleet, s: TransitState, v: int, dst: int, end_row: Row,
         leaving_dst: set[int]) -> tuple[UndoneReason, str]:
    name = fleet.hosts[dst].name
    g = s.group[v]
    if g >= 0:
        key = (g, dst)
        staying = [x for x in range(len(s.cur)) if s.cur[x] == dst and s.group[x] == g and x not in leaving_dst]
        if staying and not within_member_limit(len(staying) + 1, s.member_limit.get(key)):
            other = fleet.instances[staying[0]].name
            group = fleet.server_groups[g].name
            return UndoneReason.ANTI_AFFINITY, f"{other}, of the same anti-affinity group {group}, stays on {name}"
    limit = s.limit[dst]
    over = describe_excess(end_row, limit, within="")
    if over:
        return UndoneReason.NO_ROOM, (
            f"{name} would be over its limit by {over} even after every other pending move; "
            "the target overloads it"
        )
    need = describe_excess(list(plus(s.load[dst], s.demand[v])), limit, within="room")
    return UndoneReason.DEADLOCK, (
        f"{name} must first free {need}, but the instances that would free it wait in turn "
        f"(a cycle of moves) and no staging host in zone {fleet.hosts[dst].zone} has room to break it"
    )
