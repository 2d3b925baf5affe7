"""Instance CPU's peak over time from Watcher's Prometheus (or Aetos) datasource.

Watcher 17's Prometheus helper answers ``get_instance_cpu_usage(period=900, aggregate="max")``
with ``max by (uuid)(rate(ceilometer_cpu{uuid=..}[900s]))``: the aggregate is taken across series,
so "max" is the mean rate over the 900 s. The simulator places a VM on the highest of its last
three 300 s samples (``defaults.CPU_FORECAST_WINDOW``), and on the PlanetLab traces the 15-minute
mean misses the next sample's burst about twice as often (``bench/cpu_reads.py``). ``PeakRead``
wraps the helper and answers ``max`` with that peak, asked through the helper's own client (host,
port, TLS and basic auth from ``[prometheus_client]``, or Aetos' Keystone session), with its own
instance label and meter; every other read is the helper's, unchanged.

Why the raw samples and not a subquery such as ``max_over_time(rate(m[300s])[900s:300s])``:

- ``rate`` needs two samples in its window, and Ceilometer polls every 300 s by default, so a
  300 s window mostly holds one: the subquery answers nothing on the default deployment;
- a wider ``rate`` (600 s) is the mean of two samples' intervals, half a burst hidden;
  ``irate`` is the last poll interval, shorter than 300 s where polls are denser, so a higher
  peak than the simulator's;
- a subquery's steps are multiples of its step since the epoch, not counted back from now, so
  its three windows are not the last three samples.

So the helper's client is asked the samples themselves (``bucket_rates``) and the buckets are
counted back from the query time. Polled every ``granularity``, that is exactly the simulator's
peak of the last three samples at any polling phase; polled more often, the highest 300 s mean.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from oslo_log import log

LOG = log.getLogger(__name__)

#: Watcher's datasources built on its ``PrometheusBase`` (``prometheus_client.PrometheusAPIClient``).
PEAK_DATASOURCES = frozenset({"prometheus", "aetos"})
#: The meter the peak is computed from: Ceilometer's cumulative CPU time in ns, as Watcher's query
#: reads it (``rate(..)/10e+8`` seconds of CPU a second).
CPU_METER = "ceilometer_cpu"
NS_PER_S = 1e9
#: Extra samples fetched before the oldest bucket, so a poll that came late still bounds it.
SLACK_BUCKETS = 2


def bucket_rates(samples: Sequence[tuple[float, float]], now_s: float, period_s: float,
                 granularity_s: float) -> list[float]:
    """The rate of a counter (units a second) in each ``granularity_s`` bucket of the last ``period_s``
    before ``now_s`` that has one, newest first; ``samples`` are (time s, value), in time order.

    A bucket (end - granularity, end] is measured between the last sample at or before its start
    (the first sample after it when there is none: an instance younger than the window) and the
    last sample at or before its end; one without a sample in it has no rate. So with a sample every
    ``granularity_s`` each bucket holds one, and its rate is the interval that sample ends: the last
    ``period_s / granularity_s`` samples, whatever the polling phase. A value below the one before
    is a counter reset (an instance restarted), counted from zero as Prometheus' ``rate`` counts it."""
    if granularity_s <= 0:
        raise ValueError(f"granularity_s must be positive, got {granularity_s}")
    times = [t for t, _ in samples]
    values = [v for _, v in samples]
    rates = []
    for k in range(max(1, math.ceil(period_s / granularity_s - 1e-9))):
        end_s = now_s - k * granularity_s
        last = bisect.bisect_right(times, end_s) - 1
        first = max(bisect.bisect_right(times, end_s - granularity_s) - 1, 0)
        if last <= first:
            continue
        increase = sum(b - a if b >= a else b for a, b in zip(values[first:last], values[first + 1:last + 1]))
        rates.append(increase / (times[last] - times[first]))
    return rates


@dataclass(frozen=True)
class _Query:
    """What the peak is asked with: the helper's client, its instance label and CPU meter."""

    client: object  # observabilityclient's PrometheusAPIClient
    label: str
    meter: str


def _query_of(helper) -> _Query | str:
    """The helper's client, label and meter, or why the peak cannot be asked through them."""
    client = getattr(helper, "prometheus", None)
    if not callable(getattr(client, "_get", None)):
        return f"the {helper.NAME} datasource has no Prometheus API client (not Watcher 17's helper)"
    try:
        label = helper._get_instance_uuid_label()
        meter = helper.METRIC_MAP.get("instance_cpu_usage")
    except Exception as exc:  # noqa: BLE001 - another Watcher's helper: its own read stands
        return f"the {helper.NAME} datasource's instance label is unknown ({type(exc).__name__}: {exc})"
    if meter != CPU_METER:
        return (f"instance_cpu_usage maps to {meter!r} in the metric map, not {CPU_METER!r} (cumulative ns), "
                "which the peak is computed from")
    return _Query(client, label, meter)


def _promql_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class PeakRead:
    """Watcher's Prometheus or Aetos helper, with instance CPU's ``max`` the peak over time.

    ``max`` over ``period`` in ``granularity`` samples is the highest of ``bucket_rates`` over the
    instance's series (several, as Watcher's ``max by`` takes them), in percent of its vcpus capped at
    100 as Watcher's query has it; None for an instance without two samples in the window, where
    Watcher's ``rate`` over the period has none either. A value an earlier strategy injected into the
    helper's metric cache as simulated is served as the helper would. When the helper is not the one
    expected, or the query fails (the first failure ends the trying: a limit the server sets fails
    every instance's), Watcher's own read answers and ``take_notes`` says so: the audit never fails
    for it. Everything else is the helper's."""

    def __init__(self, helper, clock: Callable[[], float] = time.time):
        self.helper, self._clock = helper, clock
        query = _query_of(helper)
        self._query: _Query | None = query if isinstance(query, _Query) else None
        self._failure: str | None = None if self._query else query  # why Watcher's own read answers
        self._asked = self._fallbacks = 0
        self._period_s: int | None = None

    @property
    def NAME(self) -> str:  # noqa: N802 - Watcher's attribute name for a datasource
        return self.helper.NAME

    def get_instance_cpu_usage(self, resource, period=300, aggregate="mean", granularity=None):
        if aggregate != "max" or not granularity:
            return self.helper.get_instance_cpu_usage(resource, period, aggregate, granularity)
        key = (resource.uuid, "instance_cpu_usage", aggregate, period, granularity)
        cache = getattr(self.helper, "metric_cache", None)
        if callable(getattr(cache, "is_simulated", None)) and cache.is_simulated(*key):
            return cache.get(*key)
        self._asked += 1
        self._period_s = period
        if self._query is not None and self._failure is None:
            try:
                return self._peak_percent(self._query, resource, period, granularity)
            except Exception as exc:  # noqa: BLE001 - Watcher's own read answers instead
                LOG.warning("instance CPU peak query failed, Watcher's own read from now on: %s", exc)
                self._failure = f"the query of its samples failed ({type(exc).__name__}: {exc})"
        self._fallbacks += 1
        return self.helper.get_instance_cpu_usage(resource, period, aggregate, granularity)

    def _peak_percent(self, query: _Query, resource, period_s: int, granularity_s: int) -> float | None:
        now_s = self._clock()
        selector = (f"{query.meter}{{{query.label}={_promql_string(resource.uuid)}}}"
                    f"[{int(period_s + SLACK_BUCKETS * granularity_s)}s]")
        # the client's ``query`` parses vector results only: the matrix through ``_get``, as the
        # helper itself asks Prometheus' targets
        answer = query.client._get("query", {"query": selector, "time": f"{now_s:.3f}"})
        data = answer["data"]
        if data["resultType"] != "matrix":
            raise ValueError(f"expected a matrix of samples, got {data['resultType']!r}")
        peaks = []
        for series in data["result"]:
            samples = [(float(t), float(v)) for t, v in series["values"]]
            rates = bucket_rates([s for s in samples if math.isfinite(s[1])], now_s, period_s, granularity_s)
            if rates:
                peaks.append(max(rates))
        if not peaks:
            return None
        vcpus = getattr(resource, "vcpus", None) or 1  # as Watcher's query: 1 where unknown
        return min(max(peaks) / NS_PER_S * 100.0 / vcpus, 100.0)

    def take_notes(self) -> list[str]:
        """What the reads since the last call could not ask as the peak (empty when all could); resets the count."""
        notes = []
        if self._fallbacks:
            notes.append(f"instance CPU peak not read from {self.helper.NAME}: {self._failure}; Watcher's own max "
                         f"read instead for {self._fallbacks} of {self._asked} instances, the mean rate over "
                         f"{self._period_s} s, which misses the bursts the peak guards against")
        self._asked = self._fallbacks = 0
        return notes

    # --- the rest of what the strategy asks of a datasource: the helper's --------------------------
    def get_host_cpu_usage(self, resource, period=300, aggregate="mean", granularity=None):
        return self.helper.get_host_cpu_usage(resource, period, aggregate, granularity)

    def get_host_power(self, resource, period=300, aggregate="mean", granularity=None):
        return self.helper.get_host_power(resource, period, aggregate, granularity)


def with_peak(datasource, clock: Callable[[], float] = time.time):
    """``datasource`` in a ``PeakRead`` when it is Watcher's Prometheus or Aetos helper, else as it is
    (Gnocchi and Grafana answer ``max`` as ``metrics.instance_cpu`` describes); one wrapped already
    (handed in by a caller, with its own clock) as it is."""
    if not isinstance(datasource, PeakRead) and getattr(datasource, "NAME", None) in PEAK_DATASOURCES:
        return PeakRead(datasource, clock)
    return datasource


def take_notes(datasource) -> list[str]:
    """``PeakRead.take_notes`` of a wrapped datasource; nothing for any other."""
    return datasource.take_notes() if isinstance(datasource, PeakRead) else []
