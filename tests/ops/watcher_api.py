"""Helpers for running ``geyser audit`` against Watcher's functional harness (see test_audit)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import fixtures
import requests
from watcher.api import app as watcher_app
from wsgi_intercept import interceptor

from tests.ops.clouds import ADMIN_TOKEN, KeystoneStandIn, clouds_yaml, emulated_endpoints
from watcher_geyser.cli import main

WATCHER_URL = "http://watcher-api.geyser.test:80"


class GeyserCommandMixin:
    """For a ``WatcherFunctionalTestCase``: Watcher's API behind ``KeystoneStandIn``, clouds.yaml, ``geyser``."""

    def install_clouds(self):
        intercept = interceptor.RequestsInterceptor(
            lambda: KeystoneStandIn(watcher_app.VersionSelectorApplication()), url=WATCHER_URL + "/")
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
