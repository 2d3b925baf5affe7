"""A migration in flight, in real Nova and Placement: the claim it holds is read, planned around
and executed around (``watcher_geyser/claims.py``).

With Nova's fake driver a cold migration or a resize stops in VERIFY_RESIZE, its migration
``finished``: the server is shown on its destination, and Placement holds its old flavour on the
source (the migration's allocation) until it is confirmed or reverted. The fleet here makes that
matter: the source, ``src``, is where everything else would fit, were the migration's hold free.
Counted, it has room for one of the two spare hosts' servers; not counted, a plan moves both
there and Nova refuses the last moves (NoValidHost). ``dst`` is full once the server lands.

Memory binds (ratio 1.0, Nova reserves 512 MB a host): ``src`` 32256 MB usable, 16384 held by
its two servers and 8192 by the migration; ``p1`` and ``p2`` 6144 MB each.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import fixtures
import pytest
from watcher.tests.local_fixtures.nova import NovaPlacementFixture

from tests.nova.harness import FleetSpec, HostSpec, RealNovaTestCase, ServerSpec
from tests.nova.real_nova import RESOURCES, over_inventory
from tests.ops.clouds import clouds_yaml
from watcher_geyser import pipeline
from watcher_geyser.claims import claim_uuid
from watcher_geyser.cli import main
from watcher_geyser.pipeline.settings import Limits, Settings, SolveSettings
from watcher_geyser.scenario import load_scenario

pytestmark = pytest.mark.nova

FLAVORS = {"small": (1, 2048, 20), "medium": (2, 4096, 40), "large": (4, 8192, 80), "xlarge": (8, 9216, 80)}
CLOUD = "realnova"
AUDIT = {"power_off": True, "ceiling": 1.0, "time_limit_s": 3}
# What the snapshot says when it could not read the migrations or what a resize holds (cloud/read.py)
# and when a claim's flavour is a guess (claims.py): none may appear when Nova and Placement answered.
FAILED_READS = ("could not read migrations", "Nova migrations in flight unknown",
                "holds on each of its hosts is unknown", "Placement not read", "not counted",
                "the swap pass may move one of them again")  # the migrations finished lately (settled.py)


def fleet() -> FleetSpec:
    s = ServerSpec
    return FleetSpec(dict(FLAVORS), [
        s("x", "large", "src"), s("a1", "large", "src"), s("a2", "large", "src"),
        s("b1", "large", "dst"), s("b2", "large", "dst"), s("b3", "medium", "dst"), s("b4", "small", "dst"),
        s("p1-m", "medium", "p1"), s("p1-s", "small", "p1"),
        s("p2-m", "medium", "p2"), s("p2-s", "small", "p2"),
    ])


@pytest.mark.usefixtures("nova_cloud")
class TestMigrationInFlightOverRealNova(RealNovaTestCase):
    HOSTS = [HostSpec("src", 16, 32768, 400), HostSpec("dst", 16, 32768, 400),
             HostSpec("p1", 8, 16384, 200), HostSpec("p2", 8, 16384, 200)]

    def setUp(self):
        super().setUp()
        self.booted = self.boot(fleet())
        self.x = self.booted.ids["x"]
        self.datasource.cpu_percent = {uuid: 30.0 for uuid in self.booted.ids.values()}
        path = clouds_yaml(Path(self.useFixture(fixtures.TempDir()).join("clouds.yaml")),
                           {CLOUD: {"compute": self.cloud.nova_url, "placement": self.cloud.placement_url}})
        self.useFixture(fixtures.EnvironmentVariable("OS_CLIENT_CONFIG_FILE", str(path)))

    def move_x(self, flavor: str | None) -> dict:
        """Move ``x`` from src to dst (resized to ``flavor``, else cold-migrated): it waits for its
        confirmation, Nova shows it on dst, Placement holds its old flavour on src."""
        moved = self.cloud.op("move", id=self.x, host="dst", flavor=flavor)
        self.assertEqual(("VERIFY_RESIZE", "dst", "finished"), (moved["status"], moved["host"],
                                                                moved["migration"]["status"]))
        placement = self.cloud.placement()
        self.assertEqual(dict(zip(RESOURCES, (12, 24576, 240))), placement["src"]["usage"],
                         "Placement does not hold x's old flavour on src")
        self.assertEqual(dict(zip(RESOURCES, FLAVORS[flavor or "large"])),
                         self.cloud.allocations(self.x)[self.cloud.capacities()["dst"][0]])
        NovaPlacementFixture._invalidate_collector_model()  # Watcher reads the cloud anew
        return moved

    def snapshot(self) -> tuple:
        """``geyser snapshot`` of the real cloud: (the fleet it wrote, its stderr)."""
        out = self.useFixture(fixtures.TempDir()).join("scenario.json")
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(["snapshot", "--os-cloud", CLOUD, "-o", out, "--default-cpu-util", "0.3"])
        self.assertEqual(0, code, err.getvalue())
        return load_scenario(out), err.getvalue()

    def overfilled(self, fleet) -> list[str]:
        """Where the plan made from ``fleet`` would take a host past its Placement inventory, counted
        on what Placement holds now (the migration's hold included) plus the servers it moves in,
        less those it moves out: the truth the plan must respect, read apart from our claims."""
        target = pipeline.run(fleet, Settings(Limits(ceiling=1.0), SolveSettings(time_limit_s=3))).target
        state = self.cloud.placement()
        for v, inst in enumerate(target.fleet.instances):
            to = target.fleet.hosts[target.placement[v]].name
            if inst.claim_of is None and to != inst.host:
                for rc, amount in zip(RESOURCES, (inst.vcpus, inst.memory_mb, inst.disk_gb)):
                    state[to]["usage"][rc] += amount
                    state[inst.host]["usage"][rc] -= amount
        return over_inventory(state)

    def refusals(self, server_ids) -> list[str]:
        """Every event Nova recorded failing for these servers, with its details (NoValidHost's)."""
        return [f"{e['event']}: {e.get('details')}" for server in server_ids
                for a in self.cloud.op("instance_actions", id=server)["actions"]
                for e in a.get("events", []) if e.get("result") == "Error"]

    def test_a_snapshot_claims_the_source_of_a_resize_in_flight_and_its_plan_leaves_room_for_it(self):
        self.move_x("xlarge")
        scenario, err = self.snapshot()
        self.assertEqual(set(self.booted.ids.values()), {i.uuid for i in scenario.instances if not i.claim_of},
                         "the snapshot did not read every project's servers")
        claims = [(i.claim_of, i.host, i.vcpus, i.memory_mb, i.disk_gb, i.movable)
                  for i in scenario.instances if i.claim_of]
        self.assertEqual([(self.x, "src", *FLAVORS["large"], False)], claims, "the old flavour, on the source")
        shown = next(i for i in scenario.instances if i.uuid == self.x)
        self.assertEqual(("dst", FLAVORS["xlarge"], False),
                         (shown.host, (shown.vcpus, shown.memory_mb, shown.disk_gb), shown.movable))
        self.assertIn("1 migration(s) in flight hold their instance's resources on a second host", err)
        self.assertEqual([], [line for line in err.splitlines() if any(f in line for f in FAILED_READS)])
        self.assertEqual([], self.overfilled(scenario), "the plan fills the resize's source past its inventory")
        self.assertEqual([], [i.name for i in scenario.instances if i.settled_s is not None],
                         "a resize waiting for its confirmation has not finished moving (it is a claim)")

        # The same cloud read without its migrations (as when Nova refuses the list): the plan packs
        # the spare hosts' servers into src as if the migration's hold were free.
        with fixtures.MockPatch("watcher_geyser.cloud.read.migrations_in_flight", return_value=[]):
            blind, _ = self.snapshot()
        self.assertFalse(any(i.claim_of for i in blind.instances))
        over = self.overfilled(blind)
        self.assertTrue(over and all(p.startswith("src MEMORY_MB") for p in over), over)

        confirmed = self.cloud.op("confirm", id=self.x)
        self.assertEqual(("ACTIVE", "dst", "confirmed"), (confirmed["status"], confirmed["host"],
                                                         confirmed["migration"]["status"]))
        after, err = self.snapshot()
        self.assertEqual([], [i.uuid for i in after.instances if i.claim_of])
        self.assertNotIn(claim_uuid(self.x), {i.uuid for i in after.instances})
        self.assertNotIn("migration(s) in flight hold", err)
        self.assertTrue(next(i for i in after.instances if i.uuid == self.x).movable)
        # confirmed, x has moved: Nova's os-migrations?changes-since (2.59) lists it, ended moments ago
        settled = {i.uuid: i.settled_s for i in after.instances if i.settled_s is not None}
        self.assertEqual([self.x], list(settled), "only x moved, and the snapshot must say so")
        self.assertTrue(0 <= settled[self.x] < 600, settled)
        print(f"snapshot: claim {claims[0][1:5]} while x waits in VERIFY_RESIZE; without it the plan takes {over}; "
              "none after confirming")

    def test_a_watcher_plan_over_a_resize_in_flight_is_executed_by_real_nova(self):
        self.move_x("xlarge")
        plan, actions = self.audit("geyser_consolidation", "server_consolidation", AUDIT)
        moves = [a["input_parameters"] for a in actions if a["action_type"] == "migrate"]
        self.assertTrue(moves, "the plan moves nothing: the test shows nothing")
        said = " ".join(a["input_parameters"].get("message", "") for a in actions if a["action_type"] == "nop")
        self.assertEqual([], [f for f in FAILED_READS if f in said], "a read of Nova through Watcher's client failed")
        into_src = [m["resource_name"] for m in moves if m["destination_node"] == "src"]
        self.assertLessEqual(sum(FLAVORS[self.flavor_of(m["resource_id"])][1] for m in moves
                                 if m["destination_node"] == "src"), 32256 - 24576, into_src)
        watch = self.execute_watched(plan["uuid"])
        self.assertEqual([], watch.problems, "a host was above its Placement inventory during the run")
        self.assertEqual([], self.refusals(m["resource_id"] for m in moves))
        self.assertEqual([], over_inventory(self.cloud.placement()))
        self.assertEqual("VERIFY_RESIZE", self.cloud.servers()[self.x]["status"], "x was touched")
        print(f"watcher: {len(moves)} migrations executed by Nova ({len(into_src)} into the resize's source), "
              f"{watch.samples} Placement samples, none over inventory")

    def test_without_claims_nova_refuses_the_moves_into_a_cold_migrations_source(self):
        """The counter-test: the strategy's migrations look-up turned off, the plan fills src as if
        the migration held nothing there, and Nova refuses it. Shows the tests above can fail."""
        self.move_x(None)
        scenario, _ = self.snapshot()  # a cold migration's claim: the flavour shown, on the source
        self.assertEqual([(self.x, "src", *FLAVORS["large"])],
                         [(i.claim_of, i.host, i.vcpus, i.memory_mb, i.disk_gb) for i in scenario.instances
                          if i.claim_of])
        self.useFixture(fixtures.MockPatch("watcher_geyser.strategies.cloud.migrations_in_flight", return_value=[]))
        plan, actions = self.audit("geyser_consolidation", "server_consolidation", AUDIT)
        moves = [a["input_parameters"] for a in actions if a["action_type"] == "migrate"]
        self.assertGreater(sum(FLAVORS[self.flavor_of(m["resource_id"])][1] for m in moves
                               if m["destination_node"] == "src"), 32256 - 24576, moves)
        ended, watch = self.run_plan(plan["uuid"])
        self.assertEqual("FAILED", ended["state"])
        self.assertEqual([], watch.problems, "Placement let a host past its inventory")
        refused = self.refusals(m["resource_id"] for m in moves if m["destination_node"] == "src")
        self.assertTrue(refused and all("No valid host" in r for r in refused), refused)
        print(f"without claims: {len(moves)} migrations planned, Nova refused {len(refused)} into src: {refused[0]}")

    def flavor_of(self, server_id: str) -> str:
        return next(s.flavor for s in fleet().servers if self.booted.ids[s.name] == server_id)
