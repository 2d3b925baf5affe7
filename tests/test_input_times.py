"""``inputs.epoch_s``: the one reader of every time we are given (signals, power histories,
Watcher's records). Each accepted form, and a clear error for each malformed one."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher_geyser.inputs import LATEST_S, InputError, epoch_s, iso
from watcher_geyser.pipeline.history import PowerHistoryError
from watcher_geyser.pipeline.history import parse_time as history_time
from watcher_geyser.signal.series import SignalError
from watcher_geyser.signal.series import parse_time as signal_time

NOON = 1_782_043_200.0  # 2026-06-21T12:00:00Z


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-06-21T12:00:00Z", NOON),  # Z
    ("2026-06-21T14:00:00+02:00", NOON),  # an offset
    ("2026-06-21T12:00:00", NOON),  # no offset: UTC, as Watcher stores its times
    ("  2026-06-21T12:00Z \n", NOON),  # spaces around, minutes only
    ("2026-06-21", NOON - 12 * 3600),  # a date: its midnight, UTC
    (dt.datetime(2026, 6, 21, 12, 0), NOON),  # a naive datetime (Watcher's updated_at): UTC
    (dt.datetime(2026, 6, 21, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))), NOON),  # an aware one
    (NOON, NOON),  # epoch seconds
    (int(NOON), NOON),
    (str(int(NOON)), NOON),  # epoch seconds as text (a CSV cell)
    (" 1782043200.5 ", NOON + 0.5),
    (NOON * 1000, NOON),  # epoch milliseconds (Prometheus, JavaScript)
    (str(int(NOON * 1000)), NOON),
    (0, 0.0),  # 1970
    ("9999-12-31T23:59:59Z", LATEST_S),  # the last time Python can write
    (99_999_999_999, 99_999_999_999.0),  # the last epoch read as seconds (year 5138): above it, milliseconds
])
def test_every_accepted_form_reads_as_epoch_seconds(value, expected):
    assert epoch_s(value, "at") == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(("value", "expected"), [
    ("yesterday", "at: text of 9 character(s) is not a time: it is not ISO 8601 nor a number; write ISO 8601"),
    ("2026-13-01T00:00:00Z", "at: text of 20 character(s) is not a time: it is not ISO 8601"),
    ("", "at: missing or not a time (text of 0 character(s))"),
    ("   ", "at: missing or not a time"),
    (None, "at: missing or not a time (None)"),
    (True, "at: missing or not a time (True)"),
    ([2026, 6, 21], "at: missing or not a time (list)"),
    (float("nan"), "at: nan is not a time"),
    ("inf", "at: inf is not a time"),
    (-1, "at: -1 s is not a time between 1970 and 9999"),
    ("1960-01-01T00:00:00Z", "is not a time between 1970 and 9999"),
    (10**400, "at: an integer of 401 digits is not a time"),
    (1e300, "is not a time between 1970 and 9999"),
])
def test_a_malformed_time_names_where_and_the_fix(value, expected):
    with pytest.raises(InputError) as raised:
        epoch_s(value, "at")
    message = str(raised.value)
    assert expected in message and "\n" not in message
    assert "2026-11-26T03:10:00Z" in message  # the fix: an example of the form to write


def test_a_secret_read_by_mistake_is_described_never_shown():
    with pytest.raises(InputError) as raised:
        epoch_s("root:$6$salt$hash:19000:0:99999:7:::", "line 1")
    assert "$6$" not in str(raised.value) and "text of 36 character(s)" in str(raised.value)


def test_signals_and_power_histories_read_times_with_it_and_keep_their_error_kinds():
    assert signal_time("2026-06-21T12:00:00Z") == history_time("2026-06-21T12:00:00Z", "at") == NOON
    with pytest.raises(SignalError, match="timestamp: text of 9 character"):
        signal_time("yesterday")  # the signal policy answers a SignalError with its fallback
    with pytest.raises(PowerHistoryError, match="switch_offs\\[0\\]: 'at': missing or not a time"):
        history_time(None, "switch_offs[0]: 'at'")


@given(st.floats(min_value=0, max_value=LATEST_S, allow_nan=False).map(lambda t: round(t)))
def test_iso_text_reads_back_as_the_same_second(t_s):
    assert epoch_s(iso(t_s), "at") == t_s


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-06-21T12:00:00Z", NOON),
    (" 2026-06-21T14:00:00+02:00 ", NOON),
])
def test_a_zoned_time_reads_only_iso_text_with_its_zone(value, expected):
    assert epoch_s(value, "geyser:deadline", zoned=True) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-06-21T12:00:00", "deadline: the time has no time zone; add Z for UTC"),
    ("1782043200", "deadline: text of 10 character(s) is not an ISO 8601 time; write ISO 8601 with its zone"),
    (1782043200, "deadline: 1782043200 is not ISO 8601 text"),
    (dt.datetime(2026, 6, 21, 12, 0), "deadline: datetime is not ISO 8601 text"),
    (None, "deadline: missing or not a time (None)"),
    ("1960-01-01T00:00:00Z", "is not a time between 1970 and 9999; write ISO 8601 with its zone"),
])
def test_a_zoned_time_refuses_what_would_be_a_guess(value, expected):
    with pytest.raises(InputError) as raised:
        epoch_s(value, "deadline", zoned=True)
    assert expected in str(raised.value) and "\n" not in str(raised.value)
