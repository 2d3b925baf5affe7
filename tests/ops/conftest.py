"""Operator tooling tests run against Watcher's emulated Nova/Placement and its real API.

Watcher is imported first, the one way every test folder needs (``tests/watcher_first.py``).
"""

import pytest

pytest.importorskip("watcher", reason="python-watcher is not installed (pip install -e '.[watcher]')")
pytest.importorskip("watcherclient", reason="python-watcherclient is not installed (pip install -e '.[watcher]')")

from tests import watcher_first  # noqa: E402

watcher_first.load()
