"""Helpers for running ``geyser audit`` against Watcher's functional harness (see test_audit).

Pecan keeps each thread's request in one module-global context-local (``pecan.core.state``),
and every Pecan app built *replaces* that global with a fresh one: a request in flight in
another thread (the decision engine or applier calling the emulated Nova, itself a Pecan app)
then finds its request gone and fails. Building Watcher's API once per connection made
``test_audit`` flaky under load (each poll of the command rebuilt it while the services
worked). ``watcher_api_app`` is built once per test and binds to the context-local that
exists, so it disturbs no request in flight.
"""

from __future__ import annotations

import contextlib
import io
import threading
from pathlib import Path

import fixtures
import pecan.configuration
import pecan.core
import requests
from watcher.api import app as watcher_app
from watcher.api import config as api_config
from wsgi_intercept import interceptor

from tests.functional.harness import let_pytest_filter_warnings
from tests.ops.clouds import ADMIN_TOKEN, KeystoneStandIn, clouds_yaml, emulated_endpoints
from watcher_geyser.cli import main

WATCHER_URL = "http://watcher-api.geyser.test:80"


def watcher_api_app():
    """Watcher's API app as ``VersionSelectorApplication`` builds it, bound to the context-local
    Pecan already uses (see the module doc) rather than a new one."""
    current = pecan.core.state if pecan.core.state is not None else threading.local()
    app_config = {**api_config.PECAN_CONFIG["app"], "context_local_factory": lambda: current}
    return watcher_app.setup_app(pecan.configuration.conf_from_dict({**api_config.PECAN_CONFIG, "app": app_config}))


class GeyserCommandMixin:
    """For a ``WatcherFunctionalTestCase``: Watcher's API behind ``KeystoneStandIn``, clouds.yaml, ``geyser``."""

    def install_clouds(self):
        let_pytest_filter_warnings()
        app = KeystoneStandIn(watcher_api_app())  # once: wsgi-intercept calls the factory per connection
        intercept = interceptor.RequestsInterceptor(lambda: app, url=WATCHER_URL + "/")
        intercept.install_intercept()
        self.addCleanup(intercept.uninstall_intercept)
        endpoints = emulated_endpoints(self.env.nova_fixture) | {"infra_optim": WATCHER_URL}
        tmp = Path(self.useFixture(fixtures.TempDir()).path)
        clouds_yaml(tmp / "admin.yaml", {"admin": endpoints}, token=ADMIN_TOKEN)
        clouds_yaml(tmp / "member.yaml", {"member": endpoints}, token="member-token")
        self.clouds = tmp

    def geyser(self, *argv, cloud: str = "admin", timeout: str = "60") -> tuple[int, str, str]:
        self.useFixture(fixtures.EnvironmentVariable("OS_CLIENT_CONFIG_FILE", str(self.clouds / f"{cloud}.yaml")))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["audit", "--os-cloud", cloud, "--poll", "0.1", "--timeout", timeout, *argv])
        return code, out.getvalue(), err.getvalue()

    def held(self, path: str) -> dict:
        """What Watcher's API holds, read at the newest version (default_parameters need 1.7)."""
        resp = requests.get(WATCHER_URL + "/v1" + path, headers={
            "X-Auth-Token": ADMIN_TOKEN, "OpenStack-API-Version": "infra-optim 1.7"})
        self.assertEqual(200, resp.status_code, resp.text)
        return resp.json()

    def assert_report_matches_api(self, report: dict) -> list[dict]:
        plans = self.held(f"/action_plans?audit_uuid={report['audit_uuid']}")["action_plans"]
        self.assertEqual([report["action_plan_uuid"]], [p["uuid"] for p in plans])
        plan = self.held(f"/action_plans/{report['action_plan_uuid']}")
        self.assertEqual(plan["state"], report["action_plan_state"])
        self.assertEqual(plan["efficacy_indicators"], report["efficacy_indicators"])
        listed = self.held(f"/actions?action_plan_uuid={plan['uuid']}&limit=1000")["actions"]
        actions = {a["uuid"]: self.held(f"/actions/{a['uuid']}") for a in listed}
        shown = {a["uuid"]: a for a in report["actions"]}
        self.assertEqual(set(actions), set(shown))
        for uuid, action in actions.items():
            self.assertEqual(action["action_type"], shown[uuid]["action_type"])
            self.assertEqual(action["state"], shown[uuid]["state"])
            parents = [shown[p]["wave"] for p in action["parents"]]
            self.assertEqual(1 + max(parents, default=0), shown[uuid]["wave"])  # waves follow the parents
        return list(actions.values())
