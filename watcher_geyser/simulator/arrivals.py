"""The same day replayed N times back to back (``geyser simulate --repeat-day N``): a steady state.

Why: deferred work runs past its day (up to its deadline). A one-day replay holds that spill
against a next day no other work claims, which is too kind; in a steady state every day
brings its own work, and yesterday's spill competes with it for the same sunny hours. Replaying
the day N times, each repetition with its own copy of the day's VMs, measures that for real;
the last day's window ``[(N-1) x day, N x day)`` (``metrics.window_figures``) holds the previous
day's spill and the day's own work, and its own spill, which tomorrow would replace, lies
outside it.

How, with the least new machinery:

* ``repeat_day`` stacks N copies of the trace and of the data centre's VMs (copy k >= 2 named
  ``<name>@d<k>``, the same sizes and trace) and repeats the deferrable choice (the same jobs
  run every day). Copy k arrives at ``(k - 1) x day``, one day being the trace's length
  (``samples x step_s``: 24 h for PlanetLab).
* A VM's trace position is already ``t - shift_s`` (deferral shifts it); a copy starts with
  its arrival time as its shift, so it reads its trace from the start when it arrives.
* Until then it is not running: it holds no host, asks for nothing, is no candidate to shelve
  (``DeferralBook.candidates`` takes running or shelved VMs only) and no policy can move it
  (the engine refuses moves of VMs not running). ``Arrivals`` places it at the first decision
  at or after its arrival. The first day's VMs are placed by the policy's own initial
  placement, on the first day's fleet alone, exactly as in a one-day replay.
* A day of a repeated replay is a whole day: each copy's work ends at the next day's start
  (``DeferralBook.retire_finished``, as a deferred VM's does), the trace's last interval (23:55
  to 24:00 for PlanetLab, which a one-day replay never reaches) read at its last sample, as
  CloudSim's extra last point does. So a copy that ran to its end hands over, in the same
  decision, to the next day's copy, which starts on the same host: the same service, running on,
  no host emptied at midnight (emptied, every host would spend a power cycle on the day's
  boundary). A copy whose predecessor is not running then (shelved, behind the clock, or
  retired idle) is placed as Nova's scheduler places a new instance (the rule a VM coming back
  from the shelf follows, ``deferral.place_like_nova``).

A one-day replay builds no ``Arrivals`` and runs exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from watcher_geyser.simulator.datacenter import DataCenter
from watcher_geyser.simulator.deferral import DeferralSetup, place_new
from watcher_geyser.simulator.state import SimState
from watcher_geyser.simulator.traces import Trace

MAX_REPEAT_DAYS = 14


@dataclass(frozen=True)
class RepeatedDay:
    """N copies of one day: the stacked trace, data centre and deferrable choice, and who arrives when."""

    trace: Trace
    dc: DataCenter
    deferral: DeferralSetup | None
    arrivals: Arrivals


def copy_name(name: str, day: int) -> str:
    """The name of VM ``name``'s copy on day ``day`` (1-based): the first day keeps the trace's name."""
    return name if day == 1 else f"{name}@d{day}"


def repeat_day(trace: Trace, dc: DataCenter, days: int, deferral: DeferralSetup | None = None) -> RepeatedDay:
    """``days`` back-to-back copies of ``trace`` on ``dc`` (see the module docstring)."""
    if not 1 <= days <= MAX_REPEAT_DAYS:
        raise ValueError(f"the day is repeated 1 to {MAX_REPEAT_DAYS} times, got {days}")
    v = len(trace.names)
    day_s = trace.samples * trace.step_s

    def tiled(a):
        return None if a is None else np.tile(a, days)

    names = tuple(copy_name(n, d) for d in range(1, days + 1) for n in trace.names)
    stacked = Trace(names, np.tile(trace.util, (days, 1)), trace.step_s, trace.source,
                    tiled(trace.vm_mips), tiled(trace.vm_ram_mb), tiled(trace.vm_pes))
    stacked_dc = replace(dc, vm_names=names, vm_mips=np.tile(dc.vm_mips, days), vm_pes=np.tile(dc.vm_pes, days),
                         vm_ram_mb=np.tile(dc.vm_ram_mb, days), vm_bw_kbit=np.tile(dc.vm_bw_kbit, days),
                         initial_host=None)
    if deferral is not None:
        deferral = DeferralSetup(np.tile(deferral.deferrable, days), deferral.max_deferral_s)
    arrival_s = np.repeat(np.arange(days, dtype=np.float64) * day_s, v)
    return RepeatedDay(stacked, stacked_dc, deferral, Arrivals(arrival_s, first_day_dc=dc, first_day_trace=trace))


class Arrivals:
    """When each VM arrives (``arrival_s``, float64[V]), and placing those that have arrived.

    VMs arriving at 0 are the first day's: the policy places them (``initial_placement``)."""

    def __init__(self, arrival_s: np.ndarray, first_day_dc: DataCenter, first_day_trace: Trace) -> None:
        self.arrival_s = np.asarray(arrival_s, dtype=np.float64)
        self.first_day_dc, self.first_day_trace = first_day_dc, first_day_trace
        self.per_day = len(first_day_trace.names)  # copy k of VM v is VM v + (k - 1) x per_day
        self._order = np.argsort(self.arrival_s, kind="stable")
        self._next = int(np.searchsorted(self.arrival_s[self._order], 0.0, side="right"))  # after the first day's

    @property
    def last_s(self) -> float:
        """When the last copy arrives."""
        return float(self.arrival_s.max()) if len(self.arrival_s) else 0.0

    def initial_placement(self, policy, state: SimState) -> None:
        """The policy's initial placement of the first day's VMs, on a state holding them alone, so
        that it is exactly a one-day replay's; the later copies wait for their arrival."""
        first = SimState(self.first_day_dc, self.first_day_trace, state.fidelity)
        policy.initial_placement(first)
        for v in np.flatnonzero(first.alive).tolist():
            state.place(v, int(first.vm_host[v]))

    def due(self, t_s: float) -> bool:
        """True when some VM arrives at or before ``t_s`` and is not placed yet (cheap: one comparison)."""
        return self._next < len(self._order) and self.arrival_s[self._order[self._next]] <= t_s

    def admit(self, state: SimState, t_s: float, host_free_mips: np.ndarray, ending_host: np.ndarray,
              offer: np.ndarray | None = None, held_off: frozenset[int] = frozenset()) -> tuple[int, list[int]]:
        """Place every VM arrived by ``t_s``: on its predecessor's host when that copy ran until now
        (``ending_host``: each VM's host before this step's finished work left, -1 if none), else as
        Nova's scheduler would. Returns (how many found no host: they are left out, as a first-day
        VM the initial placement cannot place; the VMs offered instead of placed).

        ``offer`` (bool[V], the deferrable VMs when the policy defers): such a copy that does not
        take over its predecessor's host is not placed but returned, for the deferral rule to see
        before it runs (``DeferralBook.offer``): in Watcher, Nova places a new instance on a host
        that is on (geyser disables the hosts it switched off) and the next audit shelves it, minutes
        of marginal power; placed here on a switched-off host, a night's arrivals switched on a
        host each (20110303: 231 hosts for two decisions) before the rule could shelve them."""
        free = host_free_mips.copy()
        unplaced, offered = 0, []
        while self.due(t_s):
            v = int(self._order[self._next])
            self._next += 1
            before = v - self.per_day
            handed_over = before >= 0 and ending_host[before] >= 0 and not state.alive[before]
            if not handed_over and offer is not None and offer[v]:
                offered.append(v)
                continue
            host = int(ending_host[before]) if handed_over else place_new(state, v, free, held_off)
            if host is None:
                unplaced += 1
                continue
            state.place(v, host)
            state.powered[host] = True
            free[host] -= state.dc.vm_mips[v]
        return unplaced, offered
