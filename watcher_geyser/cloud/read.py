"""Read a live cloud through openstacksdk into ``CloudRecords``: the only file here that talks to it.

What is read, and the rights it needs (an admin account has them all):

- Nova: hypervisors (``os-hypervisors/detail``), compute services and their zones
  (``os-services``), servers of all projects (``servers/detail?all_tenants``), server
  groups of all projects (``os-server-groups``), flavours only when a server does not
  embed its own (microversions before 2.47);
- Placement: resource providers and the inventories of those that are hypervisors.

A server's task in flight (``OS-EXT-STS:task_state``: migrating, resize_migrating, rebuilding,
powering-off, ..; shown to admins) is read with its vm_state: Nova keeps vm_state ``active``
during a live migration, so only the task says it is busy, and any non-empty one pins it
(``instance_state``).

Migrations in flight (``os-migrations``, one request per unfinished status, ``claims.IN_FLIGHT_STATUSES``)
hold their instance's resources on both hosts; the end it is not on gets a claim (``claims``). The
list is admin-only by default: a refusal, or any failure, is a note saying what it means, never a
failed snapshot. The migrations that ended within ``moved_within_s`` (a day for ``geyser snapshot``,
any swap payback time up to it; ``os-migrations?changes-since=``, microversion 2.59,
``finished_migrations``) say which instances moved recently (``settled``): the swap pass leaves
those where they are.

Lists are read page by page, so large clouds do not time out: servers and server groups
``page_size`` items a request; hypervisors in Nova's own pages (``[api] max_limit``,
1000 by default) whose ``next`` links openstacksdk follows. (Asking hypervisors for a
``limit`` too would loop forever on endpoints that ignore it, as Watcher's emulator does.) A read that fails raises
``CloudError`` naming it; server groups alone are optional (an endpoint that does not
offer them gives a note), because a fleet without them is still worth planning.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

from watcher_geyser.claims import IN_FLIGHT_STATUSES, Held, MigrationRecord
from watcher_geyser.cloud.connect import CloudError, call
from watcher_geyser.cloud.records import (
    CloudRecords,
    HypervisorRecord,
    Inventory,
    ServerGroupRecord,
    ServerRecord,
)
from watcher_geyser.defaults import MOVED_WITHIN_S
from watcher_geyser.records import DEFAULT_ZONE
from watcher_geyser.settled import iso_utc, moved_its_instance, nova_time_s, settled_seconds

RESOURCE_CLASSES = ("VCPU", "MEMORY_MB", "DISK_GB")
DEFAULT_PAGE_SIZE = 500
# os-migrations filters on changes-since (and pages) from this microversion; below it Nova drops the
# filter without a word (nova/api/openstack/compute/migrations.py) and lists every migration ever made
CHANGES_SINCE_MICROVERSION = "2.59"


def read_cloud(conn, page_size: int = DEFAULT_PAGE_SIZE, progress: Callable[[str], None] | None = None,
               moved_within_s: float = MOVED_WITHIN_S) -> CloudRecords:
    """Hypervisors with inventories, servers and server groups of the cloud behind ``conn``, the
    migrations in flight, and how long before the read (``taken_at_s``, when the migrations were
    read) each instance a migration moved within ``moved_within_s`` was moved (``settled``; 0: not
    asked)."""
    say = progress or (lambda _msg: None)
    notes: list[str] = []
    say("reading compute services ..")
    services = call(
        "compute services (Nova os-services)",
        lambda: {s.host: s for s in conn.compute.services(binary="nova-compute")},
    )
    say("reading hypervisors ..")
    hypervisors = call("hypervisors (Nova os-hypervisors)", lambda: list(conn.compute.hypervisors(details=True)))
    say(f"{len(hypervisors)} hypervisors; reading Placement resource providers ..")
    providers = call(
        "resource providers (Placement /resource_providers)",
        lambda: {rp.name: rp.id for rp in conn.placement.resource_providers()},
        hint="the account needs the admin role for Placement",
    )
    inventories = _inventories(conn, providers, [h.name for h in hypervisors], say)
    hyp_records = [_hypervisor(h, services, inventories.get(h.name)) for h in hypervisors]
    say("reading servers ..")
    servers = call(
        "servers of all projects (Nova servers/detail?all_tenants=True)",
        lambda: server_pages(conn, page_size, say),
    )
    say(f"{len(servers)} servers; reading server groups ..")
    server_records = _servers(conn, servers, notes)
    groups = _server_groups(conn, page_size, notes)
    say("reading migrations in flight ..")
    migrations = migrations_in_flight(conn, notes, {rp_id: name for name, rp_id in providers.items()})
    settled: dict[str, float] = {}
    now_s = float(math.floor(time.time()))  # whole seconds: a scenario's taken_at, and moved_at = it - settled_s
    if moved_within_s > 0:
        say("reading migrations finished lately ..")
        finished = finished_migrations(conn, now_s - moved_within_s, notes, page_size=page_size)
        settled = settled_seconds(finished, now_s)
    return CloudRecords(hyp_records, server_records, groups, notes=notes, migrations=migrations, settled_s=settled,
                        taken_at_s=now_s)


def unfinished_migrations(conn) -> list:
    """Nova's migrations not yet finished, as openstacksdk's ``Migration`` rows: one request per
    status (``claims.IN_FLIGHT_STATUSES``), since the list filters on one at a time and, unfiltered,
    holds every migration ever made. Raises what openstacksdk raises."""
    return [m for status in IN_FLIGHT_STATUSES for m in conn.compute.migrations(status=status)]


def migrations_in_flight(conn, notes: list[str], providers: Mapping[str, str] | None = None) -> list[MigrationRecord]:
    """Nova's unfinished migrations, hosts named as hypervisors (``source_node``/``dest_node``, the
    fleet's host names; the compute service's name when a node is not given). One request per
    status: the list filters on one at a time, and unfiltered it holds every migration ever made.
    A resize with what Placement holds for it on each host (``migration_record``; ``providers``:
    provider uuid -> name, as already listed). [] and a note when Nova refuses or fails."""
    try:
        rows = call("migrations in flight (Nova os-migrations?status=..)",
                    lambda: unfinished_migrations(conn))
    except Exception as exc:  # noqa: BLE001 - a fleet without them is still worth planning, as the note says
        what = exc if isinstance(exc, CloudError) else f"could not read migrations ({type(exc).__name__}: {exc})"
        notes.append(f"{what}: each migrating instance is counted on one of its hosts only, so the other may be "
                     "planned full and Nova refuse the moves there (NoValidHost)")
        return []
    names = dict(providers or {})
    return [migration_record(conn, m, m.source_node or m.source_compute, m.dest_node or m.dest_compute, {}, names,
                             notes) for m in rows]


def finished_migrations(conn, since_s: float, notes: list[str], by_node: bool = True,
                        page_size: int = DEFAULT_PAGE_SIZE) -> list[MigrationRecord]:
    """Nova's migrations changed since ``since_s`` (epoch s) that moved their instance
    (``settled.moved_its_instance``), each with its end (``ended_s``: ``updated_at``, else
    ``created_at``, the start, when Nova gave no update time), hosts named by their node
    (``by_node``, as hypervisors are) or their compute service (as Watcher's model names them).

    One paged read of ``GET /os-migrations?changes-since=<since>`` at microversion 2.59, every
    status at once: the window holds few rows, and the list filters on one status a request. A Nova
    older than 2.59 would drop ``changes-since`` and answer with every migration ever made, unpaged,
    so it is not asked: [] and a note, as for a refusal (the list is admin-only) or any failure.
    The caller plans on: recent movers unknown, the swap pass may move one again."""
    why = None
    try:
        if offers_microversion(conn.compute, CHANGES_SINCE_MICROVERSION):
            rows = call("migrations finished lately (Nova os-migrations?changes-since=..)",
                        lambda: json_pages(conn, "/os-migrations", "migrations", {"changes-since": iso_utc(since_s)},
                                           page_size, CHANGES_SINCE_MICROVERSION, lambda _message: None, "uuid"))
        else:
            why = (f"Nova's compute API is older than microversion {CHANGES_SINCE_MICROVERSION}, whose "
                   "os-migrations lists the migrations changed since a time (Queens and later)")
    except Exception as exc:  # noqa: BLE001 - a fleet without them is still worth planning, as the note says
        why = str(exc) if isinstance(exc, CloudError) else f"could not read migrations ({type(exc).__name__}: {exc})"
    if why is not None:
        notes.append(f"{why}: the instances moved in the last {_hours(since_s)} are unknown, so the swap "
                     "pass may move one of them again (it leaves alone those it knows moved within its payback time)")
        return []
    records = [_finished(row, by_node) for row in rows]
    return [r for r in records if moved_its_instance(r)]


def _hours(since_s: float) -> str:
    return f"{max(0.0, time.time() - since_s) / 3600:.3g} h"


def _finished(row: Mapping, by_node: bool) -> MigrationRecord:
    """One row of ``os-migrations`` (JSON) as a ``MigrationRecord`` with its end."""
    ended = nova_time_s(row.get("updated_at"))
    if ended is None:
        ended = nova_time_s(row.get("created_at"))
    source = (row.get("source_node") if by_node else None) or row.get("source_compute")
    destination = (row.get("dest_node") if by_node else None) or row.get("dest_compute")
    return MigrationRecord(str(row.get("instance_uuid") or ""), source, destination, str(row.get("status") or ""),
                           str(row.get("migration_type") or ""), ended_s=ended)


def offers_microversion(adapter, version: str) -> bool:
    """Whether the service behind ``adapter`` (openstacksdk's proxy) offers microversion ``version``:
    its own range, whatever default the client pins (Watcher pins ``[nova] api_version``, 2.56 by
    default), since the request asks for ``version`` by name."""
    from keystoneauth1 import discover

    data = adapter.get_endpoint_data()
    return bool(data is not None and data.min_microversion and data.max_microversion
                and discover.version_between(data.min_microversion, data.max_microversion, version))


def migration_record(conn, m, source: str | None, destination: str | None, host_of_node: Mapping[str, str],
                     names: dict[str, str], notes: list[str]) -> MigrationRecord:
    """``m`` (openstacksdk's ``Migration``) as a ``MigrationRecord``, its hosts ``source`` and
    ``destination`` as the fleet names them. For a resize to another flavour (Nova's
    ``old_instance_type_id`` and ``new_instance_type_id`` differ: database ids, comparable but
    readable nowhere else), what Placement holds for it on each host (``placement_holds``), so each
    end's claim gets its own flavour (``claims``); a failed read is a note, and the record goes on
    without. ``host_of_node`` and ``names`` as ``placement_holds`` takes them."""
    old, new = getattr(m, "old_flavor_id", None), getattr(m, "new_flavor_id", None)
    changes = old is not None and new is not None and str(old) != str(new)
    held: tuple[Held, ...] = ()
    if changes:
        try:
            held = placement_holds(conn, m, host_of_node, names)
        except Exception as exc:  # noqa: BLE001 - the claim falls back to the flavour shown, as the note says
            notes.append(f"what the resize of server {m.server_id} holds on each of its hosts is unknown (Placement "
                         f"allocations: {type(exc).__name__}: {exc})")
    return MigrationRecord(str(m.server_id), source, destination, str(m.status or ""), str(m.migration_type or ""),
                           changes, held)


def placement_holds(conn, m, host_of_node: Mapping[str, str], names: dict[str, str]) -> tuple[Held, ...]:
    """What Placement holds for migration ``m`` on each host: the allocations of its instance and of
    the migration itself (while it is in flight Nova moves the source's allocation to the
    migration's uuid, microversion 2.59 shows it), summed per resource provider. A provider is
    named by ``names`` (provider uuid -> name, filled as providers are looked up), then mapped by
    ``host_of_node`` (a node's name -> the host as the fleet names it; absent: the node's name).
    Two or four requests a resize, and resizes in flight are few. Raises when a read fails."""
    per_host: dict[str, list[int]] = {}
    for consumer in dict.fromkeys(c for c in (m.server_id, getattr(m, "uuid", None)) if c):
        allocations = conn.placement.get_allocation(consumer).allocations or {}
        for rp, entry in allocations.items():
            if rp not in names:
                names[rp] = conn.placement.get_resource_provider(rp).name
            host = host_of_node.get(names[rp], names[rp])
            resources = entry.get("resources") or {}
            total = per_host.setdefault(host, [0, 0, 0])
            for k, rc in enumerate(RESOURCE_CLASSES):
                total[k] += int(resources.get(rc) or 0)
    return tuple(Held(host, *total) for host, total in sorted(per_host.items()) if any(total))


def _inventories(conn, providers: Mapping[str, str], names: list[str], say) -> dict[str, dict[str, Inventory]]:
    """The inventories of the providers (name -> uuid) named ``names``."""
    result: dict[str, dict[str, Inventory]] = {}
    for i, name in enumerate(names):
        rp_id = providers.get(name)
        if rp_id is None:
            continue
        rows = call(
            f"inventories of resource provider {name} (Placement /resource_providers/{rp_id}/inventories)",
            lambda rp_id=rp_id: list(conn.placement.resource_provider_inventories(rp_id)),
        )
        result[name] = {
            r.resource_class: Inventory(
                int(r.total or 0), int(r.reserved or 0), float(r.allocation_ratio or 1.0)
            )
            for r in rows
            if r.resource_class in RESOURCE_CLASSES
        }
        if i and i % 100 == 0:
            say(f"inventories: {i}/{len(names)}")
    return result


def _hypervisor(h, services: dict, inventory: dict[str, Inventory] | None) -> HypervisorRecord:
    details = h.service_details or {}
    host = details.get("host") or h.name
    service = services.get(host)
    status = getattr(service, "status", None) or h.status or "enabled"
    state = getattr(service, "state", None) or h.state or "up"
    reason = getattr(service, "disabled_reason", None) or details.get("disabled_reason")
    zone = getattr(service, "availability_zone", None) or DEFAULT_ZONE
    return HypervisorRecord(
        name=h.name,
        service_host=host,
        vcpus=int(h.vcpus or 0),
        memory_mb=int(h.memory_size or 0),
        disk_gb=int(h.local_disk_size or 0),
        status=status,
        state=state,
        forced_down=bool(getattr(service, "is_forced_down", False)),
        disabled_reason=reason,
        zone=zone,
        inventory=inventory,
    )


def server_pages(conn, page_size: int, say) -> list[dict]:
    """Every server of every project as Nova's JSON, ``page_size`` a request, paged by marker
    (the snapshot's read, and the Watcher strategy's look-up of tasks in flight).

    Plain JSON rather than openstacksdk resources: building a resource per server costs
    tens of milliseconds, minutes for a large cloud. Microversion 2.47 embeds each
    server's flavour sizes (older Novas name the flavour by id only; see ``_flavor``).
    Every project is Nova's query ``all_tenants``: openstacksdk's ``all_projects`` is its own
    name, translated for its resources only, and Nova ignores a query it does not know, so
    asked ``all_projects`` it lists the caller's project alone (real Nova did, ``tests/nova``).
    """
    from openstack import utils as sdk_utils

    microversion = "2.47" if sdk_utils.supports_microversion(conn.compute, "2.47") else None
    return json_pages(conn, "/servers/detail", "servers", {"all_tenants": "True"}, page_size, microversion, say)


def json_pages(conn, path: str, key: str, params: Mapping[str, object], page_size: int, microversion: str | None,
               say, marker_key: str = "id") -> list[dict]:
    """Every row of the compute API's list ``path`` (its JSON ``key``), ``page_size`` a request, paged by
    the last row's ``marker_key`` while the answer links a next page (``<key>_links``). Raises
    openstacksdk's error for a failed request, and ``CloudError`` when the endpoint ignores the
    marker and answers the same page twice (it would loop forever)."""
    from openstack import exceptions as sdk_exc

    rows: list[dict] = []
    seen: set[str] = set()
    query = {**params, "limit": page_size}
    while True:
        resp = conn.compute.get(path, params=query, microversion=microversion)
        sdk_exc.raise_from_response(resp)
        body = resp.json()
        page = body.get(key) or []
        rows.extend(page)
        more = any(link.get("rel") == "next" for link in body.get(f"{key}_links") or [])
        if not page or not more:
            return rows
        marker = page[-1][marker_key]
        if marker in seen:
            raise CloudError(f"{key}: the compute API returned the same page twice (paging ignores 'marker')")
        seen.add(marker)
        query = {**params, "limit": page_size, "marker": marker}
        if len(seen) % 10 == 0:  # every tenth page
            say(f"{key}: {len(rows)} ..")


def _servers(conn, servers: list[dict], notes: list[str]) -> list[ServerRecord]:
    flavors: dict[str, dict] = {}
    records = []
    unplaced = 0
    for s in servers:
        host = s.get("OS-EXT-SRV-ATTR:hypervisor_hostname") or s.get("OS-EXT-SRV-ATTR:host")
        if not host:
            unplaced += 1  # building, shelved-offloaded, or an error before scheduling: on no host
            continue
        flavor = _flavor(conn, s.get("flavor") or {}, flavors)
        image = s.get("image")
        records.append(
            ServerRecord(
                uuid=s["id"],
                name=s.get("name") or s["id"],
                host=host,
                vcpus=int(flavor.get("vcpus") or 0),
                memory_mb=int(flavor.get("ram") or 0),
                root_gb=int(flavor.get("disk") or 0),
                ephemeral_gb=int(flavor.get("ephemeral") or 0),
                swap_mb=int(flavor.get("swap") or 0),
                boot_from_volume=not (isinstance(image, dict) and image.get("id")),
                state=(s.get("OS-EXT-STS:vm_state") or s.get("status") or "active").lower(),
                locked=bool(s.get("locked")),
                task_state=s.get("OS-EXT-STS:task_state") or None,
                metadata=dict(s.get("metadata") or {}),
            )
        )
    if servers and unplaced == len(servers):
        raise CloudError(
            f"could not read the hosts of servers: none of the {len(servers)} servers shows one "
            "(OS-EXT-SRV-ATTR:hypervisor_hostname is shown to admins only); use an admin account"
        )
    if unplaced:
        notes.append(f"{unplaced} server(s) on no host (building, shelved offloaded, ..): left out")
    return records


def _flavor(conn, embedded: dict, cache: dict) -> dict:
    """The flavour's sizes: embedded in the server since microversion 2.47, else looked up once per id."""
    if embedded.get("vcpus"):
        return embedded
    flavor_id = embedded.get("id")
    if flavor_id not in cache:
        found = call(f"flavor {flavor_id} (Nova flavors)", lambda: conn.compute.get_flavor(flavor_id))
        cache[flavor_id] = {
            "vcpus": found.vcpus,
            "ram": found.ram,
            "disk": found.disk,
            "ephemeral": found.ephemeral,
            "swap": found.swap or 0,
        }
    return cache[flavor_id]


def _server_groups(conn, page_size: int, notes: list[str]) -> list[ServerGroupRecord]:
    try:
        groups = call(
            "server groups (Nova os-server-groups?all_projects=True)",
            lambda: list(conn.compute.server_groups(all_projects=True, limit=page_size)),
        )
    except CloudError as exc:
        if "HTTP 404" not in str(exc):
            raise
        notes.append("server groups: this compute endpoint does not offer os-server-groups (HTTP 404); none recorded")
        return []
    records = []
    for g in groups:
        policy = g.policy or (g.policies[0] if g.policies else "")
        records.append(ServerGroupRecord(g.id, g.name or g.id, policy, tuple(g.member_ids or ())))
    return records
