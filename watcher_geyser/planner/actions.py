"""What a plan is made of: actions, waves, the moves left undone, and the plan's figures.

Plain data, no OpenStack: the Watcher planner plugin, the simulator and ``geyser plan``
read these types and nothing else. ``ActionKind`` is the one place action kinds are named.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

from watcher_geyser import defaults
from watcher_geyser.records import MigrationKind


class ActionKind(enum.StrEnum):
    """Every action a plan may hold; the value is the ``kind`` written to JSON."""

    POWER_ON = "power_on"  # switch a host on (it comes up with its compute service disabled)
    ENABLE = "enable"  # enable a host's compute service: it may receive instances
    LIVE_MIGRATE = "live_migrate"  # move a running (or paused) instance
    COLD_MIGRATE = "cold_migrate"  # move a stopped instance (Nova's resize path)
    DISABLE = "disable"  # disable a host's compute service: it receives nothing more
    POWER_OFF = "power_off"  # switch an empty, disabled host off

    @property
    def is_migration(self) -> bool:
        return self in (ActionKind.LIVE_MIGRATE, ActionKind.COLD_MIGRATE)

    @classmethod
    def for_migration(cls, kind: MigrationKind) -> ActionKind:
        return cls.LIVE_MIGRATE if kind is MigrationKind.LIVE else cls.COLD_MIGRATE


@dataclass(frozen=True)
class Action:
    """One step of a plan.

    A migration names ``instance`` (uuid), ``source`` and ``destination`` host names; a host
    action names ``host``. ``staging`` marks a migration to an intermediate host, added to
    break a cycle; the instance moves again later to its target.
    """

    kind: ActionKind
    instance: str | None = None
    source: str | None = None
    destination: str | None = None
    host: str | None = None
    instance_name: str | None = None
    memory_mb: int = 0
    disk_gb: int = 0
    staging: bool = False

    def to_json(self) -> dict[str, Any]:
        if self.kind.is_migration:
            out: dict[str, Any] = {
                "kind": self.kind.value,
                "instance": self.instance,
                "instance_name": self.instance_name,
                "source": self.source,
                "destination": self.destination,
            }
            if self.staging:
                out["staging"] = True
            return out
        return {"kind": self.kind.value, "host": self.host}


class UndoneReason(enum.StrEnum):
    """Why a move of the target was not planned; the value is the ``code`` in JSON."""

    PINNED = "pinned"  # locked, excluded, or in a state Nova cannot migrate
    DESTINATION_DISABLED = "destination_disabled"  # the target host's compute service is disabled
    POWER_ON_NOT_ALLOWED = "power_on_not_allowed"  # the target host is off and the problem forbids power-on
    CROSSES_ZONES = "crosses_zones"  # the target host is in another availability zone
    CORES_TOO_SLOW = "cores_too_slow"  # the target host's cores give less than the instance uses per core
    NO_ROOM = "no_room"  # the destination is over its limit even once everything planned has run
    DEADLOCK = "deadlock"  # blocked in a cycle of moves and no staging host has room
    ANTI_AFFINITY = "anti_affinity"  # a member of its anti-affinity group stays on the destination
    AFFINITY_HELD = "affinity_held"  # its affinity group stays put: moving only some members would split it


@dataclass(frozen=True)
class UndoneMove:
    """A move of the target that the plan does not make, and why.

    ``source`` is where the instance is when the plan ends (a staging host, if it was
    staged and could not go on), ``destination`` where the target wanted it.
    """

    instance: str
    instance_name: str
    source: str
    destination: str
    code: UndoneReason
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "instance_name": self.instance_name,
            "source": self.source,
            "destination": self.destination,
            "code": self.code.value,
            "reason": self.reason,
        }


def check_migration_timing(bandwidth_mb_s: float, overhead_s: float) -> None:
    """ValueError naming the setting unless ``bandwidth_mb_s`` is a finite number > 0 and
    ``overhead_s`` one >= 0. The names are the strategy's options and audit parameters, which
    reach ``Timing`` through ``PlanSettings``; NaN is refused too (it passes every comparison's
    guard in oslo.config and JSON schema, and would make the duration estimate NaN)."""
    if not _finite(bandwidth_mb_s) or not bandwidth_mb_s > 0:
        raise ValueError(f"migration_bandwidth_mb_s must be a number of MB/s > 0, got {bandwidth_mb_s!r}")
    if not _finite(overhead_s) or not overhead_s >= 0:
        raise ValueError(f"migration_overhead_s must be a number of seconds >= 0, got {overhead_s!r}")


def check_power_timing(power_on_s: float, power_off_s: float) -> None:
    """ValueError naming the setting unless ``power_on_s`` and ``power_off_s`` are finite numbers
    >= 0: the strategy's ``host_power_on_s``/``host_power_off_s`` options and audit parameters,
    which reach ``Timing`` through ``PlanSettings`` (NaN refused, as for the migration figures)."""
    for name, value in (("host_power_on_s", power_on_s), ("host_power_off_s", power_off_s)):
        if not _finite(value) or not value >= 0:
            raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Timing:
    """How long actions take, for the plan's duration estimate.

    A migration copies the instance's memory (live) or disk (cold, no shared storage)
    at ``bandwidth_mb_s`` and pays ``migration_overhead_s`` for setup and switch-over; a
    wave lasts as long as its slowest action. The migration figures and the hosts' power-on and
    power-off times are the operator's (``PlanSettings``): the estimate decides which shelved
    instances come back in the plan.
    """

    bandwidth_mb_s: float = defaults.BANDWIDTH_MB_S
    migration_overhead_s: float = defaults.MIGRATION_OVERHEAD_S
    power_on_s: float = defaults.POWER_ON_S
    power_off_s: float = defaults.POWER_OFF_S
    service_s: float = 2.0

    def __post_init__(self) -> None:
        check_migration_timing(self.bandwidth_mb_s, self.migration_overhead_s)
        check_power_timing(self.power_on_s, self.power_off_s)
        if not self.service_s >= 0:
            raise ValueError(f"service_s must be >= 0, got {self.service_s}")

    def action_s(self, action: Action) -> float:
        kind = action.kind
        if kind is ActionKind.LIVE_MIGRATE:
            return self.migration_overhead_s + action.memory_mb / self.bandwidth_mb_s
        if kind is ActionKind.COLD_MIGRATE:
            return self.migration_overhead_s + action.disk_gb * 1024 / self.bandwidth_mb_s
        if kind is ActionKind.POWER_ON:
            return self.power_on_s
        if kind is ActionKind.POWER_OFF:
            return self.power_off_s
        return self.service_s

    def wave_s(self, wave: list[Action]) -> float:
        return max((self.action_s(a) for a in wave), default=0.0)


@dataclass
class Plan:
    """An ordered list of waves; the actions of one wave may run in any order or all at once.

    ``left_undone`` lists the target's moves the plan does not make; ``staging_moves``
    counts the extra migrations added to break cycles; ``messages`` explains the outcome
    in sentences an operator can act on.
    """

    waves: list[list[Action]]
    left_undone: list[UndoneMove] = field(default_factory=list)
    staging_moves: int = 0
    duration_estimate_s: float = 0.0
    parallelism: int = defaults.PARALLELISM
    per_host_parallelism: int = defaults.PER_HOST_PARALLELISM
    plan_seconds: float = 0.0
    messages: list[str] = field(default_factory=list)

    @property
    def wave_count(self) -> int:
        return len(self.waves)

    @property
    def actions(self) -> list[Action]:
        return [a for wave in self.waves for a in wave]

    @property
    def migrations(self) -> int:
        return sum(1 for a in self.actions if a.kind.is_migration)

    @property
    def complete(self) -> bool:
        """True when every move of the target is planned."""
        return not self.left_undone

    def counts(self) -> dict[str, int]:
        """Actions of each kind, by ``ActionKind`` value (every kind present, 0 when absent)."""
        out = {k.value: 0 for k in ActionKind}
        for a in self.actions:
            out[a.kind.value] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "waves": [[a.to_json() for a in wave] for wave in self.waves],
            "left_undone": [u.to_json() for u in self.left_undone],
            "wave_count": self.wave_count,
            "migrations": self.migrations,
            "actions": self.counts(),
            "staging_moves": self.staging_moves,
            "duration_estimate_s": round(self.duration_estimate_s, 1),
            "parallelism": self.parallelism,
            "per_host_parallelism": self.per_host_parallelism,
            "plan_seconds": round(self.plan_seconds, 4),
            "messages": list(self.messages),
        }
