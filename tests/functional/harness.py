"""Watcher's real functional harness, plus the two seams it does not emulate.

``WatcherFunctionalTestCase`` (shipped in python-watcher) runs the real API (Pecan over
wsgi-intercept), decision engine and applier in-process, with emulated Nova and
Placement. It emulates neither a metrics backend nor Ironic, so this module supplies:

- ``MeasuredDatasource``: a datasource of our own holding instance CPU use (percent),
  handed out where Watcher picks its datasource (``DataSourceManager.get_backend``);
- ``EmulatedMetal``: a bare-metal helper of our own whose nodes are the emulated Nova
  hypervisors, handed out where Watcher picks its metal helper
  (``metal_helper.factory.get_helper``). Switching a node off marks its compute service
  down in the emulated Nova, switching it on marks it up, as Ironic and nova-compute would.

Watcher's Nova emulator has no shelving and no server metadata API, which geyser's
``geyser_instance_state`` action uses; ``NovaShelving`` adds them to the emulator (test
code only): shelve offloads the server (no host, as Nova does with the default
``shelved_offload_time = 0``), unshelve places it on the enabled, up host with the most free
vcpus (the scheduler's part; on the ``host`` the request names, from microversion 2.91, if that
host is such a host), and ``POST/DELETE /servers/<id>/metadata`` edit its metadata.

Everything else is Watcher's own code. The emulated Nova's moves are recorded in order
(``moves``) so that the tests can replay what was executed.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import uuid as uuidlib
import warnings
from importlib.metadata import entry_points

import fixtures
from pecan import abort, expose, request, response, rest
from watcher.common.metal_helper import base as metal_base
from watcher.common.metal_helper import constants as metal_constants
from watcher.tests.functional import base

from tests.waiting import wait_for


class MeasuredDatasource:
    """Instance CPU use in percent by uuid, host CPU (percent) and watts by hostname; None where absent.

    Instance CPU as Watcher's datasources answer it: ``cpu_percent`` is each instance's load now
    (its latest sample, the ``mean`` over one sample); ``peak_percent`` (when set for an instance)
    its highest sample of the last few, answered to ``max`` over a period of more than one sample.
    ``refuse`` names aggregates answered with nothing, as Watcher's Gnocchi helper answers ``max``.
    Every instance CPU query is recorded in ``asked`` as (period, aggregate, granularity)."""

    NAME = "geyser_test"
    METRIC_MAP = {"instance_cpu_usage": "cpu", "host_cpu_usage": None, "host_power": None}

    def __init__(self, cpu_percent: dict[str, float] | None = None, fail: bool = False):
        self.cpu_percent = dict(cpu_percent or {})
        self.peak_percent: dict[str, float] = {}
        self.refuse: frozenset[str] = frozenset()
        self.host_cpu_percent: dict[str, float] = {}
        self.host_power_w: dict[str, float] = {}
        self.fail = fail
        self.queries = 0
        self.asked: list[tuple[int, str, int | None]] = []

    def list_metrics(self):
        return ["cpu"]

    def check_availability(self):
        return "available"

    def get_instance_cpu_usage(self, resource, period, aggregate, granularity=None):
        self.queries += 1
        self.asked.append((period, aggregate, granularity))
        if self.fail:
            raise ConnectionError("metrics backend unreachable")
        if aggregate in self.refuse:
            return None
        now = self.cpu_percent.get(resource.uuid)
        if aggregate == "max" and period > (granularity or 300) and now is not None:
            return max(now, self.peak_percent.get(resource.uuid, now))
        return now

    def get_host_cpu_usage(self, resource, period, aggregate, granularity=None):
        return self.host_cpu_percent.get(resource.hostname)

    def get_host_power(self, resource, period, aggregate, granularity=None):
        return self.host_power_w.get(resource.hostname)


class _MetalNode(metal_base.BaseMetalNode):
    def __init__(self, metal: EmulatedMetal, hostname: str):
        super().__init__(metal.nova_client.get_compute_node_by_hostname(hostname))
        self._metal = metal
        self._hostname = hostname

    def get_power_state(self):
        return metal_constants.PowerState(self._metal.power[self._hostname])

    def get_id(self):
        return self._metal.node_id(self._hostname)

    def power_on(self):
        self._metal.set_power(self._hostname, "on")

    def power_off(self):
        self._metal.set_power(self._hostname, "off")


class EmulatedMetal(metal_base.BaseMetalHelper):
    """Bare-metal nodes backing the emulated hypervisors; power changes are recorded."""

    def __init__(self, emulator, events: list, lock: threading.Lock):
        super().__init__(osc=None)
        self.emulator = emulator
        self.power: dict[str, str] = {}
        self._events = events
        self._lock = lock

    @staticmethod
    def node_id(hostname: str) -> str:
        return str(uuidlib.uuid5(uuidlib.NAMESPACE_OID, f"metal-{hostname}"))

    def reset(self, powered_off: tuple[str, ...] = ()) -> None:
        self.power = {h["hypervisor_hostname"]: "on" for h in self.emulator.hypervisors.values()}
        for host in powered_off:
            self.power[host] = "off"
            self._mark(host, "down")

    def list_compute_nodes(self):
        return [_MetalNode(self, host) for host in sorted(self.power)]

    def get_node(self, node_id):
        for host in self.power:
            if self.node_id(host) == node_id:
                return _MetalNode(self, host)
        raise LookupError(f"no bare-metal node {node_id}")

    def set_power(self, host: str, state: str) -> None:
        with self._lock:
            self.power[host] = state
            self._mark(host, "up" if state == "on" else "down")
            self._events.append(("power_" + state, host))

    def _mark(self, host: str, state: str) -> None:
        hyp = self.emulator._find_hypervisor_by_hostname(host)
        svc = self.emulator._find_service_by_hostname(host)
        hyp["state"] = state
        svc["state"] = state


class _MetadataController(rest.RestController):
    """``/servers/<id>/metadata``: POST merges keys, DELETE /<key> removes one."""

    def __init__(self, emulator, server_id):
        self._emulator = emulator
        self._server_id = server_id

    def _server(self):
        server = self._emulator.servers.get(self._server_id)
        if server is None:
            abort(404, detail=f"Server {self._server_id} not found")
        return server

    @expose("json")
    def get_all(self):
        return {"metadata": self._server()["metadata"]}

    @expose("json")
    def post(self):
        server = self._server()
        server["metadata"] = {**server["metadata"], **request.json.get("metadata", {})}
        return {"metadata": server["metadata"]}

    @expose()
    def delete(self, key):
        self._server()["metadata"].pop(key, None)
        response.status = 204
        return ""


class NovaShelving:
    """Shelve, unshelve and server metadata for Watcher's Nova emulator (see the module docstring)."""

    def __init__(self, emulator, events: list, lock: threading.Lock):
        self.emulator, self.events, self.lock = emulator, events, lock

    def install(self, fixture_user) -> None:
        module = __import__("watcher.tests.local_fixtures.nova_api_emulator", fromlist=["_ActionController"])
        shelving = self
        action_post = module._ActionController.post
        server_init = module._ServerController.__init__

        def post(controller):
            body = request.json or {}
            if "shelve" in body or "unshelve" in body:
                host = (body.get("unshelve") or {}).get("host")
                if host is not None and _microversion(request.headers) < (2, 91):
                    abort(400, detail="Invalid input for field/attribute unshelve: host needs microversion 2.91")
                return shelving.act(controller._server_id, "shelve" if "shelve" in body else "unshelve", host)
            return action_post(controller)

        def init(controller, emulator, server_id):
            server_init(controller, emulator, server_id)
            controller.metadata = _MetadataController(emulator, server_id)

        fixture_user.useFixture(fixtures.MockPatchObject(module._ActionController, "post", expose("json")(post)))
        fixture_user.useFixture(fixtures.MockPatchObject(module._ServerController, "__init__", init))

    def act(self, server_id: str, what: str, host: str | None = None):
        emulator = self.emulator
        server = emulator.servers.get(server_id)
        if server is None:
            abort(404, detail=f"Server {server_id} not found")
        move = type(emulator)._move_server  # the unrecorded move: shelving is not a migration
        with self.lock:
            if what == "shelve":
                host = server["OS-EXT-SRV-ATTR:host"]
                move(emulator, server_id, None)
                server.update({"status": "SHELVED_OFFLOADED", "OS-EXT-STS:vm_state": "shelved_offloaded",
                               "OS-EXT-STS:power_state": 4})
                self.events.append(("shelve", server_id, host))
            else:
                requested = host
                if requested is not None and server["status"] != "SHELVED_OFFLOADED":
                    abort(409, detail="Cannot unshelve to a host a server that is not offloaded")
                host = self._schedule(server, requested)
                if host is None:
                    abort(400, detail="No valid host was found")
                move(emulator, server_id, host)
                server.update({"status": "ACTIVE", "OS-EXT-STS:vm_state": "active", "OS-EXT-STS:power_state": 1})
                self.events.append(("unshelve", server_id, host, requested))  # requested: the host asked for, or None
        response.status = 202
        return ""

    def _schedule(self, server, only: str | None = None) -> str | None:
        """The enabled, up host with the most free vcpus that fits the server (``only``: that host or none)."""
        vcpus = server["flavor"]["vcpus"]
        best, free_best = None, -1
        for hyp in self.emulator.hypervisors.values():
            name = hyp["hypervisor_hostname"]
            if only is not None and name != only:
                continue
            svc = self.emulator._find_service_by_hostname(name)
            if svc is None or svc.get("status") != "enabled" or svc.get("state") != "up":
                continue
            free = hyp["vcpus"] - hyp["vcpus_used"]
            if free >= vcpus and free > free_best:
                best, free_best = name, free
        return best


def _microversion(headers) -> tuple[int, int]:
    """The compute microversion a request asks for (``OpenStack-API-Version: compute 2.91`` or the
    older ``X-OpenStack-Nova-API-Version``); 2.1 when it names none, as Nova reads it."""
    value = headers.get("OpenStack-API-Version", "").replace("compute", "").strip()
    value = value or headers.get("X-OpenStack-Nova-API-Version", "").strip()
    try:
        major, minor = value.split(".")
        return int(major), int(minor)
    except ValueError:
        return (2, 1)


def let_pytest_filter_warnings() -> None:
    """Call after Watcher's harness has set up: its ``WarningsFixture`` puts
    ``simplefilter("once", DeprecationWarning)`` in front of every filter, which overrides the
    third-party ignores of our pytest configuration (``pyproject.toml``) for the whole test.
    Take that one entry out; its escalations of SQLAlchemy warnings to errors stay, and the
    fixture restores every filter after the test."""
    once = ("once", None, DeprecationWarning, None, 0)
    if once in warnings.filters:
        warnings.filters.remove(once)
        warnings._filters_mutated()  # what warnings.filterwarnings does after it edits the list


# --- the harness's database under load -------------------------------------------------------
# Watcher's harness gives each test a file-backed SQLite database in WAL mode, serialises writes
# with a lock, and opens a connection per session (oslo.db's NullPool for SQLite files). A write
# session begins DEFERRED: it reads the row first, then asks for SQLite's write lock, and SQLite
# refuses that upgrade at once ("database is locked", no busy wait) whenever anything else holds
# the lock or changed the database since the read began. Seen at load 8, and once at load 4 (an
# applier thread's UPDATE of an action's state, 15 ms after its BEGIN; which connection stood in
# its way was not caught: every runtime write held Watcher's lock in a probe). Three guards:
# - write sessions begin IMMEDIATE: they take the write lock before they read, and a writer that
#   finds it taken waits (pysqlite's 5 s busy timeout) instead of failing; Watcher's own lock
#   already serialises writers, so nothing waits longer than before;
# - one connection holds the database open (it has read it, so it holds the WAL open) for the
#   test: no close is ever the last, so SQLite never checkpoints and deletes the WAL under an
#   EXCLUSIVE lock, and no connection has to rebuild the WAL index, between two requests;
# - the decision engine's and the applier's worker pools are not stopped with their services: an
#   audit or a plan still running when a test ends would write on into the next test's database
#   (the engine facade and the write lock are swapped per test), even while its schema is created
#   outside the lock. Draining them first ends every write of a test before its database goes.
POOL_DRAIN_S = 120.0  # longer than any audit or plan of these tests takes on a loaded machine
# Deadlines on a quiet machine, scaled with the load by ``tests.waiting.wait_for``: an audit solves and
# plans; an action plan migrates, switches hosts and shelves through the emulated cloud.
AUDIT_WAIT_S = 60.0
PLAN_WAIT_S = 90.0
_WRITING = threading.local()  # how deep this thread is in Watcher's write sessions


def hold_the_database_open(case) -> None:
    """Keep one connection to the test's SQLite database, WAL open, until the test's cleanup."""
    url = base.CONF.database.connection
    if not url.startswith("sqlite:///"):
        return
    keeper = sqlite3.connect(url.removeprefix("sqlite:///"), check_same_thread=False)
    keeper.execute("SELECT count(*) FROM sqlite_master").fetchall()  # opens the WAL: sqlite3 connects lazily
    case.addCleanup(keeper.close)


def begin_writes_immediate(case) -> None:
    """Make Watcher's write sessions ``BEGIN IMMEDIATE`` (see above); reads stay deferred."""
    from sqlalchemy import event
    from watcher.db.sqlalchemy import api as db_api

    engine = db_api.enginefacade.writer.get_engine()
    if engine.dialect.name != "sqlite":
        return
    locked = db_api._session_for_write  # Watcher's DatabaseWriteLock around oslo.db's writer

    @contextlib.contextmanager
    def writing():
        _WRITING.depth = getattr(_WRITING, "depth", 0) + 1
        try:
            with locked() as session:
                yield session
        finally:
            _WRITING.depth -= 1

    def begin(conn) -> None:  # after oslo.db's listener, which has sent a plain BEGIN that did nothing yet
        if getattr(_WRITING, "depth", 0):
            conn.exec_driver_sql("ROLLBACK")
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(engine, "begin", begin)
    case.addCleanup(event.remove, engine, "begin", begin)
    case.useFixture(fixtures.MockPatchObject(db_api, "_session_for_write", writing))


def drain_services(case) -> None:
    """Wait until the audits and action plans still running have finished (at most
    ``POOL_DRAIN_S``), so that nothing writes to the database once the test is over."""
    pools = []
    for name in ("de_fixture", "applier_fixture"):
        fixture = getattr(case.env, name, None)
        if fixture is not None:
            pools += [endpoint.executor for endpoint in fixture.service.conductor_endpoints
                      if getattr(endpoint, "executor", None) is not None]
    wait_for(lambda: sum(pool.queue_size + pool.num_workers - pool.get_num_idle_workers() for pool in pools),
             lambda busy: busy == 0, POOL_DRAIN_S, "Watcher's services, still working after the test ended")


class GeyserFunctionalTestCase(base.WatcherFunctionalTestCase):
    """Watcher's functional test case with our datasource and metal seams and a move recorder."""

    COMPUTE_TOPOLOGY = None  # set by subclasses: the emulators exist only when it is not None

    def setUp(self):
        installed = {ep.name for ep in entry_points(group="watcher_strategies")}
        if "geyser_consolidation" not in installed:
            self.fail("watcher-geyser's entry points are not installed in this Python environment, so Watcher "
                      "cannot find its strategies: run `pip install -e .` (or bash tools/venv.sh) and retry")
        super().setUp()
        hold_the_database_open(self)
        begin_writes_immediate(self)
        self.addCleanup(drain_services, self)  # runs before Watcher's own cleanups stop them and drop the database
        let_pytest_filter_warnings()
        self.flags(group="nova", migration_max_retries=2, migration_interval=0.1)
        self.emulator = self.env.nova_fixture.nova_emulator
        self.events: list[tuple] = []
        self._lock = threading.Lock()
        self.datasource = MeasuredDatasource()
        self.metal = EmulatedMetal(self.emulator, self.events, self._lock)
        self.useFixture(fixtures.MockPatch(
            "watcher.decision_engine.datasources.manager.DataSourceManager.get_backend",
            side_effect=lambda metrics: self.datasource))
        self.useFixture(fixtures.MockPatch("watcher.common.metal_helper.factory.get_helper",
                                           side_effect=lambda osc=None: self.metal))
        self._record_moves()
        NovaShelving(self.emulator, self.events, self._lock).install(self)

    # --- recording what the emulated cloud executed -----------------------------------------
    def _record_moves(self):
        emulator = self.emulator
        original = emulator._move_server

        def move(server_id, dest):
            with self._lock:
                src = emulator.servers[server_id]["OS-EXT-SRV-ATTR:host"]
                self.events.append(("migrate", server_id, src, dest))
                original(server_id, dest)

        emulator._move_server = move

    def load(self, topology, powered_off: tuple[str, ...] = ()):
        self.topology = topology
        self.load_topology(topology)
        self.metal.reset(powered_off)
        self.events.clear()

    # --- waiting for Watcher ------------------------------------------------------------------
    def _wait_for_audit_state(self, audit_uuid, target_state, timeout=AUDIT_WAIT_S):
        """Watcher's wait, backing off while nothing changes and with a deadline scaled to the load."""
        return self._wait_for_state(f"/audits/{audit_uuid}", f"audit {audit_uuid}", target_state,
                                    ("FAILED", "CANCELLED"), timeout)

    def _wait_for_action_plan_state(self, ap_uuid, target_state, timeout=PLAN_WAIT_S):
        """Watcher's wait, backing off while nothing changes and with a deadline scaled to the load."""
        return self._wait_for_state(f"/action_plans/{ap_uuid}", f"action plan {ap_uuid}", target_state,
                                    ("FAILED",), timeout)

    def _wait_for_state(self, path: str, what: str, target: str, final: tuple[str, ...], timeout_s: float) -> dict:
        def look() -> dict:
            resp = self.admin_api.get(path)
            self.assertEqual(200, resp.status_code, resp.text)
            body = resp.json()
            if body["state"] in final and body["state"] != target:
                self.fail(f"{what} ended in state {body['state']}")
            return body

        return wait_for(look, lambda body: body["state"] == target, timeout_s, f"{what} reaching {target}",
                        progress=lambda body: body["state"])

    # --- audit helpers ---------------------------------------------------------------------
    def audit(self, strategy: str, goal: str, parameters: dict | None = None, expect: str = "SUCCEEDED"):
        body = {"audit_type": "ONESHOT", "goal": goal, "strategy": strategy, "parameters": parameters or {}}
        resp = self.admin_api.post("/audits", body)
        self.assertEqual(201, resp.status_code, resp.text)
        audit = self._wait_for_audit_state(resp.json()["uuid"], expect)
        plan = self.plan_of(audit["uuid"])
        return plan, self.actions_of(plan["uuid"])

    def plan_of(self, audit_uuid: str) -> dict:
        plans = self.admin_api.get(f"/action_plans?audit_uuid={audit_uuid}").json()["action_plans"]
        self.assertEqual(1, len(plans))
        return self.admin_api.get(f"/action_plans/{plans[0]['uuid']}").json()

    def actions_of(self, plan_uuid: str) -> list[dict]:
        listed = self.admin_api.get(f"/actions?action_plan_uuid={plan_uuid}&limit=1000").json()["actions"]
        return [self.admin_api.get(f"/actions/{a['uuid']}").json() for a in listed]

    def execute(self, plan_uuid: str, timeout_s: float = PLAN_WAIT_S):
        resp = self.admin_api.patch(f"/action_plans/{plan_uuid}",
                                    [{"op": "replace", "path": "/state", "value": "PENDING"}])
        self.assertEqual(200, resp.status_code, resp.text)
        return self._wait_for_action_plan_state(plan_uuid, "SUCCEEDED", timeout=timeout_s)

    def host_of(self, instance_uuid: str) -> str:
        return self.emulator.servers[instance_uuid]["OS-EXT-SRV-ATTR:host"]
