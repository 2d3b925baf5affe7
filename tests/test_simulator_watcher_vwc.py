"""The ``watcher-vwc`` policy: Watcher's own vm_workload_consolidation replayed on the bundled sample."""

from __future__ import annotations

import builtins
from dataclasses import replace

import pytest

from watcher_geyser.commands.simulate import bundled_sample
from watcher_geyser.simulator.baselines import POLICIES, make_policy
from watcher_geyser.simulator.datacenter import PRESETS, with_vm_sizes
from watcher_geyser.simulator.engine import simulate
from watcher_geyser.simulator.fidelity import fidelity
from watcher_geyser.simulator.traces import read_planetlab

SAMPLES = 73  # six hours of 5-minute samples keep the test short; the strategy runs at every one


def test_registered_and_a_missing_watcher_is_named_with_the_fix(monkeypatch, capsys):
    assert "watcher-vwc" in POLICIES
    real_import = builtins.__import__

    def without_watcher(name, *args, **kwargs):
        if name == "watcher" or name.startswith("watcher."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_watcher)
    with pytest.raises(ValueError, match=r"pip install -e '.\[watcher\]'"):
        make_policy("watcher-vwc")
    from watcher_geyser.cli import main

    assert main(["simulate", "--policy", "watcher-vwc", "--quiet"]) == 2
    assert "python-watcher cannot be imported" in capsys.readouterr().err


@pytest.fixture(scope="module")
def sample():
    pytest.importorskip("watcher", reason="python-watcher is not installed (pip install -e '.[watcher]'): "
                        "the watcher-vwc policy runs Watcher's own strategy")
    trace = read_planetlab(bundled_sample(), limit=50)
    trace = replace(trace, util=trace.util[:, :SAMPLES])
    dc = with_vm_sizes(PRESETS["planetlab-small"](trace.names), trace.vm_mips, trace.vm_ram_mb)
    return trace, dc


class Recording:
    """The policy, with every answer it gave kept for the assertions."""

    def __init__(self, policy):
        self.policy = policy
        self.answers = []

    def __getattr__(self, name):
        return getattr(self.policy, name)

    def initial_placement(self, state):
        self.policy.initial_placement(state)

    def decide(self, view):
        answer = self.policy.decide(view)
        self.answers.append(answer)
        return answer


@pytest.fixture(scope="module")
def runs(sample):
    trace, dc = sample
    out = {}
    for fid in ("cloudsim", "realistic"):
        policy = Recording(make_policy("watcher-vwc"))
        out[fid] = (simulate(trace, dc, policy, fidelity(fid)), policy.answers)
    out["dvfs"] = simulate(trace, dc, make_policy("dvfs"), fidelity("cloudsim"))
    return out


def test_watchers_strategy_consolidates_the_sample(runs):
    result, answers = runs["cloudsim"]
    assert result.policy == "watcher-vwc"
    assert result.migrations > 0
    assert result.energy_kwh < runs["dvfs"].energy_kwh
    assert result.energy_kwh >= result.energy_lower_bound_kwh
    assert all(isinstance(a, list) and all(not isinstance(m, list) for m in a) for a in answers)


def test_realistic_fidelity_runs_migrations_two_at_a_time_as_watchers_planner_does(runs):
    result, answers = runs["realistic"]
    waves = [w for a in answers for w in a]
    assert waves, "the strategy moved something in realistic fidelity"
    assert all(1 <= len(w) <= 2 for w in waves)
    assert result.migrations + result.migrations_dropped == sum(len(w) for w in waves)


def test_the_policy_sees_the_hour_mean_of_cpu_and_released_hosts_as_disabled(sample):
    from watcher_geyser.records import HostState
    from watcher_geyser.simulator.watcher_vwc import WatcherVWCPolicy

    trace, dc = sample
    seen = []

    class Spy(WatcherVWCPolicy):
        def decide(self, view):
            fleet = self._fleet(view)
            seen.append((view.state.history[:, : min(12, view.state.history_len)].mean(axis=1), fleet))
            return super().decide(view)

    short = replace(trace, util=trace.util[:, :16])
    simulate(short, dc, Spy(), fidelity("cloudsim"))
    means, fleet = seen[-1]
    assert all(h.state is not HostState.OFF for h in fleet.hosts)
    assert any(h.state is HostState.DISABLED for h in fleet.hosts)
    by_name = {i.uuid: i for i in fleet.instances}
    for name, mean in zip(trace.names, means.tolist()):
        if name in by_name:
            assert by_name[name].cpu_util == pytest.approx(min(mean, 1.0))
