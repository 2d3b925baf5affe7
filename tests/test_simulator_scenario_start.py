"""With a scenario, every policy starts where the scenario puts the VMs (README, Simulator): a
policy that packed them its own way at time 0 would be credited a consolidation no migration
paid for. And a scenario that starts hosts above their RAM is said before the table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from watcher_geyser.cli import main
from watcher_geyser.scenario import load_scenario
from watcher_geyser.simulator.baselines import POLICIES, make_policy
from watcher_geyser.simulator.datacenter import scenario_datacenter
from watcher_geyser.simulator.fidelity import fidelity
from watcher_geyser.simulator.state import SimState
from watcher_geyser.simulator.traces import read_csv

ROOT = Path(__file__).resolve().parents[1]
CLOUD, UTIL = ROOT / "examples" / "cloud.json", ROOT / "examples" / "util.csv"


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_every_policy_starts_where_the_scenario_puts_the_vms(name: str) -> None:
    if name == "watcher-vwc":
        pytest.importorskip("watcher")
    trace = read_csv(UTIL)
    dc = scenario_datacenter(load_scenario(CLOUD), trace.names)
    state = SimState(dc, trace, fidelity("realistic"))
    make_policy(name).initial_placement(state)
    assert np.array_equal(state.vm_host, dc.initial_host), name
    assert len(set(dc.initial_host.tolist())) == 8  # the scenario spreads them: a packing would differ


def test_a_scenario_starting_hosts_above_their_ram_is_said(tmp_path, capsys) -> None:
    data = json.loads(CLOUD.read_text())
    for inst in data["instances"]:
        inst["host"] = data["hosts"][0]["name"]  # 40 instances on one host
    path = tmp_path / "one-host.json"
    path.write_text(json.dumps(data))
    code = main(["simulate", "--quiet", "--policy", "npa", "--trace", str(UTIL), "--scenario", str(path)])
    err = capsys.readouterr().err
    assert code == 0
    assert "note: the scenario starts 1 host(s) above their RAM (compute-00000: 289,792 of" in err
    assert "add hosts or move instances in the scenario" in err


def test_a_scenario_within_ram_gets_no_note(capsys) -> None:
    assert main(["simulate", "--quiet", "--policy", "npa", "--trace", str(UTIL), "--scenario", str(CLOUD)]) == 0
    assert "above their RAM" not in capsys.readouterr().err
