"""The test Prometheus helper itself: a server that cannot start fails the test at once, saying why."""

from __future__ import annotations

import time

import pytest

from tests.prometheus_server import MISSING, needs_prometheus, scraping


def test_missing_binary_names_the_fix() -> None:
    assert "tools/test.sh" in MISSING and "apt-get install prometheus" in MISSING


@needs_prometheus
def test_a_server_that_exits_fails_with_its_log(tmp_path) -> None:
    started = time.monotonic()
    # an open bracket in the job name breaks the YAML configuration: prometheus exits at once
    with pytest.raises(pytest.fail.Exception, match=r"prometheus exited with \d+: .*(config|yaml)"), \
            scraping(tmp_path, b"up 1\n", "up", bool, job="[bad"):
        pass
    assert time.monotonic() - started < 10  # not the ready deadline: the exit is seen on the first looks
