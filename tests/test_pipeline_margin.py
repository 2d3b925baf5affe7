"""The scarce end's margin per host (``pipeline/margin.py``) and how it reaches the solver."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import fleet, host, vm
from watcher_geyser import defaults
from watcher_geyser.pipeline import DEFAULTS, Settings, apply_decision, problem, run
from watcher_geyser.pipeline.margin import host_cpu_ceilings, host_margins
from watcher_geyser.signal import Decision, PolicyConfig
from watcher_geyser.solver import Problem


def decision(ceiling: float, level: float = 1.0, k: float | None = defaults.HOST_MARGIN_K,
             relief_margin: float | None = None) -> Decision:
    return Decision(at_s=0.0, budget_w=None, ceiling=ceiling, level=level, consolidate=True, allow_power_off=True,
                    value=None, value_now=None, unit=None, source="test", fallback=None, held=False, reason="test",
                    relief_margin=relief_margin, host_margin_k=k)


def typical(hosts: dict[str, int], per_core: int = 4, util: float = 0.2):
    """Hosts of the given cores, each holding ``per_core`` one-vcpu instances per core at ``util``."""
    instances = [vm(f"{name}-{i}", name, vcpus=1, memory_mb=64, disk_gb=0, cpu_util=util)
                 for name, cores in hosts.items() for i in range(per_core * cores)]
    return fleet([host(name, vcpus=cores, memory_mb=1 << 20) for name, cores in hosts.items()], instances)


def test_a_bigger_host_of_the_same_instances_gets_a_margin_thinner_by_the_square_root_of_its_size():
    m = host_margins(typical({"small": 2, "big": 8}), k=1.0)
    assert m[1] == pytest.approx(m[0] / 2)  # four times the cores: half the margin
    assert m[0] > m[1] >= defaults.HOST_MARGIN_MIN


def test_a_host_of_few_large_instances_keeps_more_margin_than_one_of_many_small_at_equal_load():
    hosts = [host("few", vcpus=8, memory_mb=1 << 20), host("many", vcpus=8, memory_mb=1 << 20)]
    instances = [vm(f"f{i}", "few", vcpus=4, memory_mb=64, disk_gb=0, cpu_util=0.75) for i in range(2)]
    instances += [vm(f"m{i}", "many", vcpus=1, memory_mb=64, disk_gb=0, cpu_util=0.25) for i in range(24)]
    f = fleet(hosts, instances)
    assert f.cpu_load()[0] == pytest.approx(f.cpu_load()[1])  # 6 cores each
    few, many = host_margins(f, k=0.5)
    assert few > many


def test_an_empty_host_is_priced_as_one_full_of_typical_instances():
    f = typical({"a": 4, "b": 4})
    empty = fleet([*f.hosts, host("c", vcpus=4, memory_mb=1 << 20, state="off")], list(f.instances))
    m = host_margins(empty, k=1.0)
    assert m[2] == pytest.approx(m[0]) == pytest.approx(m[1])


def test_margins_are_kept_within_their_bounds_and_ceilings_never_pass_the_fleets():
    f = typical({"a": 2, "b": 64})
    assert (host_margins(f, k=0.0) == defaults.HOST_MARGIN_MIN).all()
    assert (host_margins(f, k=1e6) == defaults.HOST_MARGIN_MAX).all()
    assert max(host_cpu_ceilings(f, 0.7, k=0.0)) == pytest.approx(0.7)
    assert min(host_cpu_ceilings(f, 0.95, k=1e6)) == pytest.approx(1 - defaults.HOST_MARGIN_MAX)


def test_a_fleet_with_no_cpu_use_gets_the_least_margin():
    f = typical({"a": 2}, util=0.0)
    assert host_margins(f, k=5.0).tolist() == [defaults.HOST_MARGIN_MIN]


def test_the_decision_carries_the_margin_to_the_problem_and_blind_settings_keep_one_ceiling():
    f = typical({"small": 2, "big": 8})
    assert problem(f, DEFAULTS).cpu_host_ceilings is None  # signal-blind: unchanged
    scarce = apply_decision(DEFAULTS, decision(0.95, relief_margin=0.25))
    p = problem(f, scarce)
    assert p.cpu_ceiling == 0.95 and p.cpu_relief_ceiling == pytest.approx(1.0)
    small, big = p.cpu_host_ceilings
    assert small < big <= 0.95
    assert apply_decision(DEFAULTS, decision(0.95, k=None)).limits.host_margin_k is None


def test_the_policy_puts_its_margin_factor_in_every_decision():
    from watcher_geyser.signal import Series, SignalPolicy, Unit

    series = Series.build(np.array([0.0, 86400.0]), np.array([100.0, 100.0]), Unit.WATTS)
    d = SignalPolicy(PolicyConfig(horizon_s=0, host_margin_k=0.3)).decide(series, 600.0, 10_000.0, "t", need_w=2000)
    assert (d.level, d.host_margin_k, d.to_dict()["host_margin_k"]) == (1.0, 0.3, 0.3)


def test_the_solver_packs_each_host_only_to_its_own_ceiling():
    """Three hosts of 10 cores: 'a' and 'b' 0.5 busy, 'c' holding one instance of 0.5 cores. With one
    ceiling of 0.6 the answer empties a host by moving onto 'a' or 'b' (both fit); with a host ceiling
    of 0.52 on one of them, that host receives nothing (0.55 would pass it), and one host is still freed."""
    hosts = [host(n, vcpus=10, memory_mb=1 << 20) for n in ("a", "b", "c")]
    instances = [vm("a0", "a", vcpus=5, memory_mb=64, disk_gb=0, cpu_util=1.0),
                 vm("b0", "b", vcpus=5, memory_mb=64, disk_gb=0, cpu_util=1.0),
                 vm("x", "c", vcpus=1, memory_mb=64, disk_gb=0, cpu_util=0.5)]
    f = fleet(hosts, instances)
    base = Problem(f, cpu_ceiling=0.6, time_limit_s=2.0, deterministic=True)
    from watcher_geyser.solver import solve

    for tight in range(2):
        ceilings = tuple(0.52 if h == tight else 0.6 for h in range(3))
        placement = solve(replace(base, cpu_host_ceilings=ceilings)).placement
        assert not ((placement == tight) & (f.placement != tight)).any()  # the tight host received nothing
        assert len(set(placement.tolist())) == 2  # and a host was still emptied


@pytest.mark.parametrize("ceilings, why", [((0.5,), "names 1 hosts"), ((0.5, 0.7), "each must be in"),
                                           ((0.0, 0.5), "each must be in")])
def test_host_ceilings_that_do_not_fit_the_fleet_are_refused_with_the_fix(ceilings, why):
    f = typical({"a": 2, "b": 2})
    with pytest.raises(ValueError, match=why):
        Problem(f, cpu_ceiling=0.6, cpu_host_ceilings=ceilings)
    with pytest.raises(ValueError, match="needs a cpu_ceiling"):
        Problem(f, cpu_ceiling=None, cpu_host_ceilings=(0.5, 0.5))


def test_run_with_a_scarce_decision_keeps_every_host_under_its_own_ceiling_or_where_it_was():
    f = typical({"a": 2, "b": 2, "c": 8, "d": 8}, per_core=3, util=0.25)
    settings_ = apply_decision(DEFAULTS.with_solve(deterministic=True, time_limit_s=2.0), decision(0.95))
    result = run(f, settings_)
    p = problem(f, settings_)
    after = f.cpu_load(result.target.placement) / f.physical_cores
    before = f.cpu_load() / f.physical_cores
    ceilings = np.asarray(p.cpu_host_ceilings)
    assert (after <= np.maximum(ceilings, before) + 1e-9).all()


@settings(max_examples=150, deadline=None)
@given(level=st.floats(0.0, 1.0), tight=st.floats(0.5, 1.0), k=st.floats(0.0, 5.0),
       hosts=st.lists(st.tuples(st.sampled_from([1, 2, 4, 8, 32]), st.integers(0, 12), st.floats(0.0, 1.0)),
                      min_size=1, max_size=6))
def test_every_level_keeps_a_dead_band_between_each_hosts_packing_and_relief(level, tight, k, hosts):
    """Whatever the fleet, the scarcity level, the tight ceiling and the margin factor, every host's
    packing ceiling stays under the relief ceiling by at least the smaller of the level's relief margin
    and the least host margin: a host packed to its limit and hovering there is not emptied and
    refilled step after step (docs/design/signal-policy.md)."""
    f = fleet([host(f"h{i}", vcpus=c, memory_mb=1 << 20) for i, (c, _, _) in enumerate(hosts)],
              [vm(f"v{i}-{j}", f"h{i}", vcpus=1, memory_mb=1, disk_gb=0, cpu_util=u)
               for i, (_, n, u) in enumerate(hosts) for j in range(n)])
    config = PolicyConfig(tight_ceiling=tight, host_margin_k=k)
    d = decision(config.ceiling_at(level), level, k, config.relief_margin_at(level))
    s = apply_decision(Settings(), d)
    p = problem(f, s)
    packing = np.asarray(p.cpu_host_ceilings)
    band = min(config.relief_margin_at(level), defaults.HOST_MARGIN_MIN)
    assert (packing <= s.limits.cpu_ceiling + 1e-12).all()
    assert (s.limits.relief_ceiling - packing >= band - 1e-9).all()


def test_geyser_plans_summary_names_each_hosts_own_ceiling_and_none_without_a_margin():
    from watcher_geyser.summary import target_summary

    f = typical({"small": 2, "big": 8})
    scarce = apply_decision(DEFAULTS.with_solve(deterministic=True, time_limit_s=2.0), decision(0.95))
    summary = target_summary(run(f, scarce).target)
    assert set(summary["cpu_host_ceilings"]) == {"small", "big"}
    assert summary["cpu_host_ceilings"]["small"] < summary["cpu_host_ceilings"]["big"] <= 0.95
    assert target_summary(run(f, DEFAULTS.with_solve(deterministic=True)).target)["cpu_host_ceilings"] is None


def test_the_simulators_margin_key_reaches_blind_settings_and_the_following_policys_config():
    from watcher_geyser.simulator.baselines import make_policy

    policy = make_policy("geyser:margin_k=0.3,tight=0.8")
    assert policy.settings.limits.host_margin_k == 0.3  # what a blind run (signal=off) packs with
    assert policy.policy_config.host_margin_k == 0.3  # what a following run's decisions carry
    assert make_policy("geyser").settings.limits.host_margin_k is None  # blind geyser: one ceiling
