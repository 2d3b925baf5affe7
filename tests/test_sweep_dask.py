"""`geyser sweep` on real Dask clusters: a 2-worker LocalCluster, and a scheduler and worker
started here as separate processes on loopback. The same cells give the same numbers there as
one after another in this process (deterministic mode), and a re-run computes nothing."""

from __future__ import annotations

import csv
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.waiting import wait_for
from watcher_geyser.cli import main
from watcher_geyser.sweep.cells import run_cell
from watcher_geyser.sweep.grid import load_grid
from watcher_geyser.sweep.runner import run_sweep

pytest.importorskip("dask.distributed")

GRID = """
[fixed]
fidelity = "cloudsim"
deterministic = true
limit = 16
[[grid]]
policy = "geyser"
signal-w = 150
[[grid]]
policy = ["thr-mmt", "dvfs"]
signal-w = [150, 400]
"""
# numbers that must not depend on where a cell ran (timings do)
FIGURES = ("energy_kwh", "energy_lower_bound_kwh", "migrations", "slatah", "pdm", "energy_above_signal_kwh")


@pytest.fixture()
def cells(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    return load_grid(path)


def figures(summary: dict) -> tuple:
    return tuple(summary[k] for k in FIGURES)


def check_folder(out: Path, cells) -> dict[str, dict]:
    rows = {r["key"]: r for r in csv.DictReader((out / "results.csv").open())}
    assert set(rows) == {c.key for c in cells} and {r["status"] for r in rows.values()} == {"done"}
    for cell in cells:
        record = json.loads((out / "cells" / f"{cell.key}.json").read_text())
        assert record["cell"] == cell.params and record["command"][:2] == ["geyser", "simulate"]
        assert float(rows[cell.key]["energy_kwh"]) == record["summary"]["energy_kwh"]
    for name in ("energy_vs_slatah.png", "uncovered_vs_supply.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    return {c.key: json.loads((out / "cells" / f"{c.key}.json").read_text())["summary"] for c in cells}


def test_local_cluster_of_two_matches_the_sequential_run_and_resumes(tmp_path, cells, capsys):
    out = tmp_path / "sweep"
    outcome = run_sweep(cells, out, workers=2, progress=False, announce=print)
    assert outcome.ran == len(cells) and not outcome.failed and outcome.dashboard
    assert "Dask dashboard: http://127.0.0.1:" in capsys.readouterr().out
    on_dask = check_folder(out, cells)
    for cell in cells:
        alone = run_cell(cell.argv())["summary"]
        assert figures(alone) == figures(on_dask[cell.key]), cell.label()
    again = run_sweep(cells, out, workers=2, progress=False)
    assert again.ran == 0 and again.skipped == len(cells) and again.dashboard is None  # no cluster started


def test_a_cell_that_fails_is_reported_and_retried(tmp_path):
    # traces that exist (a missing path is refused before any cell runs) but fail when read
    for name in ("bad-day.csv", "also-bad.csv"):
        (tmp_path / name).write_text("time,instance,cpu_util\n0,a,not-a-number\n")
    path = tmp_path / "grid.toml"
    path.write_text('[grid]\npolicy = ["dvfs"]\nlimit = [5]\ntrace = ["bad-day.csv", "also-bad.csv"]\n')
    out = tmp_path / "sweep"
    code = main(["sweep", str(path), "--out", str(out), "--sequential", "--quiet"])
    assert code == 1
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [r["status"] for r in rows] == ["error", "error"] and "bad-day.csv" in rows[0]["error"]
    assert not (out / "cells").exists() or not list((out / "cells").iterdir())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def external_cluster(tmp_path):
    """`dask scheduler` and one `dask worker`, as an operator would start them, torn down after."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = [open(tmp_path / name, "w") for name in ("scheduler.log", "worker.log")]  # noqa: SIM115
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--dashboard-address", "127.0.0.1:0"],
        stdout=logs[0], stderr=subprocess.STDOUT,
    )
    worker = None
    try:
        def listening() -> bool:
            assert scheduler.poll() is None, (tmp_path / "scheduler.log").read_text()
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        wait_for(listening, bool, 60, "the dask scheduler listening")
        worker = subprocess.Popen(
            [sys.executable, "-m", "dask", "worker", address, "--nworkers", "1", "--nthreads", "1",
             "--no-dashboard", "--host", "127.0.0.1"],
            stdout=logs[1], stderr=subprocess.STDOUT,
        )
        yield address
    finally:
        for proc in (worker, scheduler):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for log in logs:
            log.close()


def test_against_a_separately_started_scheduler_and_worker(tmp_path, external_cluster, capsys):
    path = tmp_path / "grid.toml"
    path.write_text(GRID.split("[[grid]]")[0] + "[grid]\npolicy = ['thr-mmt', 'dvfs']\nsignal-w = [150, 400]\n")
    out = tmp_path / "sweep"
    code = main(["sweep", str(path), "--out", str(out), "--scheduler", external_cluster, "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "Dask dashboard:" in printed and "4 cells: 4 computed" in printed
    on_cluster = check_folder(out, load_grid(path))
    cell = load_grid(path)[0]
    assert figures(run_cell(cell.argv())["summary"]) == figures(on_cluster[cell.key])
