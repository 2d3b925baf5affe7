"""The strategy never switches off an empty host whose power cycles of the day are spent.

Run offline through Watcher's own loader and ``execute()`` (``strategies.offline``), with a cloud
whose Watcher history holds two power-offs of the empty host today (it was switched on again
by hand since), and a bare-metal node per host so that power-off is possible at all.
"""

from __future__ import annotations

from tests.builders import fleet, host, vm
from watcher_geyser.strategies import model_builder, offline
from watcher_geyser.strategies.action_names import NODE_POWER_ACTION
from watcher_geyser.strategies.cloud import MetalInventory
from watcher_geyser.strategies.cycles import PowerAction


class HistoryCloud(offline.FleetCloud):
    """The fleet's cloud with a bare-metal node per host and Watcher's power-offs ``offs`` (host -> ages, s)."""

    def __init__(self, f, offs: dict[str, list[float]]):
        super().__init__(f)
        self._fleet, self._offs = f, offs

    def metal_inventory(self):
        return MetalInventory({h.name: f"node-{h.name}" for h in self._fleet.hosts},
                              model_builder.power_states(self._fleet))

    def power_actions(self, since_s, now_s, notes):
        return [PowerAction("change_node_power_state", "SUCCEEDED",
                            {"state": "off", "resource_id": f"node-{name}", "resource_name": name}, now_s - age)
                for name, ages in self._offs.items() for age in ages]


HOST_ACTIONS = (NODE_POWER_ACTION, "change_node_power_state", "change_nova_service_state")


def _audit(switched_off_today: dict[str, list[float]]) -> tuple[dict[str, list[str]], list[str]]:
    """'a' and 'b' hold one small instance each, 'spare' is on and empty: host -> its actions
    ("kind:state"), and the audit's notes."""
    f = fleet([host("a"), host("b"), host("spare")], [vm("v1", "a"), vm("v2", "b")])
    run = offline.run_strategy("geyser_energy", f, {"time_limit_s": 2.0, "power_off": True},
                               cloud=HistoryCloud(f, switched_off_today))
    out: dict[str, list[str]] = {}
    for a in run.solution.actions:
        p = a["input_parameters"]
        if a["action_type"] in HOST_ACTIONS:
            out.setdefault(p["resource_name"], []).append(f"{a['action_type']}:{p['state']}")
    return out, list(run.strategy.outcome["notes"])


def test_an_empty_host_switched_off_twice_today_is_left_on_and_enabled():
    free, _ = _audit({})
    assert f"{NODE_POWER_ACTION}:off" in free["spare"]  # no history: the empty host goes off
    held, notes = _audit({"spare": [7200.0, 3600.0]})  # two switch-offs in the last 24 h, budget 2
    assert "spare" not in held  # no power action, no disable: it stays on and takes what comes
    assert [name for name, acts in held.items() if f"{NODE_POWER_ACTION}:off" in acts] in (["a"], ["b"])
    assert "host spare stays on: no switch-off left in 24 h (budget 2)" in notes
