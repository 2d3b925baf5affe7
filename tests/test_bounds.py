"""Lower bounds on hand-checked cases."""

import numpy as np
import pytest

from tests.builders import fleet, host, vm
from watcher_geyser import bounds


def test_martello_toth_l2_counts_items_that_cannot_share():
    assert bounds.martello_toth_l2(np.array([6.0, 6.0, 6.0]), 10) == 3  # L1 says 2
    assert bounds.martello_toth_l2(np.array([5.0, 5.0, 5.0, 5.0]), 10) == 2
    assert bounds.martello_toth_l2(np.array([7.0, 3.0, 3.0, 3.0]), 10) == 2
    assert bounds.martello_toth_l2(np.array([]), 10) == 0


def test_hosts_bound_volume_and_l2():
    hosts = [host(f"h{i}", vcpus=10, memory_mb=100_000) for i in range(4)]
    small = fleet(hosts, [vm(f"v{i}", f"h{i % 4}", vcpus=4, memory_mb=100) for i in range(5)])
    assert bounds.hosts_lower_bound(small, small.capacity) == 2  # 20 vcpus / 10
    large = fleet(hosts, [vm(f"v{i}", f"h{i}", vcpus=6, memory_mb=100) for i in range(3)])
    assert bounds.hosts_lower_bound(large, large.capacity) == 3  # no two 6-vcpu items share a 10-vcpu host


def test_hosts_bound_counts_pinned_hosts_and_zones():
    hosts = [host("a1", zone="a"), host("a2", zone="a"), host("b1", zone="b"), host("b2", zone="b")]
    f = fleet(hosts, [vm("v1", "a1", locked=True), vm("v2", "a2", locked=True), vm("v3", "b1")])
    assert bounds.hosts_lower_bound(f, f.capacity) == 3  # two pinned in zone a, one host in zone b


def test_hosts_bound_none_when_demand_cannot_fit():
    f = fleet([host("h", vcpus=4)], [vm("v", "h", vcpus=8)])
    assert bounds.hosts_lower_bound(f, f.capacity) is None


def test_watts_bound_idle_plus_dynamic_on_flattest_hosts():
    # two hosts of 10 cores, 100 W idle, 200 W max: 10 W per core; 5 cores of load fit one host
    hosts = [host("h1", vcpus=10, idle_w=100, max_w=200), host("h2", vcpus=10, idle_w=100, max_w=200)]
    f = fleet(
        hosts,
        [vm("v1", "h1", vcpus=5, memory_mb=100, cpu_util=0.6), vm("v2", "h2", vcpus=5, memory_mb=100, cpu_util=0.4)],
    )
    hb = bounds.hosts_lower_bound(f, f.capacity)
    assert hb == 1
    assert bounds.watts_lower_bound(f, f.capacity, hosts_bound=hb, cpu_limits=f.physical_cores) == pytest.approx(150.0)


def test_watts_bound_prefers_efficient_hosts():
    hosts = [
        host("old", vcpus=8, memory_mb=8192, idle_w=200, max_w=300),
        host("new", vcpus=8, memory_mb=8192, idle_w=80, max_w=160),
    ]
    f = fleet(hosts, [vm("v", "old", vcpus=2, memory_mb=2048, cpu_util=0.0)])
    assert bounds.watts_lower_bound(f, f.capacity, hosts_bound=1) == pytest.approx(80.0)


def test_migration_cost_bound_empties_the_cheapest_hosts():
    hosts = [host(f"h{i}") for i in range(3)]
    f = fleet(
        hosts,
        [
            vm("a", "h0", memory_mb=1000),
            vm("b", "h1", memory_mb=3000),
            vm("c", "h2", memory_mb=2000),
            vm("d", "h2", memory_mb=500),
        ],
    )
    # ending with one host on in the zone: the two cheapest to empty are h0 (1000) and h2 (2500)
    assert bounds.migration_cost_lower_bound_mb(f, {0: 1}) == 3500
    assert bounds.migration_cost_lower_bound_mb(f, {0: 3}) == 0
