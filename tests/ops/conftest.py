"""Operator tooling tests run against Watcher's emulated Nova/Placement and its real API.

``watcher.tests.functional`` is imported first: it selects oslo.service's threading
backend, which must happen before anything else of Watcher's loads.
"""

import pytest

pytest.importorskip("watcher", reason="python-watcher is not installed (pip install -e '.[watcher]')")
pytest.importorskip("watcherclient", reason="python-watcherclient is not installed (pip install -e '.[watcher]')")

import watcher.tests.functional  # noqa: E402,F401  (backend selection, see above)
