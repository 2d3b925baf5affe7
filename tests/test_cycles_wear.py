"""The power-cycle budget's wear spreads: among equal hosts the solver cycles those with most
switch-offs left, and never a host the budget holds (``Problem.switch_offs_left``)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import fleet, host, vm
from watcher_geyser.pipeline import CycleBudget, Settings, run
from watcher_geyser.solver import Problem, solve
from watcher_geyser.solver.checks import check_placement

DAY_S = 86400.0


def switched_on(target) -> list[str]:
    f = target.fleet
    return [f.hosts[h].name for h in np.flatnonzero(~f.powered & f.occupied(target.placement))]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=3), min_size=2, max_size=5), st.sampled_from(["greedy", "auto"]))
def test_relief_switches_on_the_equal_host_with_most_switch_offs_left(lefts, method):
    # h0 carries 18 busy cores on 16; identical hosts are off, each with its switch-offs left
    off = [host(f"off{i}", state="off") for i in range(len(lefts))]
    f = fleet([host("h0"), *off], [vm(name, "h0", cpu_util=1.0, vcpus=6) for name in "abc"])
    left = {h.name: n for h, n in zip(off, lefts)}
    target = solve(Problem(f, switch_offs_left=left, time_limit_s=1), method=method)
    on = switched_on(target)
    assert len(on) == 1 and target.unrelieved == {}
    assert left[on[0]] == max(lefts)
    assert check_placement(target.problem, target.placement) == []


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=3), min_size=2, max_size=5), st.sampled_from(["greedy", "auto"]))
def test_consolidation_empties_the_equal_hosts_with_most_switch_offs_left(lefts, method):
    # one small instance on each identical host: all fit on one, every choice moves as much
    hosts = [host(f"h{i}") for i in range(len(lefts))]
    f = fleet(hosts, [vm(f"v{i}", h.name, memory_mb=2048) for i, h in enumerate(hosts)])
    left = {h.name: n for h, n in zip(hosts, lefts)}
    target = solve(Problem(f, switch_offs_left=left, time_limit_s=1), method=method)
    kept = [f.hosts[h].name for h in np.flatnonzero(f.occupied(target.placement))]
    assert len(kept) == 1
    assert left[kept[0]] == min(lefts)  # the others go off and spend a cycle: those with most left


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(min_value=0, max_value=3), st.integers(min_value=0, max_value=2)),
                min_size=2, max_size=6),
       st.booleans())
def test_no_host_out_of_switch_offs_is_switched_on_or_emptied(specs, hot):
    """Property: whatever the history (0 to 3 switch-offs in the last day, budget 2), the
    target never switches on a host with none left, never empties an on host with none left,
    and every host it switches on had one left."""
    now_s = 10 * DAY_S
    hosts = [host(f"h{i}", state="enabled" if on else "off") for i, (on, _, _) in enumerate(specs)]
    hosts_on = [h for h in hosts if h.powered]
    if not hosts_on:
        hosts[0] = host("h0")
        hosts_on = [hosts[0]]
    instances = []
    for h, (_, _, count) in zip(hosts, specs):
        if h.powered:
            instances += [vm(f"{h.name}-v{k}", h.name, vcpus=6, cpu_util=1.0 if hot else 0.1) for k in range(count + 1)]
    f = fleet(hosts, instances)
    history = {h.name: [now_s - 3600.0 * (k + 1) for k in range(n)] for h, (_, n, _) in zip(hosts, specs)}
    hold = CycleBudget(2).hold(now_s, [(h.name, h.powered) for h in hosts], history)
    result = run(f, hold.apply(Settings().with_solve(time_limit_s=1)))
    target = result.target
    occupied_after = {target.fleet.hosts[h].name for h in np.flatnonzero(target.fleet.occupied(target.placement))}
    occupied_now = {i.host for i in f.instances}
    for h in hosts:
        if hold.left.get(h.name, 2) == 0:
            assert h.powered or h.name not in occupied_after, f"{h.name} switched on with no switch-off left"
            assert h.name not in occupied_now or h.name in occupied_after, f"{h.name} emptied with none left"
    for name in switched_on(target):
        assert hold.left.get(name, 2) >= 1
