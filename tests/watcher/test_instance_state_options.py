"""``geyser_instance_state`` waits for an unshelve as its oslo options say, handed in by Watcher's own loader."""

from __future__ import annotations

from tests.watcher.action_loader import load_action
from watcher_geyser.strategies import opts
from watcher_geyser.strategies.instance_state_action import GeyserInstanceState


def load(config_text: str = "", tmp_path=None) -> GeyserInstanceState:
    return load_action(opts.INSTANCE_STATE_ACTION, config_text, tmp_path)


def test_the_defaults_are_a_real_clouds_pace():
    action = load()
    assert isinstance(action, GeyserInstanceState)
    assert action.polls == (61, 5.0)  # 5 s apart, the last look at 300 s


def test_the_options_set_the_pace(tmp_path):
    action = load(f"[{opts.INSTANCE_STATE_GROUP}]\npoll_interval_s = 2\nunshelve_timeout_s = 9\n", tmp_path)
    assert action.polls == (6, 2.0)  # the last look at 10 s: never before the timeout


def test_an_action_built_without_config_keeps_the_defaults():
    assert GeyserInstanceState({}).polls == (61, 5.0)
