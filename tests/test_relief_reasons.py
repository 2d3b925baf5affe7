"""Why relief left a host hot: the reason matches what the request allowed and which rule kept each
host with room out, and the host is named once (one message; `geyser plan` one line)."""

import json

import pytest

from tests.builders import fleet, host, vm
from watcher_geyser.cli import main
from watcher_geyser.scenario import save_scenario
from watcher_geyser.solver import Problem, solve
from watcher_geyser.solver.relief import POWER_ON_FORBIDDEN, unrelieved_message

GROUPS = [f"g{i}" for i in range(6)]


def _fleet(third: str):
    """'hot' runs 24 busy cores on 16 and 'busy' is full; the third host is what varies."""
    grouped = third == "grouped"
    instances = [vm(f"v{i}", "hot", vcpus=4, cpu_util=1.0, server_group=GROUPS[i] if grouped else None)
                 for i in range(6)]
    instances += [vm(f"b{i}", "busy", vcpus=4, cpu_util=1.0) for i in range(4)]
    hosts = [host("hot"), host("busy")]
    if third == "off":
        hosts.append(host("spare", state="off"))
    elif third == "small off":
        hosts.append(host("spare", vcpus=2, state="off"))
    elif third == "disabled":
        hosts.append(host("spare", state="disabled"))
    elif third == "grouped":  # on and empty enough, but it holds a member of every hot instance's group
        hosts.append(host("spare"))
        instances += [vm(f"s{i}", "spare", vcpus=1, memory_mb=256, cpu_util=0.01, server_group=g)
                      for i, g in enumerate(GROUPS)]
    groups = dict.fromkeys(GROUPS, "anti-affinity") if grouped else None
    return fleet(hosts, instances, groups)


# (third host, power-on allowed) -> what the reason must say (None: relieved)
CASES = {
    ("off", True): None,
    ("off", False): ["spare off", POWER_ON_FORBIDDEN],
    ("small off", True): ["even on the 1 host(s) switched on"],
    ("small off", False): ["not even on the 1 host(s) off there"],
    ("none", True): ["none is off to switch on"],
    ("none", False): ["and none is off: raise"],
    ("disabled", True): ["spare disabled"],
    ("disabled", False): ["spare disabled"],
    ("grouped", True): ["spare holding members of its hard anti-affinity group(s) g0, g1"],
    ("grouped", False): ["spare holding members of its hard anti-affinity group(s) g0, g1"],
}


@pytest.mark.parametrize(("third", "allow_power_on"), sorted(CASES))
def test_the_reason_says_what_kept_each_host_with_room_out(third, allow_power_on):
    target = solve(Problem(_fleet(third), allow_power_on=allow_power_on, time_limit_s=2), method="greedy")
    said = CASES[third, allow_power_on]
    if said is None:
        assert target.unrelieved == {}
        return
    reason = target.unrelieved["hot"]
    assert "cpu_cores 24 over 16; no room" in reason
    for words in said:
        assert words in reason
    assert (POWER_ON_FORBIDDEN in reason) == (third == "off" and not allow_power_on)
    assert allow_power_on or not any(w in reason for w in ("switched on", "to switch on"))  # nothing might be
    assert [m for m in target.messages if "hot" in m] == [unrelieved_message("hot", reason)]


@pytest.mark.parametrize(("third", "flags"), [("off", ["--no-power-on"]), ("none", []), ("grouped", [])])
def test_geyser_plan_names_an_unrelieved_host_once(tmp_path, capsys, third, flags):
    path = tmp_path / "hot.json"
    save_scenario(_fleet(third), path)
    assert main(["plan", str(path), "--time-limit", "2", "--method", "greedy", *flags]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if " hot" in line]
    assert len(lines) == 1 and lines[0].startswith("NOT RELIEVED hot: ") and "; no room" in lines[0], lines
    assert ("--no-power-on was given" in lines[0]) == bool(flags)
    assert POWER_ON_FORBIDDEN not in lines[0]  # the flag is named, not the request's field


def test_geyser_plan_names_its_migration_cap_flag(tmp_path, capsys):
    """A host left hot by the migration cap: `geyser plan` names --max-migrations and its value,
    not the request's field, so the operator knows what to raise."""
    path = tmp_path / "hot.json"
    save_scenario(_fleet("off"), path)
    assert main(["plan", str(path), "--time-limit", "2", "--method", "greedy", "--max-migrations", "1"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("NOT RELIEVED hot")]
    assert len(lines) == 1 and "(--max-migrations 1) is used up: raise it" in lines[0], lines
    assert "max_migrations=" not in out


@pytest.mark.parametrize(("third", "flags"), [("off", ["--no-power-on"]), ("none", []), ("grouped", [])])
def test_geyser_plan_json_names_an_unrelieved_host_once(tmp_path, capsys, third, flags):
    """`--json` keeps the host in `unrelieved_hosts` (host -> reason, the documented key) and does not
    repeat it as a message: one fact, said once."""
    path = tmp_path / "hot.json"
    save_scenario(_fleet(third), path)
    assert main(["plan", str(path), "--time-limit", "2", "--method", "greedy", "--json", *flags]) == 0
    answer = json.loads(capsys.readouterr().out)
    reason = answer["unrelieved_hosts"]["hot"]
    assert "; no room" in reason and ("--no-power-on was given" in reason) == bool(flags)
    assert [m for m in answer["messages"] if "host hot " in m or reason in m] == [], answer["messages"]
