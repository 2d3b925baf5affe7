"""The strategy reads instance CPU as the simulator's geyser policy places: the peak of the last three
samples, or while energy is fully scarce the load now; a datasource refusing ``max`` is read with the mean."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from oslo_config import cfg

from tests.builders import fleet, host, vm
from watcher_geyser import defaults
from watcher_geyser.pipeline import cpu_window
from watcher_geyser.simulator.geyser_policy import GeyserPolicy
from watcher_geyser.strategies import offline, opts
from watcher_geyser.strategies.fleet_datasource import FleetDatasource
from watcher_geyser.strategies.metrics import CpuRead, cpu_read, instance_cpu

PEAK = CpuRead(900, "max", 300)
NOW = CpuRead(300, "mean", 300, wider=PEAK)


class Instance:
    def __init__(self, uuid: str):
        self.uuid = uuid


class Recording:
    """Instance CPU in percent: ``now`` to any read, ``peak`` to ``max``; ``refuse`` answers nothing
    (or raises, with ``raises``) to those aggregates. Records every (period, aggregate, granularity)."""

    def __init__(self, now: dict[str, float], peak: dict[str, float] | None = None, refuse=(), raises=False,
                 sparse: int = 0):
        self.now, self.peak, self.refuse, self.raises = now, peak or {}, frozenset(refuse), raises
        self.sparse = sparse  # periods up to this many seconds hold no sample (a rate needs two)
        self.asked: list[tuple[str, int, str, int]] = []

    def get_instance_cpu_usage(self, resource, period, aggregate, granularity=None):
        self.asked.append((resource.uuid, period, aggregate, granularity))
        if period <= self.sparse:
            return None
        if aggregate in self.refuse:
            if self.raises:
                raise NotImplementedError(f"aggregate {aggregate} not supported")
            return None
        if aggregate == "max":
            return self.peak.get(resource.uuid, self.now.get(resource.uuid))
        return self.now.get(resource.uuid)


def test_the_strategys_read_and_the_simulators_forecast_come_from_the_same_constants():
    assert (GeyserPolicy().forecast_window, GeyserPolicy().scarce_forecast_window) == (
        defaults.CPU_FORECAST_WINDOW, defaults.CPU_SCARCE_WINDOW)
    assert (opts.CPU_PERIOD_S, opts.CPU_AGGREGATE, opts.CPU_GRANULARITY_S) == (900, "max", 300)
    assert opts.CPU_PERIOD_S == defaults.CPU_FORECAST_WINDOW * defaults.CPU_SAMPLE_S
    assert cpu_read(0.0) == PEAK and cpu_read(1.0) == NOW


@given(st.floats(0.0, 1.0))
@example(1.0)
def test_at_any_level_the_read_covers_the_samples_the_simulator_looks_back_over(level):
    read = cpu_read(level)
    assert read.period_s == cpu_window(level) * read.granularity_s
    assert read.aggregate == ("mean" if level >= 1.0 else "max")


def test_the_operators_options_set_the_peak_read_not_the_load_now():
    assert cpu_read(0.5, 3600, "mean", 60) == CpuRead(3600, "mean", 60)
    assert cpu_read(1.0, 3600, "max", 60) == CpuRead(60, "mean", 60, wider=CpuRead(3600, "max", 60))


def test_the_peak_read_asks_max_over_three_samples_of_every_instance():
    ds = Recording({"a": 20.0, "b": 30.0}, {"a": 80.0})
    readings = instance_cpu(ds, [Instance("a"), Instance("b")], PEAK)
    assert readings.values == {"a": 0.8, "b": 0.3} and readings.notes == []
    assert ds.asked == [("a", 900, "max", 300), ("b", 900, "max", 300)]


@pytest.mark.parametrize("raises", [False, True])
def test_a_datasource_refusing_max_is_read_with_the_mean_and_a_note_says_so(raises):
    ds = Recording({"a": 20.0, "b": 30.0, "c": 40.0}, {"a": 80.0}, refuse={"max"}, raises=raises)
    readings = instance_cpu(ds, [Instance("a"), Instance("b"), Instance("c")], PEAK)
    assert readings.values == {"a": 0.2, "b": 0.3, "c": 0.4}
    # max is asked once: from the first refusal on, the mean only
    assert [q[2] for q in ds.asked] == ["max", "mean", "mean", "mean"]
    assert {q[1] for q in ds.asked} == {900}
    [note] = readings.notes
    assert "refused aggregate 'max'" in note and "3 of 3 instances" in note and "900 s" in note
    assert ("NotImplementedError" in note) == raises


def test_an_instance_without_measurements_is_no_refusal():
    ds = Recording({"b": 30.0})  # "a" has no samples at all: neither max nor mean
    readings = instance_cpu(ds, [Instance("a"), Instance("b")], PEAK)
    assert readings.values == {"a": None, "b": 0.3}
    assert [q[2] for q in ds.asked] == ["max", "mean", "max"]
    assert readings.notes == ["instance CPU metrics: no usable value for 1 of 2"]
    ds.asked.clear()  # once max has answered, a gap is not probed with the mean
    assert instance_cpu(ds, [Instance("b"), Instance("a")], PEAK).values == {"a": None, "b": 0.3}
    assert [q[2] for q in ds.asked] == ["max", "max"]


def test_a_datasource_down_is_one_note_naming_its_error():
    ds = Recording({}, refuse={"max", "mean"}, raises=True)
    readings = instance_cpu(ds, [Instance("a")], PEAK)
    assert readings.values == {"a": None}
    assert len(readings.notes) == 1 and "mean not supported" in readings.notes[0]


def test_the_load_now_never_asks_max():
    ds = Recording({"a": 20.0}, {"a": 80.0})
    assert instance_cpu(ds, [Instance("a")], NOW).values == {"a": 0.2}
    assert ds.asked == [("a", 300, "mean", 300)]


def test_the_load_now_without_a_sample_in_its_window_reads_the_peak_not_fully_busy():
    """Polled every 300 s, a metric may hold no two samples in 300 s (Prometheus' rate then answers nothing)."""
    ds = Recording({"a": 20.0, "b": 30.0}, {"a": 80.0}, sparse=300)
    readings = instance_cpu(ds, [Instance("a"), Instance("b"), Instance("c")], NOW)
    assert readings.values == {"a": 0.8, "b": 0.3, "c": None}
    assert [q[1:3] for q in ds.asked] == [(300, "mean")] * 3 + [(900, "max"), (900, "max"), (900, "max")]
    assert readings.notes[0].startswith("no instance CPU over the last 300 s for 2 of 3 instances")
    assert "max over the last 900 s" in readings.notes[0]
    assert readings.notes[1:] == ["instance CPU metrics: no usable value for 1 of 3"]


def test_the_peak_read_has_nothing_wider():
    ds = Recording({"a": 20.0}, sparse=900)
    readings = instance_cpu(ds, [Instance("a")], PEAK)
    assert readings.values == {"a": None} and len(ds.asked) == 2  # max, then the mean probe
    assert readings.notes == ["instance CPU metrics: no usable value for 1 of 1"]


# --- through the strategy ---------------------------------------------------------------------------
class Bursting(FleetDatasource):
    """The fleet's CPU (10 %) as the load now; every instance at 100 % over the last three samples."""

    def __init__(self, f, refuse=()):
        super().__init__(f)
        self.asked: list[tuple[int, str, int]] = []
        self.refuse = frozenset(refuse)

    def get_instance_cpu_usage(self, resource, period=None, aggregate=None, granularity=None):
        self.asked.append((period, aggregate, granularity))
        if aggregate in self.refuse:
            return None
        now = super().get_instance_cpu_usage(resource, period, aggregate, granularity)
        return 100.0 if aggregate == "max" and period > granularity else now


def _two_hosts():
    """Two 16-core hosts, four 2-vcpu instances each: at 10 % all fit one host, at their peak neither can take more."""
    hosts = [host(h, vcpus=16, memory_mb=65536) for h in ("a", "b")]
    return fleet(hosts, [vm(f"v{k}", "ab"[k % 2], cpu_util=0.1) for k in range(8)])


@contextlib.contextmanager
def _sources():
    from watcher_geyser.signal import opts as signal_opts

    signal_opts.register_opts(cfg.CONF)
    cfg.CONF.set_override("named_sources", ["scarce=constant:1W", "plenty=constant:1MW"], group=signal_opts.GROUP)
    try:
        yield
    finally:
        cfg.CONF.clear_override("named_sources", group=signal_opts.GROUP)


def _run(signal: str = "", refuse=()):
    f = _two_hosts()
    ds = Bursting(f, refuse)
    with _sources():
        run = offline.run_strategy("geyser_consolidation", f, {"time_limit_s": 2.0, "signal_source": signal},
                                   datasource=ds)
    moves = [a for a in run.solution.actions if a["action_type"] == "migrate"]
    return run.strategy.outcome, ds.asked, moves


def test_without_a_signal_the_plan_is_made_on_the_peak():
    outcome, asked, moves = _run()
    assert outcome["cpu_read"] == PEAK and set(asked) == {(900, "max", 300)} and len(asked) == 8
    assert moves == []  # at 100 % over the last samples no host can take the other's instances


def test_fully_scarce_the_plan_is_made_on_the_load_now_read_once():
    outcome, asked, moves = _run("scarce")
    assert outcome["decision"].energy.level == 1.0
    assert outcome["cpu_read"] == NOW and asked == [(300, "mean", 300)] * 8
    assert len(moves) == 4  # at 10 % one host takes all


def test_not_fully_scarce_the_signal_weighs_the_load_now_and_the_plan_the_peak():
    outcome, asked, moves = _run("plenty")
    assert outcome["decision"].energy.level < 1.0
    assert outcome["cpu_read"] == PEAK
    assert asked == [(300, "mean", 300)] * 8 + [(900, "max", 300)] * 8
    assert moves == []


def test_the_strategy_falls_back_to_the_mean_and_says_so():
    outcome, asked, moves = _run(refuse={"max"})
    assert any("refused aggregate 'max'" in n for n in outcome["notes"])
    assert asked[:2] == [(900, "max", 300), (900, "mean", 300)] and set(asked[2:]) == {(900, "mean", 300)}
    assert len(moves) == 4  # the mean is the load now here: nothing holds the instances apart
