"""What the strategy asks OpenStack besides the cluster model: zones, server groups, power states,
the Nova tasks and migrations in flight, the migrations finished lately.

The strategy asks through ``CloudLookups``, an object handed to it (``strategy.cloud``):
``WatcherCloud`` answers through Watcher's Nova and bare-metal helpers in production, and
an offline run hands in a fake built from a fleet (``strategies.offline``), so nothing has
to patch Watcher's globals. Each question has a safe answer when the service cannot reply
(every host in the default zone, no server groups, no power state known, no task in flight
known, no migration in flight or finished lately known), and the reason goes to the notes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

from oslo_log import log
from watcher.common import nova_helper
from watcher.common.metal_helper import constants as metal_constants
from watcher.common.metal_helper import factory as metal_helper_factory

from watcher_geyser.claims import MigrationRecord
from watcher_geyser.cloud.records import group_key

LOG = log.getLogger(__name__)


@dataclass
class MetalInventory:
    """Bare-metal node id and power state ("on"/"off") per hypervisor hostname."""

    node_ids: dict[str, str] = field(default_factory=dict)
    power_states: dict[str, str] = field(default_factory=dict)
    error: str | None = None


class CloudLookups(Protocol):
    """The questions the strategy asks OpenStack; answers never raise."""

    def host_zones(self, notes: list[str]) -> dict[str, str]: ...

    def server_groups(self) -> tuple[dict[str, tuple[str, str]], str | None]: ...

    def metal_inventory(self) -> MetalInventory: ...

    def shelved_by_geyser(self, notes: list[str]) -> list: ...  # list[deferral.fleet.Shelved]

    def power_actions(self, since_s: float, now_s: float, notes: list[str]) -> list | None: ...  # [cycles.PowerAction]

    def services_down_since(self, notes: list[str]) -> dict[str, float]: ...  # host -> last heartbeat, epoch s

    def tasks_in_flight(self, notes: list[str]) -> dict[str, str]: ...  # instance uuid -> Nova task_state

    def migrations_in_flight(self, notes: list[str]) -> list[MigrationRecord]: ...  # hosts as the model names them

    # the migrations that moved their instance and ended since ``since_s`` (epoch s), with their ends
    def migrations_finished(self, since_s: float, notes: list[str]) -> list[MigrationRecord]: ...


@dataclass
class WatcherCloud:
    """``CloudLookups`` through Watcher's own helpers (``osc``: Watcher's OpenStack clients)."""

    osc: object = None
    context: object = None  # Watcher's request context (the strategy's ``ctx``), to read executed actions

    def host_zones(self, notes: list[str]) -> dict[str, str]:
        return host_zones(notes)

    def server_groups(self) -> tuple[dict[str, tuple[str, str]], str | None]:
        return server_groups()

    def metal_inventory(self) -> MetalInventory:
        return metal_inventory(self.osc)

    def shelved_by_geyser(self, notes: list[str]) -> list:
        return shelved_by_geyser(notes)

    def power_actions(self, since_s: float, now_s: float, notes: list[str]) -> list | None:
        return power_actions(self.context, since_s, now_s, notes)

    def services_down_since(self, notes: list[str]) -> dict[str, float]:
        return services_down_since(notes)

    def tasks_in_flight(self, notes: list[str]) -> dict[str, str]:
        return tasks_in_flight(notes)

    def migrations_in_flight(self, notes: list[str]) -> list[MigrationRecord]:
        return migrations_in_flight(notes)

    def migrations_finished(self, since_s: float, notes: list[str]) -> list[MigrationRecord]:
        return migrations_finished(since_s, notes)


def host_zones(notes: list[str]) -> dict[str, str]:
    """Hostname -> availability zone of its nova-compute service."""
    try:
        services = nova_helper.NovaHelper().get_service_list()
    except Exception as exc:  # noqa: BLE001
        notes.append(f"availability zones unknown ({type(exc).__name__}: {exc}): all hosts taken as one zone")
        return {}
    return {s.host: s.zone for s in services if getattr(s, "binary", "nova-compute") == "nova-compute" and s.zone}


def services_down_since(notes: list[str]) -> dict[str, float]:
    """Hostname -> last heartbeat of each nova-compute service that is down (``cycles.down_since``);
    {} and why in the notes when Nova cannot list them (switch-offs outside Watcher go unseen)."""
    from watcher_geyser.strategies.cycles import down_since

    try:
        return down_since(nova_helper.NovaHelper().get_service_list())
    except Exception as exc:  # noqa: BLE001
        notes.append(f"compute services unknown ({type(exc).__name__}: {exc}): hosts switched off outside "
                     "Watcher are not counted against the power-cycle budget this time")
        return {}


def tasks_in_flight(notes: list[str]) -> dict[str, str]:
    """Instance uuid -> the Nova task in flight (``OS-EXT-STS:task_state``) of every server that has one.

    Watcher's cluster model holds vm_state only, which stays "active" during a live migration,
    a resize or a rebuild; Nova refuses to migrate such an instance (HTTP 409), and one failed
    action fails Watcher's whole action plan, so the strategy pins these (``instance_state``).
    One paged list of all projects' servers (``cloud.read.server_pages``, the snapshot's read);
    {} and why in the notes when Nova cannot answer (the audit goes on).

    Nova cannot filter this list on the server for "any task": its ``task_state`` query filter
    (admins only) matches one value per request (the API copies its query into a plain dict,
    ``search_opts.update(req.GET)``, so a repeated ``task_state`` keeps its last value), and
    ``status`` covers only some tasks (MIGRATING, RESIZE, REBUILD, .. but not powering-off or
    shelving, which show the vm_state's status). Asking once per task would be some forty
    requests, so one paged list stays the cheaper read. The migrations list
    (``migrations_in_flight``) does not replace it: rebuilds, shelving and the other tasks are
    no migrations, and an instance they busy must stay pinned all the same.
    """
    from watcher_geyser.cloud.read import DEFAULT_PAGE_SIZE, server_pages

    try:
        servers = server_pages(nova_helper.NovaHelper().connection, DEFAULT_PAGE_SIZE, lambda _message: None)
    except Exception as exc:  # noqa: BLE001
        notes.append(f"Nova tasks in flight unknown ({type(exc).__name__}: {exc}): an instance Nova is migrating, "
                     "resizing or rebuilding may be planned to move, and that action fail")
        return {}
    return {s["id"]: str(s["OS-EXT-STS:task_state"]) for s in servers if s.get("OS-EXT-STS:task_state")}


def migrations_in_flight(notes: list[str]) -> list[MigrationRecord]:
    """The migrations Nova has in flight (``cloud.read.unfinished_migrations``), hosts named by
    their compute service as Watcher's model names them; a resize with what Placement holds for it
    on each host (``cloud.read.migration_record``). [] and why in the notes when Nova refuses (the
    policy is admin-only) or fails: the audit goes on, counting each migrating instance on its
    source only."""
    from watcher_geyser.cloud.read import migration_record, unfinished_migrations

    try:
        conn = nova_helper.NovaHelper().connection
        names: dict[str, str] = {}
        return [migration_record(conn, m, m.source_compute, m.dest_compute,
                                 {getattr(m, "source_node", None): m.source_compute,
                                  getattr(m, "dest_node", None): m.dest_compute}, names, notes)
                for m in unfinished_migrations(conn)]
    except Exception as exc:  # noqa: BLE001
        notes.append(f"Nova migrations in flight unknown ({type(exc).__name__}: {exc}): an instance migrating is "
                     "counted on its source only, so its destination may be planned full and Nova refuse "
                     "the moves there (NoValidHost)")
        return []


def migrations_finished(since_s: float, notes: list[str]) -> list[MigrationRecord]:
    """The migrations that moved their instance and ended since ``since_s`` (``cloud.read.finished_migrations``:
    ``os-migrations?changes-since=`` at microversion 2.59, whatever ``[nova] api_version`` Watcher pins), hosts
    named by their compute service as Watcher's model names them; the instances they moved stay out of swaps
    (``settled``). [] and why in the notes when Nova is older, refuses or fails: the audit goes on."""
    from watcher_geyser.cloud.read import finished_migrations

    try:
        conn = nova_helper.NovaHelper().connection
    except Exception as exc:  # noqa: BLE001
        notes.append(f"Nova migrations finished lately unknown ({type(exc).__name__}: {exc}): the swap pass may move "
                     "an instance that has just moved")
        return []
    return finished_migrations(conn, since_s, notes, by_node=False)


def server_groups() -> tuple[dict[str, tuple[str, str]], str | None]:
    """Instance uuid -> (group key, policy), or ({}, why) when Nova cannot list them.

    Groups are keyed by their id (``group_key``): Nova's names are free text, repeated across
    projects and within one, so two projects' "web" groups must never merge into one rule.
    """
    try:
        conn = nova_helper.NovaHelper().connection
        out: dict[str, tuple[str, str]] = {}
        for group in conn.compute.server_groups(all_projects=True):
            policy = group.policy or (group.policies[0] if group.policies else None)
            if policy is None:
                continue
            for member in group.member_ids or ():
                out[member] = (group_key(group.name, group.id), policy)
        return out, None
    except Exception as exc:  # noqa: BLE001
        if getattr(exc, "status_code", None) == 404 or getattr(getattr(exc, "response", None), "status_code", 0) == 404:
            # the compute endpoint has no os-server-groups API at all: no group can exist (as cloud.read notes)
            LOG.info("server groups: the compute endpoint does not offer os-server-groups (HTTP 404); none exist")
            return {}, None
        return {}, (f"server groups could not be listed ({type(exc).__name__}); any instance may belong to an "
                    "affinity or anti-affinity group, so none is moved and no host is switched off")



def metal_inventory(osc) -> MetalInventory:
    """Ask Ironic (or MAAS) which node backs each hypervisor and whether it is on."""
    inventory = MetalInventory()
    try:
        helper = metal_helper_factory.get_helper(osc)
        for node in helper.list_compute_nodes():
            hostname = node.get_hypervisor_hostname()
            inventory.node_ids[hostname] = node.get_id()
            state = node.get_power_state()
            if state == metal_constants.PowerState.OFF:
                inventory.power_states[hostname] = "off"
            elif state == metal_constants.PowerState.ON:
                inventory.power_states[hostname] = "on"
    except Exception as exc:  # noqa: BLE001
        inventory.error = f"{type(exc).__name__}: {exc}"
        LOG.debug("no bare-metal inventory: %s", inventory.error)
    return inventory


def shelved_by_geyser(notes: list[str]):
    """Instances geyser holds shelved (SHELVED or SHELVED_OFFLOADED with ``geyser:shelved_at``).

    Offloaded instances are on no host, so Watcher's cluster model does not list them; Nova
    does. When Nova cannot answer, none is known: nothing is brought back this time (the
    next audit retries), and the reason goes to the notes.
    """
    from watcher_geyser.deferral.fleet import Shelved
    from watcher_geyser.deferral.spec import SHELVED_AT, parse_deferral

    found: dict[str, Shelved] = {}
    try:
        nova = nova_helper.NovaHelper()
        for status in ("SHELVED_OFFLOADED", "SHELVED"):
            for server in nova.get_instance_list(filters={"status": status}):
                metadata = server.metadata or {}
                if server.status != status or SHELVED_AT not in metadata:
                    continue
                deferral, problems = parse_deferral(metadata, f"shelved instance {server.name} ({server.uuid})")
                notes.extend(problems)
                if deferral is not None:
                    vcpus, memory_mb, disk_gb = flavour(server)
                    zone = getattr(server, "pinned_availability_zone", None) or server.availability_zone
                    found[server.uuid] = Shelved(server.uuid, server.name or server.uuid, deferral, vcpus, memory_mb,
                                                 disk_gb, zone or None)
    except Exception as exc:  # noqa: BLE001
        notes.append(f"instances shelved by geyser unknown ({type(exc).__name__}: {exc}): none brought back this time")
        return []
    return list(found.values())


def flavour(server) -> tuple[int | None, int | None, int | None]:
    """(vcpus, memory_mb, disk_gb) of a Nova server's embedded flavour, the disk counted as Watcher's
    collector counts it for the instances of its model (the root disk unless it boots from a volume,
    plus ephemeral and swap, swap rounded up to GB); Nones when the flavour does not say."""
    try:
        f = server.flavor
        root_gb = 0 if server.is_boot_from_volume else int(f["disk"])
        swap_gb = math.ceil(int(f.get("swap") or 0) / 1024)
        return int(f["vcpus"]), int(f["ram"]), root_gb + int(f.get("ephemeral") or 0) + swap_gb
    except (KeyError, TypeError, ValueError, AttributeError):
        return None, None, None


def power_actions(context, since_s: float, now_s: float, notes: list[str]):
    """Power actions Watcher executed, is executing or will execute (``cycles``); None, and why in the notes,
    when its database cannot be read."""
    from watcher_geyser.strategies.cycles import counted_power_actions

    try:
        return counted_power_actions(context, since_s, now_s)
    except Exception as exc:  # noqa: BLE001
        notes.append(f"Watcher's action history unreadable ({type(exc).__name__}: {exc}): power cycles of the "
                     "last 24 h unknown, so no host is switched off this time")
        return None
