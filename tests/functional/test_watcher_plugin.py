"""The Watcher plugin end to end, on Watcher's real API, decision engine and applier.

Topology: 10 hosts of 16 vcpus / 32 GB / 500 GB and 48 instances of three flavours, spread
thin, so that consolidation can release hosts. compute-10 is disabled by an operator
before the audit; one instance is locked and one excluded through the audit scope.
"""

from __future__ import annotations

import fixtures
import pytest
from watcher.tests.functional import topology as topo

from tests.functional import checks
from tests.functional.harness import GeyserFunctionalTestCase

pytestmark = pytest.mark.functional

FLAVOURS = [(1, 2048, 20), (2, 4096, 40), (4, 8192, 80)]  # small, medium, large
PER_HOST = [6, 5, 5, 5, 5, 5, 4, 5, 4, 4]  # 48 instances on 10 hosts


def spread_topology() -> topo.ComputeTopology:
    t = topo.ComputeTopology().add_computes(count=10, vcpus=16, memory=32768, disk=500)
    k = 0
    for h, count in enumerate(PER_HOST, start=1):
        for _ in range(count):
            vcpus, memory, disk = FLAVOURS[k % 3]
            t.add_instances(computes=[f"compute-{h}"], count=1, vcpus=vcpus, memory=memory, disk=disk)
            k += 1
    t.update_compute("compute-10", status="disabled", disabled_reason="operator maintenance")
    t.update_instance("vm-1", locked=True)
    return t


PROBE = (900, "mean", 300)  # the mean asked where max gave nothing: a refusal, or no samples at all


def cpu_percent(t: topo.ComputeTopology) -> dict[str, float]:
    """30 % measured for most instances; every seventh has no measurement."""
    return {i.uuid: 30.0 for n, i in enumerate(t.instances) if n % 7}


class TestGeyserStrategy(GeyserFunctionalTestCase):
    COMPUTE_TOPOLOGY = topo.ComputeTopology()

    PARALLELISM = 4

    def setUp(self):
        super().setUp()
        from oslo_config import cfg
        from watcher.decision_engine.strategy.strategies import base as strategy_base

        from watcher_geyser.strategies import opts

        group = "watcher_strategies.geyser_consolidation"
        cfg.CONF.register_opts(strategy_base.BaseStrategy.get_config_opts() + opts.strategy_opts(), group=group)
        self.flags(group=group, parallelism=self.PARALLELISM, per_host_parallelism=2)
        self.topo = spread_topology()
        self.load(self.topo)
        self.datasource.cpu_percent = cpu_percent(self.topo)
        self.targets = []
        import watcher_geyser.pipeline.request as pipeline_request

        real = pipeline_request.solve

        def spy(problem, method="auto"):
            target = real(problem, method=method)
            self.targets.append(target)
            return target

        self.useFixture(fixtures.MockPatch("watcher_geyser.pipeline.request.solve", spy))

    def _scope_excluding(self, uuid: str) -> list:
        return [{"compute": [{"exclude": [{"instances": [{"uuid": uuid}]}]}]}]

    def test_strategies_goal_and_planner_are_synced_with_their_schema(self):
        strategy = self.admin_api.get("/strategies/geyser_consolidation").json()
        self.assertEqual("server_consolidation", strategy["goal_name"])
        props = strategy["parameters_spec"]["properties"]
        for name in ("time_limit_s", "ceiling_min", "ceiling_max", "max_migrations", "power_off",
                     "power_budget_w", "ceiling", "signal_source", "use_measured_cpu"):
            self.assertIn("default", props[name], name)
        energy = self.admin_api.get("/strategies/geyser_energy").json()
        self.assertEqual("energy_budget", energy["goal_name"])
        self.assertTrue(energy["parameters_spec"]["properties"]["power_off"]["default"])
        goal = self.admin_api.get("/goals/energy_budget").json()
        names = {spec["name"] for spec in goal["efficacy_specification"]}
        self.assertTrue({"watts_before", "watts_after", "power_budget_w"} <= names)

    def test_audit_executes_to_the_solvers_placement_without_overload(self):
        excluded = self.topo.instances[7].uuid
        locked = self.topo.instances[0].uuid
        template = self.admin_api.post("/audit_templates", {
            "name": "consolidate", "goal": "server_consolidation", "strategy": "geyser_consolidation",
            "scope": self._scope_excluding(excluded)})
        self.assertEqual(201, template.status_code, template.text)
        resp = self.admin_api.post("/audits", {
            "audit_type": "ONESHOT", "audit_template_uuid": template.json()["uuid"],
            "parameters": {"power_off": True, "ceiling": 1.0, "time_limit_s": 3}})
        self.assertEqual(201, resp.status_code, resp.text)
        audit = self._wait_for_audit_state(resp.json()["uuid"], "SUCCEEDED", timeout=60)
        plan = self.plan_of(audit["uuid"])
        plan_uuid = plan["uuid"]
        actions = self.actions_of(plan_uuid)
        indicators = {i["name"]: i["value"] for i in plan["efficacy_indicators"]}
        self.assertEqual(9, indicators["compute_nodes_count"])  # compute-10 is disabled
        # no signal: the peak, as the simulator (an unmeasured instance met before any max answer is probed
        # with the mean, to tell it from a datasource that refuses max)
        self.assertEqual({(900, "max", 300)}, set(self.datasource.asked) - {PROBE})
        migrations = [a for a in actions if a["action_type"] == "migrate"]
        self.assertEqual(len(migrations), indicators["instance_migrations_count"])
        self.assertGreater(indicators["released_compute_nodes_count"], 0)
        self.assertEqual([], checks.overloads_in_graph(self.topo, actions))
        per_level = [sum(a["action_type"] == "migrate" for a in level) for level in checks.levels(actions)]
        self.assertLessEqual(max(per_level), self.PARALLELISM)
        self.assertGreater(max(per_level), 1)  # the configured parallelism is used

        self.execute(plan_uuid)

        target = self.targets[-1]
        fleet = target.fleet
        for v, inst in enumerate(fleet.instances):
            self.assertEqual(fleet.hosts[target.placement[v]].name, self.host_of(inst.uuid), inst.name)
        self.assertEqual(self.host_of(locked), "compute-1")
        self.assertEqual(self.host_of(excluded), self.topo.instances[7].host)
        moved = [e for e in self.events if e[0] == "migrate"]
        self.assertEqual(len(migrations), len(moved))
        self.assertFalse([e for e in moved if e[3] == "compute-10"], "a disabled host received an instance")
        self.assertEqual([], checks.overloads_in_replay(self.topo, self.events))
        powered_off = {e[1] for e in self.events if e[0] == "power_off"}
        self.assertEqual(indicators["released_compute_nodes_count"], len(powered_off))
        for host in powered_off:
            self.assertEqual([], self.emulator._get_servers_on_host(host), host)
            svc = self.emulator._find_service_by_hostname(host)
            self.assertEqual(("disabled", "down"), (svc["status"], svc["state"]), host)

    def test_invalid_parameters_get_http_400(self):
        for params in ({"ceiling": 1.5}, {"time_limit_s": "soon"}, {"max_migrations": -1},
                       {"no_such_parameter": 1}, {"power_off": "yes"}, {"ceiling_min": 0}):
            resp = self.admin_api.post("/audits", {"audit_type": "ONESHOT", "goal": "server_consolidation",
                                                   "strategy": "geyser_consolidation", "parameters": params})
            self.assertEqual(400, resp.status_code, f"{params}: {resp.status_code} {resp.text}")

    def test_failing_metrics_still_give_a_succeeded_audit_with_the_reason(self):
        self.datasource.fail = True
        plan, actions = self.audit("geyser_consolidation", "server_consolidation",
                                   {"ceiling": 0.9, "time_limit_s": 3})
        nops = [a for a in actions if a["action_type"] == "nop"]
        self.assertEqual(1, len(nops))
        self.assertIn("instance CPU metrics", nops[0]["input_parameters"]["message"])
        self.assertIn("metrics backend unreachable", nops[0]["input_parameters"]["message"])
        self.execute(plan["uuid"])

    def _named_sources(self, *entries: str) -> None:
        from oslo_config import cfg

        from watcher_geyser.signal import opts as signal_opts

        signal_opts.register_opts(cfg.CONF)
        self.flags(group=signal_opts.GROUP, named_sources=list(entries))

    def test_scarce_signal_releases_more_hosts_than_a_plentiful_one(self):
        self._named_sources("scarce=constant:800W", "plentiful=constant:20kW")
        released = {}
        asked = {}
        for name in ("scarce", "plentiful"):
            self.datasource.asked.clear()
            plan, actions = self.audit("geyser_consolidation", "server_consolidation",
                                       {"signal_source": name, "power_off": True, "time_limit_s": 3})
            indicators = {i["name"]: i["value"] for i in plan["efficacy_indicators"]}
            released[name] = indicators["released_compute_nodes_count"]
            asked[name] = list(self.datasource.asked)
            self.assertEqual([], checks.overloads_in_graph(self.topo, actions), name)
        self.assertGreater(released["scarce"], released["plentiful"], released)
        # as the simulator: fully scarce, the load now (read once; an instance it finds nothing for, here
        # the unmeasured ones, gets the peak read); otherwise the load now for the signal, then the peak
        now, peak, n = (300, "mean", 300), (900, "max", 300), len(self.topo.instances)
        unmeasured = n - len(self.datasource.cpu_percent)
        self.assertEqual((n, unmeasured), (asked["scarce"].count(now), asked["scarce"].count(peak)))
        self.assertEqual((n, unmeasured + n), (asked["plentiful"].count(now), asked["plentiful"].count(peak)))
        self.assertEqual(set(), set(asked["scarce"] + asked["plentiful"]) - {now, peak, PROBE})

    def test_a_datasource_refusing_max_is_read_with_the_mean_and_the_plan_says_so(self):
        self.datasource.refuse = frozenset({"max"})  # as Watcher's Gnocchi helper answers max of instance CPU
        plan, actions = self.audit("geyser_consolidation", "server_consolidation", {"time_limit_s": 3})
        message = next(a for a in actions if a["action_type"] == "nop")["input_parameters"]["message"]
        self.assertIn("refused aggregate 'max' of instance CPU", message)
        self.assertIn((900, "mean", 300), self.datasource.asked)
        self.assertEqual([], checks.overloads_in_graph(self.topo, actions))

    def test_failing_signal_source_gives_a_succeeded_audit_and_no_host_switched_off(self):
        self._named_sources("down=http://127.0.0.1:9/down#unit=W")
        plan, actions = self.audit("geyser_consolidation", "server_consolidation",
                                   {"signal_source": "down", "power_off": True, "time_limit_s": 3})
        self.assertFalse([a for a in actions if a["action_type"] == "geyser_node_power"])
        message = next(a for a in actions if a["action_type"] == "nop")["input_parameters"]["message"]
        self.assertIn("safe default", message)
        self.execute(plan["uuid"])
        self.assertFalse([e for e in self.events if e[0].startswith("power")])
        self.assertEqual([], checks.overloads_in_replay(self.topo, self.events))

    def test_a_solver_out_of_time_still_gives_a_safe_succeeded_audit(self):
        plan, actions = self.audit("geyser_consolidation", "server_consolidation",
                                   {"time_limit_s": 0.1, "max_migrations": 6})
        self.assertLessEqual(len([a for a in actions if a["action_type"] == "migrate"]), 6)
        self.assertEqual([], checks.overloads_in_graph(self.topo, actions))
        self.execute(plan["uuid"])
        self.assertEqual([], checks.overloads_in_replay(self.topo, self.events))

    def test_a_model_we_cannot_read_gives_a_succeeded_audit_and_only_the_reason(self):
        self.useFixture(fixtures.MockPatch("watcher_geyser.strategies.fleet_source.fleet_from_model",
                                           side_effect=ValueError("host 'x': vcpus must be >= 0")))
        for strategy, goal in (("geyser_consolidation", "server_consolidation"), ("geyser_energy", "energy_budget")):
            plan, actions = self.audit(strategy, goal)
            self.assertEqual(["nop"], [a["action_type"] for a in actions])
            self.assertIn("vcpus must be >= 0", actions[0]["input_parameters"]["message"])
            indicators = {i["name"]: i["value"] for i in plan["efficacy_indicators"]}
            self.assertEqual(0, indicators["instance_migrations_count"])

    def test_measured_host_power_calibrates_the_configured_models(self):
        from oslo_config import cfg

        from watcher_geyser.strategies import opts

        params = {"power_budget_w": 5000, "ceiling": 0.9, "time_limit_s": 2}
        plan, _ = self.audit("geyser_energy", "energy_budget", params)
        configured = {i["name"]: i["value"] for i in plan["efficacy_indicators"]}["watts_before"]
        opts.register_power_opts(cfg.CONF)
        self.flags(group=opts.POWER_GROUP, calibrate=True)
        hosts = [n.hostname for n in self.topo.compute_nodes]
        self.datasource.host_cpu_percent = {h: 0.0 for h in hosts}
        self.datasource.host_power_w = {h: 180.0 for h in hosts}  # idle hosts measured at 1.5x the 120 W default
        plan, _ = self.audit("geyser_energy", "energy_budget", params)
        calibrated = {i["name"]: i["value"] for i in plan["efficacy_indicators"]}["watts_before"]
        self.assertAlmostEqual(1.5, calibrated / configured, places=2)

    def test_energy_goal_shows_watts_before_after_and_budget(self):
        # a supply under the fleet's draw (about 1,800 W): the soft budget makes packing pay
        plan, actions = self.audit("geyser_energy", "energy_budget", {"power_budget_w": 1000, "ceiling": 0.9,
                                                                        "time_limit_s": 3})
        indicators = {i["name"]: i["value"] for i in plan["efficacy_indicators"]}
        self.assertEqual(1000, indicators["power_budget_w"])
        self.assertGreater(indicators["watts_before"], indicators["watts_after"])
        self.assertTrue(any(a["action_type"] == "geyser_node_power" for a in actions))


class TestPowerAction(GeyserFunctionalTestCase):
    """Our power action against Watcher's own, on the same emulated cloud and metal nodes."""

    COMPUTE_TOPOLOGY = topo.ComputeTopology()

    def setUp(self):
        super().setUp()
        t = topo.ComputeTopology().add_computes(count=2).add_instances(computes=["compute-1"], count=1)
        self.load(t)

    def _params(self, host: str, state: str) -> dict:
        return {"resource_id": self.metal.node_id(host), "resource_name": host, "state": state}

    def test_watchers_own_power_off_breaks_where_ours_switches_off_only_empty_hosts(self):
        from watcher.applier.actions.change_node_power_state import ChangeNodePowerState

        from watcher_geyser.strategies.power_action import GeyserNodePower

        theirs = ChangeNodePowerState(config={}, osc=object())
        theirs.input_parameters = self._params("compute-2", "off")
        self.assertRaises(AttributeError, theirs.execute)  # Hypervisor dataclass has no to_dict()
        self.assertEqual("on", self.metal.power["compute-2"])

        ours = GeyserNodePower(config={}, osc=object())
        ours.input_parameters = self._params("compute-1", "off")
        self.assertFalse(ours.execute())  # holds an instance: refused
        self.assertEqual("on", self.metal.power["compute-1"])
        ours.input_parameters = self._params("compute-2", "off")
        self.assertTrue(ours.execute())
        self.assertEqual("off", self.metal.power["compute-2"])
        self.assertEqual("down", self.emulator._find_service_by_hostname("compute-2")["state"])
        ours.input_parameters = self._params("compute-2", "on")
        self.assertTrue(ours.execute())
        self.assertEqual("up", self.emulator._find_service_by_hostname("compute-2")["state"])


class TestPowerOnFirst(GeyserFunctionalTestCase):
    """An efficient host we switched off earlier is worth switching back on: on and enabled first."""

    COMPUTE_TOPOLOGY = topo.ComputeTopology()

    def setUp(self):
        super().setUp()
        from oslo_config import cfg

        from watcher_geyser.strategies import opts

        opts.register_power_opts(cfg.CONF)
        self.flags(group=opts.POWER_GROUP, host_models={"compute-3": "50/150", "*": "300/600"})
        t = (topo.ComputeTopology().add_computes(count=2, vcpus=16, memory=32768)
             .add_computes(count=1, vcpus=32, memory=65536)
             .add_instances(computes=["compute-1", "compute-2"], count=4, vcpus=2, memory=4096))
        t.update_compute("compute-3", status="disabled", disabled_reason="watcher_geyser", state="down")
        self.load(t, powered_off=("compute-3",))
        self.datasource.cpu_percent = {i.uuid: 50.0 for i in t.instances}

    def test_power_on_and_enable_come_before_the_migrations_that_need_them(self):
        plan, actions = self.audit("geyser_energy", "energy_budget", {"ceiling": 1.0})
        self.assertEqual([], checks.overloads_in_graph(self.topology, actions))
        layers = checks.levels(actions)
        depth = {a["uuid"]: d for d, layer in enumerate(layers) for a in layer}
        power_on = [a for a in actions if a["action_type"] == "geyser_node_power"
                    and a["input_parameters"]["state"] == "on"]
        enable = [a for a in actions if a["action_type"] == "change_nova_service_state"
                  and a["input_parameters"]["state"] == "enabled"]
        into_3 = [a for a in actions if a["action_type"] == "migrate"
                  and a["input_parameters"]["destination_node"] == "compute-3"]
        self.assertEqual(["compute-3"], [a["input_parameters"]["resource_name"] for a in power_on])
        self.assertEqual(["compute-3"], [a["input_parameters"]["resource_name"] for a in enable])
        self.assertTrue(into_3)
        self.assertLess(depth[power_on[0]["uuid"]], depth[enable[0]["uuid"]])
        self.assertLess(depth[enable[0]["uuid"]], min(depth[a["uuid"]] for a in into_3))

        self.execute(plan["uuid"])
        kinds = [e[0] for e in self.events]
        self.assertEqual("power_on", kinds[0], self.events)
        for i, event in enumerate(self.events):
            if event[0] == "power_off":  # only after the last move touching that host
                self.assertFalse([e for e in self.events[i:] if e[0] == "migrate" and event[1] in e[2:]], event)
        self.assertEqual([], checks.overloads_in_replay(self.topology, self.events))
        self.assertEqual(("enabled", "up"), tuple(self.emulator._find_service_by_hostname("compute-3")[k]
                                                  for k in ("status", "state")))
        self.assertEqual({"compute-3"}, {self.host_of(i.uuid) for i in self.topology.instances})


class TestInstanceStates(GeyserFunctionalTestCase):
    """Stopped instances move cold, running ones live; error and paused ones stay."""

    COMPUTE_TOPOLOGY = topo.ComputeTopology()

    def test_migration_type_follows_the_instance_state(self):
        t = (topo.ComputeTopology().add_computes(count=2)
             .add_instances(computes=["compute-1"], count=1, name_prefix="running", vcpus=2)
             .add_instances(computes=["compute-1"], count=1, name_prefix="stopped", state="stopped", vcpus=2)
             .add_instances(computes=["compute-2"], count=1, name_prefix="broken", state="error", vcpus=2)
             .add_instances(computes=["compute-2"], count=1, name_prefix="paused", state="paused", vcpus=2)
             .add_instances(computes=["compute-2"], count=1, name_prefix="other", vcpus=2))
        self.load(t)
        self.datasource.cpu_percent = {i.uuid: 20.0 for i in t.instances}
        _, actions = self.audit("geyser_consolidation", "server_consolidation", {"ceiling": 1.0})
        moves = {a["input_parameters"]["resource_name"]: a["input_parameters"]
                 for a in actions if a["action_type"] == "migrate"}
        self.assertEqual({"running-1": "live", "stopped-1": "cold"},
                         {name: p["migration_type"] for name, p in moves.items()})
        self.assertTrue(all(p["destination_node"] == "compute-2" for p in moves.values()))
        message = next(a for a in actions if a["action_type"] == "nop")["input_parameters"]["message"]
        self.assertIn("paused", message)

    def test_an_instance_nova_is_migrating_stays_and_the_plan_says_why(self):
        """Nova shows vm_state active during a live migration; only task_state says it is busy. The
        strategy asks the emulated Nova through Watcher's own client and leaves that instance alone."""
        t = (topo.ComputeTopology().add_computes(count=2)
             .add_instances(computes=["compute-1"], count=1, name_prefix="moving", vcpus=2)
             .add_instances(computes=["compute-2"], count=1, name_prefix="idle", vcpus=2))
        self.load(t)
        moving = next(i.uuid for i in t.instances if i.name == "moving-1")
        self.emulator.servers[moving]["OS-EXT-STS:task_state"] = "migrating"
        self.datasource.cpu_percent = {i.uuid: 20.0 for i in t.instances}
        _, actions = self.audit("geyser_consolidation", "server_consolidation", {"ceiling": 1.0})
        moved = [a["input_parameters"]["resource_name"] for a in actions if a["action_type"] == "migrate"]
        self.assertEqual(["idle-1"], moved)  # onto the busy one's host: the fleet still consolidates
        message = next(a for a in actions if a["action_type"] == "nop")["input_parameters"]["message"]
        self.assertIn("moving-1 (migrating)", message)


class TestMigrationsInFlight(GeyserFunctionalTestCase):
    """Nova holds a migrating instance's resources on both hosts; Watcher's model shows it on its source.
    The strategy asks the (emulated) Nova for its migrations in flight and counts the destination as used."""

    COMPUTE_TOPOLOGY = topo.ComputeTopology()

    def _serve_migrations(self, rows: list[dict]) -> list[str]:
        """Give the emulated Nova a ``GET /os-migrations?status=`` (Watcher's emulator has none)."""
        from pecan import expose, request
        from pecan.rest import RestController

        module = __import__("watcher.tests.local_fixtures.nova_api_emulator", fromlist=["_V21Controller"])
        asked: list[str] = []

        class Migrations(RestController):
            @expose("json")
            def get_all(self):
                asked.append(request.GET.get("status"))
                return {"migrations": [m for m in rows if m["status"] == asked[-1]]}

        original = module._V21Controller._lookup

        def lookup(controller, segment, *remainder):
            if segment == "os-migrations":
                return Migrations(), remainder
            return original(controller, segment, *remainder)

        self.useFixture(fixtures.MockPatchObject(module._V21Controller, "_lookup", expose()(lookup)))
        return asked

    def test_the_destination_of_a_migration_in_flight_is_neither_filled_nor_released(self):
        t = (topo.ComputeTopology().add_computes(count=3, vcpus=16, vcpu_ratio=1.0, memory=16384)
             .add_instances(computes=["compute-1"], count=1, name_prefix="a", vcpus=4, memory=4096)
             .add_instances(computes=["compute-2"], count=1, name_prefix="moving", vcpus=10, memory=12288)
             .add_instances(computes=["compute-3"], count=1, name_prefix="z", vcpus=2, memory=2048))
        self.load(t)
        moving = next(i.uuid for i in t.instances if i.name == "moving-1")
        self.emulator.servers[moving]["OS-EXT-STS:task_state"] = "migrating"
        asked = self._serve_migrations([{"id": 1, "uuid": "m-1", "instance_uuid": moving, "status": "running",
                                         "source_compute": "compute-2", "dest_compute": "compute-3",
                                         "source_node": "compute-2", "dest_node": "compute-3",
                                         "migration_type": "live-migration"}])
        self.datasource.cpu_percent = {i.uuid: 20.0 for i in t.instances}
        _, actions = self.audit("geyser_consolidation", "server_consolidation", {"ceiling": 1.0})
        moves = {a["input_parameters"]["resource_name"]: a["input_parameters"]["destination_node"]
                 for a in actions if a["action_type"] == "migrate"}
        self.assertEqual({"a-1": "compute-2"}, moves)  # not z-1 onto compute-2, which would empty compute-3
        disabled = {a["input_parameters"]["resource_name"] for a in actions
                    if a["action_type"] == "change_nova_service_state"
                    and a["input_parameters"].get("state") == "disabled"}
        self.assertEqual({"compute-1"}, disabled)
        message = next(a for a in actions if a["action_type"] == "nop")["input_parameters"]["message"]
        self.assertIn("1 migration(s) in flight hold their instance's resources on a second host", message)
        self.assertIn("running", asked)
