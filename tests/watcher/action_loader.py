"""Load one of our Watcher actions as Watcher's applier does: its own loader, on a config of our own."""

from __future__ import annotations

from oslo_config import cfg
from watcher.applier.loading.default import DefaultActionLoader
from watcher.common.loader.default import DefaultLoader


def load_action(name: str, config_text: str = "", tmp_path=None):
    """The action ``name`` with its options read from ``config_text`` (a watcher.conf), as the
    applier hands them in (``[watcher_actions.<name>]``)."""
    conf = cfg.ConfigOpts()
    files = []
    if config_text:
        path = tmp_path / "watcher.conf"
        path.write_text(config_text)
        files = [str(path)]
    conf(args=[], default_config_files=files)
    loader = DefaultLoader(namespace=DefaultActionLoader().namespace, conf=conf)
    return loader.load(name)
