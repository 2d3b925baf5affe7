"""The trade-off frontier used by bench/follow_energy.py: Pareto points, readings, correlation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher_geyser.simulator.frontier import correlation, frontier_at, pareto_front


def test_pareto_front_keeps_only_undominated_points():
    points = [(0.05, 10.0), (0.02, 12.0), (0.04, 11.0), (0.03, 13.0), (0.06, 10.5)]
    assert pareto_front(points) == [(0.02, 12.0), (0.04, 11.0), (0.05, 10.0)]


def test_frontier_reading_inside_and_at_the_ends():
    front = [(0.02, 12.0), (0.04, 10.0)]
    assert frontier_at(front, 0.03).cost == pytest.approx(11.0) and frontier_at(front, 0.03).where == "inside"
    assert frontier_at(front, 0.01).cost == 12.0 and frontier_at(front, 0.01).where == "below"
    assert frontier_at(front, 0.05).cost == 10.0 and frontier_at(front, 0.05).where == "above"
    with pytest.raises(ValueError):
        frontier_at([], 0.1)


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 100)), min_size=1, max_size=20))
def test_no_point_lies_below_the_frontier(points):
    front = pareto_front(points)
    for x, y in points:
        reading = frontier_at(front, x)
        if reading.where == "inside":
            # the staircase's corners are undominated; the lines between them sit at or under the points
            assert reading.cost <= y + 1e-9


def test_correlation():
    assert correlation([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert correlation([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert correlation([1, 1, 1], [1, 2, 3]) is None
