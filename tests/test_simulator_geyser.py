"""The geyser policy in the simulator: the plugin's code path (solve, plan) replayed on a trace."""

import numpy as np
import pytest

from watcher_geyser.commands.simulate import bundled_sample
from watcher_geyser.signal import Series, Unit
from watcher_geyser.simulator.baselines import make_policy
from watcher_geyser.simulator.datacenter import PRESETS, with_vm_sizes
from watcher_geyser.simulator.engine import simulate
from watcher_geyser.simulator.fidelity import fidelity
from watcher_geyser.simulator.geyser_policy import GeyserPolicy, SignalFeed
from watcher_geyser.simulator.traces import read_planetlab


@pytest.fixture(scope="module")
def sample():
    trace = read_planetlab(bundled_sample(), limit=60)
    dc = with_vm_sizes(PRESETS["planetlab-small"](trace.names), trace.vm_mips, trace.vm_ram_mb)
    return trace, dc


@pytest.fixture(scope="module")
def runs(sample):
    trace, dc = sample
    return {name: simulate(trace, dc, make_policy(name), fidelity("cloudsim")) for name in ("geyser", "thr-mmt")}


def test_geyser_saves_energy_with_far_fewer_migrations_than_thr_mmt(runs):
    geyser, thr = runs["geyser"], runs["thr-mmt"]
    assert geyser.energy_kwh < thr.energy_kwh
    assert geyser.migrations * 5 < thr.migrations
    assert geyser.slav <= thr.slav
    assert geyser.energy_kwh >= geyser.energy_lower_bound_kwh


def test_geyser_reports_solver_and_planner_time(runs):
    summary = runs["geyser"].summary()
    assert summary["solver_seconds_mean"] > 0
    assert np.isfinite(summary["step_seconds_p95"])


def test_scarce_signal_packs_tighter_than_plentiful(sample):
    trace, dc = sample
    peak = float(sum(p.max_w for p in dc.power))
    times = np.arange(0, 86400 + 3600, 3600, dtype=float)

    def run(watts: float):
        series = Series.build(times, np.full(len(times), watts), Unit.WATTS)
        return simulate(trace, dc, GeyserPolicy(signal=SignalFeed(series, 0.0)), fidelity("cloudsim"))

    scarce, plenty = run(0.001 * peak), run(peak)  # the budget is soft: scarce must be below what the fleet draws
    assert scarce.energy_kwh < plenty.energy_kwh
