"""Ejection's room questions answered from kept rooms and one column first give the answers of a
full scan of every receiver (the algorithm before them), placement for placement."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import fleet, host, vm
from tests.strategies import problems
from watcher_geyser.fleetgen import generate_family
from watcher_geyser.solver import Problem, eject, solve
from watcher_geyser.solver.repack import EPS
from watcher_geyser.solver.workspace import Workspace


class FullScan(eject._Rooms):
    """The reference: every receiver's room computed anew from the load (limits - load), all of
    them tested and sorted, as ``_make_room`` did before ``_Rooms`` (with ``Unsorted``)."""

    def _rows(self, tier: int) -> tuple[np.ndarray, np.ndarray]:
        hosts = np.flatnonzero(self.receiving & (self.ws.host_core_tier >= tier))
        return hosts, self.ws.limits[hosts] - self.state.load[hosts]

    def fitting(self, need: np.ndarray, tier: int = 0) -> np.ndarray:
        hosts, residual = self._rows(tier)
        return hosts[(residual >= need - EPS).all(axis=1)]

    def closest_first(self, need: np.ndarray, tier: int = 0):
        hosts, residual = self._rows(tier)
        short = (np.maximum(need - residual, 0) / self.ws.scale).max(axis=1)
        able = np.flatnonzero((residual + self.state.free_load[hosts] >= need - EPS).all(axis=1))
        yield from hosts[able[np.argsort(short[able], kind="stable")]].tolist()


class Unsorted(eject._Fleet):
    """The reference's fleet: a host's free instances sorted anew each time they are asked for."""

    def smallest_free(self, host: int) -> list[int]:
        return sorted((u for u in self.members[host] if self.free[u]), key=lambda u: (self.size[u], u))


def _both(ws: Workspace, start: np.ndarray, first: int = eject.CLOSEST_FIRST_HOSTS) -> tuple[np.ndarray, np.ndarray]:
    """(ejection's answer, the full scan's) from ``start``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(eject, "CLOSEST_FIRST_HOSTS", first)
        fast = eject.empty_by_ejection(ws, start, math.inf)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(eject, "_Rooms", FullScan)
        patch.setattr(eject, "_Fleet", Unsorted)
        slow = eject.empty_by_ejection(ws, start, math.inf)
    return fast, slow


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_hosts=12, max_instances=50), st.sampled_from([1, 2, 64]), st.booleans())
def test_same_placement_as_a_full_scan_on_random_fleets(problem, first, from_greedy):
    """Zones, pinned instances, groups, off and disabled hosts, measured CPU or not; from the
    current placement or the greedy's; bands of any size (one host first: the closest hosts
    come over many rounds)."""
    ws = Workspace(problem)
    start = solve(problem, method="greedy").placement if from_greedy else ws.placement0
    fast, slow = _both(ws, start, first)
    assert np.array_equal(fast, slow)


@pytest.mark.parametrize("family", ["tight", "tight-deep", "generations"])
def test_same_placement_as_a_full_scan_on_a_packed_fleet(family):
    """Packed fleets, from their current placement, where ejection moves instances (checked, so
    the test compares work done)."""
    ws = Workspace(Problem(generate_family(family, 60, 400, seed=3), workers=1))
    start = ws.placement0
    fast, slow = _both(ws, start, 1)
    assert np.array_equal(fast, slow)
    assert (fast != start).any()


@settings(max_examples=40, deadline=None)
@given(problems(max_hosts=8, max_instances=30), st.data())
def test_kept_rooms_are_the_whole_fleet_expressions_bit_for_bit(problem, data):
    """After any moves, ``residual`` and ``reach`` equal ``limits - load`` and that plus the free
    load exactly, as a scan would compute them."""
    ws = Workspace(problem)
    free = ws.movable & (ws.group < 0)
    state = eject._Fleet(ws, ws.placement0, free, (ws.demand / ws.scale).max(axis=1))
    for _ in range(data.draw(st.integers(0, 30))):
        if ws.n_instances == 0:
            break
        state.move(ws, data.draw(st.integers(0, ws.n_instances - 1)), data.draw(st.integers(0, ws.n_hosts - 1)))
    residual = ws.limits - state.load
    assert np.array_equal(state.residual, residual)
    assert np.array_equal(state.reach, residual + state.free_load)


@st.composite
def packed_fleets(draw) -> Problem:
    """10 GB hosts filled first-fit with instances of 1-7 GB in a random order, 80-100 % full:
    large instances fit nowhere as things stand, so ejection chains run (small instances step
    aside into others' gaps), as on the tight family after the fill."""
    n_hosts = draw(st.integers(3, 14))
    hosts = [host(f"h{h}", memory_mb=10240, vcpus=64) for h in range(n_hosts)]
    free_mb = [10240] * n_hosts
    instances = []
    for v, memory_mb in enumerate(draw(st.lists(st.integers(1, 7), min_size=n_hosts, max_size=12 * n_hosts))):
        h = next((h for h in range(n_hosts) if free_mb[h] >= memory_mb * 1024), None)
        if h is not None:
            free_mb[h] -= memory_mb * 1024
            instances.append(vm(f"v{v}", f"h{h}", memory_mb=memory_mb * 1024, vcpus=1))
    return Problem(fleet(hosts, instances), workers=1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packed_fleets(), st.sampled_from([1, 2, 64]))
def test_same_placement_as_a_full_scan_on_packed_random_fleets(problem, first):
    ws = Workspace(problem)
    fast, slow = _both(ws, ws.placement0, first)
    assert np.array_equal(fast, slow)
