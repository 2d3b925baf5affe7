"""Real Nova and Placement on loopback: the helper process of the ``nova`` end-to-end tests.

Runs under ``.venv-nova`` (``tools/nova_venv.sh``), never under Watcher's venv: Nova and
Watcher cannot share one Python process (19 of their oslo.config options clash, and both
keep class-level state in oslo.messaging's fake driver). Nova's own functional base
(``ProviderUsageBaseTestCase``) starts the real API, conductor, scheduler and Placement
(SQLite, oslo.messaging's in-process driver); compute services on Nova's fake virt driver
are started on demand with the sizes the tests ask for. Their WSGI apps, which Nova's
fixtures reach through wsgi-intercept, are served here on 127.0.0.1 ports as well, with
no Keystone: a request without identity headers is the admin of project ``admin``.

Protocol: one JSON line on stdout once everything is up::

    {"ready": true, "nova": "http://127.0.0.1:P/v2.1", "placement": "http://127.0.0.1:Q",
     "control": "http://127.0.0.1:R", "startup_s": 12.3}

then the process serves until its standard input closes. The control channel takes
``POST /<op>`` with a JSON body and answers JSON (``{"error": ...}`` with status 400 on
a bad request); see ``Cloud.op_*`` for the operations. Everything it does to servers it
does through Nova's API, as a user would.
"""

from __future__ import annotations

import os
import sys
import time

STARTED = time.monotonic()
# Eventlet, as Nova's functional tests run by default: in native-threading mode their database
# fixtures deadlock as soon as a few servers boot at once (CellDatabases' reader/writer lock
# against DatabaseWriteLock). Patch before anything imports sockets.
os.environ["OS_NOVA_DISABLE_EVENTLET_PATCHING"] = "0"
from nova import monkey_patch  # noqa: E402

monkey_patch.patch()

import faulthandler  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import threading  # noqa: E402
import traceback  # noqa: E402
from socketserver import ThreadingMixIn  # noqa: E402
from wsgiref import simple_server  # noqa: E402

import wsgi_intercept.interceptor as interceptor  # noqa: E402

INTERCEPTED: list[tuple[str, object]] = []  # (url, app factory) of every wsgi-intercept Nova's fixtures install
_install = interceptor.RequestsInterceptor.install_intercept


def _recording_install(self):
    INTERCEPTED.append((self.url, self.app))
    return _install(self)


interceptor.RequestsInterceptor.install_intercept = _recording_install

from nova.tests.functional import api as nova_api  # noqa: E402
from nova.tests.functional import integrated_helpers  # noqa: E402
from nova.virt import fake  # noqa: E402

ACTIVE_WAIT_S = 180.0  # one server's action, or the deletes of a reset, on a loaded 2-core machine
# How often the control channel looks whether Nova is done. Each look lists every server through
# Nova's API and costs this process CPU that Nova would rather spend on the work itself: on a busy
# 2-core machine, polling every 50 ms made a boot several times slower. A wait that sees no
# progress looks half as often each time, up to POLL_MAX_S; progress brings it back to POLL_S.
POLL_S = 0.3
POLL_MAX_S = 2.0
DEFAULT_ROLES = "reader,member,admin"


class NovaError(RuntimeError):
    """What Nova answered when a control operation could not be done."""


class Cloud(integrated_helpers.ProviderUsageBaseTestCase):
    """Nova's functional base, held open as a service instead of run as a test."""

    compute_driver = "fake.FakeDriver"
    microversion = "latest"

    def runTest(self):  # noqa: N802 - testtools needs a test method to build the case
        raise AssertionError("not a test: used as a long-lived cloud")

    def _clear_attrs(self):  # the process ends instead of tearing down
        pass

    def start(self, cpu_allocation_ratio: float, ram_allocation_ratio: float, disk_allocation_ratio: float):
        self.setUp()
        # A compute writes its record with the initial_* ratios (Nova's default CPU one is 4.0) and
        # copies the *_allocation_ratio ones only on a later periodic update, which these tests never
        # wait for: set both, so that Nova's records and Placement's inventories say the same.
        self.flags(cpu_allocation_ratio=cpu_allocation_ratio, ram_allocation_ratio=ram_allocation_ratio,
                   disk_allocation_ratio=disk_allocation_ratio, initial_cpu_allocation_ratio=cpu_allocation_ratio,
                   initial_ram_allocation_ratio=ram_allocation_ratio,
                   initial_disk_allocation_ratio=disk_allocation_ratio)
        self.flags(instances=-1, cores=-1, ram=-1, server_groups=-1, server_group_members=-1, group="quota")
        # Speed on a small machine: Nova's test logging formats every DEBUG line and its API checks
        # every response against its schema; neither changes what Nova decides.
        self.flags(debug=False)
        self.flags(response_validation="ignore", group="api")
        logging.getLogger().setLevel(logging.WARNING)
        if os.environ.get("GEYSER_NOVA_DEBUG"):  # Nova's own log, timestamped, on stderr (GEYSER_NOVA_LOG)
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(name)s] %(message)s"))
            logging.getLogger().addHandler(handler)
            logging.getLogger().setLevel(logging.DEBUG)
        self._lock = threading.RLock()
        self._clients: dict[str, nova_api.client.TestOpenStackClient] = {}
        self._flavors: dict[str, str] = {}
        self._image = None
        self._sizes: dict[str, dict[str, int]] = {}  # hostname -> {rc: total} it was started with

    def setUp(self):
        from nova.conf import paths

        # the wheel installs api-paste.ini under <venv>/etc/nova, where Nova's ConfFixture does not look
        paths_default = os.path.join(sys.prefix, "etc", "nova", "api-paste.ini")
        original = paths.state_path_def
        paths.state_path_def = lambda *a: paths_default if a == ("etc/nova/api-paste.ini",) else original(*a)
        try:
            super().setUp()
        finally:
            paths.state_path_def = original

    # --- helpers ---------------------------------------------------------------------------
    def client(self, project: str | None) -> nova_api.client.TestOpenStackClient:
        """Nova's API as the admin user of ``project`` (Nova's own test client)."""
        project = project or self.api_fixture.project_id
        if project not in self._clients:
            c = nova_api.client.TestOpenStackClient("admin", self.api_fixture.base_url, project_id=project,
                                                    roles=["reader", "member", "admin"])
            c.microversion = "latest"
            self._clients[project] = c
        return self._clients[project]

    def _wait(self, server_id: str, statuses: tuple[str, ...], what: str, timeout_s: float = ACTIVE_WAIT_S) -> dict:
        return self._wait_all([server_id], statuses, what, timeout_s)[server_id]

    def _wait_all(self, server_ids: list[str], statuses: tuple[str, ...], what: str,
                  timeout_s: float = ACTIVE_WAIT_S) -> dict[str, dict]:
        """Wait until every server is in one of ``statuses`` with no task running; one list call a
        look, however many servers."""
        deadline = time.monotonic() + timeout_s
        pending = set(server_ids)
        done: dict[str, dict] = {}
        poll_s = POLL_S
        while True:
            listed = {s["id"]: s for s in self.admin_api.get_servers(detail=True, search_opts={"all_tenants": 1})}
            finished = len(done)
            for server_id in sorted(pending):
                server = listed.get(server_id)
                if server is None:
                    raise NovaError(f"{what}: server {server_id} vanished")
                if server["status"] in statuses and not server.get("OS-EXT-STS:task_state"):
                    done[server_id] = server
                elif server["status"] == "ERROR" and "ERROR" not in statuses:
                    raise NovaError(f"{what}: server {server_id} went to ERROR: {server.get('fault')}")
            pending -= set(done)
            if not pending:
                return done
            if time.monotonic() > deadline:
                states = {i: listed[i]["status"] for i in sorted(pending)}
                raise NovaError(f"{what}: {len(pending)} of {len(server_ids)} server(s) not {statuses} after "
                                f"{timeout_s:.0f} s: {states}")
            poll_s = POLL_S if len(done) > finished else min(2 * poll_s, POLL_MAX_S)
            time.sleep(poll_s)

    def _image_id(self) -> str:
        if self._image is None:
            c = self.client(None)
            old = c.microversion
            c.microversion = "2.35"
            try:
                self._image = c.get_images()[0]["id"]
            finally:
                c.microversion = old
        return self._image

    # --- operations ------------------------------------------------------------------------
    def op_hosts(self, hosts: list[dict]) -> dict:
        """Start one nova-compute per entry ``{name, vcpus, memory_mb, disk_gb}`` on the fake driver.

        The fake driver reads its size from class attributes, at start and again each time its
        compute refreshes Placement (every claim). The class is sized only while the compute
        starts, so the driver object keeps the size as its own attributes: left to the class
        defaults, the first boot on a host reported 1000 VCPUs and 800 GB of memory to Placement,
        and two boots at once on a host raced that inventory update into a reschedule."""
        with self._lock:
            for h in hosts:
                name = h["name"]
                if name in self.computes:
                    raise NovaError(f"host {name} exists already")
                size = (int(h["vcpus"]), int(h["memory_mb"]), int(h["disk_gb"]))
                saved = (fake.FakeDriver.vcpus, fake.FakeDriver.memory_mb, fake.FakeDriver.local_gb)
                fake.FakeDriver.vcpus, fake.FakeDriver.memory_mb, fake.FakeDriver.local_gb = size
                try:
                    compute = self._start_compute(name)
                finally:
                    fake.FakeDriver.vcpus, fake.FakeDriver.memory_mb, fake.FakeDriver.local_gb = saved
                driver = compute.manager.driver
                driver.vcpus, driver.memory_mb, driver.local_gb = size
                self._sizes[name] = dict(zip(("VCPU", "MEMORY_MB", "DISK_GB"), size))
        return {"hosts": sorted(self.computes)}

    def op_sizes(self) -> dict:
        """Hostname -> {rc: total} each compute was started with: what Placement's inventories must say."""
        return {"sizes": {name: self._sizes[name] for name in self.computes}}

    def op_flavor(self, name: str, vcpus: int, memory_mb: int, disk_gb: int) -> dict:
        with self._lock:
            if name not in self._flavors:
                self._flavors[name] = self._create_flavor(name=name, vcpu=vcpus, memory_mb=memory_mb, disk=disk_gb,
                                                          ephemeral=0)
        return {"id": self._flavors[name]}

    def op_group(self, name: str, policy: str, project: str | None = None) -> dict:
        group = self.client(project).post_server_groups({"name": name, "policy": policy})
        return {"id": group["id"], "project": group.get("project_id")}

    def op_boot(self, servers: list[dict], wait: bool = True, wait_s: float = ACTIVE_WAIT_S) -> dict:
        """Boot ``{name, flavor, host, project?, group?, metadata?}`` each on its host (2.74 ``host``: the scheduler
        and Placement still check it), all at once, then wait up to ``wait_s`` until every one is ACTIVE or ERROR
        (the test side scales it with the number of servers)."""
        created = []
        for s in servers:
            body = self._build_server(name=s["name"], image_uuid=self._image_id(),
                                      flavor_id=self._flavors[s["flavor"]], networks="none", host=s.get("host"))
            if s.get("metadata"):
                body["metadata"] = dict(s["metadata"])
            if s.get("group"):
                body["os:scheduler_hints"] = {"group": s["group"]}
                req = {"server": {k: v for k, v in body.items() if k != "os:scheduler_hints"},
                       "os:scheduler_hints": body["os:scheduler_hints"]}
            else:
                req = {"server": body}
            created.append(self.client(s.get("project")).post_server(req))
        if not wait:
            return {"servers": [{"id": server["id"]} for server in created]}
        final = self._wait_all([server["id"] for server in created], ("ACTIVE", "ERROR"), "boot", wait_s)
        return {"servers": [_summary(final[server["id"]]) for server in created]}

    def op_action(self, id: str, action: str) -> dict:  # noqa: A002 - the server's id, as Nova calls it
        """``lock``, ``pause``, ``stop``, ``start``, ``shelve``, ``unshelve``, then wait for the state."""
        api = self.admin_api
        bodies = {"lock": ({"lock": None}, ("ACTIVE", "SHUTOFF", "PAUSED")),
                  "pause": ({"pause": None}, ("PAUSED",)),
                  "stop": ({"os-stop": None}, ("SHUTOFF",)),
                  "start": ({"os-start": None}, ("ACTIVE",)),
                  "shelve": ({"shelve": None}, ("SHELVED_OFFLOADED",)),
                  "unshelve": ({"unshelve": None}, ("ACTIVE",))}
        if action not in bodies:
            raise NovaError(f"unknown action {action!r}: one of {sorted(bodies)}")
        body, statuses = bodies[action]
        api.post_server_action(id, body)
        return _summary(self._wait(id, statuses, action))

    def op_move(self, id: str, host: str, flavor: str | None = None) -> dict:  # noqa: A002 - as Nova calls it
        """Cold-migrate a server to ``host`` (2.56 ``host``), or resize it to ``flavor`` there, and wait
        until it waits for its confirmation (VERIFY_RESIZE): a migration in flight, holding both hosts.

        A resize takes no host: the scheduler picks one, so every other enabled compute service is
        disabled meanwhile and enabled again after (the source too, or the scheduler may resize in place)."""
        api = self.admin_api
        if flavor is None:
            api.post_server_action(id, {"migrate": {"host": host}})
            return self._verify_resize(id, "migrate")
        others = [s for s in api.get_services(binary="nova-compute") if s["host"] != host and s["status"] == "enabled"]
        for s in others:
            api.put_service(s["id"], {"status": "disabled", "disabled_reason": "steering a resize"})
        try:
            api.post_server_action(id, {"resize": {"flavorRef": self._flavors[flavor]}})
            return self._verify_resize(id, "resize")
        finally:
            for s in others:
                api.put_service(s["id"], {"status": "enabled"})

    def _verify_resize(self, server_id: str, what: str) -> dict:
        server = self._wait(server_id, ("VERIFY_RESIZE",), what)
        migration = self._migration_of(server_id)
        if migration["status"] != "finished":
            raise NovaError(f"{what}: server {server_id} waits for its confirmation, but its migration is "
                            f"{migration['status']!r}, not 'finished'")
        return {**_summary(server), "migration": migration}

    def _migration_of(self, server_id: str) -> dict:
        """The server's latest migration, as ``GET /os-migrations`` lists it."""
        rows = [m for m in self.admin_api.get_migrations() if m["instance_uuid"] == server_id]
        if not rows:
            raise NovaError(f"server {server_id} has no migration")
        return max(rows, key=lambda m: m["id"])

    def op_confirm(self, id: str) -> dict:  # noqa: A002 - the server's id, as Nova calls it
        """Confirm a server's resize or cold migration; wait until it is ACTIVE and its migration
        ``confirmed`` (the source's allocation is dropped only then)."""
        self.admin_api.post_server_action(id, {"confirmResize": None})
        server = self._wait(id, ("ACTIVE",), "confirm")
        deadline = time.monotonic() + ACTIVE_WAIT_S
        while (migration := self._migration_of(id))["status"] != "confirmed":
            if time.monotonic() > deadline:
                raise NovaError(f"confirm: the migration of {id} is still {migration['status']!r}")
            time.sleep(POLL_S)
        return {**_summary(server), "migration": migration}

    def op_service(self, host: str, status: str, reason: str | None = None) -> dict:
        svc = self.admin_api.get_services(host=host, binary="nova-compute")[0]
        body = {"status": status}
        if status == "disabled" and reason:
            body["disabled_reason"] = reason
        self.admin_api.put_service(svc["id"], body)
        return {"host": host, "status": status}

    def op_servers(self) -> dict:
        servers = self.admin_api.get_servers(detail=True, search_opts={"all_tenants": 1})
        return {"servers": [_summary(s) for s in servers]}

    def op_services(self) -> dict:
        return {"services": [{"host": s["host"], "status": s["status"], "state": s["state"],
                              "disabled_reason": s.get("disabled_reason")}
                             for s in self.admin_api.get_services(binary="nova-compute")]}

    def op_instance_actions(self, id: str) -> dict:  # noqa: A002 - the server's id, as Nova calls it
        """What Nova recorded doing to a server: its instance actions, each with its events (and, at
        2.84, each failed event's ``details``: why Nova refused)."""
        api = self.admin_api
        actions = api.get_instance_actions(id)
        return {"actions": [api.get_instance_action_details(id, a["request_id"]) for a in actions]}

    def op_compute_nodes(self) -> dict:
        """Hostname -> the allocation ratios of its compute node record, as its compute saved it."""
        nodes = {}
        for name, service in self.computes.items():
            for node in service.manager.rt.compute_nodes.values():
                nodes[name] = {f"{res}_allocation_ratio": getattr(node, f"{res}_allocation_ratio")
                               for res in ("cpu", "ram", "disk")}
        return {"compute_nodes": nodes}

    def op_migrations(self) -> dict:
        return {"migrations": self.admin_api.get_migrations()}

    def op_reset(self, hosts: list[dict] | None = None) -> dict:
        """Delete every server and server group, enable every compute service: an empty cloud.
        With ``hosts``, also remove every compute service and start these instead (fresh hosts)."""
        servers = self.admin_api.get_servers(detail=False, search_opts={"all_tenants": 1})
        for s in servers:
            self.admin_api.delete_server(s["id"])
        deadline = time.monotonic() + ACTIVE_WAIT_S
        while self.admin_api.get_servers(detail=False, search_opts={"all_tenants": 1}):
            if time.monotonic() > deadline:
                raise NovaError(f"reset: servers still listed after {ACTIVE_WAIT_S:.0f} s")
            time.sleep(POLL_S)
        for g in self.admin_api.get_server_groups(all_projects=True):
            self.admin_api.delete_server_group(g["id"])
        for s in self.admin_api.get_services(binary="nova-compute"):
            if hosts is not None:
                self._remove_compute(s)
            elif s["status"] != "enabled":
                self.admin_api.put_service(s["id"], {"status": "enabled"})
        if hosts is not None:
            self.op_hosts(hosts)
        return {"deleted": len(servers)}

    def _remove_compute(self, service: dict) -> None:
        """Stop an empty compute service and delete it through Nova's API (which also deletes its
        compute node and its resource provider in Placement)."""
        with self._lock:
            compute = self.computes.pop(service["host"], None)
            if compute is not None:
                compute.stop()
            self.admin_api.api_delete(f"/os-services/{service['id']}")


def _summary(server: dict) -> dict:
    return {"id": server["id"], "name": server["name"], "status": server["status"],
            "host": server.get("OS-EXT-SRV-ATTR:host"), "project": server.get("tenant_id"),
            "locked": server.get("locked"), "task_state": server.get("OS-EXT-STS:task_state"),
            "flavor": (server.get("flavor") or {}).get("original_name"), "metadata": server.get("metadata") or {},
            "fault": (server.get("fault") or {}).get("message")}


# --- serving ------------------------------------------------------------------------------
class _Server(ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass


def _with_identity(app):
    """Nova's test context reads who is asking from X-Auth-User, X-Auth-Project-Id and X-Roles:
    a request without them is the admin of project ``admin``."""

    def wrapped(environ, start_response):
        environ.setdefault("HTTP_X_AUTH_USER", "admin")
        environ.setdefault("HTTP_X_USER_ID", environ["HTTP_X_AUTH_USER"])
        environ.setdefault("HTTP_X_AUTH_PROJECT_ID", "admin")
        environ.setdefault("HTTP_X_PROJECT_ID", environ["HTTP_X_AUTH_PROJECT_ID"])
        environ.setdefault("HTTP_X_ROLES", DEFAULT_ROLES)
        environ.setdefault("HTTP_X_AUTH_TOKEN", "admin:admin")
        return app(environ, start_response)

    return wrapped


def _control_app(cloud: Cloud):
    def app(environ, start_response):
        op = environ.get("PATH_INFO", "/").strip("/")
        handler = getattr(cloud, f"op_{op}", None)
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(size) or b"{}")
            if handler is None:
                raise NovaError(f"unknown operation {op!r}")
            started = time.monotonic()
            status, payload = "200 OK", handler(**body)
            print(f"control: {op} took {time.monotonic() - started:.2f} s", file=sys.stderr, flush=True)
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the test, with its cause
            status = "400 Bad Request"
            payload = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        data = json.dumps(payload).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    return app


def _serve(app) -> int:
    server = simple_server.make_server("127.0.0.1", 0, app, server_class=_Server, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def main() -> int:
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 <pid>`: every thread's stack on stderr
    ratios = json.loads(os.environ.get("GEYSER_NOVA_RATIOS", "[2.0, 1.0, 1.0]"))
    cloud = Cloud()
    cloud.start(*ratios)
    apps = {"osapi": cloud.api_fixture.app()}
    for url, factory in INTERCEPTED:
        if url.rstrip("/").endswith("/placement"):
            apps["placement"] = factory()
    nova_port = _serve(_with_identity(apps["osapi"]))
    placement_port = _serve(_with_identity(apps["placement"]))
    control_port = _serve(_control_app(cloud))
    print(json.dumps({"ready": True, "nova": f"http://127.0.0.1:{nova_port}/v2.1",
                      "placement": f"http://127.0.0.1:{placement_port}",
                      "control": f"http://127.0.0.1:{control_port}",
                      "startup_s": round(time.monotonic() - STARTED, 2)}), flush=True)
    _wait_for_eof(sys.stdin.fileno())  # serve until the test process closes our stdin (or dies)
    return 0


def _wait_for_eof(fd: int) -> None:
    """Block this green thread, not the hub, until ``fd`` reaches end of file."""
    import select

    while True:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready and not os.read(fd, 4096):
            return


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # Nova's service threads are not daemons: leave without joining them
