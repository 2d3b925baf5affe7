"""Waiting in tests on a loaded machine: look less often while nothing changes, and give deadlines room.

CI runs the suite on a 2-core machine that other jobs share. There a fixed 0.1 s poll spends CPU
the awaited service (Watcher's decision engine and applier run in the test's own process, under
its GIL) would rather use, and a deadline chosen on a quiet machine flakes. ``wait_for`` looks at
once, then half as often each time it sees no change, up to ``POLL_MAX_S``, and again at
``POLL_S`` after a change (as ``tests/nova/nova_cloud.py`` waits for Nova); its deadline is the
one written in the test times ``load_scale()``. A deadline is a safety net against a hang, not
a pace: a test that passes never waits for it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_S = 0.1
POLL_MAX_S = 1.0
#: Deadlines stretch at most this much with the machine's load.
MAX_SCALE = 4.0
#: A Prometheus a test starts has scraped its exporter (every second) a few times, on a quiet machine.
PROMETHEUS_READY_S = 30.0
#: Set to a number to scale every deadline by it instead of by the load (e.g. 3 on a slow runner).
SCALE_ENV = "GEYSER_TEST_WAIT_SCALE"


class WaitTimeout(AssertionError):
    """What a test waited for did not happen before its (scaled) deadline."""


def load_scale() -> float:
    """How much longer than on a quiet machine a wait may take: ``$GEYSER_TEST_WAIT_SCALE`` when set,
    else the runnable processes per core over the last minute, from 1 to ``MAX_SCALE``."""
    given = os.environ.get(SCALE_ENV)
    if given:
        try:
            return max(float(given), 1.0)
        except ValueError:
            raise ValueError(f"{SCALE_ENV}={given!r} is not a number; unset it or give one such as 2") from None
    try:
        per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:  # no load average on this platform
        return 1.0
    return min(max(per_core, 1.0), MAX_SCALE)


def wait_for(look: Callable[[], T], ready: Callable[[T], bool], timeout_s: float, what: str,
             progress: Callable[[T], object] = lambda seen: seen) -> T:
    """``look()`` until ``ready`` holds for what it returns, which is returned; ``WaitTimeout`` naming
    ``what`` and the last thing seen after ``timeout_s`` x ``load_scale()``. ``progress(seen)`` is what
    counts as a change (default: the value itself); ``look`` may fail the test itself (a final state)."""
    allowed_s = timeout_s * load_scale()
    deadline = time.monotonic() + allowed_s
    poll_s = POLL_S
    before: object = object()
    while True:
        seen = look()
        if ready(seen):
            return seen
        if time.monotonic() > deadline:
            raise WaitTimeout(f"{what}: not done after {allowed_s:.0f} s ({timeout_s:.0f} s x load); last seen: "
                              f"{seen!r}")
        now = progress(seen)
        poll_s = POLL_S if now != before else min(2 * poll_s, POLL_MAX_S)
        before = now
        time.sleep(poll_s)
