"""``geyser plan --signal``: the energy decision sets the Problem's supply and CPU ceiling, and is shown."""

from __future__ import annotations

import json

import pytest

from tests.builders import fleet, host, vm
from watcher_geyser.cli import main
from watcher_geyser.pipeline import DEFAULTS
from watcher_geyser.scenario import save_scenario
from watcher_geyser.signal import PolicyConfig


@pytest.fixture
def scenario(tmp_path):
    hosts = [host(f"h{i}", idle_w=100, max_w=200) for i in range(4)]  # fleet peak 800 W
    instances = [vm(f"v{i}", f"h{i % 4}", vcpus=1, memory_mb=1024) for i in range(8)]
    path = tmp_path / "s.json"
    save_scenario(fleet(hosts, instances), path)
    return path


TIGHT, RELAXED = PolicyConfig().tight_ceiling, PolicyConfig().relaxed_ceiling


def plan_json(capsys, *argv) -> dict:
    assert main(["plan", *argv, "--json", "--time-limit", "2"]) == 0
    return json.loads(capsys.readouterr().out)


def test_scarce_watts_set_budget_and_tight_ceiling(scenario, capsys):
    summary = plan_json(capsys, str(scenario), "--signal", "constant:250W")
    signal = summary["signal"]
    assert signal["power_budget_w"] == 250 and signal["fallback"] is None
    # 250 W against the ~400 W the fleet draws now is scarce: tighter than the signal-blind ceiling
    assert signal["ceiling"] == pytest.approx(TIGHT) and DEFAULTS.limits.cpu_ceiling < TIGHT
    assert summary["power_budget_w"] == 250 and summary["cpu_ceiling"] == pytest.approx(TIGHT)  # what the solver got
    assert summary["ceiling"] == 1.0  # allocation: the operator's, never the signal's
    # within the supply, the fewest moves win: two hosts (about 210 W) rather than one
    assert summary["hosts_on_after"] == 2 and summary["watts_after"] <= 250


def test_plentiful_energy_relaxes(scenario, capsys):
    summary = plan_json(capsys, str(scenario), "--signal", "constant:100%", "--power-budget", "10")
    signal = summary["signal"]
    # a fully renewable supply: relaxed below the signal-blind ceiling, no watt budget
    assert signal["power_budget_w"] is None and signal["ceiling"] == pytest.approx(RELAXED)
    assert DEFAULTS.limits.cpu_ceiling > RELAXED
    assert summary["power_budget_w"] is None and summary["cpu_ceiling"] == pytest.approx(RELAXED)  # the solver's


def test_plentiful_energy_switches_no_host_off(scenario, capsys):
    plentiful = plan_json(capsys, str(scenario), "--signal", "constant:100%", "--power-off")
    assert plentiful["signal"]["allow_power_off"] is False
    assert plentiful["actions"]["power_off"] == 0
    scarce = plan_json(capsys, str(scenario), "--signal", "constant:120W", "--power-off")
    assert scarce["signal"]["allow_power_off"] is True
    assert scarce["actions"]["power_off"] == 3  # four hosts packed onto one


def test_failing_source_uses_the_safe_default_and_says_why(scenario, tmp_path, capsys):
    summary = plan_json(capsys, str(scenario), "--signal", f"file:{tmp_path / 'missing.csv'}")
    assert summary["signal"]["fallback"] == "safe_default"
    assert "missing.csv" in summary["signal"]["reason"]


def test_table_shows_the_decision(scenario, capsys):
    assert main(["plan", str(scenario), "--signal", "constant:250W", "--time-limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "signal: constant 250 W" in out
    assert f"power budget 250 W; ceiling {TIGHT:.3f}; idle hosts may be switched off" in out and "fallback none" in out


def test_bad_spec_and_bad_scenario_exit_2(scenario, tmp_path, capsys):
    assert main(["plan", str(scenario), "--signal", "sunshine:lots"]) == 2
    assert "--signal" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hosts": [{"name": "h", "vcpus": -1, "memory_mb": 1, "disk_gb": 1}]}))
    assert main(["plan", str(bad), "--signal", "constant:250W"]) == 2
    assert "host 'h': 'vcpus' must be >= 0" in capsys.readouterr().err
