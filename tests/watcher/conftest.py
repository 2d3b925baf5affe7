"""Tests of the Watcher plugin need python-watcher; skip them cleanly where it is absent."""

import pytest

pytest.importorskip("watcher", reason="python-watcher is not installed (pip install -e '.[watcher]')")
