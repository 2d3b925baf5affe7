"""``geyser audit`` with our own strategy (geyser_consolidation) on Watcher's real services.

Uses the Watcher plugin's functional harness (``tests.functional.harness``: Watcher's
``WatcherFunctionalTestCase`` plus a CPU datasource and a bare-metal helper at the two
seams Watcher does not emulate). Skipped, with the reason, where the plugin's entry points
are not visible to Watcher (``pip install -e .``, or ``python setup.py egg_info`` in the
checkout, registers them).
"""

from __future__ import annotations

import json
from importlib.metadata import entry_points

import pytest
from watcher.tests.functional import topology as topo

from tests.ops.watcher_api import GeyserCommandMixin

pytestmark = pytest.mark.functional

harness = pytest.importorskip("tests.functional.harness", reason="the Watcher plugin's test harness is absent")
if "geyser_consolidation" not in {ep.name for ep in entry_points(group="watcher_strategies")}:
    pytest.skip("geyser_consolidation is not registered: run `python setup.py egg_info` in the checkout",
                allow_module_level=True)


def spread() -> topo.ComputeTopology:
    """Six hosts, 14 instances spread thin: consolidation empties several hosts."""
    t = topo.ComputeTopology().add_computes(count=6, vcpus=16, memory=32768, disk=500)
    for h, count in enumerate((3, 3, 2, 2, 2, 2), start=1):
        t.add_instances(computes=[f"compute-{h}"], count=count, vcpus=2, memory=4096, disk=40)
    return t


class GeyserAuditCommandTest(GeyserCommandMixin, harness.GeyserFunctionalTestCase):
    COMPUTE_TOPOLOGY = topo.ComputeTopology()

    def setUp(self):
        super().setUp()
        from oslo_config import cfg
        from watcher.decision_engine.strategy.strategies import base as strategy_base

        from watcher_geyser.strategies import opts

        group = "watcher_strategies.geyser_consolidation"
        cfg.CONF.register_opts(strategy_base.BaseStrategy.get_config_opts() + opts.strategy_opts(), group=group)
        self.topology = spread()
        self.load(self.topology)
        self.datasource.cpu_percent = {i.uuid: 20.0 for i in self.topology.instances}
        self.install_clouds()

    def test_our_strategy_with_the_default_goal_and_strategy(self):
        code, out, err = self.geyser("-p", "power_off=true", "-p", "time_limit_s=3", "--json")
        self.assertEqual(0, code, err)
        self.assertIn("audit template 'geyser' created: goal server_consolidation, strategy geyser_consolidation", err)
        report = json.loads(out)
        actions = self.assert_report_matches_api(report)
        indicators = {i["name"]: i["value"] for i in report["efficacy_indicators"]}
        self.assertEqual(6, indicators["compute_nodes_count"])
        self.assertEqual(report["migrations"], indicators["instance_migrations_count"])
        self.assertGreater(report["migrations"], 0)
        self.assertEqual(indicators["released_compute_nodes_count"], len(report["released_hosts"]))
        self.assertGreater(report["waves"], 1)  # power-offs wait for the migrations that empty their hosts
        emptied = {a["input_parameters"]["source_node"] for a in actions if a["action_type"] == "migrate"}
        self.assertLessEqual(set(report["released_hosts"]), emptied)
        template = self.held("/audit_templates/geyser")
        self.assertEqual({"power_off": True, "time_limit_s": 3}, template["default_parameters"])

        code, out, err = self.geyser("-p", "power_off=true", "-p", "time_limit_s=3")
        self.assertEqual(0, code, err)
        self.assertIn(f"released     {', '.join(report['released_hosts'])}", out)
        self.assertIn(f"released_compute_nodes_count {' ' * 8}{len(report['released_hosts'])}", out)
