"""Supply files for tests of deferral: a scarce spell with the sun forecast to return.

The deferral rule shelves only when the forecast shows the supply covering the fleet again
before an instance's latest safe start (``deferral/energy.py``), so a constant scarce source
shelves nothing; tests that expect shelving read this file instead.
"""

from __future__ import annotations

from watcher_geyser.inputs import iso


def scarce_then_plenty(now_s: float) -> str:
    """A supply file: 100 W from an hour ago for three hours, then 20 kW for a day."""
    rows = ["# unit: W", "timestamp,value"]
    for at_s, watts in ((now_s - 3600, 100), (now_s + 7200, 20000), (now_s + 86400, 20000)):
        rows.append(f"{iso(at_s)},{watts}")
    return "\n".join(rows) + "\n"
