"""Seeded random fleets, each audited by Watcher and executed by real Nova: the issue's target is
0 migrations refused by Nova and 0 instants with a host above its Placement inventory.

One Nova process for the module; every fleet starts on fresh compute services (3-6 hosts of
mixed generations, named after the seed), with mixed flavours and, depending on the seed, a
locked, paused or stopped server, an anti-affinity group, an affinity pair and a host an
operator disabled (``fleets.random_fleet``). Even seeds run ``geyser_consolidation``, odd
ones ``geyser_energy`` under a random power budget. Each fleet is checked fully, and every
problem is collected, so that one run reports all the seeds that went wrong; the counts and
timings are printed as a table and one JSON line (``pytest -s`` shows them).
"""

from __future__ import annotations

import json
import logging
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import fixtures
import pytest
from oslo_config import cfg
from watcher.tests.local_fixtures.nova import NovaPlacementFixture

from tests.nova import fleets
from tests.nova.harness import FleetSpec, HostSpec, RealNovaTestCase, ServerSpec
from tests.supply_files import scarce_then_plenty
from watcher_geyser.deferral.spec import SHELVED_AT
from watcher_geyser.signal import opts as signal_opts
from watcher_geyser.strategies import instance_state_action

pytestmark = pytest.mark.nova

SEEDS = range(20)
SOLVER_TIME_LIMIT_S = 1.0
DEFERRABLE = {"geyser:deferrable": "true", "geyser:max_deferral": "8h"}
SHELVE_WAIT_S = 120.0  # a shelve offloads through Glance and Placement: slow on a loaded machine


@dataclass
class FleetRun:
    """What one seed's audit and execution did, and how long each part took."""

    seed: int
    strategy: str
    hosts: int
    servers: int
    migrations: int = 0
    refused: int = 0
    plan: str = ""
    placement_samples: int = 0
    boot_s: float = 0.0
    audit_s: float = 0.0
    execute_s: float = 0.0
    cpu_s: float = 0.0  # CPU used by this process (Watcher) and Nova's, which a loaded machine does not inflate
    problems: list[str] = field(default_factory=list)


def _audit_of(seed: int, hosts: int) -> tuple[str, str, dict]:
    rng = random.Random(f"audit-{seed}")
    if seed % 2 == 0:
        return "geyser_consolidation", "server_consolidation", {
            "power_off": True, "ceiling": rng.choice([0.8, 0.9, 1.0]), "time_limit_s": SOLVER_TIME_LIMIT_S}
    return "geyser_energy", "energy_budget", {
        "power_budget_w": round(hosts * rng.uniform(40, 160)), "ceiling": 0.9, "time_limit_s": SOLVER_TIME_LIMIT_S}


@pytest.mark.usefixtures("nova_cloud")
class TestRandomAuditsOverRealNova(RealNovaTestCase):
    HOSTS: list = []  # each fleet brings its own

    def test_random_fleets_are_audited_and_executed_by_real_nova(self):
        started = time.monotonic()
        runs = [self._run(seed) for seed in SEEDS]
        total_s = time.monotonic() - started
        _report(runs, total_s)
        problems = [f"seed {r.seed}: {p}" for r in runs for p in r.problems]
        self.assertEqual([], problems)
        self.assertEqual(0, sum(r.refused for r in runs), "Nova refused migrations")
        self.assertGreater(sum(r.migrations for r in runs), len(runs), "the random fleets hardly moved anything")

    def test_deferrable_servers_are_shelved_and_brought_back_by_real_nova(self):
        """Scarce energy: geyser's ``geyser_instance_state`` action shelves the two deferrable servers
        (Nova offloads them, Placement releases their allocations); energy back: the same action
        unshelves them onto the hosts the plan chose (Nova's scheduler checks them, Placement
        allocates there again)."""
        signal_opts.register_opts(cfg.CONF)
        # scarce now, the sun back in 2 h: the deferral rule shelves only work it can run later
        scarce = Path(self.useFixture(fixtures.TempDir()).path) / "scarce.csv"
        scarce.write_text(scarce_then_plenty(time.time()))
        self.flags(group=signal_opts.GROUP, named_sources=[f"scarce=file:{scarce}", "plenty=constant:20kW"])
        self.flags(group="nova", shelve_max_retries=int(SHELVE_WAIT_S), shelve_interval=1.0)
        hosts = [HostSpec(f"d-h{i}", 16, 32768, 400) for i in range(3)]
        s = ServerSpec
        spec = FleetSpec(dict(fleets.FLAVORS), [
            s("batch-1", "medium", "d-h0", metadata=DEFERRABLE), s("batch-2", "small", "d-h1", metadata=DEFERRABLE),
            s("web-1", "small", "d-h0"), s("web-2", "medium", "d-h1"), s("web-3", "small", "d-h2")])
        self.cloud.op("reset", hosts=[vars(h) for h in hosts])
        booted = self.boot(spec)
        self.datasource.cpu_percent = dict.fromkeys(booted.ids.values(), 30.0)
        batch = [booted.ids["batch-1"], booted.ids["batch-2"]]
        self.assertTrue(all(self.cloud.allocations(uuid) for uuid in batch))

        plan = self._deferral_audit("scarce", dict.fromkeys(batch, "shelved"))
        servers = self.cloud.servers()
        for uuid in batch:
            self.assertEqual(("SHELVED_OFFLOADED", None), (servers[uuid]["status"], servers[uuid]["host"]))
            self.assertIn(SHELVED_AT, servers[uuid]["metadata"])
            self.assertEqual({}, self.cloud.allocations(uuid), "Placement still holds a shelved server")
        self.assertEqual([], self.placement_differences(servers))
        shelved_s = plan["run_s"]

        action_log = self.useFixture(fixtures.FakeLogger(name=instance_state_action.__name__, level=logging.INFO))
        plan = self._deferral_audit("plenty", dict.fromkeys(batch, "active"))
        servers = self.cloud.servers()
        placement = self.cloud.capacities()
        for uuid in batch:
            self.assertEqual("ACTIVE", servers[uuid]["status"])
            # on the host the plan kept its room on (deferral/room.py), asked of Nova at microversion 2.91
            self.assertIn(plan["destinations"][uuid], {h.name for h in hosts})
            self.assertEqual(plan["destinations"][uuid], servers[uuid]["host"])
            self.assertIn(f"({uuid}): unshelving onto {servers[uuid]['host']}", action_log.output)  # not a fallback
            self.assertNotIn(SHELVED_AT, servers[uuid]["metadata"])
            vcpus, memory_mb, disk_gb = fleets.FLAVORS[servers[uuid]["flavor"]]
            self.assertEqual({placement[servers[uuid]["host"]][0]: {"VCPU": vcpus, "MEMORY_MB": memory_mb,
                                                                    "DISK_GB": disk_gb}},
                             self.cloud.allocations(uuid), "Placement does not hold the server where Nova runs it")
        self.assertEqual([], self.placement_differences(servers))
        print(f"deferral: 2 servers shelved in {shelved_s:.1f} s and brought back in {plan['run_s']:.1f} s "
              "by real Nova", file=sys.stderr)

    def _deferral_audit(self, source: str, expected: dict[str, str]) -> dict:
        """Audit under the named signal, check the plan shelves or brings back exactly ``expected``
        (uuid -> state), run it; the plan must SUCCEED with Placement never above inventory."""
        NovaPlacementFixture._invalidate_collector_model()  # Watcher's model would lag Nova otherwise
        plan, actions = self.audit("geyser_consolidation", "server_consolidation",
                                   {"signal_source": source, "power_off": True, "time_limit_s": SOLVER_TIME_LIMIT_S})
        states = {a["input_parameters"]["resource_id"]: a["input_parameters"]["state"]
                  for a in actions if a["action_type"] == "geyser_instance_state"}
        self.assertEqual(expected, states)
        destinations = {a["input_parameters"]["resource_id"]: a["input_parameters"].get("destination_node")
                        for a in actions if a["action_type"] == "geyser_instance_state"}
        started = time.monotonic()
        plan, watch = self.run_plan(plan["uuid"])
        failed = [(a["action_type"], a.get("status_message")) for a in self.actions_v15(plan["uuid"])
                  if a["state"] in ("FAILED", "SKIPPED")]
        self.assertEqual(("SUCCEEDED", []), (plan["state"], failed))
        self.assertEqual([], watch.problems)
        return {**plan, "run_s": time.monotonic() - started, "destinations": destinations}

    def _run(self, seed: int) -> FleetRun:
        hosts, spec = fleets.random_fleet(seed)
        strategy, goal, parameters = _audit_of(seed, len(hosts))
        run = FleetRun(seed, strategy, len(hosts), len(spec.servers))
        t0, cpu0 = time.monotonic(), self._cpu_s()
        self.cloud.op("reset", hosts=[vars(h) for h in hosts])
        booted = self.boot(spec)
        rng = random.Random(f"cpu-{seed}")
        self.datasource.cpu_percent = {uuid: rng.uniform(5, 60) for uuid in booted.ids.values()}
        before = self.cloud.servers()
        t1 = time.monotonic()
        self.targets.clear()
        plan, actions = self.audit(strategy, goal, parameters)
        t2 = time.monotonic()
        run.migrations = sum(a["action_type"] == "migrate" for a in actions)
        if plan["state"] == "RECOMMENDED":
            plan, watch = self.run_plan(plan["uuid"])
            run.placement_samples = watch.samples
            run.problems += watch.problems
        run.plan = plan["state"]
        t3 = time.monotonic()
        run.boot_s, run.audit_s, run.execute_s = round(t1 - t0, 1), round(t2 - t1, 1), round(t3 - t2, 1)
        run.cpu_s = round(self._cpu_s() - cpu0, 1)
        failed = [a for a in self.actions_v15(plan["uuid"]) if a["state"] == "FAILED"]
        run.refused = sum(a["action_type"] == "migrate" for a in failed)
        if run.plan != "SUCCEEDED":
            run.problems.append(f"action plan {run.plan}: " + "; ".join(
                f"{a['action_type']} {a['input_parameters'].get('resource_name')}: {a.get('status_message')}"
                for a in failed))
            return run
        run.problems += self.differences_from_target(booted)
        after = self.cloud.servers()
        run.problems += [f"{was['name']} was {was['status']}, is {after[uuid]['status']}"
                         for uuid, was in before.items() if after[uuid]["status"] != was["status"]]
        moved_to = {a["input_parameters"]["destination_node"] for a in actions if a["action_type"] == "migrate"}
        run.problems += [f"operator-disabled {h} received a server" for h in spec.disabled if h in moved_to]
        services = self.cloud.services()
        emptied = {s["host"] for s in before.values()} - {s["host"] for s in after.values()} - set(spec.disabled)
        run.problems += [f"emptied {h} is still enabled" for h in sorted(emptied)
                         if services[h]["status"] != "disabled"]
        print(f"seed {seed:2d} {strategy:21s} {run.hosts} hosts {run.servers:2d} servers: {run.migrations:2d} "
              f"migrations, plan {run.plan}, boot {run.boot_s:.1f} s audit {run.audit_s:.1f} s execute "
              f"{run.execute_s:.1f} s, {run.cpu_s:.1f} CPU s", file=sys.stderr)
        return run

    def _cpu_s(self) -> float:
        return time.process_time() + self.cloud.cpu_s()


def _report(runs: list[FleetRun], total_s: float) -> None:
    by_strategy: dict[str, list[FleetRun]] = {}
    for r in runs:
        by_strategy.setdefault(r.strategy, []).append(r)
    summary = {
        "fleets": len(runs), "servers": sum(r.servers for r in runs), "migrations": sum(r.migrations for r in runs),
        "refused": sum(r.refused for r in runs), "succeeded": sum(r.plan == "SUCCEEDED" for r in runs),
        "over_inventory": sum(len([p for p in r.problems if p.startswith("sample")]) for r in runs),
        "placement_samples": sum(r.placement_samples for r in runs), "total_s": round(total_s, 1),
        "per_fleet_s": {part: {"mean": round(sum(getattr(r, part) for r in runs) / len(runs), 1),
                               "max": max(getattr(r, part) for r in runs)}
                        for part in ("boot_s", "audit_s", "execute_s", "cpu_s")},
        "by_strategy": {s: {"fleets": len(rs), "migrations": sum(r.migrations for r in rs)}
                        for s, rs in sorted(by_strategy.items())},
    }
    print(json.dumps({"random_audits": summary}), file=sys.stderr)
    print(json.dumps({"random_audit_runs": [asdict(r) for r in runs]}), file=sys.stderr)
