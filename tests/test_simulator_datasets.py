"""Public trace formats (Azure VM dataset, Google 2011 task_usage, Bitbrains GWA-T-12): the bundled
samples read into the simulator's trace with their sizes, and malformed files name file and line."""

from __future__ import annotations

import gzip
import shutil
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from watcher_geyser.commands.simulate import load_trace, simulate_argv
from watcher_geyser.simulator.datasets import detect, read_dataset
from watcher_geyser.simulator.traces import TraceError

DATA = Path(str(resources.files("watcher_geyser") / "data" / "traces"))
SAMPLES = {
    "azure": DATA / "azure",
    "google": DATA / "google" / "task_usage",
    "bitbrains": DATA / "bitbrains" / "fastStorage",
}


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_bundled_samples_read_and_replay(fmt):
    path = SAMPLES[fmt]
    assert detect(path) == fmt
    trace, _ = load_trace(str(path), None)
    assert len(trace.names) == 12 and trace.samples == 48 and trace.step_s == 300
    assert trace.util.min() >= 0 and trace.util.max() <= 1 and trace.util.std() > 0
    assert (trace.vm_mips > 0).all() and (trace.vm_ram_mb > 0).all() and (trace.vm_pes >= 1).all()
    (result,) = simulate_argv(["--trace", str(path), "--policy", "thr-mmt", "--fidelity", "cloudsim"]).results
    assert result.vms_unplaced == 0 and result.energy_kwh > 0


def test_azure_values_and_sizes_match_the_files():
    trace = read_dataset(SAMPLES["azure"], "azure")
    table = [line.split(",") for line in (SAMPLES["azure"] / "vmtable.csv").read_text().splitlines()]
    first = table[0]
    i = trace.names.index(first[0])
    assert trace.vm_pes[i] == int(first[9]) and trace.vm_mips[i] == int(first[9]) * 1000.0
    assert trace.vm_ram_mb[i] == int(first[10]) * 1024.0
    readings = [r.split(",") for r in (SAMPLES["azure"] / "vm_cpu_readings-file-1-of-1.csv").read_text().splitlines()]
    mine = [float(r[4]) / 100 for r in readings if r[1] == first[0]]
    assert np.allclose(trace.util[i], mine)


def test_google_tasks_are_sized_by_their_peak():
    trace = read_dataset(SAMPLES["google"], "google")
    assert np.allclose(trace.util.max(axis=1), 1.0)  # each task's peak is its size
    assert trace.names[0] == "6250000000-0"


def test_bitbrains_capacity_is_the_size():
    trace = read_dataset(SAMPLES["bitbrains"], "bitbrains")
    first = (SAMPLES["bitbrains"] / "1.csv").read_text().splitlines()[1].split(";")
    i = trace.names.index("1")
    assert trace.vm_mips[i] == pytest.approx(float(first[2])) and trace.vm_pes[i] == int(first[1])
    assert trace.util[i, 0] == pytest.approx(float(first[3]) / float(first[2]))


def test_gzipped_files_read_the_same(tmp_path):
    folder = tmp_path / "azure"
    folder.mkdir()
    for src in SAMPLES["azure"].iterdir():
        with src.open("rb") as raw, gzip.open(folder / (src.name + ".gz"), "wb") as packed:
            shutil.copyfileobj(raw, packed)
    assert detect(folder) == "azure"
    assert np.array_equal(read_dataset(folder, "azure").util, read_dataset(SAMPLES["azure"], "azure").util)


def copy_sample(tmp_path: Path, fmt: str) -> Path:
    target = tmp_path / fmt
    shutil.copytree(SAMPLES[fmt], target)
    return target


def spoil(path: Path, lineno: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[lineno - 1] = text
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "fmt, file, lineno, text, message",
    [
        ("azure", "vm_cpu_readings-file-1-of-1.csv", 7, "300,nosuchvm,1,2,3", "not in vmtable.csv"),
        ("azure", "vm_cpu_readings-file-1-of-1.csv", 3, "0,vm02hash,1,2,lots", "avg CPU must be a number"),
        ("azure", "vm_cpu_readings-file-1-of-1.csv", 4, "0,vm03hash,1,2,300", "percentage 0..100"),
        ("azure", "vmtable.csv", 2, "vm01hash,s,d,0,1", "expected 11 fields"),
        ("google", "part-00000-of-00001.csv", 5, "1,2,3", "12..20 fields"),
        ("google", "part-00000-of-00001.csv", 6, "x,2,3,4,5,6,7,8,9,10,11,12", "start time must be a number"),
        ("bitbrains", "3.csv", 1, "Time;x", "expected the GWA-T-12 header"),
        ("bitbrains", "3.csv", 9, "1;\t2;\t0;\t1;\t1;\t1;\t1;\t0;\t0;\t0;\t0", "CPU capacity must be > 0"),
        ("bitbrains", "3.csv", 10, "1;\t2", "expected 11 ';'-separated fields"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, fmt, file, lineno, text, message):
    folder = copy_sample(tmp_path, fmt)
    spoil(folder / file, lineno, text)
    with pytest.raises(TraceError, match=message) as caught:
        read_dataset(folder, fmt)
    assert f"{folder / file}, line {lineno}" in str(caught.value)


def test_simulate_names_the_bad_line_and_exits_2(tmp_path, capsys):
    from watcher_geyser.cli import main

    folder = copy_sample(tmp_path, "azure")
    spoil(folder / "vm_cpu_readings-file-1-of-1.csv", 2, "0,vm01hash,1,2,x")
    assert main(["simulate", "--trace", str(folder), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "line 2" in err and "avg CPU" in err
