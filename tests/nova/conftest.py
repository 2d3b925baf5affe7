"""Real Nova and Placement, one helper process per test class (``nova_cloud`` fixture).

No skip here: a missing ``.venv-nova`` or python-watcher is an error that says how to get it
(``bash tools/test.sh`` builds both). Watcher is imported first, the one way every test folder
needs (``tests/watcher_first.py``).
"""

import sys
import time

import pytest

from tests import watcher_first

watcher_first.load()

from tests.nova.real_nova import NovaCloud  # noqa: E402


@pytest.fixture(scope="class")
def nova_cloud(request):
    """Start real Nova + Placement with the class's ``HOSTS`` (HostSpec list); the class gets ``cloud``."""
    cloud = NovaCloud.start()
    try:
        started = time.monotonic()
        cloud.op("hosts", hosts=[vars(h) for h in request.cls.HOSTS])
        print(f"{len(request.cls.HOSTS)} nova-compute services up in {time.monotonic() - started:.1f} s",
              file=sys.stderr)
        request.cls.cloud = cloud
        yield cloud
    finally:
        cloud.close()
