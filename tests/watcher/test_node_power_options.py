"""``geyser_node_power`` waits for a node as its oslo options say, handed in by Watcher's own loader."""

from __future__ import annotations

from watcher.common.metal_helper import constants as metal_constants

from tests.watcher.action_loader import load_action
from watcher_geyser.strategies import opts, power_action
from watcher_geyser.strategies.power_action import GeyserNodePower


def load(config_text: str = "", tmp_path=None) -> GeyserNodePower:
    return load_action(opts.NODE_POWER_ACTION, config_text, tmp_path)


def test_the_defaults_are_ten_minutes_ten_seconds_apart():
    action = load()
    assert isinstance(action, GeyserNodePower)
    assert action.polls == (61, 10.0)  # 10 s apart, the last look at 600 s


def test_the_options_set_the_pace(tmp_path):
    action = load(f"[{opts.NODE_POWER_GROUP}]\npoll_interval_s = 0.5\npower_timeout_s = 1.2\n", tmp_path)
    assert action.polls == (4, 0.5)  # the last look at 1.5 s: never before the timeout


def test_an_action_built_without_config_keeps_the_defaults():
    assert GeyserNodePower({}).polls == (61, 10.0)


class _StuckNode:
    """A bare-metal node that takes the order and never changes state."""

    looks = 0

    def get_power_state(self):
        _StuckNode.looks += 1
        return metal_constants.PowerState.OFF

    def set_power_state(self, state):
        pass


class _Metal:
    def get_node(self, node_id):
        return _StuckNode()


def test_a_node_that_never_comes_on_fails_the_action_after_the_configured_looks(monkeypatch):
    monkeypatch.setattr(power_action.metal_helper_factory, "get_helper", lambda osc=None: _Metal())
    action = GeyserNodePower({"poll_interval_s": 0.1, "power_timeout_s": 0.3})  # as the loader hands them in
    action.input_parameters = {"resource_id": "node-1", "resource_name": "compute-1", "state": "on"}
    _StuckNode.looks = 0
    assert action.execute() is False
    assert _StuckNode.looks == 1 + 4  # the state before the order, then 4 looks 0.1 s apart
