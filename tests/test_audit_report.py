"""The action-plan view (``audit.report``): waves from parents, migrations, released hosts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from watcher_geyser.audit import format_report, plan_report

AUDIT = {"uuid": "a-1", "state": "SUCCEEDED"}
PLAN = {"uuid": "p-1", "state": "RECOMMENDED",
        "efficacy_indicators": [{"name": "released_compute_nodes_count", "description": "Number of released nodes",
                                 "unit": None, "value": 1}],
        "global_efficacy": [{"name": "released_nodes_ratio", "description": "Ratio of released nodes",
                             "unit": "%", "value": 33.333}]}


def action(uuid, kind, parents=(), **params):
    return {"uuid": uuid, "action_type": kind, "state": "PENDING", "parents": list(parents), "input_parameters": params}


def test_consolidation_plan_reads_as_waves():
    actions = [
        action("m2", "migrate", ["d"], resource_id="v2", resource_name="web-2", source_node="c1",
               destination_node="c3", migration_type="live"),
        action("d", "change_nova_service_state", [], resource_name="c1", state="disabled"),
        action("m1", "migrate", ["d"], resource_id="v1", source_node="c1", destination_node="c2",
               migration_type="cold"),
        action("off", "geyser_node_power", ["m1", "m2"], resource_name="c1", state="off"),
        action("on", "geyser_node_power", [], resource_name="c9", state="on"),
    ]
    report = plan_report(AUDIT, PLAN, actions)
    assert report.waves == 3 and len(report.migrations) == 2
    assert [(a.wave, a.uuid) for a in report.actions] == [(1, "d"), (1, "on"), (2, "m1"), (2, "m2"), (3, "off")]
    assert report.released_hosts == ["c1"]  # c9 is powered on, not released
    text = format_report(report)
    assert "actions      5 in 3 wave(s); 2 migration(s)" in text
    assert "released_nodes_ratio" in text and "33.33 %" in text
    assert "released_compute_nodes_count" + " " * 9 + "1" in text
    assert "web-2" in text and "v1" in text
    assert report.to_dict()["released_hosts"] == ["c1"]


def test_audit_without_plan():
    report = plan_report({"uuid": "a-2", "state": "FAILED"}, None, [])
    assert format_report(report) == "audit a-2: FAILED, no action plan"


@given(st.lists(st.lists(st.integers(0, 30), max_size=4), min_size=1, max_size=30))
def test_waves_follow_parents(parent_lists):
    # action i may only name earlier actions as parents (a plan is a DAG); others are ignored
    actions = [
        action(f"a{i}", "nop", [f"a{p}" for p in ps if p < i] + ["outside"]) for i, ps in enumerate(parent_lists)
    ]
    report = plan_report(AUDIT, PLAN, actions)
    wave = {a.uuid: a.wave for a in report.actions}
    for a in actions:
        inside = [p for p in a["parents"] if p in wave]
        assert wave[a["uuid"]] == 1 + max((wave[p] for p in inside), default=0)


def test_cycles_do_not_hang():
    report = plan_report(AUDIT, PLAN, [action("x", "nop", ["y"]), action("y", "nop", ["x"])])
    assert sorted(a.wave for a in report.actions) == [1, 2]
