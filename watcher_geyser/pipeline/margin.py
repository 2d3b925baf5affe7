"""Each host's CPU margin from how smooth its load is: a thin one on big, many-VM hosts.

A host packed on its load now overloads when its load rises by more than its margin before the
next plan. That rise is the sum of its instances' changes, and those are close to independent
(the PlanetLab days: the spread of the summed 5-minute change of n VMs is 0.9-1.1x √n times one
VM's, for n = 5 to 130), so a host's spread grows like the square root of what it holds, not in
proportion: one fleet-wide margin is too thin on a two-core host and far too wide on an 8-core
host of 130 VMs (docs/design/signal-policy.md, "The scarce end: a margin per host").

The rule, with ``x_v`` each instance's CPU use (cores) and ``C_h`` the host's physical cores::

    spread_h = sqrt(max(sum of x_v^2 over the host's instances, C_h * s))    s = sum x^2 / sum x (fleet)
    margin_h = clamp(k * spread_h / C_h, HOST_MARGIN_MIN, HOST_MARGIN_MAX)

One instance's change is taken proportional to its use (the traces: a VM's RMS 5-minute change is
about its mean use, for each of the four VM sizes), so a host's spread is ``sqrt(sum x_v^2)``. A
host filled with the fleet's typical instances has ``sum x^2 = C_h * s`` (``s``: the use-weighted
mean instance), the floor: a host that is empty now, or holds a few small instances, is priced as
if it were full of typical ones, since packing fills it. A host holding a few large instances gets
more, which a margin by host size alone would miss. ``k`` (``defaults.HOST_MARGIN_K``) is the one
number tuned: standard deviations of one step's change the margin holds, times one instance's
relative change. Everything else is read from the fleet, so the plugin (measured use), ``geyser
plan`` and the simulator (its forecast) compute the same margins from what they know.
"""

from __future__ import annotations

import numpy as np

from watcher_geyser import defaults
from watcher_geyser.fleet import Fleet


def host_margins(fleet: Fleet, k: float) -> np.ndarray:
    """float64[H]: each host's CPU margin, a fraction of its cores (the rule in the module doc)."""
    cores = fleet.physical_cores
    used = np.maximum(fleet.cpu_used, 0.0)
    squares = used * used
    total = float(used.sum())
    typical = float(squares.sum()) / total if total > 0 else 0.0
    own = np.bincount(fleet.placement, weights=squares, minlength=len(fleet.hosts)) if len(used) else 0.0
    spread = np.sqrt(np.maximum(own, cores * typical))
    margin = k * spread / np.maximum(cores, 1e-9)
    return np.clip(margin, defaults.HOST_MARGIN_MIN, defaults.HOST_MARGIN_MAX)


def host_cpu_ceilings(fleet: Fleet, cpu_ceiling: float, k: float) -> tuple[float, ...]:
    """Each host's packing ceiling: the fleet's ``cpu_ceiling``, lowered to ``1 - margin`` where the
    host's margin asks for more room. Never above ``cpu_ceiling``, so the relief ceiling (set by the
    fleet's) stays above every host's: the dead band between packing and relief only widens."""
    return tuple(np.minimum(cpu_ceiling, 1.0 - host_margins(fleet, k)).tolist())
