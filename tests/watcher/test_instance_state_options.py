"""``geyser_instance_state`` waits for an unshelve as its oslo options say, handed in by Watcher's own loader."""

from __future__ import annotations

from oslo_config import cfg
from watcher.applier.loading.default import DefaultActionLoader
from watcher.common.loader.default import DefaultLoader

from watcher_geyser.strategies import opts
from watcher_geyser.strategies.instance_state_action import GeyserInstanceState


def load(config_text: str = "", tmp_path=None) -> GeyserInstanceState:
    """Load the action as Watcher's applier does (its DefaultActionLoader, on a config of our own)."""
    conf = cfg.ConfigOpts()
    files = []
    if config_text:
        path = tmp_path / "watcher.conf"
        path.write_text(config_text)
        files = [str(path)]
    conf(args=[], default_config_files=files)
    loader = DefaultLoader(namespace=DefaultActionLoader().namespace, conf=conf)
    return loader.load(opts.INSTANCE_STATE_ACTION)


def test_the_defaults_are_a_real_clouds_pace():
    action = load()
    assert isinstance(action, GeyserInstanceState)
    assert action.polls == (61, 5.0)  # 5 s apart, the last look at 300 s


def test_the_options_set_the_pace(tmp_path):
    action = load(f"[{opts.INSTANCE_STATE_GROUP}]\npoll_interval_s = 2\nunshelve_timeout_s = 9\n", tmp_path)
    assert action.polls == (6, 2.0)  # the last look at 10 s: never before the timeout


def test_an_action_built_without_config_keeps_the_defaults():
    assert GeyserInstanceState({}).polls == (61, 5.0)
