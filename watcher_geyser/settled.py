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

Pure: no OpenStack imports.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from watcher_geyser.claims import MigrationRecord

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
