"""``geyser plan --now``: one clock for the signal's decision, the power-cycle budget and the
scenario's ``moved_at`` ages; and the note when ``--swap-payback`` reaches back before the moves a
snapshot read (its ``moved_within_s``)."""

from __future__ import annotations

import json

import pytest

from tests.builders import HEAVY, LIGHT, fleet, host, swap_pair_fleet, vm
from watcher_geyser.cli import main
from watcher_geyser.scenario import fleet_to_dict, save_scenario
from watcher_geyser.settled import iso_utc, nova_time_s

T0 = nova_time_s("2026-11-27T06:00:00")
MORNING, EVENING = "2026-06-21T06:00:00Z", "2026-06-21T18:00:00Z"


def plan(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code = main(["plan", *argv, "--json", "--time-limit", "2"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


@pytest.fixture
def four_hosts(tmp_path):
    hosts = [host(f"h{i}", idle_w=100, max_w=200) for i in range(4)]  # fleet peak 800 W
    path = tmp_path / "s.json"
    save_scenario(fleet(hosts, [vm(f"v{i}", f"h{i % 4}", vcpus=1, memory_mb=1024) for i in range(8)]), path)
    return path


@pytest.fixture
def series(tmp_path):
    """Watts scarce all morning and plentiful all evening (the policy reads the coming hour)."""
    path = tmp_path / "site.csv"
    rows = [f"2026-06-21T{h:02d}:00:00Z,{250 if h < 12 else 5000}" for h in range(24)]
    path.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    return f"file:{path}?unit=W"


def test_the_signal_decides_at_now_so_two_times_give_two_decisions(four_hosts, series, capsys):
    _, morning, _ = plan(capsys, str(four_hosts), "--signal", series, "--now", MORNING)
    _, evening, _ = plan(capsys, str(four_hosts), "--signal", series, "--now", EVENING)
    assert morning["signal"]["at"] == MORNING and evening["signal"]["at"] == EVENING
    assert morning["signal"]["power_budget_w"] == 250 and morning["power_budget_w"] == 250
    assert evening["signal"]["power_budget_w"] == 5000
    assert morning["signal"]["level"] != evening["signal"]["level"]


def test_now_takes_precedence_over_the_power_history_s_now(four_hosts, tmp_path, series, capsys):
    history = tmp_path / "offs.json"
    history.write_text(json.dumps({"now": EVENING, "switch_offs": [{"host": "h1", "at": "2026-06-21T05:00:00Z"}]}))
    _, by_history, _ = plan(capsys, str(four_hosts), "--signal", series, "--power-history", str(history))
    assert by_history["signal"]["at"] == EVENING  # no --now: the history's now is the clock
    assert any(f"before {EVENING} (the power history's now)" in m for m in by_history["messages"])
    _, by_now, _ = plan(capsys, str(four_hosts), "--signal", series, "--power-history", str(history),
                        "--now", MORNING)
    assert by_now["signal"]["at"] == MORNING
    assert any("1 switch-off(s) of the scenario's hosts in the 24 h before 2026-06-21T06:00:00Z (--now)" in m
               for m in by_now["messages"])


def test_a_switch_off_after_now_is_refused_naming_the_host_and_the_fix(four_hosts, tmp_path, capsys):
    history = tmp_path / "offs.csv"
    history.write_text("host,at\nh2,2026-06-21T07:00:00Z\n")
    code, _, err = plan(capsys, str(four_hosts), "--power-history", str(history), "--now", MORNING)
    assert code == 2
    assert "h2's switch-off at 2026-06-21T07:00:00Z is after --now (2026-06-21T06:00:00Z)" in err
    assert "give a --now after the history's switch-offs" in err and "nothing was planned" in err


@pytest.mark.parametrize(("value", "message"), [
    ("yesterday", "--now: 'yesterday' is not a time"), ("2026-13-01T00:00Z", "--now: "), ("", "--now: missing"),
])
def test_a_bad_now_exits_2_naming_the_flag_and_the_form(four_hosts, capsys, value, message):
    code, _, err = plan(capsys, str(four_hosts), "--now", value)
    assert code == 2 and message in err and "nothing was planned" in err
    assert "ISO 8601" in err


@pytest.mark.parametrize(("hours", "swaps"), [(1, False), (7, True)])
def test_moved_at_ages_to_now(tmp_path, capsys, hours, swaps):
    """light moved 30 min before the snapshot; planned ``hours`` after the move by --now, it is held out of
    the swap (within the default 6 h payback) or free to swap (past it)."""
    data = fleet_to_dict(swap_pair_fleet(), taken_at_s=T0 + 1800)
    data["instances"][[i["uuid"] for i in data["instances"]].index(LIGHT)]["moved_at"] = iso_utc(T0)
    path = tmp_path / "pair.json"
    path.write_text(json.dumps(data))
    code, summary, _ = plan(capsys, str(path), "--method", "decompose", "--now", iso_utc(T0 + hours * 3600))
    assert code == 0
    moved = {uuid for uuid, at in summary["placement"].items()
             if at != {i["uuid"]: i["host"] for i in data["instances"]}[uuid]}
    assert moved == ({HEAVY, LIGHT} if swaps else set())


def test_a_snapshot_taken_after_now_is_refused_naming_the_clock(tmp_path, capsys):
    path = tmp_path / "later.json"
    path.write_text(json.dumps(fleet_to_dict(swap_pair_fleet(), taken_at_s=T0)))
    code, _, err = plan(capsys, str(path), "--now", iso_utc(T0 - 3600))
    assert code == 2 and "'taken_at' (2026-11-27T06:00:00Z) is after the plan's clock" in err
    assert "the plan's clock is --now, else the --power-history file's now, else the current time" in err


@pytest.mark.parametrize(("window_h", "later_h", "payback", "noted"), [
    (1, 0, None, True),       # 6 h default payback, 1 h read
    (24, 0, None, False),     # a day read covers 6 h
    (6, 0, "25200", True),    # 7 h back from the snapshot's time: its first hour is unknown
    (6, 1, "25200", False),   # 7 h back from an hour after it: the read covers it all
    (6, 0, "21600", False),   # exactly the window
    (1, 0, "0", False),       # no swaps: nothing to hold
    (24, 0, "172800", True),  # a two-day payback against a day's read
])
def test_a_payback_reaching_before_the_snapshot_s_window_is_noted(tmp_path, capsys, window_h, later_h, payback,
                                                                    noted):
    data = fleet_to_dict(swap_pair_fleet(), taken_at_s=T0, moved_within_s=window_h * 3600)
    assert data["moved_within_s"] == window_h * 3600
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    flags = ["--now", iso_utc(T0 + later_h * 3600)] + ([] if payback is None else ["--swap-payback", payback])
    code, summary, _ = plan(capsys, str(path), *flags)
    assert code == 0
    notes = [m for m in summary["messages"] if "its moved_within_s" in m]
    assert bool(notes) == noted
    if noted:
        known = iso_utc(T0 - window_h * 3600)
        assert f"only since {known}" in notes[0] and "a longer --moved-within" in notes[0]


def test_a_bad_moved_within_s_names_the_field(tmp_path, capsys):
    data = fleet_to_dict(swap_pair_fleet(), taken_at_s=T0) | {"moved_within_s": -1}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    code, _, err = plan(capsys, str(path), "--now", iso_utc(T0))
    assert code == 2 and "'moved_within_s'" in err
