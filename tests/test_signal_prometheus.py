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
    series = PrometheusSource(prometheus, "site_available_power_watts").read(now)
    assert series.unit is Unit.WATTS and len(series) == 1
    assert series.values[0] == 12345.0
    assert series.value_at(now) == 12345.0 and series.value_at(now + 301) is None


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
        ('"hello"', "returned a string"),
    ],
    ids=["two-series", "absent", "bad-promql", "nan", "string"],
)
def test_bad_queries_give_clear_errors(prometheus: str, query: str, message: str) -> None:
    with pytest.raises(SignalError, match=message):
        PrometheusSource(prometheus, query).read(time.time())


def test_instant_subquery_matrix_is_a_series(prometheus: str) -> None:
    series = PrometheusSource(prometheus, "site_available_power_watts[5s]").read(time.time())
    assert len(series) >= 2 and set(series.values) == {12345.0}


def test_policy_decides_from_prometheus(prometheus: str) -> None:
    source = parse_spec(f"prometheus:{prometheus}?query=site_available_power_watts")
    decision = SignalPolicy().decide_from(source, time.time(), fleet_peak_w=20_000)
    assert decision.fallback is None and decision.budget_w == 12345.0
    assert 0.75 < decision.ceiling < 0.95 and decision.allow_power_off
    assert "prometheus" in decision.source and "12345 W" in decision.reason
