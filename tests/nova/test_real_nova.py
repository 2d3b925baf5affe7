"""Our audits through Watcher's real API, decision engine and applier, executed by real Nova.

Every migration goes through Nova's API, conductor, scheduler (with its filters, so a
disabled host or a server group's rule is enforced) and Placement (so a host without room
refuses). After each plan: Nova's view equals our target, Placement's usages equal the
flavours, no host was above its inventory at any sampled instant, and the hosts we emptied
are disabled. See README, "Tests over real Nova".
"""

from __future__ import annotations

import pytest

from tests.nova import fleets
from tests.nova.harness import HostSpec, RealNovaTestCase

pytestmark = pytest.mark.nova

OUR_REASON = "watcher_geyser"


def indicators(plan: dict) -> dict:
    return {i["name"]: i["value"] for i in plan["efficacy_indicators"]}


@pytest.mark.usefixtures("nova_cloud")
class TestNovaAndPlacementAgree:
    HOSTS = [HostSpec("r1", 8, 16384, 200), HostSpec("r2", 16, 32768, 400)]

    def test_compute_node_records_carry_placements_allocation_ratios(self):
        """Nova's compute node records say what Placement's inventories say (2.0 CPU, 1.0 RAM and disk):
        a compute writes its record with Nova's initial_* ratios (CPU 4.0 by default) unless told."""
        nodes = self.cloud.op("compute_nodes")["compute_nodes"]
        placement = self.cloud.allocation_ratios()
        assert set(nodes) == set(placement) == {h.name for h in self.HOSTS}
        for host, ratios in nodes.items():
            assert ratios == {"cpu_allocation_ratio": 2.0, "ram_allocation_ratio": 1.0, "disk_allocation_ratio": 1.0}
            assert placement[host] == {"VCPU": 2.0, "MEMORY_MB": 1.0, "DISK_GB": 1.0}


@pytest.mark.usefixtures("nova_cloud")
class TestAuditsOverRealNova(RealNovaTestCase):
    HOSTS = fleets.HOSTS

    def setUp(self):
        super().setUp()
        self.booted = self.boot(fleets.mixed_fleet())
        self.datasource.cpu_percent = {uuid: 30.0 for uuid in self.booted.ids.values()}

    def _check_after(self, actions: list[dict], before: dict[str, dict]) -> None:
        ids = self.booted.ids
        self.assert_nova_matches_target(self.booted)
        after = self.cloud.servers()
        for name in ("locked-1", "paused-1"):
            self.assertEqual(before[ids[name]]["host"], after[ids[name]]["host"], name)
        self.assertEqual("PAUSED", after[ids["paused-1"]]["status"])
        self.assertTrue(after[ids["locked-1"]]["locked"])
        self.assertEqual("SHUTOFF", after[ids["stopped-1"]]["status"])
        self.assertTrue(all(s["status"] in ("ACTIVE", "PAUSED", "SHUTOFF") for s in after.values()), after)
        hosts_of = {g: {after[ids[s.name]]["host"] for s in fleets.mixed_fleet().servers if s.group == g}
                    for g in ("web-alpha", "web-beta", "db-beta")}
        self.assertEqual(1, len(hosts_of["db-beta"]), "the affinity pair was split")
        for g in ("web-alpha", "web-beta"):
            members = [s for s in fleets.mixed_fleet().servers if s.group == g]
            self.assertEqual(len(members), len(hosts_of[g]), f"anti-affinity group {g} shares a host")
        moved_to = {a["input_parameters"]["destination_node"] for a in actions if a["action_type"] == "migrate"}
        self.assertNotIn("c7", moved_to, "the operator-disabled host received a server")
        services = self.cloud.services()
        self.assertEqual(("disabled", fleets.OPERATOR_REASON), (services["c7"]["status"],
                                                                 services["c7"]["disabled_reason"]))
        held = {s["host"] for s in after.values()}
        emptied = {h.name for h in self.HOSTS} - held - {"c7"}
        self.assertTrue(emptied, "the plan emptied no host")
        for host in emptied:
            self.assertEqual("disabled", services[host]["status"], host)
            self.assertTrue((services[host]["disabled_reason"] or "").startswith(OUR_REASON), services[host])

    def test_consolidation_audit_is_executed_by_real_nova(self):
        before = self.cloud.servers()
        plan, actions = self.audit("geyser_consolidation", "server_consolidation",
                                   {"power_off": True, "ceiling": 1.0, "time_limit_s": 3})
        migrations = [a for a in actions if a["action_type"] == "migrate"]
        self.assertEqual(len(migrations), indicators(plan)["instance_migrations_count"])
        self.assertIn("cold", {a["input_parameters"]["migration_type"] for a in migrations}, "no cold migration")
        watch = self.execute_watched(plan["uuid"])
        self.assertEqual([], watch.problems, "a host was above its Placement inventory during the run")
        self._check_after(actions, before)
        print(f"consolidation: {len(migrations)} migrations executed by Nova, {watch.samples} Placement samples")

    def test_energy_audit_is_executed_by_real_nova(self):
        before = self.cloud.servers()
        plan, actions = self.audit("geyser_energy", "energy_budget",
                                   {"power_budget_w": 400, "ceiling": 0.9, "time_limit_s": 3})
        values = indicators(plan)
        # no Ironic here: emptied hosts are disabled but stay on, so the estimate cannot drop yet
        self.assertGreaterEqual(values["watts_before"], values["watts_after"])
        self.assertGreater(values["released_compute_nodes_count"], 0)
        watch = self.execute_watched(plan["uuid"])
        self.assertEqual([], watch.problems, "a host was above its Placement inventory during the run")
        self._check_after(actions, before)

    def test_a_host_filled_behind_our_back_fails_the_plan_and_loses_nothing(self):
        before = self.cloud.servers()
        plan, actions = self.audit("geyser_consolidation", "server_consolidation",
                                   {"power_off": True, "ceiling": 1.0, "time_limit_s": 3})
        migrations = [a["input_parameters"] for a in actions if a["action_type"] == "migrate"]
        target_of = {p["resource_id"]: p["destination_node"] for p in migrations}
        dest = max({p["destination_node"] for p in migrations},
                   key=lambda h: sum(p["destination_node"] == h for p in migrations))
        state = self.cloud.placement()[dest]
        free_mb = int(state["capacity"]["MEMORY_MB"] - state["usage"]["MEMORY_MB"])
        self.cloud.op("flavor", name="filler", vcpus=1, memory_mb=free_mb, disk_gb=1)
        filler = self.cloud.boot([{"name": "filler", "flavor": "filler", "host": dest}])[0]
        self.assertEqual(("ACTIVE", dest), (filler["status"], filler["host"]))

        watch = self.execute_watched(plan["uuid"], expect="FAILED")
        self.assertEqual([], watch.problems, "a host was above its Placement inventory during the run")
        after = self.cloud.servers()
        for uuid, was in before.items():
            now = after[uuid]
            self.assertEqual(was["status"], now["status"], was["name"])
            self.assertIn(now["host"], {was["host"], target_of.get(uuid, was["host"])}, was["name"])
            self.assertIsNone(now["task_state"], was["name"])
        failed = [a for a in self.actions_v15(plan["uuid"]) if a["state"] == "FAILED"]
        into_dest = [a for a in failed if a["action_type"] == "migrate"
                     and a["input_parameters"]["destination_node"] == dest]
        self.assertTrue(into_dest, failed)
        # What happened, as the operator reads it: Watcher's action says which migration failed (its
        # migrate action keeps Nova's reason to its debug log), Nova's instance actions say why.
        for action in into_dest:
            self.assertEqual(f"Action failed in execute: The action {action['uuid']} execution failed.",
                             action["status_message"])
            server = action["input_parameters"]["resource_id"]
            events = [e for a in self.cloud.op("instance_actions", id=server)["actions"]
                      for e in a.get("events", []) if e.get("result") == "Error"]
            self.assertTrue(events, f"Nova recorded no failed event for {server}")
            self.assertIn("No valid host", " ".join(e.get("details") or "" for e in events), events)
        print(f"fault case: {len(failed)} migration(s) into {dest} refused by Nova, nothing lost; Watcher: "
              f"{into_dest[0]['status_message']!r}; Nova: {events[0]['event']}: {events[0].get('details')!r}")
