"""Watcher's real API, decision engine and applier over real Nova and Placement.

``RealNovaTestCase`` is our Watcher functional test case (``tests/functional/harness.py``)
with its one seam to the cloud moved: ``watcher.common.clients.get_sdk_connection``
returns an openstacksdk connection to the Nova and Placement of ``nova_cloud.py``
(started once per test class by the ``nova_cloud`` fixture of ``conftest.py``). Watcher's
own Nova and Placement emulators are still installed by its harness, and bypassed.

There is no Ironic: the metal helper says so, and the strategy then disables the hosts it
empties instead of switching them off, as in a cloud without a bare-metal service.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import fixtures
import requests
from watcher.tests.functional import topology as topo
from watcher.tests.local_fixtures.nova import NovaPlacementFixture

from tests.functional.harness import GeyserFunctionalTestCase
from tests.nova.real_nova import RESOURCES, NovaCloud, PlacementWatch

MIGRATION_WAIT_S = 30.0  # Watcher polls this long for a refused cold migration
PARALLELISM = 4  # migrations at once: Nova runs them concurrently, Placement must still hold
# How often Watcher's applier asks Nova whether a migration or a shelve is done, and our
# geyser_instance_state action whether an unshelve is (both default to 5 s). Each ask is a
# GET /servers/<id> that costs Nova's process CPU: with a wave of 4 migrations polled every
# 0.1 s, Nova spent its time answering instead of migrating.
POLL_S = 1.0
ENDED = ("SUCCEEDED", "FAILED", "CANCELLED", "SUPERSEDED")  # action plan states that end a run


@dataclass(frozen=True)
class HostSpec:
    name: str
    vcpus: int
    memory_mb: int
    disk_gb: int


@dataclass(frozen=True)
class ServerSpec:
    name: str
    flavor: str
    host: str
    project: str | None = None
    group: str | None = None  # a key of FleetSpec.groups
    action: str | None = None  # "lock", "pause" or "stop" once ACTIVE
    metadata: dict[str, str] | None = None  # server properties, e.g. geyser:deferrable


@dataclass
class FleetSpec:
    flavors: dict[str, tuple[int, int, int]]  # name -> (vcpus, memory_mb, disk_gb)
    servers: list[ServerSpec]
    groups: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # key -> (name, policy, project)
    disabled: dict[str, str] = field(default_factory=dict)  # host -> reason


@dataclass
class Booted:
    """What Nova made of a FleetSpec: ids by name, group ids by key."""

    ids: dict[str, str]
    groups: dict[str, str]

    def name_of(self, server_id: str) -> str:
        return next(n for n, i in self.ids.items() if i == server_id)


def _no_metal(osc=None):
    raise RuntimeError("no Ironic or MAAS in this cloud")


class RealNovaTestCase(GeyserFunctionalTestCase):
    """Set ``cloud`` (a started ``NovaCloud``) on the class; each test starts from an empty cloud."""

    COMPUTE_TOPOLOGY = topo.ComputeTopology()  # Watcher's emulators are installed, then bypassed
    cloud: NovaCloud

    def setUp(self):
        super().setUp()
        from oslo_config import cfg
        from watcher.applier.workflow_engine.default import DefaultWorkFlowEngine
        from watcher.decision_engine.strategy.strategies import base as strategy_base

        from watcher_geyser.strategies import opts

        self.flags(group="nova", migration_max_retries=int(MIGRATION_WAIT_S / POLL_S), migration_interval=POLL_S,
                   shelve_max_retries=int(MIGRATION_WAIT_S / POLL_S), shelve_interval=POLL_S)
        # our own action waits for an unshelve at a real cloud's pace (5 s a look) unless told otherwise
        cfg.CONF.register_opts(opts.instance_state_opts(), group=opts.INSTANCE_STATE_GROUP)
        self.flags(group=opts.INSTANCE_STATE_GROUP, poll_interval_s=POLL_S)
        # Watcher's taskflow engine runs as many actions at once as the machine has cores (2 here)
        # unless told otherwise: let it run a whole wave of ours. Its loader registers the group on
        # first use; register it first so that the flag can be set.
        taskflow = "watcher_workflow_engines.taskflow"
        cfg.CONF.register_opts(DefaultWorkFlowEngine.get_config_opts(), group=taskflow)
        self.flags(group=taskflow, max_workers=PARALLELISM)
        self.useFixture(fixtures.MockPatch("watcher.common.clients.get_sdk_connection",
                                           return_value=self.cloud.sdk_connection()))
        self.useFixture(fixtures.MockPatch("watcher.common.metal_helper.factory.get_helper", side_effect=_no_metal))
        for group in ("watcher_strategies.geyser_consolidation", "watcher_strategies.geyser_energy"):
            if group not in cfg.CONF or "parallelism" not in cfg.CONF[group]:
                cfg.CONF.register_opts(strategy_base.BaseStrategy.get_config_opts() + opts.strategy_opts(),
                                       group=group)
            self.flags(group=group, parallelism=PARALLELISM, per_host_parallelism=2)
        self.cloud.op("reset")
        self.targets: list = []
        import watcher_geyser.solver as solver

        real = solver.solve

        def spy(problem, **kwargs):
            target = real(problem, **kwargs)
            self.targets.append(target)
            return target

        self.useFixture(fixtures.MockPatch("watcher_geyser.pipeline.request.solve", spy))

    def boot(self, spec: FleetSpec) -> Booted:
        """Create the fleet through Nova's API: flavours, server groups, servers on their hosts, then
        the lock/pause/stop actions and the operator's disabled services; every server must boot."""
        self.flavor_sizes = dict(spec.flavors)
        for name, (vcpus, memory_mb, disk_gb) in spec.flavors.items():
            self.cloud.op("flavor", name=name, vcpus=vcpus, memory_mb=memory_mb, disk_gb=disk_gb)
        groups = {key: self.cloud.op("group", name=name, policy=policy, project=project)["id"]
                  for key, (name, policy, project) in spec.groups.items()}
        project_of = {key: project for key, (_, _, project) in spec.groups.items()}
        body = [{"name": s.name, "flavor": s.flavor, "host": s.host,
                 "project": s.project or project_of.get(s.group), "group": groups.get(s.group),
                 "metadata": s.metadata} for s in spec.servers]
        booted = self.cloud.boot(body)
        wrong = [(b["name"], b["status"], b["host"], b.get("fault")) for b, s in zip(booted, spec.servers)
                 if b["status"] != "ACTIVE" or b["host"] != s.host]
        self.assertEqual([], wrong, "Nova did not boot the fleet as asked")
        self.assertEqual([], self.cloud.inventory_drift(), "Placement does not hold the hosts' sizes")
        ids = {b["name"]: b["id"] for b in booted}
        for s in spec.servers:
            if s.action:
                self.cloud.op("action", id=ids[s.name], action=s.action)
        for host, reason in spec.disabled.items():
            self.cloud.op("service", host=host, status="disabled", reason=reason)
        NovaPlacementFixture._invalidate_collector_model()
        return Booted(ids, groups)

    def execute_watched(self, plan_uuid: str, expect: str = "SUCCEEDED", timeout_s: float = 600) -> PlacementWatch:
        """Run the plan while Placement is polled; the watch holds the samples and any over-inventory instant."""
        with PlacementWatch(self.cloud) as watch:
            resp = self.admin_api.patch(f"/action_plans/{plan_uuid}",
                                        [{"op": "replace", "path": "/state", "value": "PENDING"}])
            self.assertEqual(200, resp.status_code, resp.text)
            self._wait_for_plan(plan_uuid, expect, timeout_s)
        self.assertEqual([], watch.errors, "Placement could not be read during the run")
        self.assertGreater(watch.samples, 1)
        return watch

    def run_plan(self, plan_uuid: str, timeout_s: float = 300) -> tuple[dict, PlacementWatch]:
        """Run the plan while Placement is polled, to whatever end: (the plan as it ended, the watch)."""
        with PlacementWatch(self.cloud) as watch:
            resp = self.admin_api.patch(f"/action_plans/{plan_uuid}",
                                        [{"op": "replace", "path": "/state", "value": "PENDING"}])
            self.assertEqual(200, resp.status_code, resp.text)
            deadline = time.monotonic() + timeout_s
            while (plan := self.admin_api.get(f"/action_plans/{plan_uuid}").json())["state"] not in ENDED:
                if time.monotonic() > deadline:
                    self.fail(f"action plan {plan_uuid} still {plan['state']} after {timeout_s:.0f} s")
                time.sleep(0.3)
        self.assertEqual([], watch.errors, "Placement could not be read during the run")
        return plan, watch

    def actions_v15(self, plan_uuid: str) -> list[dict]:
        """The plan's actions as Watcher's API 1.5 shows them: with ``status_message`` (why an action
        failed or was skipped), which older microversions leave out."""
        headers = {**self.admin_api._headers(), "OpenStack-API-Version": "infra-optim 1.5"}
        return [requests.get(f"{self.admin_api.base_url}/actions/{a['uuid']}", headers=headers, timeout=30).json()
                for a in self.actions_of(plan_uuid)]

    def _wait_for_plan(self, plan_uuid: str, expect: str, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        state = None
        while time.monotonic() < deadline:
            plan = self.admin_api.get(f"/action_plans/{plan_uuid}").json()
            state = plan["state"]
            if state == expect:
                return plan
            if state in ENDED:
                failed = [(a["action_type"], a["input_parameters"].get("resource_name"), a.get("status_message"))
                          for a in self.actions_of(plan_uuid) if a["state"] == "FAILED"]
                self.fail(f"action plan {plan_uuid} ended {state}, not {expect}; failed actions: {failed}")
            time.sleep(0.2)
        self.fail(f"action plan {plan_uuid} still {state} after {timeout_s:.0f} s")

    def assert_nova_matches_target(self, booted: Booted) -> None:
        """Nova's view of every server equals the solver's target; Placement's usages equal the flavours."""
        self.assertEqual([], self.differences_from_target(booted))

    def differences_from_target(self, booted: Booted) -> list[str]:
        """Where Nova's view differs from the solver's last target, and where Placement's usages differ
        from the flavours of the servers Nova has on each host; empty when everything agrees."""
        target = self.targets[-1]
        fleet = target.fleet
        servers = self.cloud.servers()
        problems = [f"{servers.get(inst.uuid, {}).get('name', inst.uuid)} is on "
                    f"{servers.get(inst.uuid, {}).get('host')}, target {fleet.hosts[target.placement[v]].name}"
                    for v, inst in enumerate(fleet.instances)
                    if servers.get(inst.uuid, {}).get("host") != fleet.hosts[target.placement[v]].name]
        if set(booted.ids.values()) != set(servers):
            problems.append(f"servers appeared or vanished: booted {sorted(booted.ids.values())}, "
                            f"Nova lists {sorted(servers)}")
        return problems + self.placement_differences(servers) + self.cloud.inventory_drift()

    def placement_differences(self, servers: dict[str, dict]) -> list[str]:
        """Hosts where Placement's usages differ from the flavours of the servers Nova has there (a
        shelved-offloaded server, on no host, holds nothing)."""
        want: dict[str, dict[str, int]] = {}
        for s in servers.values():
            if s["host"] is None:
                continue
            used = want.setdefault(s["host"], dict.fromkeys(RESOURCES, 0))
            for rc, amount in zip(RESOURCES, self.flavor_sizes[s["flavor"]]):
                used[rc] += amount
        problems = []
        for host, state in sorted(self.cloud.placement().items()):
            expected = want.get(host, dict.fromkeys(RESOURCES, 0))
            if dict(state["usage"]) != expected:
                problems.append(f"Placement holds {state['usage']} on {host}, the flavours there make {expected}")
        return problems
