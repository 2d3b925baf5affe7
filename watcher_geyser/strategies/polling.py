"""Waiting on the cloud from an applier action: poll a condition a bounded number of times.

Both of our Watcher actions (host power, instance shelve/unshelve) wait for Nova or Ironic
to reach a state; they differ only in how often and how long, so that is all they pass in.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


def polls_for(timeout_s: float, poll_s: float) -> int:
    """How many looks ``poll_s`` apart cover ``timeout_s``: the first at once, the last no earlier
    than the timeout."""
    return math.ceil(timeout_s / poll_s) + 1


def wait_until(condition: Callable[[], bool], polls: int, poll_s: float) -> bool:
    """True as soon as ``condition()`` holds; False after ``polls`` checks ``poll_s`` apart."""
    for attempt in range(polls):
        if condition():
            return True
        if attempt + 1 < polls:
            time.sleep(poll_s)
    return False
