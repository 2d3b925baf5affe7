"""On Prometheus the strategy reads instance CPU's peak over time and the load now, as the simulator
places VMs, the samples of many instances a query.

Against a real Prometheus (Debian's binary on loopback) holding Ceilometer's cumulative ``ceilometer_cpu``
counters of the last half hour (written into its storage by ``promtool`` before it starts, and
going on for ten minutes past the test's ``NOW``, so Watcher's own reads, at the server's clock,
see steady load after it), read through Watcher's own ``PrometheusHelper`` configured in
``[prometheus_client]``. The peak is asked at ``NOW`` (``PeakRead``'s clock); the rest is Watcher's.
"""

from __future__ import annotations

import time
import uuid as uuidlib
import warnings
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from oslo_config import cfg
from watcher import conf as watcher_conf  # noqa: F401 - registers [prometheus_client]
from watcher.decision_engine.datasources import prometheus as watcher_prometheus
from watcher.decision_engine.model import element

from tests.builders import fleet, host, vm
from tests.prometheus_server import backfilled, first_value, needs_prometheus
from tests.watcher.test_cpu_read import _sources
from watcher_geyser.strategies import offline
from watcher_geyser.strategies.metrics import CpuRead, cpu_read, instance_cpu
from watcher_geyser.strategies.prometheus_peak import PeakRead, bucket_rates, take_notes, with_peak

pytestmark = needs_prometheus

PEAK, NOW_READ = cpu_read(0.0), cpu_read(1.0)
DENSE_S, SPARSE_S = 60, 300  # polled every minute, and every 5 minutes (Ceilometer's default)
FUTURE_S = 600  # steady samples past NOW: Watcher's reads run at the server's clock, a little later


def _uuid(name: str) -> str:
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, name))


DENSE, SPARSE, RESET = _uuid("dense"), _uuid("sparse"), _uuid("reset")
FLEET = [_uuid(f"v{k}") for k in range(8)]
#: Fifty instances polled every 300 s at phases of their own, 1-4 vcpus, a load of their own in each
#: interval; every tenth with a second series (another ``project`` label), at other loads.
BATCH = [_uuid(f"b{k}") for k in range(50)]
SERIES = 3 + len(FLEET) + len(BATCH) + len(BATCH) // 10


def _batch_vcpus(k: int) -> int:
    return 1 + k % 4


def _batch_load(k: int, salt: int = 0):
    return lambda ago: _batch_vcpus(k) * ((k * 7 + salt + (ago // SPARSE_S) * 13) % 11) / 10


def _counter(uuid: str, now: int, poll_s: int, phase_s: int, load, back_s: int = 1800, labels: str = "",
             reset_ago: int | None = None) -> list[str]:
    """OpenMetrics lines of a CPU-time counter (ns) polled every ``poll_s``, at ``now - phase_s - j poll_s``;
    ``load(end)`` is the CPU used (cores) over the poll interval ending ``end`` seconds before ``now``;
    ``reset_ago``: the instance restarted in the interval ending then, its counter from zero again."""
    lines, total = [], 0.0
    times = range(now - phase_s - (back_s // poll_s) * poll_s, now + FUTURE_S, poll_s)
    for t in times:
        total = (0.0 if now - t == reset_ago else total) + load(now - t) * poll_s * 1e9
        lines.append(f'ceilometer_cpu{{resource="{uuid}"{labels}}} {total:.0f} {t}')
    return lines


def _burst(base: float, peak: float, ends: tuple[int, int], old: tuple[int, int] | None = None):
    """``peak`` for intervals ending within ``ends`` (seconds before now, inclusive), else ``base``;
    ``old``: an older burst at 1.0."""
    def load(ago: int) -> float:
        if ends[0] <= ago <= ends[1]:
            return peak
        return 1.0 if old and old[0] <= ago <= old[1] else base
    return load


def _samples(now: int, fleet_poll_s: int) -> str:
    # dense, 1 vcpu: 20 %, 90 % over (now-630, now-330], the bucket before last; 100 % older than 900 s
    lines = _counter(DENSE, now, DENSE_S, 30, _burst(0.2, 0.9, (330, 570), old=(930, 1170)))
    # sparse, 2 vcpus: 30 %, 80 % in the interval ending now-450, 100 % in the one ending now-1050 (outside)
    lines += _counter(SPARSE, now, SPARSE_S, 150, lambda ago: 2 * {450: 0.8, 1050: 1.0}.get(ago, 0.3))
    # reset, 1 vcpu: 40 %, restarted in the interval ending now-100, 60 % over it counted from zero
    lines += _counter(RESET, now, SPARSE_S, 100, lambda ago: 0.6 if ago == 100 else 0.4, reset_ago=100)
    for k, uuid in enumerate(BATCH):
        lines += _counter(uuid, now, SPARSE_S, (k * 37) % SPARSE_S, _batch_load(k))
        if k % 10 == 0:
            lines += _counter(uuid, now, SPARSE_S, (k * 37) % SPARSE_S, _batch_load(k, 5), labels=',project="p2"')
    # the fleet's eight, 2 vcpus: 10 %, 100 % over (now-630, now-330]
    phase = 30 if fleet_poll_s == DENSE_S else 150
    for uuid in FLEET:
        lines += _counter(uuid, now, fleet_poll_s, phase, lambda ago: 2 * (1.0 if 330 <= ago <= 630 - phase else 0.1))
    return "# TYPE ceilometer_cpu gauge\n" + "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, int]]:
    """(base URL, NOW) of a Prometheus holding the counters, the fleet's polled every minute."""
    now = int(time.time())
    with backfilled(tmp_path_factory.mktemp("prometheus"), _samples(now, DENSE_S), "count(ceilometer_cpu)",
                    lambda result: first_value(result) == SERIES) as base:
        yield base, now


@pytest.fixture(scope="module")
def limited(tmp_path_factory) -> Iterator[tuple[str, int]]:
    """The same counters on a server that loads at most 20 samples a query (``--query.max-samples``):
    Watcher's query of a minute-polled counter over 900 s runs (15 samples, 18 with its steps), the
    peak's 1500 s of samples (25) fail."""
    now = int(time.time())
    with backfilled(tmp_path_factory.mktemp("limited"), _samples(now, DENSE_S),
                    f'count(ceilometer_cpu{{resource="{DENSE}"}})', lambda result: first_value(result) == 1,
                    flags=("--query.max-samples=20",)) as base:
        yield base, now


@pytest.fixture
def helper(request) -> Iterator[watcher_prometheus.PrometheusHelper]:
    """Watcher's own Prometheus datasource, configured in ``[prometheus_client]`` for the server named
    by the test's ``which`` parameter (``server`` unless given)."""
    which = getattr(request, "param", "server")
    base, _ = request.getfixturevalue(which)
    host_name, port = base.removeprefix("http://").split(":")
    cfg.CONF.set_override("host", host_name, group="prometheus_client")
    cfg.CONF.set_override("port", int(port), group="prometheus_client")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # Watcher 17 deprecates it for Aetos
            made = watcher_prometheus.PrometheusHelper()
        yield made
    finally:
        cfg.CONF.clear_override("host", group="prometheus_client")
        cfg.CONF.clear_override("port", group="prometheus_client")


def _instances() -> list[element.Instance]:
    return [element.Instance(uuid=DENSE, name="dense", vcpus=1), element.Instance(uuid=SPARSE, name="sparse", vcpus=2)]


def test_the_peak_read_is_the_burst_not_watchers_15_minute_mean(server, helper):
    assert CpuRead(900, "max", 300) == PEAK
    _, now = server
    readings = instance_cpu(PeakRead(helper, clock=lambda: now), _instances(), PEAK)
    assert readings.values == {DENSE: pytest.approx(0.9), SPARSE: pytest.approx(0.8)}
    assert readings.notes == []
    # what Watcher's helper answers to the same read: the mean rate over the 900 s, across series
    watchers = instance_cpu(helper, _instances(), PEAK).values
    assert 0.3 < watchers[DENSE] < 0.6 and 0.3 < watchers[SPARSE] < 0.7


def test_the_scarce_read_is_the_latest_buckets_rate_not_the_peak(server, helper):
    _, now = server
    peak = PeakRead(helper, clock=lambda: now)
    reset = element.Instance(uuid=RESET, name="reset", vcpus=1)
    readings = instance_cpu(peak, [*_instances(), reset], NOW_READ)
    # dense: the steady 20 % of its last five minutes; sparse (polled every 300 s): the interval its
    # last sample ends, 30 %, not its 80 % peak; reset: 60 % since its restart, counted from zero
    assert readings.values == {DENSE: pytest.approx(0.2), SPARSE: pytest.approx(0.3), RESET: pytest.approx(0.6)}
    assert readings.notes == [] and take_notes(peak) == []
    # Watcher's own read: the rate over 300 s, which has no two samples of the 300 s-polled ones
    assert helper.get_instance_cpu_usage(_instances()[1], 300, "mean", 300) is None


def test_a_longer_period_reaches_the_older_burst(server, helper):
    _, now = server
    readings = instance_cpu(PeakRead(helper, clock=lambda: now), _instances(), CpuRead(1200, "max", 300))
    assert readings.values == {DENSE: pytest.approx(1.0), SPARSE: pytest.approx(1.0)}


def test_an_instance_without_samples_has_no_peak_and_no_fallback(server, helper):
    _, now = server
    peak = PeakRead(helper, clock=lambda: now)
    assert peak.get_instance_cpu_usage(element.Instance(uuid=_uuid("none"), name="none", vcpus=1), 900, "max",
                                       300) is None
    assert take_notes(peak) == []


def test_a_value_injected_as_simulated_is_served_as_watcher_would(server, helper):
    _, now = server
    helper.inject_metric(DENSE, "instance_cpu_usage", "max", 900, 42.0, granularity=300, simulated=True)
    assert instance_cpu(PeakRead(helper, clock=lambda: now), _instances()[:1], PEAK).values == {DENSE: 0.42}


@pytest.mark.parametrize("helper", ["limited"], indirect=True)
def test_a_failing_query_falls_back_to_watchers_read_with_a_note(limited, helper):
    _, now = limited
    peak = PeakRead(helper, clock=lambda: now)
    readings = instance_cpu(peak, _instances(), PEAK)
    # Watcher's own max, the mean over 900 s: of 90 % over 300 s and 20 %; of 80 % and 30 % over 300 s each
    assert 0.3 < readings.values[DENSE] < 0.6 and readings.values[SPARSE] == pytest.approx(0.55, abs=0.05)
    assert readings.notes == []  # Watcher's max answered: no refusal, no mean asked
    [note] = take_notes(peak)
    assert note.startswith("instance CPU peak not read from prometheus: the query of their samples failed for 1 "
                           "of 1 queries")
    assert "too many samples" in note and "for 2 of 2 instances, the mean rate over 900 s" in note
    assert take_notes(peak) == []  # said once


def _batch() -> list[element.Instance]:
    return [element.Instance(uuid=uuid, name=f"b{k}", vcpus=_batch_vcpus(k)) for k, uuid in enumerate(BATCH)]


def _counting_queries(helper, monkeypatch) -> list[str]:
    """The PromQL of each query the helper's client is asked from now on."""
    asked, get = [], helper.prometheus._get

    def counted(endpoint, params=None):
        asked.append((params or {}).get("query"))
        return get(endpoint, params)
    monkeypatch.setattr(helper.prometheus, "_get", counted)
    return asked


@pytest.mark.parametrize("read", [PEAK, NOW_READ], ids=["peak", "load now"])
def test_a_batched_read_equals_the_reads_one_instance_at_a_time(server, helper, monkeypatch, read):
    _, now = server
    instances = [*_batch(), element.Instance(uuid=_uuid("none"), name="none", vcpus=1)]
    asked = _counting_queries(helper, monkeypatch)
    alone = PeakRead(helper, clock=lambda: now)
    one_by_one = {i.uuid: alone.get_instance_cpu_usage(i, read.period_s, read.aggregate, read.granularity_s)
                  for i in instances}
    assert len(asked) == 51
    del asked[:]
    batched = PeakRead(helper, clock=lambda: now, chunk=7)
    readings = instance_cpu(batched, instances, read)
    # 51 instances, 7 a query; the load now asks the peak of the one without samples (and Watcher its mean)
    assert sum("=~" in q for q in asked) == 8 + (read == NOW_READ)
    assert readings.values == {uuid: None if v is None else v / 100 for uuid, v in one_by_one.items()}
    assert readings.measured == 50 and len(set(readings.values.values())) > 5  # loads in tenths of a vcpu
    assert take_notes(batched) == take_notes(alone) == []
    # b0 (1 vcpu, polled at now) has two series: loads 0, 20, 40 % and 50, 70, 90 % in its last three
    # intervals; the peak is the higher series', the load now the two series' mean, as Watcher's max/avg by
    assert readings.values[BATCH[0]] == pytest.approx(0.9 if read == PEAK else 0.25)


@pytest.mark.parametrize("helper", ["limited"], indirect=True)
def test_a_failing_chunk_falls_back_for_its_instances_only(limited, helper):
    _, now = limited
    # the server loads at most 20 samples a query: three 300 s-polled instances' 1500 s (15) pass,
    # a chunk with the minute-polled dense (25 alone) fails
    instances = _batch()[1:4] + [_instances()[0]] + _batch()[4:6] + _batch()[6:9]
    peak = PeakRead(helper, clock=lambda: now, chunk=3)
    readings = instance_cpu(peak, instances, PEAK)
    alone = PeakRead(helper, clock=lambda: now)
    for k, instance in enumerate(instances):
        if 3 <= k < 6:  # the failed chunk: Watcher's own max, the mean rate over 900 s
            expected = helper.get_instance_cpu_usage(instance, 900, "max", 300)
        else:
            expected = alone.get_instance_cpu_usage(instance, 900, "max", 300)
        assert readings.values[instance.uuid] == pytest.approx(expected / 100), instance.name
    [note] = take_notes(peak)
    assert "failed for 1 of 3 queries" in note and "too many samples" in note
    assert "Watcher's own max read instead for 3 of 9 instances" in note


def test_a_helper_mapping_cpu_to_another_meter_is_read_as_watcher_reads_it(server, helper, monkeypatch):
    _, now = server
    monkeypatch.setitem(helper.METRIC_MAP, "instance_cpu_usage", "cpu_util")
    peak = PeakRead(helper, clock=lambda: now)
    with pytest.raises(Exception, match="Cannot process prometheus meter cpu_util"):
        peak.get_instance_cpu_usage(_instances()[0], 900, "max", 300)  # Watcher's own read refuses it
    [note] = take_notes(peak)
    assert "maps to 'cpu_util' in the metric map" in note and "for 1 of 1 instances" in note


def test_only_prometheus_and_aetos_are_wrapped(server, helper):
    assert isinstance(with_peak(helper), PeakRead)
    datasource = offline.FleetDatasource(fleet([host("a")], [vm("x", "a")]))
    assert with_peak(datasource) is datasource and take_notes(datasource) == []
    wrapped = with_peak(helper)
    assert with_peak(wrapped) is wrapped


# --- through the strategy ---------------------------------------------------------------------------
def _two_hosts():
    """Two 16-core hosts, four 2-vcpu instances each (the counters' fleet): at 10 % all fit one host,
    at their burst of 100 % neither can take more."""
    return fleet([host(h, vcpus=16, memory_mb=65536) for h in "ab"],
                 [vm(uuid, "ab"[k % 2], cpu_util=None) for k, uuid in enumerate(FLEET)])


def _run(datasource, signal: str = ""):
    with _sources():
        run = offline.run_strategy("geyser_consolidation", _two_hosts(),
                                   {"time_limit_s": 2.0, "signal_source": signal}, datasource=datasource)
    return run.strategy.outcome, [a for a in run.solution.actions if a["action_type"] == "migrate"]


def test_the_strategy_plans_on_the_burst_and_fully_scarce_on_the_load_now(server, helper):
    _, now = server
    outcome, moves = _run(PeakRead(helper, clock=lambda: now))
    assert outcome["cpu_read"] == PEAK and moves == []
    assert not any("instance CPU" in n for n in outcome["notes"])
    outcome, moves = _run(PeakRead(helper, clock=lambda: now), "scarce")
    assert outcome["cpu_read"] == NOW_READ and len(moves) == 4


@pytest.mark.parametrize("helper", ["limited"], indirect=True)
def test_the_strategy_wraps_watchers_helper_and_its_plan_says_when_the_peak_failed(limited, helper):
    outcome, _ = _run(helper)
    assert outcome["cpu_read"] == PEAK
    [note] = [n for n in outcome["notes"] if n.startswith("instance CPU peak not read")]
    assert "for 8 of 8 instances" in note


# --- the buckets, against the simulator's peak of the last samples ------------------------------------
def _polled(loads: list[float], poll_s: float, phase_s: float, now_s: float = 10_000.0):
    """Samples of a counter whose rate over the k-th interval before the last sample is ``loads[-1 - k]``."""
    t0 = now_s - phase_s - len(loads) * poll_s
    samples, total = [(t0, 5.0)], 5.0
    for k, load in enumerate(loads):
        total += load * poll_s
        samples.append((t0 + (k + 1) * poll_s, total))
    return samples, now_s


loads = st.lists(st.floats(0.0, 4.0, allow_nan=False), min_size=4, max_size=12)


@given(loads, st.floats(0.0, 299.0))
def test_polled_every_granularity_the_buckets_are_the_last_three_samples(loads, phase_s):
    samples, now_s = _polled(loads, 300.0, phase_s)
    assert bucket_rates(samples, now_s, 900, 300) == pytest.approx(loads[::-1][:3])


@given(loads, st.floats(0.0, 59.0))
def test_polled_every_minute_the_buckets_are_the_five_minute_means(loads, phase_s):
    loads = loads * 3  # 12-36 one-minute intervals
    samples, now_s = _polled(loads, 60.0, phase_s)
    newest = loads[::-1]
    means = [sum(newest[5 * k:5 * k + 5]) / 5 for k in range(3) if len(newest) >= 5 * k + 5]
    assert bucket_rates(samples, now_s, 900, 300)[:len(means)] == pytest.approx(means)


@given(loads, st.floats(0.0, 299.0), st.data())
def test_a_counter_reset_counts_from_zero(loads, phase_s, data):
    samples, now_s = _polled(loads, 300.0, phase_s)
    at = data.draw(st.integers(1, len(samples) - 1))
    base = samples[at - 1][1]  # restarted just after sample at-1: from then on it counts from zero
    reset = samples[:at] + [(t, v - base) for t, v in samples[at:]]
    assume_reset_seen = reset[at][1] < reset[at - 1][1] or reset[at][1] == reset[at - 1][1] == 0
    if assume_reset_seen:
        assert bucket_rates(reset, now_s, 900, 300) == pytest.approx(bucket_rates(samples, now_s, 900, 300))


def test_a_young_instance_is_measured_from_its_first_sample():
    assert bucket_rates([(9_900.0, 0.0), (9_960.0, 30.0)], 10_000.0, 900, 300) == [0.5]
    assert bucket_rates([(9_990.0, 0.0)], 10_000.0, 900, 300) == []
