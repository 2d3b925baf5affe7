"""Tests of the Watcher plugin need python-watcher; skip them cleanly where it is absent.

Importing Watcher's functional test package first selects oslo.service's threading
backend, as Watcher's services do; anything that asks oslo.service for its backend
before that would pin the eventlet one and break the functional harness in the same run.
"""

import pytest

pytest.importorskip("watcher", reason="python-watcher is not installed (pip install -e '.[watcher]')")

import watcher.tests.functional  # noqa: E402, F401
