"""The planner's plain-list rows (planner/rows.py) agree with numpy's vector rule, whatever the axis length.

The wave loops compare one host row at a time in plain Python for speed; these checks hold them to
the same element-wise rule ``replay`` applies with numpy, for the four transit resources and for an
axis one longer (a resource added to the model needs no change there).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from watcher_geyser.fleet import RESOURCES
from watcher_geyser.planner import TRANSIT_RESOURCES
from watcher_geyser.planner.rows import add_to, covers, excess, fits, plus, take_from

VALUE = st.floats(min_value=0, max_value=1e6, allow_nan=False) | st.sampled_from([0.0, 0.5, 1024.0])


@st.composite
def three_rows(draw):
    n = draw(st.sampled_from([len(TRANSIT_RESOURCES), len(TRANSIT_RESOURCES) + 1]))
    row = st.lists(VALUE, min_size=n, max_size=n)
    return draw(row), draw(row), draw(row)


def test_the_transit_axis_is_the_models_resources_then_cpu_use() -> None:
    assert TRANSIT_RESOURCES[: len(RESOURCES)] == RESOURCES and TRANSIT_RESOURCES[len(RESOURCES):] == ("cpu_cores",)


@given(three_rows())
def test_rows_follow_the_vector_rule(rows) -> None:
    load, demand, limit = rows
    a, d, m = (np.array(r) for r in rows)
    assert fits(load, demand, limit) == bool(np.all(a + d <= m))
    assert fits(plus(load, demand), demand, limit) == bool(np.all(a + d + d <= m))
    assert covers(load, demand) == bool(np.all(a >= d))
    assert excess(load, demand, limit) == (a + d - m).tolist()
    row = list(load)
    add_to(row, demand)
    assert row == (a + d).tolist()
    take_from(row, demand)
    assert row == (a + d - d).tolist()
