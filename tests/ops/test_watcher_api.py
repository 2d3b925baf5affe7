"""The harness's own seam: building Watcher's API app leaves other threads' Pecan requests alone."""

from __future__ import annotations

import threading

import pecan
import pytest
from watcher.api import app as watcher_app
from watcher.tests.functional import base
from webob import Request

from tests.ops.watcher_api import watcher_api_app

pytestmark = pytest.mark.functional


def in_flight_while(build) -> tuple[int, bytes] | BaseException:
    """Status and body of a Pecan request that is in flight in another thread while ``build()``
    runs, or what it raised."""
    entered, release = threading.Event(), threading.Event()

    class Root:
        @pecan.expose(content_type="text/plain")
        def index(self):
            entered.set()
            release.wait(10)
            return pecan.request.path  # needs this thread's request still bound

    app = pecan.make_app(Root())
    got = {}

    def request() -> None:
        try:
            resp = Request.blank("/").get_response(app)
            got["answer"] = (resp.status_int, resp.body)
        except Exception as exc:  # noqa: BLE001  (the failure under test)
            got["answer"] = exc

    worker = threading.Thread(target=request)
    worker.start()
    assert entered.wait(10)
    try:
        build()
    finally:
        release.set()
        worker.join(10)
    return got["answer"]


class WatcherApiAppTest(base.WatcherFunctionalTestCase):
    """Watcher's configuration as its harness sets it; no services are needed."""

    START_DECISION_ENGINE = False
    START_APPLIER = False

    def test_building_the_api_keeps_requests_in_flight(self):
        self.assertEqual((200, b"/"), in_flight_while(watcher_api_app))

    def test_watchers_own_constructor_would_drop_them(self):
        """The failure the helper avoids, shown: a plain ``VersionSelectorApplication()`` unbinds it."""
        answer = in_flight_while(watcher_app.VersionSelectorApplication)
        self.assertIsInstance(answer, AttributeError)  # its request state vanished under it
