"""The Prometheus source against a real Prometheus server on loopback.

The fixture starts Debian's ``prometheus`` binary through ``tests.prometheus_server``, scraping a
tiny exporter this test serves every second, waits until the query has data, and stops the server
afterwards. Only when the binary is absent is the module skipped, with the fix in the reason.
"""

from __future__ import annotations

import time

import pytest

from tests.prometheus_server import first_value, needs_prometheus, scraping
from watcher_geyser.signal import PrometheusSource, SignalError, SignalPolicy, Unit, parse_spec
from watcher_geyser.signal.decision import Fallback, PolicyConfig

pytestmark = needs_prometheus

METRICS = b"""\
# HELP site_available_power_watts Power available to the compute fleet.
# TYPE site_available_power_watts gauge
site_available_power_watts 12345
# HELP site_available_power_kilowatts The same in kW.
# TYPE site_available_power_kilowatts gauge
site_available_power_kilowatts 12.345
# HELP site_feed_watts Power per feed.
# TYPE site_feed_watts gauge
site_feed_watts{feed="grid"} 8000
site_feed_watts{feed="pv"} 4345
# HELP site_broken_watts A gauge whose sensor failed.
# TYPE site_broken_watts gauge
site_broken_watts NaN
"""


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    """Base URL of a running Prometheus that has scraped the exporter at least three times."""
    with scraping(tmp_path_factory.mktemp("prometheus"), METRICS, "count_over_time(site_available_power_watts[1m])",
                  lambda result: first_value(result) >= 3) as base:
        yield base


def test_instant_query_reads_the_gauge(prometheus: str) -> None:
    now = time.time()
    series = PrometheusSource(prometheus, "site_available_power_watts", range_s=0).read(now)
    assert series.unit is Unit.WATTS and len(series) == 1
    assert series.values[0] == 12345.0
    assert series.value_at(now) == 12345.0 and series.value_at(now + 301) is None


def test_a_spec_without_range_reads_back_twice_the_dwell_and_range_0_one_point(prometheus: str) -> None:
    now = time.time()
    query = FALLING.format(end=f"{now:.3f}")
    source = parse_spec(f"prometheus:{prometheus}?query={query}")
    assert (source.range_s, source.step_s) == (2 * PolicyConfig().min_dwell_s, 60.0)
    series = source.read(now)
    assert len(series) == 61 and series.start_s == pytest.approx(now - 3600, abs=0.01)
    assert series.covering(now) == 60 and set(series.durations_s) == {60.0}
    instant = parse_spec(f"prometheus:{prometheus}?query={query}&range=0").read(now)
    assert len(instant) == 1


def test_a_default_range_past_the_point_limit_names_the_step_to_give() -> None:
    with pytest.raises(SignalError, match=r"above Prometheus' limit of 11,000; give a step of at least 1 s"):
        parse_spec("prometheus:http://127.0.0.1:9090?query=up&step=0.1")
    assert parse_spec("prometheus:http://127.0.0.1:9090?query=up&step=0.1&range=0").range_s == 0


# A supply that runs out at dusk, computed by Prometheus itself at each evaluation time (``time()``):
# 4000 W until 30 minutes before END, then falling linearly to 0 W at END, a step of 133 W a minute.
# A real fall over the past half hour, which a server started for a test cannot have scraped.
END = "{end}"
FALLING = f"clamp(vector(4000)*({END}-time())/1800,0,4000)"
# a broken meter: 4000 W, then 0 W from 150 s before END, in one step
DROPPED = f"vector(4000)*(time()<bool({END}-150))"


def _decide(prometheus: str, query: str, options: str = ""):
    """The policy's decision at ``now`` from ``query`` (END = now), a fleet of 20 kW peak (the low mark 1 kW)."""
    now = time.time()
    source = parse_spec(f"prometheus:{prometheus}?query={query.format(end=f'{now:.3f}')}{options}")
    return SignalPolicy().decide_from(source, now, fleet_peak_w=20_000)


def test_a_gradual_fall_read_with_the_default_spec_is_confirmed_at_once(prometheus: str) -> None:
    decision = _decide(prometheus, FALLING)
    assert decision.fallback is None and decision.allow_power_off, decision.reason
    assert "gradual fall" in decision.reason and decision.budget_w == pytest.approx(0.0, abs=1.0)


def test_the_same_fall_read_by_an_instant_query_is_held_for_the_dwell(prometheus: str) -> None:
    decision = _decide(prometheus, FALLING, "&range=0")
    assert decision.fallback is Fallback.UNCONFIRMED and not decision.allow_power_off
    assert "the series holds no reading before the low one" in decision.reason
    assert "until it is confirmed for 1800 s" in decision.reason


def test_a_sudden_drop_read_with_the_default_spec_is_still_held(prometheus: str) -> None:
    decision = _decide(prometheus, DROPPED)
    assert decision.fallback is Fallback.UNCONFIRMED and not decision.allow_power_off
    assert "a sudden drop, as a broken meter's" in decision.reason


def test_spec_aggregation_and_kilowatts(prometheus: str) -> None:
    now = time.time()
    summed = parse_spec(f"prometheus:{prometheus}?query=sum(site_feed_watts)").read(now)
    assert summed.values[0] == 12345.0
    kw = parse_spec(f"prometheus:{prometheus}?query=site_available_power_kilowatts&unit=kW").read(now)
    assert kw.unit is Unit.WATTS and kw.values[0] == pytest.approx(12345.0)


def test_range_query_gives_a_series_at_the_step(prometheus: str) -> None:
    now = time.time()
    series = parse_spec(f"prometheus:{prometheus}?query=site_available_power_watts&range=20s&step=1s").read(now)
    assert len(series) >= 3 and set(series.values) == {12345.0}
    assert set(series.durations_s) == {1.0} and series.covering(now) is not None


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("site_feed_watts", r"returned 2 series .*aggregate it to one, e\.g\. sum"),
        ("no_such_metric_watts", "returned no data"),
        ("sum(", r"HTTP 400.*(parse error|bad_data)"),
        ("site_broken_watts", "no valid value"),
    ],
    ids=["two-series", "absent", "bad-promql", "nan"],
)
@pytest.mark.parametrize("range_s", [0.0, 3600.0], ids=["instant", "range"])
def test_bad_queries_give_clear_errors(prometheus: str, query: str, message: str, range_s: float) -> None:
    with pytest.raises(SignalError, match=message):
        PrometheusSource(prometheus, query, range_s=range_s).read(time.time())


def test_a_string_query_gives_a_clear_error(prometheus: str) -> None:
    with pytest.raises(SignalError, match="returned a string"):
        PrometheusSource(prometheus, '"hello"', range_s=0).read(time.time())
    # a range query of a string is refused by the server itself, in its words
    with pytest.raises(SignalError, match=r"HTTP 400.*string"):
        PrometheusSource(prometheus, '"hello"').read(time.time())


def test_instant_subquery_matrix_is_a_series(prometheus: str) -> None:
    series = PrometheusSource(prometheus, "site_available_power_watts[5s]", range_s=0).read(time.time())
    assert len(series) >= 2 and set(series.values) == {12345.0}


def test_policy_decides_from_prometheus(prometheus: str) -> None:
    source = parse_spec(f"prometheus:{prometheus}?query=site_available_power_watts")
    decision = SignalPolicy().decide_from(source, time.time(), fleet_peak_w=20_000)
    assert decision.fallback is None and decision.budget_w == 12345.0
    assert 0.75 < decision.ceiling < 0.95 and decision.allow_power_off
    assert "prometheus" in decision.source and "12345 W" in decision.reason
