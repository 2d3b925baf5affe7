"""Repack's shedding (``solver/repack.py``, ``_shed_overloads``) moves a hard affinity group only as a
whole, onto one host, or leaves it where it is: one member shed alone split the group, and the checker
refused the whole answer."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import fleet, host, vm
from watcher_geyser.solver import Problem
from watcher_geyser.solver.checks import check_placement
from watcher_geyser.solver.repack import repack
from watcher_geyser.solver.workspace import Workspace


def _repack_all(f):
    """Repack with every host kept: only the shedding of the overloaded hosts moves anything."""
    problem = Problem(f, cpu_ceiling=None, relieve=False)
    packing = repack(Workspace(problem), np.ones(len(f.hosts), dtype=bool))
    return problem, packing


def test_an_overloaded_host_sheds_its_affinity_group_as_one_block():
    # a holds 10 of 8 vcpus; the smallest by memory are the group's members (512 MB each), which alone
    # would each bring it under: shed one by one, one member left for b and the group was split
    f = fleet([host("a", vcpus=8), host("b", vcpus=16)],
              [vm("big", "a", vcpus=4, memory_mb=8192), vm("m1", "a", vcpus=2, memory_mb=512, server_group="g"),
               vm("m2", "a", vcpus=2, memory_mb=512, server_group="g"), vm("p", "a", vcpus=2, memory_mb=1024)],
              {"g": "affinity"})
    problem, packing = _repack_all(f)
    assert check_placement(problem, packing.placement) == []
    at = {i.uuid: f.hosts[h].name for i, h in zip(f.instances, packing.placement.tolist())}
    assert at["m1"] == at["m2"] == "b" and at["big"] == at["p"] == "a"


def test_a_block_with_a_pinned_member_is_not_shed_and_the_rest_is():
    f = fleet([host("a", vcpus=8), host("b", vcpus=16)],
              [vm("big", "a", vcpus=4, memory_mb=8192), vm("m1", "a", vcpus=2, memory_mb=512, server_group="g"),
               vm("m2", "a", vcpus=2, memory_mb=512, server_group="g", locked=True),
               vm("p", "a", vcpus=2, memory_mb=1024)],
              {"g": "affinity"})
    problem, packing = _repack_all(f)
    assert check_placement(problem, packing.placement) == []
    at = {i.uuid: f.hosts[h].name for i, h in zip(f.instances, packing.placement.tolist())}
    assert at["m1"] == at["m2"] == "a" and at["p"] == "b"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_shedding_never_splits_an_affinity_group(data):
    n_hosts = data.draw(st.integers(2, 4))
    hosts = [host(f"h{h}", vcpus=data.draw(st.integers(4, 16))) for h in range(n_hosts)]
    policies = {f"g{g}": data.draw(st.sampled_from(["affinity", "anti-affinity"])) for g in range(2)}
    vms = []
    for v in range(data.draw(st.integers(1, 12))):
        group = data.draw(st.sampled_from([None, "g0", "g1"]))
        home = "h0" if group is not None and policies[group] == "affinity" else f"h{data.draw(st.integers(0, 1))}"
        vms.append(vm(f"v{v}", home, vcpus=data.draw(st.integers(1, 4)),
                      memory_mb=data.draw(st.sampled_from([512, 1024, 4096])), server_group=group))
    f = fleet(hosts, vms, {g: p for g, p in policies.items() if any(i.server_group == g for i in vms)})
    problem, packing = _repack_all(f)
    assert [m for m in check_placement(problem, packing.placement) if "server group" in m] == []
