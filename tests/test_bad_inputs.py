"""The bad-input corpus: every case ends in one clear line and exit 2, or its documented acceptance.

Scenarios, traces, flags and signal sources a careless operator or an attacker could hand
``geyser`` (issue 11). Each case runs the real command line (``cli.main``; a few as real
processes, for pipes and tracebacks) and asserts: the exit code, one line on stderr naming
the problem, no traceback. Signal servers that hang, drip, lie and redirect live in
``tests.signal_servers`` and are checked by ``test_signal_bounds``; here they go through
``geyser signal``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.signal_servers import drip, hang, serve
from watcher_geyser.cli import main
from watcher_geyser.inputs import write_atomically

HOST = {"name": "h1", "vcpus": 16, "memory_mb": 65536, "disk_gb": 500, "power": {"idle_w": 100, "max_w": 300}}
VM = {"uuid": "v1", "host": "h1", "vcpus": 2, "memory_mb": 4096, "disk_gb": 20}


def scenario(**changes) -> str:
    host, vm = dict(HOST), dict(VM)
    host.update(changes.pop("host", {}))
    vm.update(changes.pop("vm", {}))
    return json.dumps({"hosts": [host], "instances": [vm], **changes})


# name -> (bytes of the scenario file, text the one error line must hold)
SCENARIOS: dict[str, tuple[bytes, str]] = {
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not UTF-8 text (byte 0 is 0x89)"),
    "latin-1": (scenario().replace('"h1"', '"caf\xe9"', 1).encode("latin-1"), "not UTF-8 text"),
    "nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "5,000-digit integer": (scenario(host={"vcpus": 0}).replace('"vcpus": 0', '"vcpus": ' + "7" * 5000)
                            .encode(), "thousands of digits"),
    "1000-digit integer": (scenario(host={"vcpus": 10**999}).encode(), "'vcpus' is an integer of 1000 digits"),
    "instance vcpus 1e30": (scenario(vm={"vcpus": 1e30}).encode(), "'vcpus' must be at most 1,000,000"),
    "host memory 1e30": (scenario(host={"memory_mb": 1e30}).encode(), "'memory_mb' must be at most 1,000,000,000"),
    "power 1e308": (scenario(host={"power": {"idle_w": 100, "max_w": 1e308}}).encode(), "'max_w' must be at most"),
    "ratio 1e300": (scenario(host={"cpu_allocation_ratio": 1e300}).encode(), "'cpu_allocation_ratio' must be at most"),
    "NaN literal": (scenario().replace('"vcpus": 2', '"vcpus": NaN').encode(), "NaN, which is not a number"),
    "0 hosts": (json.dumps({"hosts": [], "instances": []}).encode(), "'hosts' is empty"),
    "hosts not a list": (json.dumps({"hosts": {"h1": 1}}).encode(), "'hosts' must be a list"),
}

# argv after "geyser plan SCENARIO" -> text of the error line
PLAN_FLAGS: dict[str, tuple[list[str], str]] = {
    "--watts-tolerance -1": (["--watts-tolerance", "-1"], "must be >= 0, got -1"),
    "--watts-tolerance nan": (["--watts-tolerance", "nan"], "must be a finite number"),
    "--bandwidth nan": (["--bandwidth", "nan"], "--bandwidth: must be a finite number"),
    "--bandwidth 0": (["--bandwidth", "0"], "--bandwidth: must be > 0"),
    "--migration-overhead -1": (["--migration-overhead", "-1"], "--migration-overhead: must be >= 0"),
    "--power-on-time -1": (["--power-on-time", "-1"], "--power-on-time: must be >= 0"),
    "--power-on-time nan": (["--power-on-time", "nan"], "--power-on-time: must be a finite number"),
    "--power-off-time 1e9": (["--power-off-time", "1e9"], "--power-off-time: must be at most 86,400"),
    "--seed 1e20": (["--seed", "1e20", "--method", "exact"], "--seed: must be a whole number"),
    "--seed 10**20": (["--seed", str(10**20), "--method", "exact"],
                      "--seed: is an integer of 21 digits, above 2,147,483,647"),
    "--power-budget nan": (["--power-budget", "nan"], "--power-budget: must be a finite number"),
    "--power-budget inf": (["--power-budget", "inf"], "--power-budget: must be a finite number"),
    "--max-migrations -1": (["--max-migrations", "-1"], "--max-migrations: must be >= 0"),
    "--ceiling 0": (["--ceiling", "0"], "--ceiling: must be > 0"),
    "--parallelism 1e9": (["--parallelism", "1e9"], "--parallelism: must be a whole number"),
}


def geyser(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run ``geyser ARGV`` in-process; (exit code, stdout, stderr)."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own exit
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_clear_line(code: int, err: str, text: str, expected_code: int = 2) -> None:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip() and "no scenario given" not in line]
    assert len(lines) == 1, err
    assert text in lines[0], lines[0]
    assert code == expected_code, (code, err)


@pytest.mark.parametrize("case", list(SCENARIOS), ids=list(SCENARIOS))
def test_a_bad_scenario_is_one_clear_line(case, tmp_path, capsys) -> None:
    data, text = SCENARIOS[case]
    path = tmp_path / "scenario.json"
    path.write_bytes(data)
    code, _, err = geyser(["plan", str(path)], capsys)
    assert_one_clear_line(code, err, text)
    assert str(path) in err


@pytest.mark.parametrize("case", list(PLAN_FLAGS), ids=list(PLAN_FLAGS))
def test_a_bad_plan_flag_is_one_clear_line(case, tmp_path, capsys) -> None:
    argv, text = PLAN_FLAGS[case]
    path = tmp_path / "scenario.json"
    path.write_text(scenario())
    code, out, err = geyser(["plan", str(path), *argv], capsys)
    assert_one_clear_line(code, err, text)
    assert out == ""


def _trace(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


HEADER = b"time,instance,cpu_util\n"
TRACES: dict[str, tuple[str, bytes, str]] = {
    "binary CSV": ("t.csv", b"\x00\x01\xff\xfe binary", "not UTF-8 text"),
    "latin-1 CSV": ("t.csv", HEADER + "0,caf\xe9,0.5\n".encode("latin-1"), "not UTF-8 text"),
    "percent and fraction mixed": ("t.csv", HEADER + b"0,a,45\n0,b,0.3\n300,a,50\n300,b,0.4\n",
                                   "mixes percentages (up to 50) and fractions (such as 0.3)"),
    "duplicate (time, instance)": ("t.csv", HEADER + b"0,a,0.5\n0,a,0.7\n300,a,0.4\n",
                                   "line 3: a second sample of instance 'a' at time 0 (the first is on line 2)"),
    "step_s abc": ("t.json", json.dumps({"step_s": "abc", "instances": [{"uuid": "a", "cpu_util_series": [0.5]}]})
                   .encode(), "'step_s' must be a number"),
    "step_s -5": ("t.json", json.dumps({"step_s": -5, "instances": [{"uuid": "a", "cpu_util_series": [0.5]}]})
                  .encode(), "'step_s' must be > 0"),
    "trace nested 100,000 deep": ("t.json", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
}


@pytest.mark.parametrize("case", list(TRACES), ids=list(TRACES))
def test_a_bad_trace_is_one_clear_line(case, tmp_path, capsys) -> None:
    name, data, text = TRACES[case]
    path = _trace(tmp_path, name, data)
    code, _, err = geyser(["simulate", "--trace", str(path), "--quiet", "--policy", "npa"], capsys)
    assert_one_clear_line(code, err, text)


def test_percentages_are_read_when_declared_and_when_unambiguous(tmp_path, capsys) -> None:
    from watcher_geyser.simulator.traces import read_csv

    declared = read_csv(_trace(tmp_path, "p.csv", b"time,instance,cpu_pct\n0,a,0.5\n300,a,50\n"))
    implied = read_csv(_trace(tmp_path, "q.csv", HEADER + b"0,a,5\n300,a,50\n"))
    assert declared.util.tolist() == [[0.005, 0.5]] and implied.util.tolist() == [[0.05, 0.5]]


@pytest.mark.parametrize("argv, text", [
    (["--limit", "-1"], "--limit: must be >= 1, got -1"),
    (["--limit", "0"], "--limit: must be >= 1, got 0"),
    (["--deferrable", "nan"], "--deferrable: must be a finite number"),
    (["--signal-w", "inf"], "--signal-w: must be a finite number"),
])
def test_a_bad_simulate_flag_is_one_clear_line(argv, text, capsys) -> None:
    code, _, err = geyser(["simulate", "--quiet", *argv], capsys)
    assert_one_clear_line(code, err, text)


def test_simulate_checks_its_output_folder_before_the_run(tmp_path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    started = time.monotonic()
    code, out, err = geyser(["simulate", "--quiet", "--out", str(blocker / "report")], capsys)
    assert_one_clear_line(code, err, "--out")
    assert "choose a folder you can write to" in err and out == ""
    assert time.monotonic() - started < 5  # refused before any replay


def test_snapshot_checks_its_output_before_reading_the_cloud(tmp_path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, _, err = geyser(["snapshot", "-o", str(blocker / "cloud.json"), "--quiet"], capsys)
    assert_one_clear_line(code, err, "choose a folder you can write to")


def test_outputs_are_written_atomically(tmp_path) -> None:
    path = tmp_path / "cloud.json"
    path.write_text("old")
    write_atomically(path, "new")
    assert path.read_text() == "new" and os.listdir(tmp_path) == ["cloud.json"]
    with pytest.raises(OSError):
        write_atomically(tmp_path / "missing-folder" / "x.json", "new")
    assert os.listdir(tmp_path) == ["cloud.json"]


@pytest.mark.parametrize("argv, text", [
    (["--fleet-peak-w", "inf"], "--fleet-peak-w: must be a finite number"),
    (["--fleet-peak-w", "nan"], "--fleet-peak-w: must be a finite number"),
    (["--fleet-peak-w", "1000", "--at", "1e300"], "--at: 1e+297 s is not a time between 1970 and 9999"),
    (["--fleet-peak-w", "1000", "--at", "yesterday"], "is not ISO 8601"),
])
def test_a_bad_signal_flag_is_one_clear_line(argv, text, capsys) -> None:
    code, _, err = geyser(["signal", "constant:5kW", *argv], capsys)
    assert_one_clear_line(code, err, text)


@pytest.mark.parametrize("spec, text", [
    ("http://127.0.0.1:99999/", "Port out of range"),
    ("prometheus:http://127.0.0.1:0?query=up", "port 0"),
    ("https:///nohost", "no host"),
])
def test_a_bad_signal_url_is_one_clear_line(spec, text, capsys) -> None:
    code, out, err = geyser(["signal", spec, "--fleet-peak-w", "1000"], capsys)
    assert_one_clear_line(code, err, text)


@pytest.mark.parametrize("spec, text", [
    ("file:/dev/zero?unit=W", "character device, not a regular file"),
    ("file:/nonexistent/site.csv?unit=W", "No such file"),
])
def test_an_unreadable_signal_is_a_fallback_with_its_reason(spec, text, capsys) -> None:
    # documented acceptance: exit 1, "a fallback was used", the reason in the output; no host switched off
    code, out, err = geyser(["signal", spec, "--fleet-peak-w", "1000", "--json"], capsys)
    decision = json.loads(out)
    assert code == 1 and "Traceback" not in err
    assert text in decision["reason"] and not decision["allow_power_off"]


@pytest.mark.parametrize("route", [drip(0.3), hang(30)], ids=["drip", "hang"])
def test_a_slow_signal_server_ends_geyser_signal_within_its_deadline(route, tmp_path, capsys) -> None:
    conf = tmp_path / "geyser.conf"
    conf.write_text("[geyser_signal]\nread_deadline_s = 1.5\nhttp_timeout_s = 1\nhttp_retries = 0\n")
    with serve({"/w": route}) as (url, _):
        started = time.monotonic()
        code, out, err = geyser(["signal", f"{url}/w#unit=W", "--fleet-peak-w", "1000", "--config-file",
                                 str(conf), "--json"], capsys)
    assert time.monotonic() - started <= 2.5
    decision = json.loads(out)
    assert code == 1 and decision["fallback"] == "safe_default" and not decision["allow_power_off"]


def test_a_lying_redirect_to_a_file_url_is_refused(capsys) -> None:
    with serve({"/r": (302, {"Location": "file:///etc/passwd"}, b"")}) as (url, _):
        code, out, err = geyser(["signal", f"{url}/r#unit=W", "--fleet-peak-w", "1000", "--json"], capsys)
    decision = json.loads(out)
    assert code == 1 and "InvalidSchema" in decision["reason"] and "root:" not in out


def _process(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "watcher_geyser.cli", *args], capture_output=True, text=True,
                          timeout=120, **kw)


def test_a_closed_pipe_ends_quietly() -> None:
    # documented acceptance: the reader went away (geyser ... | head): exit 141 as the shell's SIGPIPE, no output
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before geyser writes a byte
    try:
        done = subprocess.run([sys.executable, "-m", "watcher_geyser.cli", "signal", "constant:5000W",
                               "--fleet-peak-w", "10000"], stdout=write_end, stderr=subprocess.PIPE, text=True,
                              timeout=120)
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode == 141


def test_a_real_process_prints_no_traceback_on_a_bad_scenario(tmp_path) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    done = _process(["plan", str(path)])
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
