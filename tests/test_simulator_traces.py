"""Trace readers: good files load, malformed ones fail naming the file and the line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from watcher_geyser.commands.simulate import bundled_sample
from watcher_geyser.simulator.traces import TraceError, read_csv, read_planetlab, read_scenario_series


def _write_day(folder, files):
    folder.mkdir()
    for name, values in files.items():
        (folder / name).write_text("".join(f"{v}\n" for v in values))
    return folder


def test_planetlab_reads_sorted_percentages(tmp_path):
    day = _write_day(tmp_path / "day", {"b": [10] * 288, "a": [5] * 288, "B": [0] * 288})
    trace = read_planetlab(day)
    assert trace.names == ("B", "a", "b")  # byte-wise order: upper case first
    assert trace.util.shape == (3, 288)
    assert trace.util[1, 0] == pytest.approx(0.05)
    assert trace.step_s == 300


def test_planetlab_wrong_line_count_names_file(tmp_path):
    day = _write_day(tmp_path / "day", {"vm1": [1] * 287})
    with pytest.raises(TraceError, match=r"vm1: expected 288 lines.*found 287"):
        read_planetlab(day)


def test_planetlab_bad_value_names_file_and_line(tmp_path):
    values: list = [3] * 288
    values[6] = "x7"
    day = _write_day(tmp_path / "day", {"vm1": values})
    with pytest.raises(TraceError, match=r"vm1, line 7: 'x7' is not an integer"):
        read_planetlab(day)
    values[6] = 150
    (day / "vm1").write_text("".join(f"{v}\n" for v in values))
    with pytest.raises(TraceError, match=r"vm1, line 7: 150 is outside 0..100"):
        read_planetlab(day)


def test_planetlab_missing_folder(tmp_path):
    with pytest.raises(TraceError, match="not a folder"):
        read_planetlab(tmp_path / "nowhere")


def test_bundled_sample_is_real_data():
    trace = read_planetlab(bundled_sample())
    assert len(trace.names) == 100 and trace.util.shape == (100, 288)
    assert trace.names == tuple(sorted(trace.names, key=str.encode))
    assert trace.util.min() >= 0 and trace.util.max() < 1


def test_csv_good_and_percentages(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("time,instance,cpu_util\n0,b,10\n0,a,50\n60,a,20\n60,b,30\n")
    trace = read_csv(path)
    assert trace.names == ("a", "b") and trace.step_s == 60
    np.testing.assert_allclose(trace.util, [[0.5, 0.2], [0.1, 0.3]])


def test_csv_bad_number_names_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("time,instance,cpu_util\n0,a,0.5\n60,a,lots\n")
    with pytest.raises(TraceError, match=r"t.csv, line 3: time and cpu_util must be numbers"):
        read_csv(path)


def test_csv_missing_sample_and_header(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("time,instance,cpu_util\n0,a,0.5\n0,b,0.5\n60,a,0.1\n")
    with pytest.raises(TraceError, match="'b' has no sample at time 60"):
        read_csv(path)
    path.write_text("when,who,what\n")
    with pytest.raises(TraceError, match="line 1: expected the header"):
        read_csv(path)


def test_scenario_series(tmp_path):
    path = tmp_path / "s.json"
    data = {"step_s": 60, "hosts": [], "instances": [{"uuid": "u1", "cpu_util_series": [0.1, 0.2]}]}
    path.write_text(json.dumps(data))
    trace, raw = read_scenario_series(path)
    assert trace.names == ("u1",) and trace.step_s == 60 and raw["step_s"] == 60
    data["instances"][0]["cpu_util_series"] = [0.1, 2]
    path.write_text(json.dumps(data))
    with pytest.raises(TraceError, match=r"instance 0 \(u1\): 'cpu_util_series' must hold numbers in 0..1"):
        read_scenario_series(path)
    path.write_text('{"instances": [\n  oops]}')
    with pytest.raises(TraceError, match=r"s.json: not valid JSON \(line 2"):
        read_scenario_series(path)


def test_csv_with_sizes(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("time,instance,cpu_util,mips,ram_mb\n0,a,0.5,1000,512\n300,a,0.25,1000,512\n")
    trace = read_csv(path)
    assert trace.vm_mips.tolist() == [1000.0] and trace.vm_ram_mb.tolist() == [512.0]
    path.write_text("time,instance,cpu_util,mips,ram_mb\n0,a,0.5,1000,512\n300,a,0.25,2000,512\n")
    with pytest.raises(TraceError, match=r"line 3: instance 'a' changes size"):
        read_csv(path)
