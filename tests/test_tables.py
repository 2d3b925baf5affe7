"""``unique_rows`` agrees with ``np.unique(axis=0)``, which it replaces for speed."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from watcher_geyser.tables import unique_rows

VALUES = st.sampled_from([0.0, 1.5, 2.0, 1e9])
TABLES = st.integers(1, 6).flatmap(
    lambda cols: arrays(np.float64, st.tuples(st.integers(0, 40), st.just(cols)), elements=VALUES)
)


@given(TABLES)
def test_unique_rows_matches_numpy(table):
    rows, inverse = unique_rows(table)
    expected_rows, expected_inverse = np.unique(table, axis=0, return_inverse=True)
    assert np.array_equal(rows, expected_rows)
    assert np.array_equal(inverse, expected_inverse.reshape(-1))
    assert np.array_equal(rows[inverse], table)
