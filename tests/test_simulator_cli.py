"""``geyser simulate`` end to end on the bundled sample: table, report.json, CSV, PNGs."""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter

import pytest

from watcher_geyser.commands import simulate, simulate_setup
from watcher_geyser.solver.problem import PASSES

KEYS = (
    "energy_kwh", "energy_lower_bound_kwh", "migrations", "slatah", "slatah_overload", "slatah_core_cap",
    "slatah_migration", "pdm", "slav", "esv",
    "energy_above_signal_kwh", "step_seconds_mean", "step_seconds_p95", "step_seconds_max", "wall_seconds",
)


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="geyser")
    simulate.register(parser.add_subparsers())
    args = parser.parse_args(["simulate", *argv])
    return args.func(args)


def test_simulate_bundled_sample_writes_report(tmp_path, capsys):
    out = tmp_path / "results"
    code = run(["--fidelity", "cloudsim", "--policy", "dvfs", "--policy", "thr-mmt", "--signal-w", "2000",
                "--out", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "thr-mmt" in printed and "energy kWh" in printed
    report = json.loads((out / "report.json").read_text())
    assert set(report["policies"]) == {"dvfs", "thr-mmt"}
    thr = report["policies"]["thr-mmt"]
    for key in KEYS:
        assert key in thr
    assert thr["migrations"] > 0 and thr["energy_kwh"] > thr["energy_lower_bound_kwh"] > 0
    # 287 decisions; thr-mmt's last starts migrations, so a tail row follows (dvfs moves nothing)
    assert len(thr["series"]["power_w"]) == 288 and thr["energy_above_signal_kwh"] is not None
    rows = list(csv.DictReader((out / "steps.csv").open()))
    assert len(rows) == 287 + 288 and rows[0]["policy"] == "dvfs"
    for name in ("power.png", "hosts.png", "migrations.png", "overload.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_steps_csv_rows_sum_to_the_report_totals_tail_included(tmp_path):
    """Energy (power_w x interval_s) and SLATAH's host-seconds summed over steps.csv's rows give
    report.json's totals: the tail row holds what the last decision's migrations did after it."""
    out = tmp_path / "results"
    assert run(["--fidelity", "cloudsim", "--deterministic", "--policy", "geyser", "--policy", "thr-mmt",
                "--out", str(out), "--quiet", "--no-plots"]) == 0
    report = json.loads((out / "report.json").read_text())["policies"]
    rows = list(csv.DictReader((out / "steps.csv").open()))
    for policy in ("geyser", "thr-mmt"):
        mine = [r for r in rows if r["policy"] == policy]
        totals = report[policy]
        energy_kwh = sum(float(r["power_w"]) * float(r["interval_s"]) for r in mine) / 3.6e6
        host_s = sum(float(r["host_s"]) for r in mine)
        violating_s = sum(float(r["violation_host_s"]) for r in mine)
        assert energy_kwh == pytest.approx(totals["energy_kwh"], rel=1e-12)
        assert violating_s / host_s == pytest.approx(totals["slatah"], rel=1e-12)
        assert len(totals["series"]["time_s"]) == len(mine)  # report.json's series: the same rows
    thr = [r for r in rows if r["policy"] == "thr-mmt"]
    tail, last_decision = thr[-1], thr[-2]
    assert tail["decided"] == "0" and tail["migrations"] == "0" and tail["found_by"] == ""
    assert 0 < float(tail["interval_s"]) < 300 and float(tail["time_s"]) > float(last_decision["time_s"])
    assert float(tail["host_s"]) > 0  # without it the sums above fall short (the migrations' SLA time)


def test_passes_won_counts_the_found_by_column(tmp_path):
    """geyser names the solver pass of every decision it made; passes_won counts them; a baseline has none."""
    out = tmp_path / "results"
    assert run(["--deterministic", "--policy", "geyser", "--policy", "thr-mmt", "--out", str(out), "--quiet",
                "--no-plots"]) == 0
    report = json.loads((out / "report.json").read_text())["policies"]
    rows = list(csv.DictReader((out / "steps.csv").open()))
    geyser = [r for r in rows if r["policy"] == "geyser"]
    decided = [r["found_by"] for r in geyser if r["decided"] == "1"]
    assert decided and all(name in PASSES for name in decided)
    assert all(r["found_by"] == "" for r in geyser if r["decided"] == "0")
    assert report["geyser"]["passes_won"] == dict(Counter(decided))
    assert sum(report["geyser"]["passes_won"].values()) == len(decided) == 287 - report["geyser"]["decisions_skipped"]
    assert {"current", "greedy"} <= set(report["geyser"]["passes_won"])  # a quiet step, and a consolidation
    assert report["thr-mmt"]["passes_won"] == {}
    assert {r["found_by"] for r in rows if r["policy"] == "thr-mmt"} == {""}


def test_simulate_bad_trace_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "day"
    bad.mkdir()
    (bad / "vm").write_text("1\n2\n")
    assert run(["--trace", str(bad), "--quiet"]) == 2
    assert "expected 288 lines" in capsys.readouterr().err


def test_simulate_scenario_with_series(tmp_path, capsys):
    scenario = {
        "step_s": 60,
        "hosts": [
            {"name": f"c{i}", "vcpus": 8, "memory_mb": 16384, "disk_gb": 100, "power": {"idle_w": 100, "max_w": 250}}
            for i in range(3)
        ],
        "instances": [
            {"uuid": "i1", "host": "c0", "vcpus": 2, "memory_mb": 4096, "disk_gb": 10,
             "cpu_util_series": [0.2, 0.2, 0.3, 0.1, 0.1]},
            {"uuid": "i2", "host": "c1", "vcpus": 2, "memory_mb": 4096, "disk_gb": 10,
             "cpu_util_series": [0.1, 0.2, 0.1, 0.1, 0.2]},
        ],
    }
    path = tmp_path / "cloud.json"
    path.write_text(json.dumps(scenario))
    out = tmp_path / "out"
    assert run(["--trace", str(path), "--policy", "dvfs", "--policy", "thr-mmt", "--out", str(out), "--no-plots",
                "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    thr = report["policies"]["thr-mmt"]
    assert thr["hosts"] == 3 and thr["vms"] == 2 and thr["migrations"] == 1  # the two light VMs share a host
    assert thr["energy_kwh"] < report["policies"]["dvfs"]["energy_kwh"]


def test_simulate_argv_is_the_command_without_printing(capsys):
    """One run through the function `geyser sweep` and bench/planetlab.py call: the same numbers."""
    argv = ["--policy", "thr-mmt", "--limit", "20", "--fidelity", "cloudsim", "--seed", "4"]
    outcome = simulate.simulate_argv(argv)
    assert capsys.readouterr().out == ""
    assert outcome.meta["seed"] == 4 and outcome.meta["deterministic"] is False
    assert run([*argv, "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"{outcome.results[0].energy_kwh:.2f}" in printed


def test_simulate_argv_bad_option_is_an_error_not_an_exit():
    import pytest

    with pytest.raises(simulate.SimulateError, match="--nope"):
        simulate.simulate_argv(["--nope"])
    with pytest.raises(simulate.SimulateError, match="nosuch"):
        simulate.simulate_argv(["--policy", "nosuch"])


def test_simulate_policy_parameters_name_the_runs(tmp_path, capsys):
    out = tmp_path / "curve"
    code = run(["--fidelity", "cloudsim", "--limit", "30", "--policy", "thr-mmt:threshold=0.6", "--policy",
                "thr-mmt:threshold=1.0", "--signal-w", "500", "--out", str(out), "--no-plots", "--quiet"])
    assert code == 0
    policies = json.loads((out / "report.json").read_text())["policies"]
    low, high = policies["thr-mmt:threshold=0.6"], policies["thr-mmt:threshold=1.0"]
    assert low["migrations"] > high["migrations"]  # a lower threshold relieves more hosts
    for p in (low, high):
        assert p["energy_above_signal_kwh"] is not None and p["host_power_cycles_max"] >= 0
        assert p["deferred_vm_hours"] == 0 and p["deadline_misses"] == 0


def test_simulate_bad_policy_parameter_is_one_line_exit_2(capsys):
    assert run(["--policy", "thr-mmt:thresh=0.9", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown key 'thresh'" in err and "threshold" in err
    assert run(["--policy", "thr-mmt", "--policy", "thr-mmt", "--quiet"]) == 2
    assert "given twice" in capsys.readouterr().err


def test_seed_and_deterministic_reach_the_geyser_solver():
    import pytest

    pytest.importorskip("ortools")
    from watcher_geyser.simulator.baselines import make_policy

    policy = make_policy("geyser:ceiling=0.9")
    simulate_setup.configure(policy, argparse.Namespace(seed=7, deterministic=True), None)
    assert policy.settings.solve.seed == 7 and policy.settings.solve.deterministic is True
    assert policy.settings.limits.cpu_ceiling == 0.9  # the spec's own settings are kept
