"""``tests.waiting.wait_for``: looks less often while nothing changes, at once again after a change, and
gives up after its deadline scaled by the machine's load (or by ``$GEYSER_TEST_WAIT_SCALE``)."""

from __future__ import annotations

import pytest

from tests import waiting
from tests.waiting import POLL_MAX_S, POLL_S, SCALE_ENV, WaitTimeout, load_scale, wait_for


class _Clock:
    """Monotonic time that moves only when the wait sleeps; the sleeps are recorded."""

    def __init__(self) -> None:
        self.now_s = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now_s += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = _Clock()
    monkeypatch.setattr(waiting.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(waiting.time, "sleep", fake.sleep)
    monkeypatch.setenv(SCALE_ENV, "1")
    return fake


def test_a_wait_that_sees_nothing_change_looks_half_as_often_each_time(clock):
    looks = iter([0, 0, 0, 0, 0, 0, 0, 1])
    assert wait_for(lambda: next(looks), lambda seen: seen == 1, 60, "x") == 1
    assert clock.sleeps == [POLL_S, 2 * POLL_S, 4 * POLL_S, 8 * POLL_S, POLL_MAX_S, POLL_MAX_S, POLL_MAX_S]


def test_a_change_brings_the_next_look_back_at_once(clock):
    looks = iter(["PENDING", "PENDING", "PENDING", "ONGOING", "ONGOING", "SUCCEEDED"])
    wait_for(lambda: next(looks), lambda seen: seen == "SUCCEEDED", 60, "audit")
    assert clock.sleeps == [POLL_S, 2 * POLL_S, 4 * POLL_S, POLL_S, 2 * POLL_S]


def test_progress_decides_what_counts_as_a_change(clock):
    looks = iter([{"state": "ONGOING", "at": i} for i in range(4)] + [{"state": "SUCCEEDED", "at": 4}])
    wait_for(lambda: next(looks), lambda seen: seen["state"] == "SUCCEEDED", 60, "plan",
             progress=lambda seen: seen["state"])
    assert clock.sleeps == [POLL_S, 2 * POLL_S, 4 * POLL_S, 8 * POLL_S]  # a new "at" alone is no progress


def test_the_deadline_is_scaled_and_named(clock, monkeypatch):
    monkeypatch.setenv(SCALE_ENV, "3")
    with pytest.raises(WaitTimeout) as raised:
        wait_for(lambda: "PENDING", lambda seen: False, 10, "audit a-1 reaching SUCCEEDED")
    assert 30 <= clock.now_s <= 30 + POLL_MAX_S
    assert "audit a-1 reaching SUCCEEDED: not done after 30 s (10 s x load); last seen: 'PENDING'" in str(raised.value)


def test_the_scale_is_the_load_per_core_between_one_and_its_cap(monkeypatch):
    monkeypatch.delenv(SCALE_ENV, raising=False)
    monkeypatch.setattr(waiting.os, "cpu_count", lambda: 2)
    for load, scale in ((0.5, 1.0), (5.0, 2.5), (40.0, waiting.MAX_SCALE)):
        monkeypatch.setattr(waiting.os, "getloadavg", lambda load=load: (load, 0.0, 0.0))
        assert load_scale() == scale
    monkeypatch.setenv(SCALE_ENV, "slow")
    with pytest.raises(ValueError, match="GEYSER_TEST_WAIT_SCALE='slow' is not a number"):
        load_scale()
