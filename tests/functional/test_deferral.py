"""Deferrable instances end to end, on Watcher's real API, decision engine and applier.

Four hosts with two instances each; two instances opt in with ``geyser:deferrable=true``.
Energy comes from named sources: ``scarce`` (a file: 100 W for a fleet of 1.4 kW peak for the
next two hours, then 20 kW: waiting pays), ``plenty`` (a constant 20 kW) and ``down`` (a URL
nothing answers).
"""

from __future__ import annotations

import time
from pathlib import Path

import fixtures
import pytest
import requests
from watcher.tests.functional import topology as topo

from tests.functional.harness import GeyserFunctionalTestCase
from tests.supply_files import scarce_then_plenty
from watcher_geyser.deferral.spec import SHELVED_AT
from watcher_geyser.inputs import iso

pytestmark = pytest.mark.functional

BATCH = {"geyser:deferrable": "true", "geyser:max_deferral": "8h"}
RENDER = {"geyser:deferrable": "true", "geyser:deadline": "2099-01-01T00:00:00Z", "geyser:runtime": "2h"}
BROKEN = {"geyser:deferrable": "true", "geyser:deadline": "next tuesday"}


def topology() -> topo.ComputeTopology:
    t = topo.ComputeTopology().add_computes(count=4, vcpus=16, memory=32768, disk=500)
    for h in range(1, 5):
        t.add_instances(computes=[f"compute-{h}"], count=2, vcpus=2, memory=4096, disk=40)
    t.update_instance("vm-1", metadata=dict(BATCH))
    t.update_instance("vm-2", metadata=dict(RENDER))
    t.update_instance("vm-3", metadata=dict(BROKEN))
    return t


class TestDeferral(GeyserFunctionalTestCase):
    COMPUTE_TOPOLOGY = topo.ComputeTopology()

    def setUp(self):
        super().setUp()
        from oslo_config import cfg

        from watcher_geyser.signal import opts as signal_opts

        signal_opts.register_opts(cfg.CONF)
        self.flags(group="nova", shelve_max_retries=2, shelve_interval=0.1)
        scarce = Path(self.useFixture(fixtures.TempDir()).path) / "scarce.csv"
        scarce.write_text(scarce_then_plenty(time.time()))
        self.flags(group=signal_opts.GROUP, named_sources=[
            f"scarce=file:{scarce}", "plenty=constant:20kW", "down=http://127.0.0.1:9/down#unit=W"])
        self.topo = topology()
        self.load(self.topo)
        self.uuid = {i.name: i.uuid for i in self.topo.instances}

    def _audit(self, source: str):
        # Watcher learns of executed actions through notifications and periodic syncs, which the
        # harness lacks: rebuild its cluster model from the emulated Nova, as a sync would
        self.env.nova_fixture._invalidate_collector_model()
        return self.audit("geyser_consolidation", "server_consolidation",
                          {"signal_source": source, "power_off": True, "time_limit_s": 3})

    @staticmethod
    def _state_actions(actions) -> dict[str, str]:
        return {a["input_parameters"]["resource_id"]: a["input_parameters"]["state"]
                for a in actions if a["action_type"] == "geyser_instance_state"}

    def _actions_v15(self, plan_uuid: str) -> list[dict]:
        """The plan's actions as API 1.5 shows them (with ``status_message``, why an action was skipped)."""
        headers = {**self.admin_api._headers(), "OpenStack-API-Version": "infra-optim 1.5"}
        return [requests.get(f"{self.admin_api.base_url}/actions/{a['uuid']}", headers=headers).json()
                for a in self.actions_of(plan_uuid)]

    def _server(self, name: str) -> dict:
        return self.emulator.servers[self.uuid[name]]

    def test_scarce_shelves_deferrable_then_plenty_brings_them_back(self):
        plan, actions = self._audit("scarce")
        self.assertEqual({self.uuid["vm-1"]: "shelved", self.uuid["vm-2"]: "shelved"}, self._state_actions(actions))
        note = next(a for a in actions if a["action_type"] == "nop")["input_parameters"]["message"]
        # vm-3: a note, not shelved
        self.assertIn("geyser:deadline: text of 12 character(s) is not an ISO 8601 time", note)
        self.assertIn("shelve vm-1: the fleet draws", note)
        self.assertIn("the supply is forecast to cover it and the 0 before it in 2.0 h", note)
        # shelving comes before every migration and power action
        by_uuid = {a["uuid"]: a for a in actions}
        shelves = [a for a in actions if a["action_type"] == "geyser_instance_state"]
        for action in actions:
            if action["action_type"] in ("migrate", "geyser_node_power"):
                self.assertTrue(set(_ancestors(action, by_uuid)) >= {s["uuid"] for s in shelves}, action)
        self.execute(plan["uuid"])
        for name in ("vm-1", "vm-2"):
            server = self._server(name)
            self.assertEqual("SHELVED_OFFLOADED", server["status"])
            self.assertIsNone(server["OS-EXT-SRV-ATTR:host"])
            self.assertIn(SHELVED_AT, server["metadata"])
        self.assertEqual("ACTIVE", self._server("vm-3")["status"])

        plan, actions = self._audit("plenty")
        self.assertEqual({self.uuid["vm-1"]: "active", self.uuid["vm-2"]: "active"}, self._state_actions(actions))
        # each comes back to the host the plan holds its room on (deferral/room.py), named in the action
        destination = {a["input_parameters"]["resource_id"]: a["input_parameters"]["destination_node"]
                       for a in actions if a["action_type"] == "geyser_instance_state"}
        self.execute(plan["uuid"])
        for name in ("vm-1", "vm-2"):
            server = self._server(name)
            self.assertEqual("ACTIVE", server["status"])
            self.assertEqual(destination[self.uuid[name]], server["OS-EXT-SRV-ATTR:host"])
            host = destination[self.uuid[name]]  # asked for by name (microversion 2.91), not left to the scheduler
            self.assertIn(("unshelve", self.uuid[name], host, host), self.events)
            self.assertNotIn(SHELVED_AT, server["metadata"])

    def test_a_near_deadline_brings_back_under_scarce_energy(self):
        plan, _ = self._audit("scarce")
        self.execute(plan["uuid"])
        # vm-1 may wait 8 h from when it was shelved: make that 7 h 55 min ago
        self._server("vm-1")["metadata"][SHELVED_AT] = iso(time.time() - 8 * 3600 + 300)
        plan, actions = self._audit("scarce")
        self.assertEqual({self.uuid["vm-1"]: "active"}, self._state_actions(actions))
        note = next(a for a in actions if a["action_type"] == "nop")["input_parameters"]["message"]
        self.assertIn("bring back vm-1: its deadline is near", note)
        self.execute(plan["uuid"])
        self.assertEqual("ACTIVE", self._server("vm-1")["status"])
        self.assertEqual("SHELVED_OFFLOADED", self._server("vm-2")["status"])

    def test_the_lead_is_the_strategy_option_and_a_due_bring_back_waits_for_no_migration(self):
        plan, _ = self._audit("scarce")
        self.execute(plan["uuid"])
        # vm-1 may wait 8 h from when it was shelved: 6 h ago leaves it 2 h, more than the 15 min lead
        self._server("vm-1")["metadata"][SHELVED_AT] = iso(time.time() - 6 * 3600)
        _, actions = self._audit("scarce")
        self.assertEqual({}, self._state_actions(actions))
        self.flags(group="watcher_strategies.geyser_consolidation", deferral_lead_s=3 * 3600)
        plan, actions = self._audit("scarce")
        self.assertEqual({self.uuid["vm-1"]: "active"}, self._state_actions(actions))
        note = next(a for a in actions if a["action_type"] == "nop")["input_parameters"]["message"]
        self.assertIn("bring back vm-1: its deadline is near", note)
        by_uuid = {a["uuid"]: a for a in actions}
        back = next(a for a in actions if a["action_type"] == "geyser_instance_state")
        self.assertFalse([p for p in _ancestors(back, by_uuid) if by_uuid[p]["action_type"] == "migrate"])
        self.execute(plan["uuid"])
        self.assertEqual("ACTIVE", self._server("vm-1")["status"])

    def test_a_slower_migration_bandwidth_brings_back_what_falls_due_while_the_plan_runs(self):
        # vm-1 shelved by geyser 6 h ago, 2 h of its 8 h left; the fleet as loaded, so the plan migrates
        server = self._server("vm-1")
        type(self.emulator)._move_server(self.emulator, self.uuid["vm-1"], None)
        server.update({"status": "SHELVED_OFFLOADED", "OS-EXT-STS:vm_state": "shelved_offloaded",
                       "OS-EXT-STS:power_state": 4})
        server["metadata"][SHELVED_AT] = iso(time.time() - 6 * 3600)
        # at the default 1000 MB/s the plan ends long before vm-1 is due
        _, actions = self._audit("scarce")
        self.assertNotIn(self.uuid["vm-1"], self._state_actions(actions))
        self.assertTrue([a for a in actions if a["action_type"] == "migrate"])
        # at 0.5 MB/s one wave of 4 GB migrations is expected to take 2 h 16 min: vm-1 falls due in it
        self.flags(group="watcher_strategies.geyser_consolidation", migration_bandwidth_mb_s=0.5)
        _, actions = self._audit("scarce")
        self.assertEqual("active", self._state_actions(actions).get(self.uuid["vm-1"]))
        note = next(a for a in actions if a["action_type"] == "nop")["input_parameters"]["message"]
        self.assertIn("bring back vm-1: its deadline is near", note)

    def test_an_unreadable_signal_shelves_nothing(self):
        plan, actions = self._audit("down")
        self.assertEqual({}, self._state_actions(actions))
        self.execute(plan["uuid"])
        self.assertFalse([e for e in self.events if e[0] == "shelve"])

    def test_a_failed_shelve_is_reported_for_its_instance_and_the_plan_goes_on(self):
        plan, actions = self._audit("scarce")
        # vm-2 is deleted between the audit and the plan's execution
        type(self.emulator)._move_server(self.emulator, self.uuid["vm-2"], None)
        del self.emulator.servers[self.uuid["vm-2"]]
        self.execute(plan["uuid"])
        states = {a["input_parameters"]["resource_id"]: a
                  for a in self._actions_v15(plan["uuid"]) if a["action_type"] == "geyser_instance_state"}
        self.assertEqual("SKIPPED", states[self.uuid["vm-2"]]["state"])
        self.assertIn("no longer exists", states[self.uuid["vm-2"]]["status_message"])
        self.assertEqual("SUCCEEDED", states[self.uuid["vm-1"]]["state"])
        _, actions = self._audit("plenty")
        self.assertEqual({self.uuid["vm-1"]: "active"}, self._state_actions(actions))


def _ancestors(action: dict, by_uuid: dict) -> list[str]:
    seen, todo = [], list(action.get("parents") or [])
    while todo:
        parent = todo.pop()
        if parent in seen:
            continue
        seen.append(parent)
        todo.extend(by_uuid[parent].get("parents") or [])
    return seen



class _Recorded:
    """A solution that records what is added to it: (action type, resource id, wave)."""

    def __init__(self):
        self.added: list[tuple[str, str | None, int]] = []

    def add_action(self, action_type, input_parameters=None, resource_id=None, wave=0):
        self.added.append((action_type, resource_id, wave))


def test_a_due_bring_back_is_emitted_before_the_plans_waves_and_one_not_due_after_them():
    from tests.builders import fleet, host, vm
    from watcher_geyser.deferral.fleet import FleetDeferral
    from watcher_geyser.planner.actions import Action, ActionKind, Plan
    from watcher_geyser.strategies.emit import emit_plan

    f = fleet([host("a", vcpus=8), host("b", vcpus=8)], [vm("v1", "a", vcpus=2)])
    move = Action(ActionKind.LIVE_MIGRATE, instance="v1", source="a", destination="b", memory_mb=1024)
    deferral = FleetDeferral(f, resume=[("due", "due"), ("later", "later")], due=frozenset({"due"}))
    solution = _Recorded()
    emit_plan(solution, Plan([[move]]), f, {"a": "ua", "b": "ub"}, {}, "geyser", [], deferral)
    wave = {resource: w for _, resource, w in solution.added}
    assert wave["due"] < wave["v1"] < wave["later"]
