"""``geyser plan --power-history``: the power-cycle budget applied offline, as the plugin applies it."""

from __future__ import annotations

import json

import pytest

from tests.builders import fleet, host, vm
from watcher_geyser.cli import main
from watcher_geyser.pipeline.history import read_power_history
from watcher_geyser.scenario import save_scenario

NOW = "2026-11-26T06:00:00Z"


@pytest.fixture
def scenario(tmp_path):
    # h0 carries 18 busy cores on 16; h1 and h2 are off and alike: relief switches one on
    hosts = [host("h0"), host("h1", state="off"), host("h2", state="off")]
    path = tmp_path / "s.json"
    save_scenario(fleet(hosts, [vm(name, "h0", cpu_util=1.0, vcpus=6) for name in "abc"]), path)
    return path


def plan_json(capsys, *argv) -> dict:
    assert main(["plan", *argv, "--json", "--time-limit", "2"]) == 0
    return json.loads(capsys.readouterr().out)


def write_history(tmp_path, offs: list[tuple[str, str]], now: str | None = NOW):
    path = tmp_path / "offs.json"
    body = {"switch_offs": [{"host": h, "at": at} for h, at in offs]}
    if now is not None:
        body["now"] = now
    path.write_text(json.dumps(body))
    return path


def test_a_host_out_of_switch_offs_is_not_switched_on_and_is_named(scenario, tmp_path, capsys):
    free = plan_json(capsys, str(scenario))
    assert free["powered_on_hosts"] == ["h1"]  # alike hosts: the first
    history = write_history(tmp_path, [("h1", "2026-11-25T08:00:00Z"), ("h1", "2026-11-26T01:30:00+00:00"),
                                       ("gone", "2026-11-26T02:00:00Z")])
    held = plan_json(capsys, str(scenario), "--power-history", str(history))
    assert held["powered_on_hosts"] == ["h2"] and held["unrelieved_hosts"] == {}
    notes = " | ".join(held["messages"])
    assert "held off, not switched on: h1 (2.0 h more)" in notes  # free when 08:00's is 24 h old
    assert ("2 switch-off(s) of the scenario's hosts in the 24 h before 2026-11-26T06:00:00Z (the power history's "
            "now), budget 2 per host") in notes
    assert "1 host(s) not in the scenario, ignored: gone" in notes
    raised = plan_json(capsys, str(scenario), "--power-history", str(history), "--max-power-cycles", "3")
    assert not any("held off" in m for m in raised["messages"])  # h1 has one left now
    assert raised["powered_on_hosts"] == ["h2"]  # but h2 has three: the wear spreads


def test_a_csv_history_reads_as_the_json_one(tmp_path):
    csv_path = tmp_path / "offs.csv"
    csv_path.write_text("host,at\nh1,2026-11-25T08:00:00Z\nh1,1795658400\nh2, 2026-11-26T01:00:00\n")
    history = read_power_history(csv_path)
    assert history.now_s is None and history.count == 3
    assert history.switch_offs["h1"] == [1795593600.0, 1795658400.0]
    assert history.switch_offs["h2"] == [1795654800.0]  # no offset: UTC, as Watcher stores times


@pytest.mark.parametrize(("content", "expected"), [
    ('{"switch_offs": [{"host": "h1", "at": "yesterday"}]}',
     "switch_offs[0]: 'at': text of 9 character(s) is not a time"),
    ('{"switch_offs": [{"host": "h1"}]}', "switch_offs[0]: 'at': missing or not a time"),
    ('{"switch_offs": [{"host": "", "at": 0}]}', "switch_offs[0]: 'host' must be a host name"),
    ('{"offs": []}', "no 'switch_offs' list"),
    ('{"switch_offs": [', "not valid JSON (line 1"),
    ('{"now": "2026-11-26T06:00:00Z", "switch_offs": [{"host": "h1", "at": "2026-11-26T07:00:00Z"}]}',
     "is after 'now'"),
    ("name,when\nh1,2026-11-26T01:00:00Z\n", "needs a 'host,at' header row"),
    ("host,at\nh1,\n", "line 2: 'at': missing or not a time"),
])
def test_a_malformed_history_exits_2_in_one_line_and_plans_nothing(scenario, tmp_path, capsys, content, expected):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    assert main(["plan", str(scenario), "--power-history", str(path), "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"geyser plan: --power-history {path}: ") and expected in err
    assert "nothing was planned" in err


def test_a_missing_history_file_names_the_fix(scenario, tmp_path, capsys):
    assert main(["plan", str(scenario), "--power-history", str(tmp_path / "none.json")]) == 2
    err = capsys.readouterr().err
    assert "none.json: cannot read power history: No such file or directory; give a readable file" in err
    assert "switch_offs" in err and err.count("\n") == 1 and "Error" not in err  # words, not Python's class names


def test_a_written_history_reads_back_the_same(tmp_path):
    from watcher_geyser.pipeline.history import PowerHistory, write_power_history

    history = PowerHistory({"h1": [1795593600.0, 1795658400.0], "h2": [1795654800.0]}, 1795665600.0)
    write_power_history(tmp_path / "h.json", history)
    assert read_power_history(tmp_path / "h.json") == history
