"""The test side of real Nova: start ``nova_cloud.py`` under ``.venv-nova``, speak its control
channel, read Placement, and hand Watcher an openstacksdk connection to it.

Nothing here imports Nova: the cloud lives in its own process (see ``nova_cloud.py`` for
why), reached over 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
NOVA_PYTHON = ROOT / ".venv-nova" / "bin" / "python"
START_TIMEOUT_S = 240.0
OP_WAIT_S = 240.0  # what the helper may wait inside one operation (its ACTIVE_WAIT_S is 180 s)
HTTP_SLACK_S = 60.0  # the answer's way back, on top of the helper's own wait
# A boot's wait grows with the servers booted at once: Nova builds them a few at a time, so on a
# loaded machine the batch takes about a server's time multiplied by their number. At load 10 on
# 2 cores, 24 servers took 180 s (7.5 s each), the fixed wait this replaces.
BOOT_BASE_S = 60.0
BOOT_PER_SERVER_S = 15.0
RESOURCES = ("VCPU", "MEMORY_MB", "DISK_GB")
PLACEMENT_HEADERS = {"X-Auth-Token": "admin", "OpenStack-API-Version": "placement latest"}


class CloudError(RuntimeError):
    """The Nova helper process refused an operation or could not start; the message says why."""


class NovaCloud:
    """One real Nova + Placement process; start it with ``NovaCloud.start()``, end it with ``close()``."""

    def __init__(self, proc: subprocess.Popen, info: dict, startup_s: float):
        self._proc = proc
        self.nova_url: str = info["nova"]
        self.placement_url: str = info["placement"]
        self.control_url: str = info["control"]
        self.startup_s = startup_s
        self.http = requests.Session()

    @classmethod
    def start(cls, ratios: tuple[float, float, float] = (2.0, 1.0, 1.0)) -> NovaCloud:
        if not NOVA_PYTHON.exists():
            raise CloudError(f"{NOVA_PYTHON} is missing: run `bash tools/nova_venv.sh` (tools/test.sh does it)")
        env = dict(os.environ, GEYSER_NOVA_RATIOS=json.dumps(list(ratios)))
        log = open(os.environ.get("GEYSER_NOVA_LOG", os.devnull), "ab")  # noqa: SIM115 - lives with the process
        started = time.monotonic()
        proc = subprocess.Popen([str(NOVA_PYTHON), str(Path(__file__).with_name("nova_cloud.py"))], cwd=ROOT,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env)
        log.close()
        line = b""
        while time.monotonic() - started < START_TIMEOUT_S:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                line = proc.stdout.readline()
                break
            if proc.poll() is not None:
                break
        if not line:
            proc.kill()
            raise CloudError(f"the Nova helper did not start within {START_TIMEOUT_S:.0f} s (exit code {proc.poll()}); "
                             "set GEYSER_NOVA_LOG=/tmp/nova.log to see its log")
        cloud = cls(proc, json.loads(line), time.monotonic() - started)
        print(f"\nreal Nova + Placement started in {cloud.startup_s:.1f} s", file=sys.stderr)
        return cloud

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def cpu_s(self) -> float:
        """CPU seconds the Nova process has used so far (user + system; Linux's /proc)."""
        fields = Path(f"/proc/{self._proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    # --- control channel -------------------------------------------------------------------
    def op(self, name: str, /, **body) -> dict:
        """Run one control operation; ``wait_s`` in the body (a boot's) is how long the helper may wait."""
        resp = self.http.post(f"{self.control_url}/{name}", json=body,
                              timeout=body.get("wait_s", OP_WAIT_S) + HTTP_SLACK_S)
        payload = resp.json()
        if resp.status_code != 200:
            raise CloudError(f"{name}: {payload['error']}\n{payload.get('traceback', '')}")
        return payload

    def boot(self, servers: list[dict]) -> list[dict]:
        """Boot the servers (``nova_cloud.Cloud.op_boot``) and wait for them, longer the more they are."""
        return self.op("boot", servers=servers, wait_s=BOOT_BASE_S + BOOT_PER_SERVER_S * len(servers))["servers"]

    def servers(self) -> dict[str, dict]:
        """Server id -> {name, status, host, project, locked, flavor}, as Nova's API lists them."""
        return {s["id"]: s for s in self.op("servers")["servers"]}

    def services(self) -> dict[str, dict]:
        return {s["host"]: s for s in self.op("services")["services"]}

    # --- Placement, read directly ----------------------------------------------------------
    def _get(self, path: str) -> dict:
        return self.http.get(f"{self.placement_url}{path}", headers=PLACEMENT_HEADERS, timeout=30).json()

    def capacities(self) -> dict[str, tuple[str, dict[str, float]]]:
        """Hostname -> (provider uuid, {rc: (total - reserved) * allocation ratio})."""
        out = {}
        for rp in self._get("/resource_providers")["resource_providers"]:
            inv = self._get(f"/resource_providers/{rp['uuid']}/inventories")["inventories"]
            out[rp["name"]] = (rp["uuid"], {rc: (v["total"] - v["reserved"]) * v["allocation_ratio"]
                                            for rc, v in inv.items()})
        return out

    def inventory_drift(self) -> list[str]:
        """Every (host, resource) whose Placement inventory total is not the size its compute was
        started with: Placement must describe the hosts the test asked for, or a check against
        inventory proves nothing."""
        sizes = self.op("sizes")["sizes"]
        drift = []
        for rp in self._get("/resource_providers")["resource_providers"]:
            inv = self._get(f"/resource_providers/{rp['uuid']}/inventories")["inventories"]
            drift += [f"{rp['name']} {rc}: Placement says {inv.get(rc, {}).get('total')}, the host has {total}"
                      for rc, total in sizes.get(rp["name"], {}).items() if inv.get(rc, {}).get("total") != total]
        return drift

    def allocation_ratios(self) -> dict[str, dict[str, float]]:
        """Hostname -> {rc: allocation ratio} of its resource provider's inventories."""
        out = {}
        for rp in self._get("/resource_providers")["resource_providers"]:
            inv = self._get(f"/resource_providers/{rp['uuid']}/inventories")["inventories"]
            out[rp["name"]] = {rc: v["allocation_ratio"] for rc, v in inv.items() if rc in RESOURCES}
        return out

    def placement(self, capacities: dict[str, tuple[str, dict[str, float]]] | None = None) -> dict[str, dict]:
        """Hostname -> {"capacity": {rc: (total - reserved) * ratio}, "usage": {rc: used}}; pass
        ``capacities()`` to read only the usages (inventories do not change while a plan runs)."""
        out = {}
        for host, (uuid, capacity) in (capacities or self.capacities()).items():
            use = self._get(f"/resource_providers/{uuid}/usages")["usages"]
            out[host] = {"capacity": capacity, "usage": {rc: use.get(rc, 0) for rc in capacity}}
        return out

    def allocations(self, consumer: str) -> dict[str, dict[str, int]]:
        """What Placement holds for one server: resource provider uuid -> {rc: amount}."""
        held = self._get(f"/allocations/{consumer}")["allocations"]
        return {rp: dict(a["resources"]) for rp, a in held.items()}

    # --- Watcher's seam --------------------------------------------------------------------
    def sdk_connection(self):
        """What ``watcher.common.clients.get_sdk_connection`` returns: compute and placement on loopback."""
        from keystoneauth1 import noauth
        from keystoneauth1 import session as ks_session
        from openstack import connection

        sess = ks_session.Session(auth=noauth.NoAuth(endpoint=self.nova_url),
                                  additional_headers={"X-Auth-Token": "admin:admin"})
        return connection.Connection(session=sess, compute_endpoint_override=self.nova_url,
                                     placement_endpoint_override=self.placement_url)


def over_inventory(snapshot: dict[str, dict]) -> list[str]:
    """Every (host, resource) whose Placement usage exceeds what its inventory allows."""
    return [f"{host} {rc} {state['usage'][rc]} > {state['capacity'][rc]:g}"
            for host, state in sorted(snapshot.items()) for rc in RESOURCES
            if rc in state["capacity"] and state["usage"][rc] > state["capacity"][rc] + 1e-6]


@dataclass
class PlacementWatch:
    """Polls Placement in a thread while an action plan runs: how often, and every instant over inventory."""

    cloud: NovaCloud
    interval_s: float = 0.5
    samples: int = 0
    problems: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __enter__(self) -> PlacementWatch:
        self._capacities = self.cloud.capacities()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()  # and once more at the end

    def _run(self) -> None:
        while not self._stop.is_set():
            self._poll()
            self._stop.wait(self.interval_s)

    def _poll(self) -> None:
        try:
            snapshot = self.cloud.placement(self._capacities)
        except Exception as exc:  # noqa: BLE001 - reported by the test, never swallowed
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return
        self.samples += 1
        self.problems.extend(f"sample {self.samples}: {p}" for p in over_inventory(snapshot))
