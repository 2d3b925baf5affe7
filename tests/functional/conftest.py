"""Tests of the Watcher plugin need python-watcher; skip them cleanly where it is absent.

Watcher is imported the one way every test folder needs (``tests/watcher_first.py``).
"""

import pytest

pytest.importorskip("watcher", reason="python-watcher is not installed (pip install -e '.[watcher]')")

from tests import watcher_first  # noqa: E402

watcher_first.load()
