"""``geyser snapshot --cpu-prometheus``: CPU use per server from a real Prometheus server.

Prometheus (Debian's binary, started by ``tests.prometheus_server``) scrapes a tiny exporter
served here every second; the snapshot reads the emulated Nova and Placement as in
test_snapshot and the CPU use through Prometheus' HTTP API. Skipped only when the binary is absent.
"""

from __future__ import annotations

import pytest
from watcher.tests.functional import topology as topo
from watcher.tests.local_fixtures.nova import NovaPlacementFixture

from tests.ops.clouds import CLOUD, clouds_yaml, emulated_endpoints
from tests.prometheus_server import needs_prometheus, scraping
from tests.signal_servers import free_port
from watcher_geyser.cli import main
from watcher_geyser.scenario import load_scenario

pytestmark = [pytest.mark.functional, needs_prometheus]

UUIDS = ["bbbb0001-0000-0000-0000-000000000001", "bbbb0002-0000-0000-0000-000000000002"]
METRICS = f"""\
# TYPE server_vcpu_use_percent gauge
server_vcpu_use_percent{{uuid="{UUIDS[0]}"}} 25
server_vcpu_use_percent{{uuid="{UUIDS[1]}"}} 130
server_vcpu_use_percent{{uuid="not-a-server"}} 50
server_vcpu_use_percent{{domain="instance-7"}} 10
""".encode()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    """Base URL of a running Prometheus that has scraped the four servers' series."""
    with scraping(tmp_path_factory.mktemp("prometheus"), METRICS, "server_vcpu_use_percent",
                  lambda result: len(result) == 4, job="vms") as base:
        yield base


@pytest.fixture
def cloud(tmp_path, monkeypatch):
    t = topo.ComputeTopology().add_computes(count=2).add_instances(computes=["compute-1"], count=3, vcpus=2)
    fixture = NovaPlacementFixture(topology=t)
    fixture.setUp()
    path = clouds_yaml(tmp_path / "c.yaml", {CLOUD: emulated_endpoints(fixture)})
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    yield t
    fixture.cleanUp()


def test_cpu_use_from_prometheus(prometheus, cloud, tmp_path, capsys):
    out = tmp_path / "s.json"
    code = main(["snapshot", "--os-cloud", CLOUD, "-o", str(out), "--cpu-prometheus", prometheus,
                 "--cpu-query", "server_vcpu_use_percent", "--cpu-scale", "0.01", "--default-cpu-util", "0.5"])
    err = capsys.readouterr().err
    assert code == 0, err
    fleet = load_scenario(out)
    util = {i.uuid: i.cpu_util for i in fleet.instances}
    assert util[UUIDS[0]] == pytest.approx(0.25)
    assert util[UUIDS[1]] == 1.0  # 130 % clipped, and said
    assert util["bbbb0003-0000-0000-0000-000000000003"] is None  # not measured: default_cpu_util applies
    assert "1 value(s) outside 0..1 clipped" in err
    assert "1 series without the label 'uuid'" in err
    assert "CPU use measured for 2 of 3 servers" in err


def test_prometheus_errors_are_named(prometheus, cloud, tmp_path, capsys):
    out = tmp_path / "s.json"
    args = ["snapshot", "--os-cloud", CLOUD, "-o", str(out), "-q"]
    assert main([*args, "--cpu-prometheus", prometheus, "--cpu-query", "rate(("]) == 1
    assert "could not read CPU use from Prometheus" in capsys.readouterr().err
    assert main([*args, "--cpu-prometheus", prometheus, "--cpu-query", "server_vcpu_use_percent",
                 "--cpu-label", "server"]) == 1
    assert "no series carries the label 'server'" in capsys.readouterr().err
    # Prometheus labels every series with its scrape target 'instance': no server uuid there
    assert main([*args, "--cpu-prometheus", prometheus, "--cpu-query", "server_vcpu_use_percent",
                 "--cpu-label", "instance"]) == 1
    assert "none of the 1 measured ids (such as '127.0.0.1:" in capsys.readouterr().err
    assert main([*args, "--cpu-prometheus", f"http://127.0.0.1:{free_port()}", "--cpu-query", "up"]) == 1
    assert "could not read CPU use from Prometheus http://127.0.0.1:" in capsys.readouterr().err
    assert main([*args, "--cpu-prometheus", prometheus]) == 2
    assert "go together" in capsys.readouterr().err
    assert not out.exists()
