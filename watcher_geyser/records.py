"""The fleet's records and Nova's state vocabulary: hosts, instances, server groups.

What a host, an instance and a server group are, as every reader of the cloud (the scenario
reader, the Watcher adapter, the simulator's view) writes them and every consumer reads them,
and the words Nova uses for their states: which instance states Nova can migrate live or cold
(``MOVABLE_STATES``), which pin an instance (``PINNED_STATES``, and a task in flight,
``NOVA_TASKS``), the hosts' ``HostState`` and the server groups' ``GroupPolicy``. Immutable,
and free of OpenStack imports; ``fleet.Fleet`` holds them together with their numpy views.

A host's capacity follows Placement's rule: ``(total - reserved) * allocation_ratio``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from watcher_geyser.deferral.spec import Deferral
from watcher_geyser.power import PowerModel

DEFAULT_ZONE = "nova"


class HostState(enum.StrEnum):
    """Whether a host is powered and accepts new instances."""

    ENABLED = "enabled"  # powered on, compute service enabled: may receive instances
    DISABLED = "disabled"  # powered on, compute service disabled: keeps or loses instances, receives none
    OFF = "off"  # powered off: may be switched on when the caller allows it


class MigrationKind(enum.StrEnum):
    LIVE = "live"
    COLD = "cold"


# Nova moves an instance live only while it runs (or is paused), cold only while it is
# stopped; any other state (error, building, suspended, shelved, ..) pins it where it is.
_LIVE_STATES = frozenset({"active", "paused"})
_COLD_STATES = frozenset({"shutoff", "stopped"})
MOVABLE_STATES = _LIVE_STATES | _COLD_STATES
# Nova's other vm_states (nova/compute/vm_states.py): known, and pinned.
PINNED_STATES = frozenset({"building", "suspended", "rescued", "resized", "soft-delete", "soft_deleted", "deleted",
                           "error", "shelved", "shelved_offloaded"})
# Nova's task states (nova/compute/task_states.py). Nova keeps vm_state "active" while a task runs
# (a live migration, a resize, a rebuild, ..) and refuses a migration meanwhile (HTTP 409), so an
# adapter that reads a task in flight puts it in ``Instance.state``: the instance stays, and
# ``pinned_reason`` says why in those words. A task not listed here pins it all the same (any state
# but the live and cold ones does), only worded as a state.
NOVA_TASKS = frozenset({
    "scheduling", "block_device_mapping", "networking", "spawning", "image_snapshot", "image_snapshot_pending",
    "image_pending_upload", "image_uploading", "image_backup", "updating_password", "resize_prep",
    "resize_migrating", "resize_migrated", "resize_finish", "resize_reverting", "resize_confirming", "rebooting",
    "reboot_pending", "reboot_started", "rebooting_hard", "reboot_pending_hard", "reboot_started_hard", "pausing",
    "unpausing", "suspending", "resuming", "powering-off", "powering-on", "rescuing", "unrescuing", "rebuilding",
    "rebuild_block_device_mapping", "rebuild_spawning", "migrating", "deleting", "soft-deleting", "restoring",
    "shelving", "shelving_image_pending_upload", "shelving_image_uploading", "shelving_offloading", "unshelving",
})
#: How the simulator and tests word a live migration in flight (Nova's own task name)
MIGRATING = "migrating"


class GroupPolicy(enum.StrEnum):
    AFFINITY = "affinity"
    ANTI_AFFINITY = "anti-affinity"
    SOFT_AFFINITY = "soft-affinity"
    SOFT_ANTI_AFFINITY = "soft-anti-affinity"

    @property
    def is_hard(self) -> bool:
        return self in (GroupPolicy.AFFINITY, GroupPolicy.ANTI_AFFINITY)


@dataclass(frozen=True)
class Host:
    name: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    power: PowerModel
    cpu_allocation_ratio: float = 1.0
    ram_allocation_ratio: float = 1.0
    disk_allocation_ratio: float = 1.0
    reserved_vcpus: int = 0
    reserved_memory_mb: int = 0
    reserved_disk_gb: int = 0
    state: HostState = HostState.ENABLED
    zone: str = DEFAULT_ZONE
    # CPU one physical core gives, in the fleet's CPU units (vcpus' worth of measured CPU); None: no
    # per-core limit (OpenStack: a vCPU is a host thread, and measured CPU never exceeds the vcpus)
    core_size: float | None = None

    @property
    def capacity(self) -> tuple[float, float, float]:
        """Schedulable (vcpu, memory_mb, disk_gb), as Placement computes it."""
        return (
            (self.vcpus - self.reserved_vcpus) * self.cpu_allocation_ratio,
            (self.memory_mb - self.reserved_memory_mb) * self.ram_allocation_ratio,
            (self.disk_gb - self.reserved_disk_gb) * self.disk_allocation_ratio,
        )

    @property
    def powered(self) -> bool:
        return self.state is not HostState.OFF

    @property
    def accepts_instances(self) -> bool:
        """Disabled hosts never receive instances; off hosts may, once switched on and enabled."""
        return self.state is not HostState.DISABLED


@dataclass(frozen=True)
class Instance:
    uuid: str
    name: str
    host: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    cpu_util: float | None = None  # measured CPU use, 0..1 of the instance's own vcpus
    state: str = "active"  # Nova's vm_state, or the task in flight when there is one (``NOVA_TASKS``)
    locked: bool = False
    excluded: bool = False  # Watcher's watcher_exclude, or an operator's choice
    server_group: str | None = None
    deferral: Deferral | None = None  # the operator's opt-in to shelving when energy is scarce
    cores: int | None = None  # physical cores its vcpus run over (None: its vcpus), for ``Host.core_size``
    # Not an instance but a *claim*: what Nova holds on this host for the instance ``claim_of`` while a
    # migration between this host and the instance's own is in flight (``claims.py``). Its host counts it
    # as used capacity, in every back-end and checker, because it is a row like any pinned instance; it never
    # moves, and its host, holding it, is never emptied, disabled or switched off by a plan.
    claim_of: str | None = None
    # Seconds since a migration last brought it to its host, as far as the reader's records of finished
    # migrations go back (None: not known to have moved). The swap pass moves none settled for less than
    # ``swap_payback_s`` (``solver/swap.py``): a placement that has not stood that long is the one likely to move again.
    settled_s: float | None = None

    @property
    def deferrable(self) -> bool:
        return self.deferral is not None

    @property
    def migration_kind(self) -> MigrationKind | None:
        """How this instance may move, or None when its state pins it."""
        state = self.state.lower()
        if state in _LIVE_STATES:
            return MigrationKind.LIVE
        if state in _COLD_STATES:
            return MigrationKind.COLD
        return None

    @property
    def task_in_flight(self) -> str | None:
        """The Nova task this instance is busy with (``NOVA_TASKS``), or None."""
        state = self.state.lower()
        return state if state in NOVA_TASKS else None

    @property
    def movable(self) -> bool:
        return not self.locked and not self.excluded and self.claim_of is None and self.migration_kind is not None

    @property
    def pinned_reason(self) -> str | None:
        """Why this instance must stay where it is, or None when it may move."""
        if self.claim_of is not None:
            return f"the claim Nova holds here for instance {self.claim_of} while it migrates, until that ends"
        if self.locked:
            return "locked"
        if self.excluded:
            return "excluded"
        if self.migration_kind is None:
            task = self.task_in_flight
            if task is not None:
                return f"busy with a Nova task in flight ({task}), until that ends"
            return f"in state {self.state!r}, which Nova cannot migrate"
        return None


@dataclass(frozen=True)
class ServerGroup:
    name: str
    policy: GroupPolicy
