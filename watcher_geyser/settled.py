"""How long each instance has stood where it is, from Nova's finished migrations.

The swap pass moves no instance that has stood where it is for less than ``swap_payback_s``
(``Instance.settled_s``, ``solver/swap.py``): its payback counts on the placement standing that
long, and a placement younger than that is the one likely to move again (docs/design/solver.md,
"Swaps that undo swaps"). The simulator knows when each VM last moved; a reader of a cloud asks
Nova for the migrations that ended within the payback time (``GET /os-migrations?changes-since=``,
``cloud.read.finished_migrations``) and this module turns them into ``settled_s`` per instance.

The rule, per instance: the latest end (the migration's ``updated_at``: Nova last touches a
migration row when it sets its final status) of a migration that *moved* it: one whose status
says it ended on its destination (``MOVED_STATUSES``) between two different hosts.
``settled_s = now - end``, 0 for an end in the future (clocks differ). Migrations that failed,
were cancelled or reverted (the instance is back where it was), still in flight (they are
claims, ``claims``) or that resized an instance on its own host moved nothing and count for
nothing. An instance with no such migration in the window says nothing (``settled_s`` None:
settled for at least the window, or never moved).

Whatever host the instance sits on now, ``now - end`` bounds the time it has stood there: if
it is no longer on that migration's destination, something moved it later still (an
evacuation or a rebuild Nova recorded with another status, or a move older records miss), so
its placement is younger still, and is held all the same. The bound is what the swap pass
needs, so the instance's host is not compared.

A scenario carries the end itself (``moved_at``, with the snapshot's ``taken_at``), not the age:
``SettledClock`` counts it to the plan's clock, so a plan made hours after the snapshot holds an
instance only as long as the payback time still says.

Pure: no OpenStack imports.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from watcher_geyser.claims import MigrationRecord
from watcher_geyser.inputs import FUTURE_SLACK_S, InputError, epoch_s, iso, number

# the final statuses of a migration that brought its instance to its destination: a live
# migration ends "completed"; a cold migration or resize "confirmed" once confirmed (Watcher's
# migrate action confirms it); an evacuation "done"
MOVED_STATUSES = frozenset({"completed", "confirmed", "done"})


def nova_time_s(text: object) -> float | None:
    """An ISO 8601 time as Nova writes it (``2026-11-27T07:24:23.000000``, no zone: UTC; or with
    ``Z`` / ``+00:00``), as epoch seconds; None when it is missing or not a time."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # Nova's API gives UTC without saying so
    return when.timestamp()


def moved_its_instance(m: MigrationRecord) -> bool:
    """``m`` ended with its instance on its destination, another host than its source."""
    return (m.status or "").lower() in MOVED_STATUSES and bool(m.destination) and m.destination != m.source


def settled_seconds(migrations: Iterable[MigrationRecord], now_s: float) -> dict[str, float]:
    """Instance uuid -> seconds since the last migration that moved it ended (see the module doc);
    migrations that moved nothing, or whose end is unknown (``ended_s`` None), say nothing."""
    ended: dict[str, float] = {}
    for m in migrations:
        if m.ended_s is not None and moved_its_instance(m):
            ended[m.instance] = max(ended.get(m.instance, m.ended_s), m.ended_s)
    return {uuid: max(0.0, now_s - end) for uuid, end in ended.items()}


def iso_utc(epoch_s: float) -> str:
    """Epoch seconds as the ISO 8601 UTC time Nova's ``changes-since`` takes (``2026-11-27T01:24:23Z``)."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SettledClock:
    """The plan's clock (``now_s``) and when the scenario was taken (``taken_at_s``, None: not said):
    what an instance's ``moved_at``, or its older ``settled_s``, counts to. Bad input raises an
    ``InputError`` naming the entry (``where``) and the fix."""

    def __init__(self, now_s: float, taken_at_s: float | None = None) -> None:
        self.now_s, self.taken_at_s = now_s, taken_at_s

    @classmethod
    def of(cls, taken_at: object, now_s: float) -> SettledClock:
        """With a scenario's ``taken_at`` (an ISO 8601 time with its zone, or None); refused more than
        ``FUTURE_SLACK_S`` after the clock: a snapshot from the future is a time zone mistake."""
        if taken_at is None:
            return cls(now_s)
        taken_at_s = epoch_s(taken_at, "scenario: 'taken_at'", zoned=True)
        if taken_at_s > now_s + FUTURE_SLACK_S:
            raise InputError(f"scenario: 'taken_at' ({iso(taken_at_s)}) is after the plan's clock ({iso(now_s)}): "
                             "a snapshot from the future; check its time zone (Z for UTC)")
        return cls(now_s, taken_at_s)

    def settled_s(self, moved_at: object, settled_s: object, where: str) -> float | None:
        """Seconds the instance has stood on its host at the clock (None: not known to have moved).

        ``moved_at`` (an ISO 8601 time with its zone): the clock less it, 0 within ``FUTURE_SLACK_S``
        ahead (two machines' clocks); refused further ahead, or after ``taken_at`` (a move the
        snapshot cannot have seen: a time zone mistake, most likely). ``settled_s`` (the older form,
        seconds >= 0): as of ``taken_at``, so aged to the clock; without ``taken_at``, as of the clock.
        Both given: refused, since they may disagree."""
        if settled_s is not None and moved_at is not None:
            raise InputError(f"{where}: give 'moved_at' or 'settled_s', not both (moved_at is when it moved; "
                             "settled_s, the older form, the seconds since, as of taken_at)")
        if moved_at is not None:
            at_s = epoch_s(moved_at, f"{where}: 'moved_at'", zoned=True)
            if self.taken_at_s is not None and at_s > self.taken_at_s:
                raise InputError(f"{where}: 'moved_at' ({iso(at_s)}) is after the scenario's taken_at "
                                 f"({iso(self.taken_at_s)}); check its time zone (Z for UTC)")
            if at_s > self.now_s + FUTURE_SLACK_S:
                raise InputError(f"{where}: 'moved_at' ({iso(at_s)}) is after the plan's clock ({iso(self.now_s)}): "
                                 "a move in the future; check its time zone (Z for UTC)")
            return max(0.0, self.now_s - at_s)
        if settled_s is None:
            return None
        seconds = float(number(settled_s, where, "settled_s", low=0))
        return seconds if self.taken_at_s is None else seconds + max(0.0, self.now_s - self.taken_at_s)
