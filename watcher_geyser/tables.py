"""Distinct rows of numpy tables, fast: fleets group hosts and instances by their figures.

``np.unique(table, axis=0)`` sorts whole rows as opaque records, about 60 ms for 30,000
instances; ranking column by column costs a few, gives the same (lexicographic) order, and
the combined code is ranked again after each column so it never overflows, however many
columns and distinct values.
"""

from __future__ import annotations

import numpy as np


def unique_rows(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct rows in lexicographic order, index of each row of ``table`` among them)."""
    code = np.zeros(len(table), dtype=np.int64)
    first = np.zeros(0, dtype=np.int64)
    for column in table.T:
        values, rank = np.unique(column, return_inverse=True)
        _, first, code = np.unique(code * len(values) + rank.reshape(-1), return_index=True, return_inverse=True)
        code = code.reshape(-1)
    return table[first], code
