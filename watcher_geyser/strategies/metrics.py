"""Reading measurements through Watcher's ``datasource_backend``, never failing the audit.

A datasource that is missing, down, or has no value for some instances is an everyday
event: each reading that cannot be had becomes ``None`` (the fleet then assumes the
flavour's full vcpus for that instance, which is the safe side for packing), and the
notes say how many and why, once, not once per instance.

Instance CPU is read as the simulator's geyser policy places (``cpu_read``): the peak over the
last few samples, or the load now while energy is fully scarce. What Watcher 17's datasources
make of the arguments differs (checked in its code): Gnocchi takes only the ``mean`` of instance
CPU (``max`` is logged and answered with nothing; ``instance_cpu`` then reads the mean) and answers
the latest ``granularity`` bucket of the period, the load now; Prometheus (and Aetos) aggregate
*across series* (``max by (uuid)(rate(..[period]))``), so ``max`` and ``mean`` both give the mean
rate over ``period`` and ``granularity`` is ignored: the strategy asks those two ``max`` as the
peak over time, and the ``mean`` over one sample as its latest bucket, itself (``prometheus_peak``,
many instances a query); Grafana passes both to the operator's query.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from watcher_geyser import defaults
from watcher_geyser.pipeline import reads_load_now
from watcher_geyser.strategies import prometheus_peak

MAX_NOTED_ERRORS = 3
CPU_METRICS = "instance CPU metrics"


@dataclass
class Readings:
    """Values by resource id (None when unavailable) and what went wrong."""

    values: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def measured(self) -> int:
        return sum(1 for v in self.values.values() if v is not None)


def _percent_to_fraction(value) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number < 0:
        return None
    return min(number / 100.0, 1.0)


def read_each(resources: Iterable, key: Callable[[object], str], fetch: Callable[[object], object],
              convert: Callable[[object], float | None], what: str) -> Readings:
    """``fetch`` each resource and ``convert`` its value; errors become None and a note."""
    out = Readings()
    errors: list[str] = []
    missing = 0
    resources = list(resources)
    for res in resources:
        try:
            value = convert(fetch(res))
        except Exception as exc:  # noqa: BLE001 - any datasource failure means "not measured"
            value = None
            if len(errors) < MAX_NOTED_ERRORS:
                errors.append(f"{type(exc).__name__}: {exc}")
        if value is None:
            missing += 1
        out.values[key(res)] = value
    if missing:
        detail = f" (e.g. {'; '.join(errors)})" if errors else ""
        out.notes.append(f"{what}: no usable value for {missing} of {len(resources)}{detail}")
    return out


@dataclass(frozen=True)
class CpuRead:
    """How instance CPU is asked of the datasource: ``aggregate`` over the last ``period_s``, in
    samples ``granularity_s`` apart (the arguments of Watcher's ``get_instance_cpu_usage``)."""

    period_s: int
    aggregate: str
    granularity_s: int
    #: read for the instances this one finds no value for (the load now's: the peak read)
    wider: CpuRead | None = None

    def describe(self) -> str:
        return f"{self.aggregate} over the last {self.period_s} s ({self.granularity_s} s samples)"


def cpu_read(level: float, period_s: int = defaults.CPU_PERIOD_S, aggregate: str = defaults.CPU_AGGREGATE,
             granularity_s: int = defaults.CPU_SAMPLE_S) -> CpuRead:
    """The read at a decision of scarcity ``level`` (0 without a signal), as the simulator's forecast
    (``pipeline.reads_load_now``): the strategy's ``cpu_aggregate`` over its ``cpu_period_s`` (by
    default the peak of the last ``defaults.CPU_FORECAST_WINDOW`` samples), or, fully scarce, the load
    now: the ``mean`` over ``defaults.CPU_SCARCE_WINDOW`` sample(s). The mean because over one sample
    it is that sample on every datasource of Watcher 17 (Gnocchi answers its latest bucket, Prometheus
    the rate over the period), where Gnocchi refuses ``max``. An instance the load now finds nothing
    for gets the peak read (``CpuRead.wider``): Prometheus' ``rate`` needs two samples in its window,
    which a metric polled every 300 s (Ceilometer's default) may not have in 300 s (the strategy reads
    the load now from the samples there, ``prometheus_peak``), and an unmeasured instance would count
    as fully busy."""
    peak = CpuRead(period_s, aggregate, granularity_s)
    if reads_load_now(level):
        return CpuRead(defaults.CPU_SCARCE_WINDOW * granularity_s, "mean", granularity_s, wider=peak)
    return peak


def instance_cpu(datasource, instances: Iterable, read: CpuRead) -> Readings:
    """Measured CPU use of each instance as a fraction of its vcpus (Watcher returns percent), by ``read``.

    A datasource that refuses ``read.aggregate`` (raises, or answers nothing where the ``mean`` has
    a value: Watcher's Gnocchi helper takes only the mean of instance CPU) is asked the mean over the
    same period instead, from that instance on; a note says so, since the mean misses the bursts
    the peak guards against. The mean is asked only until the aggregate has answered once: after
    that a gap is an instance without samples. The instances left without a value are read by
    ``read.wider`` when it has one, and a note says how many it found. Never fails: a value that
    cannot be had is None, as in ``read_each``."""
    instances = list(instances)
    readings = _read_instances(datasource, instances, read)
    missing = [i for i in instances if readings.values[i.uuid] is None]
    if read.wider is None or not missing:
        return readings
    wider = instance_cpu(datasource, missing, read.wider)
    found = {uuid: value for uuid, value in wider.values.items() if value is not None}
    if not found:
        return readings
    readings.values.update(found)
    notes = [n for n in readings.notes if not n.startswith(CPU_METRICS)]
    notes.append(f"no instance CPU over the last {read.period_s} s for {len(found)} of {len(instances)} instances "
                 f"(a metric polled less often has no sample in so short a window): their {read.wider.describe()} "
                 "read instead")
    notes.extend(n for n in wider.notes if not n.startswith(CPU_METRICS))
    if len(missing) > len(found):
        notes.append(f"{CPU_METRICS}: no usable value for {len(missing) - len(found)} of {len(instances)}")
    readings.notes = notes
    return readings


def _read_instances(datasource, instances: list, read: CpuRead) -> Readings:
    """``instance_cpu`` by ``read`` alone: with the fall-back to the mean, without ``read.wider``. On
    Prometheus and Aetos the samples of all ``instances`` are asked first, many a query."""
    prometheus_peak.read_ahead(datasource, instances, read.period_s, read.aggregate, read.granularity_s)
    asked = _FallingBack(datasource, read)
    readings = read_each(instances, key=lambda i: i.uuid, fetch=asked.fetch, convert=_percent_to_fraction,
                         what=CPU_METRICS)
    if asked.fallbacks:
        readings.notes.insert(0, f"the datasource refused aggregate {read.aggregate!r} of instance CPU "
                              f"({asked.refusal}): the mean over the same {read.period_s} s read instead for "
                              f"{asked.fallbacks} of {len(instances)} instances, which misses the bursts the "
                              "peak guards against")
    return readings


class _FallingBack:
    """``get_instance_cpu_usage`` by a read, falling back to the mean once the datasource refuses its aggregate."""

    def __init__(self, datasource, read: CpuRead):
        self._datasource, self._read = datasource, read
        self.refusal: str | None = None  # why the first refusal was taken as one
        self.answered = False  # the aggregate gave a value once: a gap after that is missing data, no refusal
        self.fallbacks = 0

    def _ask(self, instance, aggregate: str):
        return self._datasource.get_instance_cpu_usage(instance, self._read.period_s, aggregate,
                                                       self._read.granularity_s)

    def fetch(self, instance):
        if self._read.aggregate == "mean":
            return self._ask(instance, "mean")
        if self.answered:
            return self._ask(instance, self._read.aggregate)
        if self.refusal is None:
            try:
                value = self._ask(instance, self._read.aggregate)
                why = "no value"
            except Exception as exc:  # noqa: BLE001 - a refusal, if the mean answers
                value, why = None, f"{type(exc).__name__}: {exc}"
            if _percent_to_fraction(value) is not None:
                self.answered = True
                return value
            mean = self._ask(instance, "mean")  # raises to read_each when the datasource is down
            if _percent_to_fraction(mean) is not None:  # the mean answers where the aggregate did not
                self.refusal = why
                self.fallbacks += 1
            return mean
        self.fallbacks += 1
        return self._ask(instance, "mean")


def host_power(datasource, nodes: Iterable, period_s: int, granularity_s: int) -> tuple[Readings, Readings]:
    """(host CPU use as a fraction, host watts) per hostname, for power-model calibration."""
    nodes = list(nodes)
    cpu = read_each(nodes, key=lambda n: n.hostname,
                    fetch=lambda n: datasource.get_host_cpu_usage(n, period_s, "mean", granularity_s),
                    convert=_percent_to_fraction, what="host CPU metrics")
    watts = read_each(nodes, key=lambda n: n.hostname,
                      fetch=lambda n: datasource.get_host_power(n, period_s, "mean", granularity_s),
                      convert=_positive, what="host power metrics")
    return cpu, watts


def _positive(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None
