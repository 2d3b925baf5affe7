"""Every combination of a compute service's words and a host's power against the one rule
(``host_state.classify_host``), and the snapshot deciding by it (the Watcher adapter's
twin is ``tests/watcher/test_adapter.py``)."""

from __future__ import annotations

import itertools

import pytest

from watcher_geyser.cloud import CloudRecords, HypervisorRecord, ServerRecord, to_fleet
from watcher_geyser.host_state import PowerReading, classify_host
from watcher_geyser.power import PowerModel
from watcher_geyser.records import HostState

ANY = object()
ENABLED, DISABLED, OFF, OUT = HostState.ENABLED, HostState.DISABLED, HostState.OFF, None
STATUSES = ("enabled", "disabled")
STATES = ("up", "down")
FORCED = (False, True)
REASONS = (None, "watcher_geyser: released", "broken PSU")  # none, ours, someone else's
INSTANCES = (True, False)
POWERS = tuple(PowerReading)

# (status, state, forced down, disabled reason, has instances, power) -> (state, instances pinned);
# the first row that matches decides, and every row decides at least one case
TABLE = [
    (("enabled", "up", False, ANY, ANY, ANY), (ENABLED, False)),
    (("disabled", "up", False, ANY, ANY, ANY), (DISABLED, False)),
    # from here on the service is down or forced down
    ((ANY, ANY, ANY, ANY, True, ANY), (DISABLED, True)),  # a dead compute keeps what it lists
    (("disabled", ANY, ANY, "broken PSU", False, ANY), (OUT, False)),  # someone else's: never ours to switch on
    (("disabled", ANY, ANY, None, False, ANY), (OUT, False)),  # disabled without a reason is not ours either
    ((ANY, ANY, ANY, ANY, False, PowerReading.OFF), (OFF, False)),
    ((ANY, ANY, ANY, ANY, False, PowerReading.NOT_READ), (OFF, False)),  # a snapshot: taken as switched off
    ((ANY, ANY, ANY, ANY, False, PowerReading.ON), (OUT, False)),  # down but powered: not ours to switch on
    ((ANY, ANY, ANY, ANY, False, PowerReading.UNKNOWN), (OUT, False)),
]


def expected(case: tuple) -> tuple[int, tuple]:
    for i, (pattern, outcome) in enumerate(TABLE):
        if all(p is ANY or p == c for p, c in zip(pattern, case)):
            return i, outcome
    raise AssertionError(f"no row of the table covers {case}")


def test_every_combination_follows_the_table():
    used = set()
    for case in itertools.product(STATUSES, STATES, FORCED, REASONS, INSTANCES, POWERS):
        status, state, forced, reason, instances, power = case
        row, (want_state, want_pinned) = expected(case)
        used.add(row)
        got = classify_host("h", status, state, instances, power, reason, forced)
        assert (got.state, got.pin_instances) == (want_state, want_pinned), case
        if want_state in (ENABLED, DISABLED) and not want_pinned:
            assert got.note is None, case  # the plain cases say nothing
        elif want_state is not OFF or power is PowerReading.NOT_READ:
            assert got.note and got.note.startswith("host h is "), case  # every other decision is explained
    assert used == set(range(len(TABLE)))  # no row of the table is dead


def test_missing_words_read_as_enabled_and_up_and_reasons_match_by_prefix():
    assert classify_host("h", None, None, False, PowerReading.UNKNOWN).state is ENABLED
    assert classify_host("h", "DISABLED", "Down", False, PowerReading.OFF, "Watcher_Disabled by audit").state is OFF
    assert classify_host("h", "disabled", "down", False, PowerReading.OFF, "maint",
                         our_reasons=("maint",)).state is OFF


POWER = PowerModel.linear(100, 200)


@pytest.mark.parametrize("case", list(itertools.product(STATUSES, STATES, FORCED, REASONS, INSTANCES)))
def test_the_snapshot_decides_by_the_rule(case):
    status, state, forced, reason, instances = case
    hyp = HypervisorRecord("h", "h", 16, 32768, 500, status=status, state=state, forced_down=forced,
                           disabled_reason=reason)
    servers = [ServerRecord("v", "v", "h", 2, 2048, 20)] if instances else []
    snapshot = to_fleet(CloudRecords([hyp], servers), lambda _name: POWER)
    want = classify_host("h", status, state, instances, PowerReading.NOT_READ, reason, forced)
    got = snapshot.fleet.hosts[0].state if snapshot.fleet.hosts else None
    assert got is want.state
    assert (snapshot.left_out_hosts == ["h"]) is (want.state is None)
    if want.pin_instances:
        assert not snapshot.fleet.instances[0].movable
    if want.note:
        assert want.note in snapshot.notes
