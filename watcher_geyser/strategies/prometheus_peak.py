"""Instance CPU's peak over time from Watcher's Prometheus (or Aetos) datasource.

Watcher 17's Prometheus helper answers ``get_instance_cpu_usage(period=900, aggregate="max")``
with ``max by (uuid)(rate(ceilometer_cpu{uuid=..}[900s]))``: the aggregate is taken across series,
so "max" is the mean rate over the 900 s. The simulator places a VM on the highest of its last
three 300 s samples (``defaults.CPU_FORECAST_WINDOW``), and on the PlanetLab traces the 15-minute
mean misses the next sample's burst about twice as often (``bench/cpu_reads.py``). ``PeakRead``
wraps the helper and answers ``max`` with that peak, asked through the helper's own client (host,
port, TLS and basic auth from ``[prometheus_client]``, or Aetos' Keystone session), with its own
instance label and meter. It answers the load now too (``mean`` over one 300 s sample, what the
strategy reads while energy is fully scarce): Watcher's ``rate`` over 300 s mostly has one sample at
Ceilometer's 300 s polling, and nothing (the strategy then read the peak instead); the latest
bucket's rate from the same samples is the simulator's load now. Every other read is the helper's.

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

Watcher asks Prometheus once per instance, 15,000-20,000 queries a read on a large cloud.
``read_ahead`` asks ``CHUNK`` instances' samples in one query, a label matcher over the set of
their uuids (``ceilometer_cpu{resource=~"u1|u2|.."}``), not the whole meter filtered here: an audit
may cover part of the cloud (or the server several), and the client asks uncompressed JSON, so
every other instance's samples would cross the wire for nothing. ``CHUNK`` keeps the request line
under the 8 KB that Apache (``LimitRequestLine 8190``) and nginx (``large_client_header_buffers``)
accept in front of a Prometheus or Aetos (the client asks by GET only): 100 uuids make a URL of
4,008 bytes, 200 of 7,908. 2,000 instances (backfilled, polled every 300 s, on loopback) read in
0.13 s at 100 a query, 1.5 s one a query (``bench/prometheus_reads.py``; docs/design/watcher-plugin.md).
"""

from __future__ import annotations

import bisect
import math
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
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
#: Instances whose samples one query asks (``read_ahead``): a URL of about 4 KB (module docstring).
CHUNK = 100
#: RE2's metacharacters, escaped where a label value is matched literally.
_RE2_SPECIAL = frozenset("\\.+*?()|[]{}^$")


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
    """What the samples are asked with: the helper's client, its instance label and CPU meter."""

    client: object  # observabilityclient's PrometheusAPIClient
    label: str
    meter: str


def _query_of(helper) -> _Query | str:
    """The helper's client, label and meter, or why the samples cannot be asked through them."""
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


def _regex_literal(text: str) -> str:
    """``text`` matched literally by RE2 (Prometheus' regex); only its metacharacters escaped, so a
    uuid's dashes stay one character each in the URL (``re.escape`` would escape them too)."""
    return "".join("\\" + c if c in _RE2_SPECIAL else c for c in text)


def samples_query(query: _Query, uuids: Sequence[str], window_s: int) -> str:
    """The range selector of ``query.meter``'s samples of the instances ``uuids`` over ``window_s``:
    one label matcher over the set (an alternation of literals, which Prometheus matches as a set)."""
    alternatives = "|".join(_regex_literal(u) for u in uuids)
    return f"{query.meter}{{{query.label}=~{_promql_string(alternatives)}}}[{int(window_s)}s]"


def serves(aggregate: str, period_s: int, granularity_s: int | None) -> bool:
    """Whether ``PeakRead`` answers this read itself: ``max`` over any period (the peak), or ``mean``
    over one ``granularity_s`` sample (the load now: the latest bucket's rate)."""
    return bool(granularity_s) and (aggregate == "max" or (aggregate == "mean" and period_s == granularity_s))


class _Failed:
    """A chunk whose query failed: its instances are read by Watcher's helper."""


FAILED = _Failed()
_UNREAD = object()


@dataclass
class _Tally:
    """What one kind of read (aggregate, period) asked since the last ``take_notes``."""

    asked: int = 0
    fallbacks: int = 0
    chunks: int = 0
    failed_chunks: int = 0
    why: str | None = None  # the first chunk's failure


class PeakRead:
    """Watcher's Prometheus or Aetos helper, with instance CPU's ``max`` the peak over time and the
    ``mean`` over one sample the latest bucket's rate, both from the samples.

    ``max`` over ``period`` in ``granularity`` samples is the highest of ``bucket_rates`` over the
    instance's series (several, as Watcher's ``max by`` takes them); the ``mean`` over one
    ``granularity`` (the load now, ``metrics.cpu_read`` fully scarce) is the one bucket's rate, averaged
    over the series as Watcher's ``avg by``: where Watcher's ``rate`` over 300 s has no two samples at
    Ceilometer's 300 s polling, the bucket is measured from the sample before it. In percent of the
    instance's vcpus capped at 100 as Watcher's query has it; None for an instance without a sample
    in the bucket(s) to measure (``bucket_rates``). A value an earlier strategy injected into the
    helper's metric cache as simulated is served as the helper would.

    ``read_ahead`` asks the samples of many instances in one query per ``chunk`` of them (``CHUNK``);
    an instance not read ahead is asked alone, so its value is the same either way. When the helper is
    not the one expected, or a chunk's query fails, Watcher's own read answers for that chunk's
    instances and ``take_notes`` says how many: the audit never fails for it. Everything else is the
    helper's."""

    def __init__(self, helper, clock: Callable[[], float] = time.time, chunk: int = CHUNK):
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1 instance, got {chunk}")
        self.helper, self._clock, self.chunk = helper, clock, chunk
        query = _query_of(helper)
        self._query: _Query | None = query if isinstance(query, _Query) else None
        self._unusable: str | None = None if self._query else query  # why Watcher's own read answers all
        self._ahead: dict[tuple, float | None | _Failed] = {}
        self._tallies: dict[tuple[str, int], _Tally] = {}

    @property
    def NAME(self) -> str:  # noqa: N802 - Watcher's attribute name for a datasource
        return self.helper.NAME

    def _simulated(self, key: tuple) -> bool:
        cache = getattr(self.helper, "metric_cache", None)
        return callable(getattr(cache, "is_simulated", None)) and cache.is_simulated(*key)

    def read_ahead(self, resources: Iterable, period: int, aggregate: str, granularity: int | None) -> None:
        """Ask the samples of ``resources`` for this read now, ``chunk`` instances a query, for
        ``get_instance_cpu_usage`` to answer from; drops what an earlier ``read_ahead`` left unasked."""
        self._ahead = {}
        if self._query is None or not serves(aggregate, period, granularity):
            return
        keyed = [((r.uuid, "instance_cpu_usage", aggregate, period, granularity), r) for r in resources]
        todo = [(key, r) for key, r in keyed if not self._simulated(key)]
        now_s = self._clock()
        for start in range(0, len(todo), self.chunk):
            part = todo[start:start + self.chunk]
            values = self._values([r for _, r in part], now_s, period, aggregate, granularity)
            self._ahead.update(zip([key for key, _ in part], values))

    def get_instance_cpu_usage(self, resource, period=300, aggregate="mean", granularity=None):
        if not serves(aggregate, period, granularity):
            return self.helper.get_instance_cpu_usage(resource, period, aggregate, granularity)
        key = (resource.uuid, "instance_cpu_usage", aggregate, period, granularity)
        if self._simulated(key):
            return self.helper.metric_cache.get(*key)
        self._tally(aggregate, period).asked += 1
        value = self._ahead.pop(key, _UNREAD)
        if value is _UNREAD and self._query is not None:
            [value] = self._values([resource], self._clock(), period, aggregate, granularity)
        if value is _UNREAD or value is FAILED:
            self._tally(aggregate, period).fallbacks += 1
            return self.helper.get_instance_cpu_usage(resource, period, aggregate, granularity)
        return value

    def _tally(self, aggregate: str, period_s: int) -> _Tally:
        return self._tallies.setdefault((aggregate, period_s), _Tally())

    def _values(self, resources: list, now_s: float, period_s: int, aggregate: str,
                granularity_s: int) -> list[float | None | _Failed]:
        """The read of each of ``resources`` from one query of their samples; ``FAILED`` for all when it fails."""
        tally = self._tally(aggregate, period_s)
        tally.chunks += 1
        try:
            rates = self._rates(self._query, [r.uuid for r in resources], now_s, period_s, granularity_s)
        except Exception as exc:  # noqa: BLE001 - Watcher's own read answers for this chunk
            LOG.warning("instance CPU samples of %d instances not read, Watcher's own read for them: %s",
                        len(resources), exc)
            tally.failed_chunks += 1
            tally.why = tally.why or f"{type(exc).__name__}: {exc}"
            return [FAILED] * len(resources)
        combine = max if aggregate == "max" else statistics.fmean
        values = []
        for resource in resources:
            per_series = [combine(r) for r in rates.get(resource.uuid, []) if r]
            if not per_series:
                values.append(None)
                continue
            vcpus = getattr(resource, "vcpus", None) or 1  # as Watcher's query: 1 where unknown
            values.append(min(combine(per_series) / NS_PER_S * 100.0 / vcpus, 100.0))
        return values

    @staticmethod
    def _rates(query: _Query, uuids: list[str], now_s: float, period_s: int,
               granularity_s: int) -> dict[str, list[list[float]]]:
        """``bucket_rates`` of each series of the instances ``uuids``, by instance."""
        selector = samples_query(query, uuids, period_s + SLACK_BUCKETS * granularity_s)
        # the client's ``query`` parses vector results only: the matrix through ``_get``, as the
        # helper itself asks Prometheus' targets
        answer = query.client._get("query", {"query": selector, "time": f"{now_s:.3f}"})
        data = answer["data"]
        if data["resultType"] != "matrix":
            raise ValueError(f"expected a matrix of samples, got {data['resultType']!r}")
        rates: dict[str, list[list[float]]] = {}
        for series in data["result"]:
            samples = [(float(t), float(v)) for t, v in series["values"]]
            rates.setdefault(series["metric"].get(query.label), []).append(
                bucket_rates([s for s in samples if math.isfinite(s[1])], now_s, period_s, granularity_s))
        return rates

    def take_notes(self) -> list[str]:
        """What the reads since the last call could not answer from the samples (empty when all could);
        resets the counts."""
        notes = []
        for (aggregate, period_s), tally in sorted(self._tallies.items()):
            if not tally.fallbacks:
                continue
            if self._unusable:
                why = self._unusable
            else:
                why = (f"the query of their samples failed for {tally.failed_chunks} of {tally.chunks} "
                       f"queries ({tally.why})")
            what = ("peak" if aggregate == "max" else "load now")
            notes.append(f"instance CPU {what} not read from {self.helper.NAME}: {why}; Watcher's own {aggregate} "
                         f"read instead for {tally.fallbacks} of {tally.asked} instances, the mean rate over "
                         f"{period_s} s" + (", which misses the bursts the peak guards against"
                                            if aggregate == "max" else ""))
        self._tallies = {}
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


def read_ahead(datasource, resources: Iterable, period: int, aggregate: str, granularity: int | None) -> None:
    """``PeakRead.read_ahead`` of a wrapped datasource (the samples of many instances a query);
    nothing for any other, which is asked one instance at a time."""
    if isinstance(datasource, PeakRead):
        datasource.read_ahead(resources, period, aggregate, granularity)
