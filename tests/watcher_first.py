"""Import Watcher the way every test folder that runs it needs, before anything else of Watcher's.

Two things happen at import time and must happen here, once:

- ``watcher.tests.functional`` selects oslo.service's threading backend, as Watcher's
  services do; anything that asks oslo.service for its backend before that would pin the
  eventlet one and break the functional harness in the same run;
- three of Watcher's modules call ``warnings.simplefilter("once")`` (or ``"always"``) when
  imported, which puts a catch-all filter in front of pytest's ``filterwarnings`` (pyproject):
  every warning raised after it escaped them. So the modules whose import-time notices those
  filters name are imported first, while the filters hold, and Watcher's catch-all filters are
  imported inside ``catch_warnings`` so they are dropped again when it ends.
"""

from __future__ import annotations

import importlib
import warnings

# Import-time notices of oslo's and WebOb's, each matched by a filter in pyproject.toml.
NOISY_ON_IMPORT = ("oslo_utils.eventletutils", "webob.compat", "oslo_service.sslutils")
# Watcher modules that install a catch-all warnings filter when imported.
GLOBAL_FILTERS = (
    "watcher.common.clients",
    "watcher.decision_engine.datasources.prometheus",
    "watcher.decision_engine.strategy.strategies.noisy_neighbor",
)


def load() -> None:
    """Import Watcher's functional harness with the threading backend and pytest's filters intact."""
    importlib.import_module("watcher.tests.functional")
    for name in NOISY_ON_IMPORT:
        importlib.import_module(name)
    with warnings.catch_warnings():
        for name in GLOBAL_FILTERS:
            importlib.import_module(name)
