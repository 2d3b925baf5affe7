"""The power-cycle budget across audits, on Watcher's real API, decision engine, applier and database.

Three hosts with power models that make compute-2 the host relief would switch on first
(cheapest idle watts per core) and compute-3 the last; compute-3 starts off (switched off
by geyser earlier). The first audit, at low CPU, packs everything onto compute-1 and
switches compute-2 off: an executed power-off in Watcher's history. Then the instances get
busy, compute-1 is hot, and relief needs a host switched on. With a budget of one cycle
per host per day, compute-2 has spent it (switched back on, it could only be switched off
again one time too many), so relief switches compute-3 on instead and the plan names
compute-2 as held off. The same audit with the default budget of two switches compute-2 on:
the budget, read from Watcher's own history, is what changed the answer.

A switch-off already approved but not yet run (its plan PENDING, queued for the applier)
counts too, so an audit in quick succession cannot plan against a cycle already spent;
one merely recommended, or cancelled, does not. And a host found off whose nova-compute
service went down (its last heartbeat) with no power-off of Watcher's since was switched off
outside Watcher: that counts too.
"""

from __future__ import annotations

import pytest
from watcher.tests.functional import topology as topo

from tests.functional import checks
from tests.functional.harness import GeyserFunctionalTestCase

pytestmark = pytest.mark.functional

GROUP = "watcher_strategies.geyser_energy"
PARAMS = {"ceiling": 1.0, "time_limit_s": 3}


def topology() -> topo.ComputeTopology:
    t = (topo.ComputeTopology().add_computes(count=2, vcpus=16, memory=32768, vcpu_ratio=4.0)
         .add_computes(count=1, vcpus=32, memory=65536, vcpu_ratio=4.0)
         .add_instances(computes=["compute-1", "compute-2"], count=3, vcpus=4, memory=4096))
    t.update_compute("compute-3", status="disabled", disabled_reason="watcher_geyser", state="down")
    return t


class TestPowerCycleBudget(GeyserFunctionalTestCase):
    COMPUTE_TOPOLOGY = topo.ComputeTopology()

    def setUp(self):
        super().setUp()
        from oslo_config import cfg
        from watcher.decision_engine.strategy.strategies import base as strategy_base

        from watcher_geyser.strategies import opts

        cfg.CONF.register_opts(strategy_base.BaseStrategy.get_config_opts() + opts.strategy_opts(), group=GROUP)
        opts.register_power_opts(cfg.CONF)
        self.flags(group=opts.POWER_GROUP,
                   host_models={"compute-1": "50/150", "compute-2": "60/160", "compute-3": "300/600"})
        self.topo = topology()
        self.load(self.topo, powered_off=("compute-3",))

    def _audit(self):
        # Watcher learns of executed actions through notifications and periodic syncs, which the
        # harness lacks: rebuild its cluster model from the emulated Nova, as a sync would
        self.env.nova_fixture._invalidate_collector_model()
        return self.audit("geyser_energy", "energy_budget", PARAMS)

    @staticmethod
    def _powered(actions, state: str) -> list[str]:
        return sorted(a["input_parameters"]["resource_name"] for a in actions
                      if a["action_type"] == "geyser_node_power" and a["input_parameters"]["state"] == state)

    def test_a_host_that_spent_its_cycles_stays_off_and_relief_switches_on_another(self):
        self.datasource.cpu_percent = {i.uuid: 10.0 for i in self.topo.instances}
        plan, actions = self._audit()
        self.assertEqual(["compute-2"], self._powered(actions, "off"))
        self.execute(plan["uuid"])
        self.assertEqual("off", self.metal.power["compute-2"])

        # every instance busy: compute-1 carries 24 busy cores on 16, and must shed two of them
        self.datasource.cpu_percent = {i.uuid: 100.0 for i in self.topo.instances}
        self.events.clear()
        _, actions = self._audit()  # the default budget, two cycles: compute-2 may come back
        self.assertEqual(["compute-2"], self._powered(actions, "on"))

        self.flags(group=GROUP, max_power_cycles_per_day=1)
        plan, actions = self._audit()
        self.assertEqual(["compute-3"], self._powered(actions, "on"))
        note = next(a for a in actions if a["action_type"] == "nop")["input_parameters"]["message"]
        self.assertIn("held off, not switched on: compute-2", note)
        self.assertEqual([], checks.overloads_in_graph(self.topo, actions))
        self.execute(plan["uuid"])
        self.assertNotIn(("power_on", "compute-2"), self.events)
        self.assertIn(("power_on", "compute-3"), self.events)
        self.assertEqual("off", self.metal.power["compute-2"])
        hosts = {self.host_of(i.uuid) for i in self.topo.instances}
        self.assertEqual({"compute-1", "compute-3"}, hosts)

    def _set_plan_state(self, plan_uuid: str, state: str) -> None:
        """The plan's state in Watcher's database, as the API leaves it once an operator (or
        auto-trigger) approves it and before the applier picks it up."""
        from watcher import objects

        plan = objects.ActionPlan.get_by_uuid(self.context, plan_uuid, eager=True)
        plan.state = state
        plan.save()

    def test_an_approved_switch_off_not_yet_run_counts_a_recommended_or_cancelled_one_does_not(self):
        self.flags(group=GROUP, max_power_cycles_per_day=1)
        self.datasource.cpu_percent = {i.uuid: 10.0 for i in self.topo.instances}
        first, actions = self._audit()
        self.assertEqual(["compute-2"], self._powered(actions, "off"))

        _, actions = self._audit()  # the first plan is only RECOMMENDED: its switch-off is not spent
        self.assertEqual(["compute-2"], self._powered(actions, "off"))

        self._set_plan_state(first["uuid"], "PENDING")  # approved: compute-2's one cycle is spent
        _, actions = self._audit()
        self.assertNotIn("compute-2", self._powered(actions, "off"))  # held on: it packs onto compute-2 instead
        note = next(a for a in actions if a["action_type"] == "nop")["input_parameters"]["message"]
        self.assertIn("held on (no switch-off left, counting any already planned), not emptied: compute-2", note)
        self.assertEqual("on", self.metal.power["compute-2"])  # nothing ran: the applier never saw it

        self._set_plan_state(first["uuid"], "CANCELLED")  # it will not happen: the cycle is back
        _, actions = self._audit()
        self.assertEqual(["compute-2"], self._powered(actions, "off"))

    def _heartbeat(self, host: str, hours_ago: float) -> None:
        """Nova's last heartbeat of ``host``'s compute service, as the os-services API reports it."""
        import datetime as dt

        beat = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=hours_ago)
        service = next(s for s in self.emulator.services.values() if s["host"] == host)
        service["updated_at"] = beat.isoformat(timespec="microseconds")

    def test_a_host_switched_off_outside_watcher_spends_a_cycle(self):
        self.flags(group=GROUP, max_power_cycles_per_day=1)
        self.datasource.cpu_percent = {i.uuid: 10.0 for i in self.topo.instances}
        self._heartbeat("compute-3", hours_ago=2)  # down for 2 h, and Watcher never switched it off
        _, actions = self._audit()
        note = next(a for a in actions if a["action_type"] == "nop")["input_parameters"]["message"]
        self.assertIn("counted as switched off outside Watcher: compute-3", note)
        self.assertIn("held off, not switched on: compute-3 (22.0 h more)", note)

        self._heartbeat("compute-3", hours_ago=25)  # down since before the window: no cycle of this day
        _, actions = self._audit()
        notes = " ".join(a["input_parameters"].get("message", "") for a in actions if a["action_type"] == "nop")
        self.assertNotIn("compute-3", notes)
