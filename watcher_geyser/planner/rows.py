"""One host's load or one instance's demand as a plain list over the planner's resource axis.

The axis is ``limits.TRANSIT_RESOURCES``: ``fleet.RESOURCES`` (vcpu, memory_mb, disk_gb) and
then measured CPU use in cores. The wave builder, the cycle breaker and the undone-move
explanations look at one host and one instance at a time, where numpy's per-call overhead
would dominate, so they keep rows as lists; these element-wise sums and compares (``map``
over operator functions, the fastest plain-Python form) never name a resource, so a
resource added to the model needs nothing here.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import add, ge, le, sub

#: One value per ``TRANSIT_RESOURCES`` entry.
Row = list[float]


def fits(load: Iterable[float], demand: Iterable[float], limit: Iterable[float]) -> bool:
    """Whether ``load + demand <= limit`` in every resource."""
    return all(map(le, map(add, load, demand), limit))


def plus(load: Iterable[float], extra: Iterable[float]) -> Iterable[float]:
    """``load + extra``, resource by resource (lazy: for ``fits``)."""
    return map(add, load, extra)


def covers(freed: Iterable[float], need: Iterable[float]) -> bool:
    """Whether ``freed >= need`` in every resource."""
    return all(map(ge, freed, need))


def excess(load: Iterable[float], demand: Iterable[float], limit: Iterable[float]) -> Row:
    """``load + demand - limit`` per resource: what must leave first where it is positive."""
    return list(map(sub, map(add, load, demand), limit))


def add_to(row: Row, demand: Iterable[float]) -> None:
    """``row += demand`` in place (rows are shared with the state that holds them)."""
    row[:] = map(add, row, demand)


def take_from(row: Row, demand: Iterable[float]) -> None:
    """``row -= demand`` in place."""
    row[:] = map(sub, row, demand)
