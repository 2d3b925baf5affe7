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
from tests.nova.harness import RealNovaTestCase

pytestmark = pytest.mark.nova

OUR_REASON = "watcher_geyser"


def indicators(plan: dict) -> dict:
    return {i["name"]: i["value"] for i in plan["efficacy_indicators"]}


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
