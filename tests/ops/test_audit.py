"""``geyser audit`` through python-watcherclient against Watcher's real API, decision engine and applier.

Watcher's functional harness (``WatcherFunctionalTestCase``) runs the API behind
wsgi-intercept, with emulated Nova and Placement; the command reaches it through a
clouds.yaml entry (``admin_token`` auth and endpoint overrides), as an operator would.
``KeystoneStandIn`` turns the token into roles, the part keystonemiddleware plays in a
real deployment. What the command prints is compared with what the API holds.
"""

from __future__ import annotations

import json

import pytest
from watcher.tests.functional import base
from watcher.tests.functional import topology as topo

from tests.ops.watcher_api import GeyserCommandMixin

pytestmark = pytest.mark.functional


def spread() -> topo.ComputeTopology:
    t = topo.ComputeTopology().add_computes(count=3, vcpus=16, memory=32768, disk=500)
    t.add_instances(computes=["compute-1"], count=2, vcpus=2, memory=4096, disk=20)
    t.add_instances(computes=["compute-2"], count=1, vcpus=2, memory=4096, disk=20)
    return t


class AuditCommandTest(GeyserCommandMixin, base.WatcherFunctionalTestCase):
    COMPUTE_TOPOLOGY = spread()

    def setUp(self):
        super().setUp()
        self.topology = spread()
        self.load_topology(self.topology)
        self.install_clouds()

    # --- the client path, proven with strategies Watcher ships --------------------------------

    def test_dummy_strategy_template_audit_plan(self):
        code, out, err = self.geyser("--goal", "dummy", "--strategy", "dummy", "--template", "t1",
                                     "-p", "para1=2.5", "--json")
        self.assertEqual(0, code, err)
        self.assertIn("audit template 't1' created: goal dummy, strategy dummy", err)
        self.assertIn('parameters as Watcher holds them: {"para1": 2.5, "para2": "hello"}', err)  # with defaults
        report = json.loads(out)
        self.assertEqual("SUCCEEDED", report["audit_state"])
        self.assertEqual("SUCCEEDED", self.held(f"/audits/{report['audit_uuid']}")["state"])
        actions = self.assert_report_matches_api(report)
        self.assertEqual(3, report["waves"])  # the dummy strategy's three chained actions
        sleep = next(a for a in actions if a["action_type"] == "sleep")
        self.assertEqual(2.5, sleep["input_parameters"]["duration"])  # our parameter reached the strategy
        template = self.held("/audit_templates/t1")
        self.assertEqual(("dummy", "dummy"), (template["goal_name"], template["strategy_name"]))
        self.assertEqual({"para1": 2.5}, template["default_parameters"])
        self.assertEqual(2.5, self.held(f"/audits/{report['audit_uuid']}")["parameters"]["para1"])

        # same request: the template is left alone; new parameters: it is updated
        code, _, err = self.geyser("--goal", "dummy", "--strategy", "dummy", "--template", "t1", "-p", "para1=2.5")
        self.assertEqual(0, code, err)
        self.assertIn("audit template 't1' unchanged", err)
        code, _, err = self.geyser("--goal", "dummy", "--strategy", "dummy", "--template", "t1", "-p", "para1=1")
        self.assertEqual(0, code, err)
        self.assertIn("audit template 't1' updated", err)
        self.assertEqual({"para1": 1}, self.held("/audit_templates/t1")["default_parameters"])

    def test_migrations_and_released_hosts_then_execute(self):
        args = ("--goal", "cluster_maintaining", "--strategy", "host_maintenance", "-p", "maintenance_node=compute-1")
        code, out, err = self.geyser(*args)
        self.assertEqual(0, code, err)
        self.assertIn("actions      3 in 2 wave(s); 2 migration(s)", out)
        self.assertIn("released     compute-1", out)
        for vm in ("vm-1", "vm-2"):
            self.assertRegex(out, rf"2\s+migrate\s+{vm}\s+compute-1\s+scheduler\s+live\s+PENDING")
        self.assertEqual(["compute-1", "compute-1"],
                         [s["OS-EXT-SRV-ATTR:host"] for s in self.env.nova_fixture.nova_emulator.servers.values()][:2])

        code, out, err = self.geyser(*args, "--execute", "--json")
        self.assertEqual(0, code, err)
        report = json.loads(out)  # one object: the plan as executed
        self.assertEqual("SUCCEEDED", report["action_plan_state"])
        self.assertEqual({"SUCCEEDED"}, {a["state"] for a in report["actions"]})
        self.assert_report_matches_api(report)
        hosts = {s["name"]: s["OS-EXT-SRV-ATTR:host"] for s in self.env.nova_fixture.nova_emulator.servers.values()}
        self.assertNotIn("compute-1", hosts.values())

    def test_continuous_audit_is_created_with_its_interval(self):
        code, _, err = self.geyser("--audit-type", "continuous", "--interval", "3600", "--goal", "dummy",
                                   "--strategy", "dummy", timeout="0.3")
        self.assertEqual(1, code)  # no plan within 0.3 s: said, and the audit goes on
        self.assertIn("it goes on in Watcher", err)
        audits = self.held("/audits?limit=10")["audits"]
        self.assertEqual(1, len(audits))
        audit = self.held(f"/audits/{audits[0]['uuid']}")
        self.assertEqual(("CONTINUOUS", "3600"), (audit["audit_type"], audit["interval"]))

    # --- Watcher's errors, as Watcher gives them ---------------------------------------------

    def test_watcher_errors_are_shown_as_given(self):
        code, _, err = self.geyser("--goal", "dummy", "--strategy", "no_such_strategy")
        self.assertEqual(1, code)
        self.assertIn("geyser audit: Watcher: create audit template 'geyser':", err)
        self.assertIn("(HTTP 400)", err)

        code, _, err = self.geyser("--goal", "dummy", "--strategy", "dummy", "-p", "para1=not-a-number")
        self.assertEqual(1, code)
        self.assertIn("Watcher: create audit template 'geyser': Invalid default_parameters for strategy:", err)
        self.assertIn("'not-a-number' is not of type 'number'\n", err)  # Watcher's message, its lines kept

        code, _, err = self.geyser("--goal", "dummy", "--strategy", "dummy", "--audit-type", "CONTINUOUS",
                                   "--interval", "every now and then")
        self.assertEqual(1, code)
        self.assertIn("Watcher: create the audit:", err)

        code, _, err = self.geyser("--goal", "cluster_maintaining", "--strategy", "host_maintenance",
                                   "-p", "maintenance_node=compute-1", "--execute", cloud="member")
        self.assertEqual(1, code)
        self.assertIn("Policy doesn't allow action_plan:start to be performed. (HTTP 403)", err)

    def test_bad_arguments_exit_2(self):
        code, _, err = self.geyser("--audit-type", "CONTINUOUS")
        self.assertEqual(2, code)
        self.assertIn("needs --interval", err)
        code, _, err = self.geyser("-p", "oops")
        self.assertEqual(2, code)
        self.assertIn("KEY=VALUE", err)
        code, _, err = self.geyser(cloud="nowhere")
        self.assertEqual(2, code)
        self.assertIn("Cloud nowhere was not found", err)
