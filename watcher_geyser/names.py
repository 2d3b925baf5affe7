"""How a note names many hosts: the first few, then how many more (notes stay readable at 800 hosts).

A leaf module, so that the solver core and the shells word their notes alike without importing
each other.
"""

from __future__ import annotations

NAMES_SHOWN = 8  # names given in a note before "and N more"


def listed(items: list[str]) -> str:
    """'a, b, c': the first ``NAMES_SHOWN`` items, then 'and N more'."""
    text = ", ".join(items[:NAMES_SHOWN])
    if len(items) > NAMES_SHOWN:
        text += f" and {len(items) - NAMES_SHOWN} more"
    return text
