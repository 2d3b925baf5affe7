"""The server-group rule (``solver/rules/groups.py``), asked by relief, repack, the planner, its
replay and deferral's bring-backs: who is a member, which hosts a member may take, how many
members of an anti-affinity group a host may hold in transit, where an affinity block may go."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import fleet, host, vm
from watcher_geyser.records import GroupPolicy
from watcher_geyser.solver.rules.groups import (
    affinity_members,
    anti_affinity_groups,
    anti_affinity_host_limit,
    block_hosts,
    group_indices,
    hard_affinity,
    member_counts,
    member_hosts,
    member_limits,
    newcomer_hosts,
    within_member_limit,
)

POLICIES = [p.value for p in GroupPolicy]


@st.composite
def grouped_fleets(draw):
    """Up to 6 hosts and 12 instances, each in one of up to 4 groups of any policy, or in none."""
    n_hosts = draw(st.integers(1, 6))
    policies = draw(st.lists(st.sampled_from(POLICIES), max_size=4))
    groups = {f"g{i}": p for i, p in enumerate(policies)}
    instances = [
        vm(f"v{i}", f"h{draw(st.integers(0, n_hosts - 1))}",
           server_group=draw(st.sampled_from([None, *groups])))
        for i in range(draw(st.integers(0, 12)))
    ]
    return fleet([host(f"h{h}") for h in range(n_hosts)], instances, groups)


@settings(max_examples=150, deadline=None)
@given(grouped_fleets())
def test_the_membership_views_agree_with_the_groups_the_instances_name(f):
    group = group_indices(f)
    policy = {g.name: g.policy for g in f.server_groups}
    named = [i.server_group for i in f.instances]
    assert [f.server_groups[g].name if g >= 0 else None for g in group.tolist()] == named
    anti = [group[v] if n is not None and policy[n] is GroupPolicy.ANTI_AFFINITY else -1 for v, n in enumerate(named)]
    assert anti_affinity_groups(f).tolist() == anti
    hard = [n is not None and policy[n] is GroupPolicy.AFFINITY for n in named]
    assert hard_affinity(group, [g.policy for g in f.server_groups]).tolist() == hard
    assert sorted(v for vs in affinity_members(f).values() for v in vs) == [v for v, h in enumerate(hard) if h]


@settings(max_examples=150, deadline=None)
@given(grouped_fleets())
def test_counts_and_hosts_are_where_the_members_are(f):
    group = group_indices(f)
    counts = member_counts(group, f.placement)
    assert sum(counts.values()) == int((group >= 0).sum())
    for (g, h), n in counts.items():
        assert n == int(((group == g) & (f.placement == h)).sum())
    hosts = member_hosts(group, f.placement)
    assert hosts == {g: {h for (gg, h) in counts if gg == g} for g in {g for g, _ in counts}}
    first = np.arange(len(f.instances)) < len(f.instances) // 2  # only some members counted
    assert member_hosts(group, f.placement, first) == member_hosts(np.where(first, group, -1), f.placement)


def test_a_newcomer_keeps_apart_from_anti_affinity_members_and_joins_affinity_ones():
    others = {1, 3}
    for policy in (GroupPolicy.ANTI_AFFINITY, GroupPolicy.SOFT_ANTI_AFFINITY):
        assert newcomer_hosts(policy, others, 5).tolist() == [True, False, True, False, True]
    for policy in (GroupPolicy.AFFINITY, GroupPolicy.SOFT_AFFINITY):
        assert newcomer_hosts(policy, others, 5).tolist() == [False, True, False, True, False]
        assert newcomer_hosts(policy, set(), 5).all()  # the first member chooses
    assert newcomer_hosts(None, others, 5).all()


def test_anti_affinity_in_transit_is_never_worse_than_before_the_plan():
    limits = member_limits({(0, "a"): 2, (0, "b"): 1})
    assert limits == {(0, "a"): anti_affinity_host_limit(2), (0, "b"): 1} == {(0, "a"): 2, (0, "b"): 1}
    assert within_member_limit(2, limits[(0, "a")])  # two shared a before: they may still
    assert not within_member_limit(3, limits[(0, "a")])
    assert within_member_limit(1, limits[(0, "b")]) and not within_member_limit(2, limits[(0, "b")])
    assert within_member_limit(1, None) and not within_member_limit(2, None)  # held none: one at most


def test_an_affinity_block_goes_to_its_staying_members_and_nowhere_when_they_are_apart():
    assert block_hosts(set()) == set()  # none stays: any host the block fits
    assert block_hosts({4}) == {4}
    assert block_hosts({1, 2}) is None  # already apart: no move can mend it
