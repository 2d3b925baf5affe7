"""The geyser policy in the simulator: the plugin's code path (solve, plan) replayed on a trace."""

import numpy as np
import pytest

from watcher_geyser import defaults
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


def test_a_fully_scarce_supply_plans_on_the_load_now_with_the_head_room_in_the_host_ceiling(sample):
    """While every watt goes uncovered the forecast is the load now (as the plugin measures it), not
    each VM's recent peak summed over a host (every VM bursting at once), and the head-room is the
    tight ceiling's, one margin per host, with a dead band under the relief limit."""
    trace, dc = sample
    peak = float(sum(p.max_w for p in dc.power))
    times = np.arange(0, 86400 + 3600, 3600, dtype=float)
    seen = []

    class Watched(GeyserPolicy):
        def step_settings(self, view, fleet):
            settings = super().step_settings(view, fleet)
            now = view.snapshot.vm_req_mips / view.state.dc.vm_mips
            seen.append((bool(np.allclose(self._forecast(view), now)), settings.limits))
            return settings

    series = Series.build(times, np.full(len(times), 0.001 * peak), Unit.WATTS)
    simulate(trace, dc, Watched(signal=SignalFeed(series, 0.0)), fidelity("cloudsim"))
    assert len(seen) > 10
    assert all(on_load_now for on_load_now, _ in seen)
    assert all(limits.cpu_ceiling == pytest.approx(defaults.TIGHT_CPU_CEILING) for _, limits in seen)
    assert all(limits.relief_ceiling > limits.cpu_ceiling for _, limits in seen)
