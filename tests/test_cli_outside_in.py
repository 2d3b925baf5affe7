"""What an operator gets wrong, tried from outside: each case runs ``geyser`` as typed and
checks the one line it answers (exit 2, what is wrong, where, the fix, what was done instead),
or, for a plan that does nothing, the note saying why.

Found by going through README.md as a newcomer (the cases `test_bad_inputs` did not hold).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.signal_servers import serve
from tests.test_bad_inputs import geyser

ROOT = Path(__file__).resolve().parents[1]
CLOUD = ROOT / "examples" / "cloud.json"


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def scenario(tmp_path: Path, change) -> Path:
    data = json.loads(CLOUD.read_text())
    change(data)
    path = tmp_path / "cloud.json"
    path.write_text(json.dumps(data))
    return path


def plan_json(argv: list[str], capsys) -> dict:
    code, out, _ = geyser(["plan", *argv, "--time-limit", "2", "--json"], capsys)
    assert code == 0
    return json.loads(out)


# --- geyser plan ---------------------------------------------------------------------------

def test_a_truncated_scenario_says_nothing_was_planned(tmp_path, capsys) -> None:
    path = tmp_path / "cut.json"
    path.write_text(CLOUD.read_text()[:300])
    code, out, err = geyser(["plan", str(path)], capsys)
    line = one_line(err)
    assert code == 2 and out == ""
    assert str(path) in line and "not valid JSON (line" in line and line.endswith("nothing was planned")


def test_every_host_disabled_is_no_actions_and_says_why(tmp_path, capsys) -> None:
    path = scenario(tmp_path, lambda d: [h.update(state="disabled") for h in d["hosts"]])
    answer = plan_json([str(path)], capsys)
    assert answer["waves"] == []
    assert any(m.startswith("no actions: no host may receive an instance (all 8 are disabled)")
               for m in answer["messages"]), answer["messages"]


def test_every_instance_locked_is_no_actions_and_says_why(tmp_path, capsys) -> None:
    path = scenario(tmp_path, lambda d: [i.update(locked=True) for i in d["instances"]])
    answer = plan_json([str(path)], capsys)
    assert answer["waves"] == []
    assert any(m.startswith("no actions: none of the 40 instance(s) may move") for m in answer["messages"])


def test_no_migrations_allowed_is_no_actions_and_says_why(capsys) -> None:
    answer = plan_json([str(CLOUD), "--max-migrations", "0"], capsys)
    assert answer["waves"] == [] and "no actions: --max-migrations is 0" in answer["messages"]


def test_a_covering_supply_is_no_actions_and_says_why(capsys) -> None:
    answer = plan_json([str(CLOUD), "--signal", "constant:5000W"], capsys)
    assert answer["waves"] == []
    assert any(m.startswith("no actions: the supply (5,000 W) covers what the fleet draws (1,579 W)")
               for m in answer["messages"]), answer["messages"]


def test_an_already_best_placement_is_no_actions_with_the_limits(tmp_path, capsys) -> None:
    host = {"vcpus": 16, "memory_mb": 65536, "disk_gb": 500, "power": {"idle_w": 100, "max_w": 300}}
    path = tmp_path / "two.json"
    path.write_text(json.dumps({
        "hosts": [{"name": "a", **host}, {"name": "b", **host}],
        "instances": [{"uuid": "v1", "host": "a", "vcpus": 2, "memory_mb": 4096, "disk_gb": 20, "cpu_util": 0.5}],
    }))
    answer = plan_json([str(path), "--ceiling", "0.9"], capsys)
    assert [w[0]["kind"] for w in answer["waves"]] == ["disable"]  # b is released, nothing moves
    path.write_text(path.read_text().replace('"name": "b", ', '"name": "b", "state": "disabled", '))
    answer = plan_json([str(path), "--ceiling", "0.9"], capsys)
    assert answer["waves"] == []
    assert any(m.startswith("no actions: the solver's answer is the current placement (")
               and m.endswith("under these limits (ceiling 0.9, CPU ceiling 0.75) it found no better one")
               for m in answer["messages"]), answer["messages"]


def test_an_unsatisfiable_ceiling_is_no_actions_naming_the_fix(capsys) -> None:
    answer = plan_json([str(CLOUD), "--ceiling", "0.1"], capsys)
    assert answer["waves"] == [] and len(answer["unrelieved_hosts"]) == 8
    assert ("no actions: 8 host(s) stay above their limits and relief found no move for them under ceiling 0.1, "
            "CPU ceiling 0.75 (NOT RELIEVED says why, and the fix, for each)") in answer["messages"]
    assert all(reason.endswith("raise the ceilings, or add hosts") for reason in answer["unrelieved_hosts"].values())


def test_flags_the_signal_replaces_are_named(capsys) -> None:
    answer = plan_json([str(CLOUD), "--signal", "constant:5000W", "--power-budget", "100", "--cpu-ceiling", "0.9"],
                       capsys)
    assert ("--signal replaced --power-budget 100 W by the signal's budget (5,000 W) and --cpu-ceiling 0.9 by the "
            "signal's ceiling (0.5); leave --signal out to plan with yours") in answer["messages"]
    answer = plan_json([str(CLOUD), "--signal", "constant:5000W"], capsys)
    assert not any("--signal replaced" in m for m in answer["messages"])


def test_a_plan_with_actions_has_no_no_actions_note(capsys) -> None:
    answer = plan_json([str(CLOUD)], capsys)
    assert answer["waves"] and not any(m.startswith("no actions") for m in answer["messages"])


def test_a_terminal_is_told_what_runs_while_it_waits(capsys, monkeypatch) -> None:
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    code, _, err = geyser(["plan", str(CLOUD), "--time-limit", "1"], capsys)
    assert code == 0 and "geyser plan: solving 40 instance(s) on 8 host(s), up to 1 s (--time-limit) .." in err
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert "solving" not in geyser(["plan", str(CLOUD), "--time-limit", "1"], capsys)[2]  # a log stays clean


def test_a_scenario_on_stdin_is_read_with_a_dash() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "watcher_geyser.cli", "plan", "-", "--time-limit", "1", "--json"],
                          input=CLOUD.read_text(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["instances"] == 40


def test_the_table_says_each_thing_once_and_shows_no_empty_plan(capsys) -> None:
    code, out, _ = geyser(["plan", str(CLOUD), "--time-limit", "2", "--max-rows", "3"], capsys)
    assert code == 0 and "wave  action" in out
    assert len(re.findall(r"migration\(s\) in \d+ wave\(s\)", out)) == 1, out  # a note, not again after the table
    code, out, _ = geyser(["plan", str(CLOUD), "--time-limit", "2", "--max-migrations", "0"], capsys)
    assert code == 0 and "note: no actions: --max-migrations is 0" in out
    assert "wave  action" not in out, out  # no header over zero rows: the note said why


def test_instances_without_metrics_are_named_with_what_was_assumed(tmp_path, capsys) -> None:
    def strip(d):
        for i in d["instances"][:5]:
            del i["cpu_util"]
        d.pop("default_cpu_util", None)

    path = scenario(tmp_path, strip)
    notes = [m for m in plan_json([str(path)], capsys)["messages"] if "have no cpu_util" in m]
    assert len(notes) == 1 and notes[0].startswith("5 of 40 instance(s) have no cpu_util")
    assert "default_cpu_util 1 " in notes[0] and "--cpu-util-file" in notes[0]
    # CPU use ignored (--cpu-ceiling none): nothing was assumed, nothing to say
    answer = plan_json([str(path), "--cpu-ceiling", "none"], capsys)
    assert not any("have no cpu_util" in m for m in answer["messages"])


def test_measured_instances_get_no_metrics_note(capsys) -> None:
    assert not any("have no cpu_util" in m for m in plan_json([str(CLOUD)], capsys)["messages"])


# --- geyser simulate ---------------------------------------------------------------------------

@pytest.mark.parametrize("argv, text", [
    (["--start", "yesterday"], "--start: 'yesterday' is not a time"),  # refused without a signal too
    (["--trace", "no/such/day"], "--trace no/such/day: no such file or folder"),
    (["--scenario", "no/such.json"], "--scenario no/such.json: no such file or folder"),
    (["--policy", "geyser:ceil=0.5"], "unknown key 'ceil'"),
    (["--policy", "geyser:ceilng=0.5"], "unknown key 'ceilng'; did you mean 'ceiling'? valid keys: ceiling"),
    (["--policy", "gyser"], "unknown policy 'gyser' in 'gyser'; did you mean 'geyser'? choose one of"),
    (["--scenario", str(CLOUD)], f"--scenario {CLOUD} without --trace: the bundled PlanetLab sample was read"),
    (["--datacenter", "planetlab-small", "--scenario", str(CLOUD)], "both give the hosts; give one of them"),
    (["--trace", str(CLOUD)], "pass it as --scenario, with a CSV or PlanetLab --trace"),
])
def test_a_bad_simulate_input_is_refused_before_the_replay(argv, text, capsys) -> None:
    policy = [] if "--policy" in argv else ["--policy", "npa"]
    code, out, err = geyser(["simulate", "--quiet", *policy, *argv], capsys)
    line = one_line(err)
    assert code == 2 and out == ""
    assert text in line and line.endswith("nothing was replayed"), line


def test_deferrable_vms_without_a_signal_are_said_to_have_waited_for_nothing(capsys) -> None:
    argv = ["simulate", "--quiet", "--policy", "npa", "--limit", "5", "--deferrable", "0.3"]
    code, out, err = geyser(argv, capsys)
    assert code == 0 and "npa" in out
    assert ("note: --deferrable 0.3 without --signal: no VM waited (they wait only while energy is scarce, and "
            "there was no supply to follow); give --signal or --signal-w") in err
    assert "--deferrable" not in geyser([*argv, "--signal-w", "500"], capsys)[2]


def test_a_small_trace_on_cloudsims_800_hosts_gets_a_note(capsys) -> None:
    trace = str(ROOT / "examples" / "util.csv")
    code, out, err = geyser(["simulate", "--quiet", "--policy", "npa", "--trace", trace], capsys)
    assert code == 0 and "data centre planetlab: 800 hosts" in out
    assert ("note: 40 VMs on the planetlab data centre's 800 hosts (CloudSim's set-up for a whole day of ~1,000 "
            "VMs), so idle hosts weigh on energy; --datacenter planetlab-small sizes the hosts to the trace") in err
    for chosen in (["--datacenter", "planetlab"], ["--scenario", str(CLOUD)]):  # asked for: no note
        code, _, err = geyser(["simulate", "--quiet", "--policy", "npa", "--trace", trace, *chosen], capsys)
        assert code == 0 and "note" not in err


def test_an_unreachable_signal_server_is_refused_with_the_fix(capsys) -> None:
    code, out, err = geyser(["simulate", "--quiet", "--policy", "npa", "--limit", "2",
                             "--signal", "http://127.0.0.1:9/"], capsys)
    line = one_line(err)
    assert code == 2 and out == "" and "cannot connect" in line
    assert "check that the server answers, or save the series to a file and give file:PATH" in line
    assert line.endswith("nothing was replayed"), line


def test_a_bad_file_in_a_planetlab_folder_is_named_with_the_fix(tmp_path, capsys) -> None:
    day = tmp_path / "day"
    day.mkdir()
    (day / "vm-a").write_text("10\n" * 288)
    (day / "vm-b").write_text("10\n" * 17)  # cut short
    code, _, err = geyser(["simulate", "--quiet", "--policy", "npa", "--trace", str(day)], capsys)
    line = one_line(err)
    assert code == 2 and "vm-b: expected 288 lines" in line and "found 17" in line
    assert "move it out of the day's folder" in line and line.endswith("nothing was replayed")


def test_a_trace_naming_instances_the_scenario_lacks_names_count_and_fix(tmp_path, capsys) -> None:
    path = scenario(tmp_path, lambda d: d.update(instances=d["instances"][:10]))
    trace = ROOT / "examples" / "util.csv"
    code, _, err = geyser(["simulate", "--quiet", "--policy", "npa", "--trace", str(trace), "--scenario", str(path)],
                          capsys)
    line = one_line(err)
    assert code == 2 and "the trace names 30 instance(s) the scenario does not hold" in line
    assert "and 25 more" in line and "drop their rows from the trace" in line and line.endswith("nothing was replayed")


# --- geyser sweep ---------------------------------------------------------------------------

@pytest.mark.parametrize("grid, text", [
    ('[grid]\npolicy = ["nope"]\n', "cell policy=nope: unknown policy 'nope'"),
    ('[grid]\npolicy = ["geyser:ceil=2"]\n', "unknown key 'ceil'"),
    ('[grid]\npolicy = ["npa"]\nsignal = ["constnt:5W"]\n', "unknown kind 'constnt'"),
    ('[fixed]\nstart = "yesterday"\n[grid]\npolicy = ["npa"]\n', "--start: 'yesterday' is not a time"),
    ('[fixed]\ntrace = "no-such-day"\n[grid]\npolicy = ["npa"]\n', "no-such-day: no such file or folder"),
    ('[grid]\npolcy = ["npa"]\n', "'polcy' is not a `geyser simulate` option; did you mean 'policy'?"),
    ('[fixed]\ndeterministic = "yes"\n[grid]\npolicy = ["npa"]\n',
     "'deterministic' is a switch: write deterministic = true or false, got 'yes'"),
])
def test_a_bad_grid_cell_fails_before_any_cell_runs(grid, text, tmp_path, capsys) -> None:
    path = tmp_path / "grid.toml"
    path.write_text(grid)
    out_dir = tmp_path / "out"
    for extra in (["--dry-run"], ["--sequential", "--quiet"]):
        code, out, err = geyser(["sweep", str(path), "--out", str(out_dir), *extra], capsys)
        line = one_line(err)
        assert code == 2 and out == ""
        assert str(path) in line and text in line and line.endswith("no cell was run"), line
    assert not out_dir.exists()


# --- geyser signal ---------------------------------------------------------------------------

def test_no_source_names_the_fix(capsys) -> None:
    code, _, err = geyser(["signal"], capsys)
    line = one_line(err)
    assert code == 2 and "no SOURCE given" in line and "geyser signal constant:5000W" in line


def test_a_missing_config_file_names_the_fix(tmp_path, capsys) -> None:
    code, _, err = geyser(["signal", "constant:0.5?unit=fraction", "--config-file", str(tmp_path / "no.conf")],
                          capsys)
    line = one_line(err)
    assert code == 2 and "no.conf" in line and "leave --config-file out" in line


def test_a_bad_value_in_the_config_file_names_the_option_and_the_fix(tmp_path, capsys) -> None:
    conf = tmp_path / "watcher.conf"
    conf.write_text("[geyser_signal]\nsource = constant:5000W\nmin_dwell_s = abc\n")
    code, out, err = geyser(["signal", "--config-file", str(conf), "--fleet-peak-w", "10000"], capsys)
    line = one_line(err)
    assert code == 2 and out == "" and "LocationInfo" not in line
    assert f"config file {conf}: Value for option min_dwell_s is not valid: invalid literal" in line
    assert line.endswith("fix it in [geyser_signal] (every option is documented in "
                         "etc/watcher-geyser/watcher-geyser.conf.sample)"), line


def test_a_misspelt_config_option_is_named_not_silently_left_at_its_default(tmp_path, capsys) -> None:
    conf = tmp_path / "watcher.conf"
    conf.write_text("[DEFAULT]\ndebug = true\n[geyser_signal]\nsource = constant:5000W\nmin_dwel_s = 60\n"
                    "something_else = 1\n")
    code, out, err = geyser(["signal", "--config-file", str(conf), "--fleet-peak-w", "10000"], capsys)
    assert code == 0 and "5000 W" in out
    assert err.splitlines() == [f"geyser signal: note: config file {conf}: [geyser_signal] unknown option "
                                "'min_dwel_s' ignored; did you mean 'min_dwell_s'?"]


def test_a_404_page_is_told_in_words_not_markup(capsys) -> None:
    page = b"<!DOCTYPE HTML>\n<html><head><title>Error response</title></head><body><h1>Not here</h1></body></html>"
    routes = {"/gone.json": (404, {"Content-Type": "text/html"}, page)}
    with serve(routes) as (url, _):
        code, out, _ = geyser(["signal", f"{url}/gone.json", "--fleet-peak-w", "1000", "--json"], capsys)
    reason = json.loads(out)["reason"]
    assert code == 1  # a fallback, as documented
    assert "HTTP 404" in reason and "Not here" in reason and "check the URL" in reason
    assert "<" not in reason and "DOCTYPE" not in reason


def test_a_mistyped_time_is_quoted_back(capsys) -> None:
    """The operator typed it, so it is shown (a time read from a file is only described: it may be a secret)."""
    code, out, err = geyser(["signal", "constant:5000W", "--fleet-peak-w", "1000", "--at", "yesterday"], capsys)
    line = one_line(err)
    assert code == 2 and out == "" and "--at: 'yesterday' is not a time" in line and "2026-11-26T03:10:00Z" in line


def test_a_failed_source_is_not_called_plentiful(capsys) -> None:
    code, out, _ = geyser(["signal", "http://127.0.0.1:9/", "--fleet-peak-w", "1000"], capsys)
    assert code == 1  # a fallback, as documented
    scarcity = next(line for line in out.splitlines() if line.startswith("scarcity"))
    assert "unknown (no reading): the safe default, relax and switch no host off" in scarcity
    assert "plentiful" not in scarcity


# --- geyser snapshot ---------------------------------------------------------------------------

def test_an_unreachable_nova_is_one_line_with_the_fix(tmp_path) -> None:
    pytest.importorskip("openstack")
    import os
    import subprocess
    import sys

    (tmp_path / "clouds.yaml").write_text(
        "clouds:\n  dead:\n    auth_type: admin_token\n    auth: {token: x, endpoint: 'http://127.0.0.1:9/v2.1'}\n"
        "    compute_endpoint_override: 'http://127.0.0.1:9/v2.1'\n"
        "    placement_endpoint_override: 'http://127.0.0.1:9'\n")
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(tmp_path / "clouds.yaml")}
    done = subprocess.run([sys.executable, "-m", "watcher_geyser.cli", "snapshot", "--os-cloud", "dead", "-q",
                           "-o", str(tmp_path / "out.json")], env=env, capture_output=True, text=True, timeout=120)
    line = one_line(done.stderr)
    assert done.returncode == 1 and not (tmp_path / "out.json").exists()
    assert "could not read compute services (Nova os-services): endpoint unreachable (" in line
    assert "compute_endpoint_override" in line and line.endswith("nothing written"), line


# --- geyser audit ---------------------------------------------------------------------------

def test_a_continuous_audit_every_0_seconds_is_refused_before_any_call(capsys) -> None:
    code, _, err = geyser(["audit", "--os-cloud", "nowhere", "--audit-type", "CONTINUOUS", "--interval", "0"],
                          capsys)
    line = one_line(err)
    assert code == 2 and "--interval 0" in line and "above 0" in line


def test_an_unreachable_watcher_is_one_line_with_the_fix() -> None:
    pytest.importorskip("watcherclient")
    from keystoneauth1 import session

    from watcher_geyser.audit.client import WatcherError, _api

    with pytest.raises(WatcherError) as caught:  # a real refused connection, as watcherclient's last retry sees it
        _api("read Watcher's API versions", lambda: session.Session().get("http://127.0.0.1:9/"))
    text = str(caught.value)
    assert "\n" not in text and "HTTPConnectionPool" not in text
    assert "cannot reach Watcher's API (Unable to establish connection to http://127.0.0.1:9/" in text
    assert "infra_optim_endpoint_override" in text and text.endswith("nothing was changed")


@pytest.mark.parametrize("address, text", [
    ("http://10.0.0.5:8786", "unknown address scheme 'http'"),
    ("tcp://", "it names no host and port"),
])
def test_a_malformed_scheduler_address_is_refused_before_any_cell(address, text, tmp_path, capsys) -> None:
    pytest.importorskip("distributed")
    code, out, err = geyser(["sweep", str(ROOT / "examples" / "sweep.toml"), "--out", str(tmp_path / "out"),
                             "--scheduler", address, "--quiet"], capsys)
    line = one_line(err)
    assert code == 2 and out == "" and f"--scheduler {address}: {text}" in line  # was exit 3, an internal error
    assert "such as tcp://10.0.0.5:8786" in line and line.endswith("no cell was run")


def test_an_unreachable_scheduler_names_the_fix(tmp_path, capsys, monkeypatch) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setattr("watcher_geyser.sweep.runner.SCHEDULER_TIMEOUT_S", 1)  # the real refusal, sooner
    code, _, err = geyser(["sweep", str(ROOT / "examples" / "sweep.toml"), "--out", str(tmp_path / "out"),
                           "--scheduler", "tcp://127.0.0.1:9", "--quiet"], capsys)
    line = one_line(err)
    assert code == 2 and "tcp://127.0.0.1:9" in line
    assert "check that `dask scheduler` runs there and its port is open, or leave --scheduler out" in line


def test_a_sweep_ends_with_a_table_of_its_cells_named_by_what_varies(tmp_path) -> None:
    from watcher_geyser.sweep.grid import load_grid
    from watcher_geyser.sweep.results import glance

    path = tmp_path / "grid.toml"
    path.write_text('[fixed]\nfidelity = "cloudsim"\n[grid]\npolicy = ["npa", "thr-mmt", "lr-mmt"]\n')
    cells = load_grid(path)
    records = {cells[0].key: {"summary": {"energy_kwh": 12.345, "slatah": 0.0, "migrations": 0}},
               cells[1].key: {"error": "boom"}}
    lines = glance(cells, records, max_rows=2).splitlines()
    assert lines[0].split() == ["cell", "energy", "kWh", "above", "supply", "kWh", "SLATAH", "migrations"]
    assert lines[1].split() == ["policy=npa", "12.35", "-", "0.00000", "0"]  # fidelity is the same in every cell
    assert lines[2].split() == ["policy=thr-mmt", "error"]
    assert lines[3] == "... 1 more cell(s) in results.csv"


def test_an_unwritable_sweep_folder_is_refused_before_any_cell(tmp_path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, out, err = geyser(["sweep", str(ROOT / "examples" / "sweep.toml"), "--out", str(blocker / "out"),
                             "--sequential", "--quiet"], capsys)
    line = one_line(err)
    assert code == 2 and out == "" and "Errno" not in line
    assert f"--out {blocker / 'out'}: cannot write there (" in line and line.endswith("no cell was run")


def test_a_remote_cluster_grid_may_name_paths_only_its_workers_see(tmp_path) -> None:
    from watcher_geyser.sweep.grid import GridError, load_grid

    path = tmp_path / "grid.toml"
    path.write_text('[fixed]\ntrace = "/on/the/workers/day"\n[grid]\npolicy = ["npa"]\n')
    assert load_grid(path, check_paths=False)[0].params["trace"] == "/on/the/workers/day"
    with pytest.raises(GridError, match="no such file or folder"):
        load_grid(path)


# --- --help ---------------------------------------------------------------------------

def _helps() -> dict[str, str]:
    import argparse

    from watcher_geyser.cli import build_parser

    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"": parser.format_help(), **{name: sub.format_help() for name, sub in action.choices.items()}}


@pytest.mark.parametrize("name", sorted(_helps()))
def test_every_help_shows_examples_of_its_command(name: str) -> None:
    text = _helps()[name]
    assert re.search(r"^examples:$", text, re.IGNORECASE | re.MULTILINE), f"geyser {name} --help has no examples"
    assert re.search(rf"^\s+geyser {name}", text, re.MULTILINE)


@pytest.mark.parametrize("name", sorted(_helps()))
def test_no_option_shows_its_bare_variable_name(name: str) -> None:
    """A value's placeholder says what to give (W, N, FILE, DIR, TIME), never argparse's SIGNAL_W."""
    usage = _helps()[name].split("\n\n", 1)[0]
    assert not re.findall(r"--[\w-]+ [A-Z]+_[A-Z_]+\b", usage), usage


def test_version(capsys) -> None:
    from importlib.metadata import version

    code, out, _ = geyser(["--version"], capsys)
    assert code == 0 and out.strip() == f"geyser {version('watcher-geyser')}"


def test_every_option_with_a_default_says_it() -> None:
    """An option that takes a value when left out says which (--cpu-scale, --audit-type were silent)."""
    import argparse

    from watcher_geyser.cli import build_parser

    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    silent = [
        f"geyser {name} {option.option_strings[-1]}"
        for name, sub in action.choices.items()
        for option in sub._actions
        if option.option_strings and option.default not in (None, False, [], argparse.SUPPRESS)
        and option.help != argparse.SUPPRESS and "default" not in (option.help or "")
    ]
    assert silent == []


def test_a_misspelt_scenario_field_is_a_note_not_a_silent_loss(tmp_path, capsys) -> None:
    def misspell(d):
        for i in d["instances"]:
            i["cpu_utl"] = i.pop("cpu_util")
        d["hosts"][0]["reserved_memry_mb"] = 4096
        d["instances"][0]["flavour"] = "m1.small"  # unknown and like nothing known: ignored quietly (newer snapshots)

    path = scenario(tmp_path, misspell)
    code, _, err = geyser(["plan", str(path), "--time-limit", "1", "--json"], capsys)
    assert code == 0
    notes = [line for line in err.splitlines() if "unknown field" in line]
    assert notes == [
        "geyser plan: note: 1 host(s): unknown field 'reserved_memry_mb' ignored; did you mean 'reserved_memory_mb'? "
        "(docs/scenario.md)",
        "geyser plan: note: 40 instance(s): unknown field 'cpu_utl' ignored; did you mean 'cpu_util'? "
        "(docs/scenario.md)",
    ]


def test_a_misspelt_instance_state_is_a_note_not_a_silent_pin(tmp_path, capsys) -> None:
    def misspell(d):
        d["instances"][0]["state"] = "actve"
        d["instances"][1]["state"] = "actve"
        d["instances"][2]["state"] = "shelved_offloaded"  # a real Nova state: pinned quietly, as documented
        d["instances"][3]["state"] = "bogus"  # like no movable state: nothing to suggest

    path = scenario(tmp_path, misspell)
    code, _, err = geyser(["plan", str(path), "--time-limit", "1", "--json"], capsys)
    assert code == 0
    notes = [line for line in err.splitlines() if "state" in line]
    assert notes == ["geyser plan: note: 2 instance(s): state 'actve' is no Nova state, so they stay where they are; "
                     "did you mean 'active'? (docs/scenario.md)"]


def test_an_unwritable_state_file_says_what_is_lost_and_the_fix(tmp_path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, out, err = geyser(["signal", "constant:0.5?unit=fraction", "--fleet-peak-w", "100",
                             "--state-file", str(blocker / "state.json")], capsys)
    line = err.splitlines()[-1]  # after the note that it could not be read either (starting afresh)
    assert "Traceback" not in err
    assert code == 0 and "value" in out  # the decision is still shown
    assert f"cannot save policy state to {blocker / 'state.json'}" in line
    assert "the next starts without its memory" in line and "choose another state file" in line


# --- the bench scripts the README runs ---------------------------------------------------------

def _bench(name: str):
    import importlib
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "bench"))


def test_planetlab_bench_refuses_a_missing_traces_folder_before_it_runs(capsys) -> None:
    pytest.importorskip("tqdm")
    with pytest.raises(SystemExit) as exited:
        _bench("planetlab").main(["--traces", "/no/such/traces", "--policy", "npa"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "Traceback" not in err
    assert "no folder /no/such/traces/20110303: give --traces" in err


def test_solver_scale_bench_refuses_a_malformed_size(capsys) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    _bench("solver_scale").add_fleet_arguments(parser)
    assert parser.parse_args(["--sizes", "50x300"]).sizes == ["50x300"]
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["--sizes", "10y5"])
    assert exited.value.code == 2 and "'10y5' is not HOSTSxINSTANCES, such as 5000x30000" in capsys.readouterr().err


def test_follow_energy_refuses_zero_days(capsys) -> None:
    pytest.importorskip("tqdm")
    with pytest.raises(SystemExit) as exited:  # [:0] used to replay no day and print an empty summary
        _bench("follow_energy").main(["--days", "0"])
    assert exited.value.code == 2 and "--days: must be >= 1, got 0" in capsys.readouterr().err
