"""The strategy counts a migration in flight on both its hosts, as Nova does (``claims``).

Watcher's model places a migrating instance on its source only; the strategy asks Nova for the
migrations in flight through its cloud look-ups (``cloud.migrations_in_flight``), one look-up per
audit, and adds a claim on the other end. A look-up that fails is a note, never a failed audit.
"""

from __future__ import annotations

from types import SimpleNamespace

from tests.builders import fleet, host, vm
from watcher_geyser.claims import IN_FLIGHT_STATUSES, Held, MigrationRecord, with_claims
from watcher_geyser.planner import ActionKind
from watcher_geyser.strategies import cloud, offline

X, Y, Z = (f"11111111-0000-0000-0000-00000000000{c}" for c in "abc")


def _nova(rows=None, error: Exception | None = None):
    """``NovaHelper`` whose connection answers ``compute.migrations(status=..)`` from ``rows``."""
    asked = []

    def migrations(status=None):
        asked.append(status)
        if error is not None:
            raise error
        return [SimpleNamespace(**r) for r in rows if r["status"] == status]

    helper = SimpleNamespace(connection=SimpleNamespace(compute=SimpleNamespace(migrations=migrations)))
    return (lambda: helper), asked


def test_the_look_up_asks_for_each_unfinished_status_and_names_hosts_by_their_service(monkeypatch):
    rows = [dict(server_id=Y, source_compute="b", dest_compute="c", status="running", migration_type="live-migration"),
            dict(server_id=X, source_compute="a", dest_compute="b", status="completed", migration_type="migration")]
    helper, asked = _nova(rows)
    monkeypatch.setattr(cloud.nova_helper, "NovaHelper", helper)
    notes: list[str] = []
    assert cloud.migrations_in_flight(notes) == [MigrationRecord(Y, "b", "c", "running", "live-migration")]
    assert asked == list(IN_FLIGHT_STATUSES) and notes == []


class _Placement:
    """Placement's allocations per consumer and provider names, as openstacksdk's proxy answers them."""

    def __init__(self, allocations, names, error: Exception | None = None):
        self.allocations, self.names, self.error, self.asked = allocations, names, error, []

    def get_allocation(self, consumer):
        self.asked.append(consumer)
        if self.error is not None:
            raise self.error
        return SimpleNamespace(allocations=self.allocations.get(consumer, {}))

    def get_resource_provider(self, rp):
        return SimpleNamespace(name=self.names[rp])


def _resizing(placement):
    """Y resizes from node-b (compute b, flavour 1) to node-c (compute c, flavour 2); X migrates live."""
    rows = [dict(server_id=Y, uuid="mig-y", source_compute="b", source_node="node-b", dest_compute="c",
                 dest_node="node-c", status="migrating", migration_type="resize", old_flavor_id=1, new_flavor_id=2),
            dict(server_id=X, uuid="mig-x", source_compute="a", source_node="node-a", dest_compute="b",
                 dest_node="node-b", status="running", migration_type="live-migration", old_flavor_id=1,
                 new_flavor_id=1)]
    helper, _ = _nova(rows)
    helper().connection.placement = placement
    return helper


def test_a_resize_reads_what_placement_holds_on_each_end_by_the_hosts_the_model_names(monkeypatch):
    def res(v, m, d):
        return {"resources": {"VCPU": v, "MEMORY_MB": m, "DISK_GB": d}}

    placement = _Placement({Y: {"rp-c": res(8, 16384, 80)}, "mig-y": {"rp-b": res(2, 2048, 20)}},
                           {"rp-b": "node-b", "rp-c": "node-c"})
    monkeypatch.setattr(cloud.nova_helper, "NovaHelper", _resizing(placement))
    notes: list[str] = []
    records = cloud.migrations_in_flight(notes)
    resize = next(r for r in records if r.instance == Y)
    assert resize.flavour_changes and resize.held == (Held("b", 2, 2048, 20), Held("c", 8, 16384, 80))
    live = next(r for r in records if r.instance == X)
    assert not live.flavour_changes and live.held == ()
    assert sorted(placement.asked) == sorted([Y, "mig-y"]) and notes == []  # only the resize is read
    # the model shows Y with its old flavour on b: the claim on c holds the new one
    f = fleet([host("a"), host("b"), host("c")], [vm(Y, "b", vcpus=2, memory_mb=2048, disk_gb=20)])
    claim = with_claims(f, records, []).instances[-1]
    assert (claim.host, claim.vcpus, claim.memory_mb, claim.disk_gb) == ("c", 8, 16384, 80)


def test_a_failed_placement_read_is_a_note_and_the_resize_is_still_counted(monkeypatch):
    monkeypatch.setattr(cloud.nova_helper, "NovaHelper", _resizing(_Placement({}, {}, error=PermissionError("403"))))
    notes: list[str] = []
    records = cloud.migrations_in_flight(notes)
    assert sorted((r.instance, r.flavour_changes, r.held) for r in records) == [(X, False, ()), (Y, True, ())]
    assert notes == [f"what the resize of server {Y} holds on each of its hosts is unknown (Placement allocations: "
                     "PermissionError: 403)"]


def test_a_refused_look_up_is_a_note_and_no_migration(monkeypatch):
    helper, _ = _nova(error=PermissionError("Policy doesn't allow os_compute_api:os-migrations:index"))
    monkeypatch.setattr(cloud.nova_helper, "NovaHelper", helper)
    notes: list[str] = []
    assert cloud.migrations_in_flight(notes) == []
    assert len(notes) == 1 and notes[0].startswith("Nova migrations in flight unknown (PermissionError: Policy")
    assert "NoValidHost" in notes[0]


def _three():
    """a holds X; Y migrates live from b to c (Watcher's model shows it active on b); c holds Z."""
    return fleet([host("a"), host("b"), host("c")],
                 [vm(X, "a", vcpus=4, memory_mb=4096), vm(Y, "b", vcpus=10, memory_mb=12288),
                  vm(Z, "c", vcpus=2, memory_mb=2048)])


def _actions(run):
    return offline.solution_actions(run.actions)


def test_the_strategy_keeps_the_destination_and_fills_it_no_further():
    f = _three()
    tasks = {Y: "migrating"}
    blind = offline.run_strategy("geyser_consolidation", f, {"time_limit_s": 1.0},
                                 cloud=offline.FleetCloud(f, tasks=tasks))
    # counted on its source only, c looks nearly empty: Z leaves it and c is released
    assert ("c", ActionKind.DISABLE) in {(a.host, a.kind) for a in _actions(blind)}
    live = MigrationRecord(Y, "b", "c", "running", "live-migration")
    run = offline.run_strategy("geyser_consolidation", f, {"time_limit_s": 1.0},
                               cloud=offline.FleetCloud(f, tasks=tasks, migrations=[live]))
    actions = _actions(run)
    assert not {a.host for a in actions if a.kind in (ActionKind.DISABLE, ActionKind.POWER_OFF)} & {"b", "c"}
    assert {(a.instance, a.destination) for a in actions if a.kind.is_migration} == {(X, "b")}
    assert "1 migration(s) in flight hold their instance's resources on a second host" in \
        run.actions[0]["input_parameters"]["message"]


class _Refused(offline.FleetCloud):
    def migrations_in_flight(self, notes):
        notes.append("Nova migrations in flight unknown (Forbidden: policy): ..")
        return []


def test_a_failed_look_up_does_not_fail_the_audit():
    f = _three()
    run = offline.run_strategy("geyser_consolidation", f, {"time_limit_s": 1.0},
                               cloud=_Refused(f, tasks={Y: "migrating"}))
    assert any(a.kind.is_migration for a in _actions(run))
    assert "Nova migrations in flight unknown" in run.actions[0]["input_parameters"]["message"]
