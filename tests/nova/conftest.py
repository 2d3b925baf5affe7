"""Real Nova and Placement, one helper process per test class (``nova_cloud`` fixture).

No skip here: a missing ``.venv-nova`` or python-watcher is an error that says how to get it
(``bash tools/test.sh`` builds both). Importing Watcher's functional test package first
selects oslo.service's threading backend, as in ``tests/functional/conftest.py``.
"""

import sys
import time

import pytest
import watcher.tests.functional  # noqa: F401

from tests.nova.real_nova import NovaCloud


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
