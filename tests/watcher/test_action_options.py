"""Our two waiting actions (``geyser_node_power``, ``geyser_instance_state``) wait as their oslo
options say, handed in by Watcher's own loader; a node that never comes on fails its action."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from watcher.common.metal_helper import constants as metal_constants

from tests.watcher.action_loader import load_action
from watcher_geyser.strategies import opts, power_action
from watcher_geyser.strategies.instance_state_action import GeyserInstanceState
from watcher_geyser.strategies.power_action import GeyserNodePower


@dataclass(frozen=True)
class Waiting:
    """One action that waits: its name, options group, class and the name of its timeout."""

    name: str
    group: str
    action: type
    timeout_key: str


NODE_POWER = Waiting(opts.NODE_POWER_ACTION, opts.NODE_POWER_GROUP, GeyserNodePower, "power_timeout_s")
INSTANCE_STATE = Waiting(opts.INSTANCE_STATE_ACTION, opts.INSTANCE_STATE_GROUP, GeyserInstanceState,
                         "unshelve_timeout_s")


@pytest.mark.parametrize(("waiting", "polls"), [
    (NODE_POWER, (61, 10.0)),  # ten minutes, 10 s apart: the last look at 600 s
    (INSTANCE_STATE, (61, 5.0)),  # 5 s apart, the last look at 300 s: a real cloud's pace
])
def test_the_defaults_are_a_real_clouds_pace(waiting, polls):
    action = load_action(waiting.name)
    assert isinstance(action, waiting.action)
    assert action.polls == polls
    assert waiting.action({}).polls == polls  # an action built without config keeps the defaults


@pytest.mark.parametrize(("waiting", "poll_s", "timeout_s", "polls"), [
    (NODE_POWER, 0.5, 1.2, (4, 0.5)),  # the last look at 1.5 s: never before the timeout
    (INSTANCE_STATE, 2, 9, (6, 2.0)),  # the last look at 10 s
])
def test_the_options_set_the_pace(tmp_path, waiting, poll_s, timeout_s, polls):
    config = f"[{waiting.group}]\npoll_interval_s = {poll_s}\n{waiting.timeout_key} = {timeout_s}\n"
    assert load_action(waiting.name, config, tmp_path).polls == polls


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
