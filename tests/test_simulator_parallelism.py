"""The geyser policy's waves in a replay hold no more migrations than its parallelism, and no more
touching one host (as source or destination) than its per-host parallelism; in ``realistic``
fidelity both default to what the Watcher strategy plans with (``defaults.PARALLELISM``, Watcher's
concurrent migrations, and ``defaults.PER_HOST_PARALLELISM``, Nova's max_concurrent_live_migrations),
so a replay runs a plan as long as Watcher would. ``cloudsim`` fidelity leaves them unlimited, as
CloudSim starts every migration at once."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watcher_geyser import defaults
from watcher_geyser.commands.simulate import bundled_sample
from watcher_geyser.simulator.datacenter import planetlab_small
from watcher_geyser.simulator.engine import simulate
from watcher_geyser.simulator.fidelity import CLOUDSIM, REALISTIC, Fidelity
from watcher_geyser.simulator.geyser_policy import GeyserPolicy
from watcher_geyser.simulator.policy_params import parse_policy
from watcher_geyser.simulator.traces import Trace, read_planetlab

STEPS = 12  # an hour: the first plan consolidates the initial placement, many waves


@dataclass
class RecordingPolicy(GeyserPolicy):
    """The geyser policy, keeping each wave it returns as (source, destination) host pairs."""

    waves: list[list[tuple[int, int]]] = field(default_factory=list, repr=False)

    def decide(self, view):
        waves = super().decide(view)
        where = view.state.vm_host.copy()
        for wave in waves:
            self.waves.append([(int(where[m.vm]), m.host) for m in wave])
            for m in wave:  # a later wave of the plan moves the VM from where this one put it
                where[m.vm] = m.host
        return waves


@cache
def _trace() -> Trace:
    trace = read_planetlab(bundled_sample())
    return Trace(trace.names, trace.util[:, :STEPS], trace.step_s, trace.source)


def _replay(fidelity: Fidelity, **kwargs) -> list[list[tuple[int, int]]]:
    policy = RecordingPolicy(**kwargs)
    policy.settings = policy.settings.with_solve(deterministic=True)
    trace = _trace()
    simulate(trace, planetlab_small(trace.names), policy, fidelity)
    return policy.waves


def _widest(waves: list[list[tuple[int, int]]]) -> tuple[int, int]:
    """The most migrations in one wave, and the most touching one host in one wave."""
    per_host = [Counter(h for move in wave for h in set(move)) for wave in waves]
    return max(map(len, waves)), max(max(c.values()) for c in per_host)


def test_realistic_waves_default_to_watchers_parallelism():
    waves = _replay(REALISTIC)
    assert _widest(waves) == (defaults.PARALLELISM, defaults.PER_HOST_PARALLELISM)


def test_cloudsim_waves_are_unlimited():
    waves = _replay(CLOUDSIM)
    widest, _ = _widest(waves)
    assert widest > defaults.PARALLELISM  # the sample's first plan starts more than two at once


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parallelism=st.integers(1, 6), per_host=st.integers(1, 3))
def test_realistic_waves_keep_the_given_parallelism(parallelism: int, per_host: int):
    waves = _replay(REALISTIC, parallelism=parallelism, per_host_parallelism=per_host)
    widest, widest_host = _widest(waves)
    assert widest <= parallelism
    assert widest_host <= per_host
    assert np.sum([len(w) for w in waves]) > 0


def test_the_policy_spec_sets_parallelism():
    spec = parse_policy("geyser:parallelism=8,per_host_parallelism=2", ["geyser"])
    assert spec.kwargs == {"parallelism": 8, "per_host_parallelism": 2}
