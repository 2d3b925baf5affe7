"""Deferrable VMs in the replay: a seeded choice of VMs, work shifted in time, and its figures.

A deferrable VM's trace is its work, not a wall clock: while it is shelved it asks for nothing
(it holds no host, consumes no MIPS, RAM or watts) and its trace stops; when it comes back it
resumes at the sample where it stopped. Each VM so has a *position* in its trace,
``position = t - shift``, where ``shift`` is the time it has spent shelved. Shelving and
bringing back happen at decision times, so shifts are whole steps and every VM visits each
interval of its trace exactly once: the work done (``work_vm_hours``, utilisation-weighted
VM-hours) is the same with and without deferral. The replay runs past the trace's end until
the last shifted VM has finished.

Promise kept: a VM may be shelved ``max_deferral_s`` in total (``--deferral-deadline``, 24 h
by default), i.e. its work finishes at most that much later than without deferral. In the
core's words (``watcher_geyser.deferral``) its deadline is ``end + max_deferral_s`` and its
remaining running time ``end - position``, so it must run again by ``position + max_deferral_s``.
A VM that comes back later (no host had room for it) is a deadline miss, named in the result.

The engine plays Nova's scheduler for a VM that comes back: the fullest powered host where its
full MIPS (and, in realistic fidelity, its RAM) fits, else the first off host that can take it
and that the policy does not hold off (``DeferralAnswer.held_off``: hosts out of power cycles), unless
the VM is due (its deadline has come) and no other host can take it: a deadline beats the budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from watcher_geyser.deferral import Candidate
from watcher_geyser.simulator.state import SimState

DEFAULT_DEFERRAL_DEADLINE_S = 24 * 3600.0
DEFAULT_DEFERRAL_SEED = 0
_EPS_S = 1e-6


@dataclass(frozen=True)
class DeferralSetup:
    """Which VMs may be deferred, and for how long at most."""

    deferrable: np.ndarray  # bool[V]
    max_deferral_s: float = DEFAULT_DEFERRAL_DEADLINE_S

    @classmethod
    def seeded(
        cls,
        vms: int,
        fraction: float,
        max_deferral_s: float = DEFAULT_DEFERRAL_DEADLINE_S,
        seed: int = DEFAULT_DEFERRAL_SEED,
    ) -> DeferralSetup:
        """``round(fraction x vms)`` VMs chosen at random with ``seed`` (the same VMs for every policy)."""
        if not 0 <= fraction <= 1:
            raise ValueError(f"the deferrable fraction is between 0 and 1, got {fraction}")
        if max_deferral_s <= 0:
            raise ValueError(f"the deferral deadline must be > 0 s, got {max_deferral_s}")
        chosen = np.zeros(vms, dtype=bool)
        count = int(round(fraction * vms))
        if count:
            chosen[np.random.default_rng(seed).choice(vms, size=count, replace=False)] = True
        return cls(chosen, float(max_deferral_s))

    @classmethod
    def stratified(
        cls,
        work: np.ndarray,
        fraction: float,
        max_deferral_s: float = DEFAULT_DEFERRAL_DEADLINE_S,
        seed: int = DEFAULT_DEFERRAL_SEED,
    ) -> DeferralSetup:
        """``round(fraction x n)`` of the ``n`` VMs chosen with ``seed``, stratified by ``work`` (float[n],
        each VM's work over the day, ``vm_work``), so that they carry about ``fraction`` of it.

        Why: PlanetLab VMs differ tenfold in use, so a uniform choice of 30 % of the VMs carries 22.6
        to 32.8 % of a day's work depending on the seed, and the deferrable figures follow that share
        rather than the rule. Here the VMs, sorted by work, are cut into ``k = round(fraction x n)``
        consecutive strata of n/k VMs each (boundaries ``floor(i x n / k)``), and the seed picks one
        VM in each: every size of VM is drawn in its proportion, and only which of a few
        near-equal neighbours waits is left to the seed.

        How close: the pick in stratum i and the stratum's share of the work (its n/k VMs, fractional
        ends included, times k/n) both lie between the work of the stratum's first VM and of the next
        stratum's first, so the differences telescope: ``|share - k/n| <= (max(work) - min(work)) /
        sum(work)``, and ``|k/n - fraction| <= 1/(2n)``. On a PlanetLab day (about 1,000 VMs, the
        busiest about 1 % of the work) that is within a percentage point of ``fraction``.
        """
        work = np.asarray(work, dtype=np.float64)
        if work.ndim != 1 or not np.isfinite(work).all() or (work < 0).any():
            raise ValueError("the work of each VM is a finite number >= 0, one per VM")
        if not 0 <= fraction <= 1:
            raise ValueError(f"the deferrable fraction is between 0 and 1, got {fraction}")
        if max_deferral_s <= 0:
            raise ValueError(f"the deferral deadline must be > 0 s, got {max_deferral_s}")
        vms = len(work)
        chosen = np.zeros(vms, dtype=bool)
        count = int(round(fraction * vms))
        if count:
            order = np.argsort(work, kind="stable")  # ties by index: the same strata on every machine
            bounds = np.arange(count + 1) * vms // count  # floor(i n / k): n/k >= 1 VMs in each stratum
            picks = np.random.default_rng(seed).integers(bounds[:-1], bounds[1:])
            chosen[order[picks]] = True
        return cls(chosen, float(max_deferral_s))


DEFERRAL_CHOICES = ("vms", "work")  # a uniform seeded choice of VMs; one stratified by work (``DeferralSetup``)


def vm_work(util: np.ndarray, vm_mips: np.ndarray) -> np.ndarray:
    """float64[V]: each VM's CPU work over the trace, before any deferral: its utilisation summed over
    the samples times its MIPS (the weight ``DeferralSetup.stratified`` sorts by)."""
    return np.asarray(util, dtype=np.float64).sum(axis=1) * np.asarray(vm_mips, dtype=np.float64)


def choose_deferrable(
    choice: str, work: np.ndarray, fraction: float, max_deferral_s: float = DEFAULT_DEFERRAL_DEADLINE_S,
    seed: int = DEFAULT_DEFERRAL_SEED,
) -> DeferralSetup:
    """The seeded choice named ``choice``: ``vms`` (``DeferralSetup.seeded``, the headline's reading) or
    ``work`` (``DeferralSetup.stratified``)."""
    if choice == "vms":
        return DeferralSetup.seeded(len(work), fraction, max_deferral_s, seed)
    if choice == "work":
        return DeferralSetup.stratified(work, fraction, max_deferral_s, seed)
    raise ValueError(f"the choice of deferrable VMs is one of {', '.join(DEFERRAL_CHOICES)}, got {choice!r}")


@dataclass
class DeferralAnswer:
    """What a deferring policy asks at a decision step (VM indices)."""

    shelve: list[int]
    resume: list[int]
    held_off: frozenset[int] = frozenset()  # hosts that must not be switched on (power-cycle budget spent)
    due: frozenset[int] = frozenset()  # brought back by their deadline: a held-off host rather than a miss


class DeferralBook:
    """Shelved VMs, their shifts, the work done, and the figures of a run."""

    def __init__(self, state: SimState, setup: DeferralSetup | None, end_s: float, last_arrival_s: float = 0.0) -> None:
        vms = state.dc.vms
        self.state = state
        self.setup = setup or DeferralSetup(np.zeros(vms, dtype=bool))
        self.end_s = end_s  # the trace position where every VM's work is done
        self.last_arrival_s = last_arrival_s  # a repeated day's last copy arrives then (``arrivals``)
        self.shelved_since = np.full(vms, np.nan)
        self.shelved_s = np.zeros(vms)  # total time each VM spent shelved
        self.work_util_s = 0.0
        self.shelves = self.resumes = 0
        self._prev_util = np.zeros(vms)
        self._prev_running = np.zeros(vms, dtype=bool)
        self._next_zero_s: np.ndarray | None = None  # [V, T]: each VM's next sample at 0 (``_work_left_s``)
        self.offered = np.zeros(vms, dtype=bool)  # arrived this step, not placed yet: the rule sees them first
        self.unplaced = 0  # offered VMs the rule let run for which no host had room

    # --- positions ---------------------------------------------------------------------------
    @property
    def shelved(self) -> np.ndarray:
        return ~np.isnan(self.shelved_since)

    def position(self, t_s: float) -> np.ndarray:
        """float64[V]: where each VM is in its trace (frozen while it is shelved)."""
        return np.where(self.shelved, self.shelved_since, t_s) - self.state.shift_s

    @property
    def active(self) -> bool:
        """True while deferral changed anything (some VM is shelved or runs behind the clock)."""
        return bool(self.shelved.any() or self.state.shift_s.any())

    def pending(self, t_s: float) -> bool:
        """Work left past the trace's end: a shelved VM, or a running one behind the clock.

        False once ``t_s`` is past the latest time any promise allows (the last arrival's end plus
        the maximum deferral), so that a VM no host can take does not keep the replay going.
        """
        if not self.active or t_s > self.last_arrival_s + self.end_s + self.setup.max_deferral_s:
            return False
        behind = self.state.alive & (self.position(t_s) < self.end_s - _EPS_S)
        return bool(self.shelved.any() or behind.any())

    def offer(self, vms: list[int]) -> None:
        """Arrivals for the rule to see before they are placed (``arrivals.Arrivals.admit``): candidates
        that run (not shelved) and hold no host; ``apply`` shelves them or places them as Nova would."""
        self.offered[vms] = True

    # --- per step ------------------------------------------------------------------------------
    def count_work(self, t_s: float, interval_s: float) -> None:
        """Add the interval ending at ``t_s`` for VMs that ran through it (trapezoid in utilisation)."""
        util = self.state.utilisation(t_s)
        ran = self._prev_running & self.state.alive
        self.work_util_s += float(((self._prev_util + util) / 2.0)[ran].sum()) * interval_s

    def close_step(self, t_s: float) -> None:
        """After the decision at ``t_s``: remember who runs into the next interval, and from where."""
        self._prev_util = self.state.utilisation(t_s)
        self._prev_running = self.state.alive & (self.position(t_s) < self.end_s - _EPS_S)

    def retire_finished(self, t_s: float) -> None:
        """VMs whose work is done leave (only needed once deferral has shifted someone)."""
        if not self.active:
            return
        done = self.state.alive & ~self.state.in_migration & (self.position(t_s) >= self.end_s - _EPS_S)
        self.state.retire(np.flatnonzero(done))

    def candidates(self, t_s: float, clock_s: float = 0.0) -> list[Candidate]:
        """Deferrable VMs with work left, as the core's rule sees them (uuid = VM name; ``resume_by_s``
        on a clock where the replay starts at ``clock_s``; ``runtime_s``: its work left, ``_work_left_s``)."""
        state, names = self.state, self.state.dc.vm_names
        pos = self.position(t_s)
        shelved = self.shelved
        running = (state.alive & ~state.in_migration) | self.offered
        mask = self.setup.deferrable & (shelved | running) & (pos < self.end_s - _EPS_S)
        # running: position + max_deferral; shelved: when it was shelved + what is left of max_deferral
        resume_by = t_s + (self.setup.max_deferral_s - self._shelved_now(t_s))
        left = self._work_left_s(pos)
        return [Candidate(names[v], bool(shelved[v]), float(resume_by[v]) + clock_s, float(left[v]))
                for v in np.flatnonzero(mask).tolist()]

    def _work_left_s(self, pos: np.ndarray) -> np.ndarray:
        """float64[V]: the running time each VM's remaining work needs, from trace position ``pos``: to
        the trace's end, or, in a fidelity that retires idle VMs, to its next sample at 0 (where it
        leaves). The owner's ``geyser:runtime`` in Watcher; here the trace knows it."""
        if not self.state.fidelity.retire_idle_vms:
            return self.end_s - pos
        if self._next_zero_s is None:
            trace = self.state.trace
            ends = np.where(trace.util == 0, np.arange(trace.util.shape[1]) * trace.step_s, np.inf)
            self._next_zero_s = np.minimum(np.minimum.accumulate(ends[:, ::-1], axis=1)[:, ::-1], self.end_s)
        step = self.state.trace.step_s
        index = np.clip(np.ceil(pos / step - _EPS_S).astype(np.int64), 0, self._next_zero_s.shape[1] - 1)
        nearest = self._next_zero_s[np.arange(len(pos)), index]
        return np.maximum(nearest - pos, 0.0)

    def _shelved_now(self, t_s: float) -> np.ndarray:
        """float64[V]: time spent shelved so far, the current spell included."""
        current = np.where(self.shelved, t_s - np.nan_to_num(self.shelved_since), 0.0)
        return self.shelved_s + current

    # --- applying a policy's answer ----------------------------------------------------------
    def apply(self, answer: DeferralAnswer, t_s: float, host_free_mips: np.ndarray) -> int:
        """Shelve and bring back as asked, then place the offered arrivals not shelved; returns how
        many VMs changed state."""
        state = self.state
        changed = 0
        arrived = [v for v in answer.shelve if self.offered[v]]
        self.offered[arrived] = False
        self.shelved_since[arrived] = t_s  # shelved on arrival: its deferral clock starts now
        self.shelves += len(arrived)
        shelve = [v for v in answer.shelve if self.setup.deferrable[v] and state.alive[v] and not state.in_migration[v]]
        if shelve:
            host_free_mips = host_free_mips.copy()
            for v in shelve:
                host_free_mips[int(state.vm_host[v])] += state.dc.vm_mips[v]
            state.retire(np.array(shelve, dtype=np.int64))
            self.shelved_since[shelve] = t_s
            self.shelves += len(shelve)
            changed += len(shelve)
        for v in answer.resume:
            if not self.shelved[v]:
                continue
            host = place_like_nova(state, v, host_free_mips, answer.held_off)
            if host is None and v in answer.due:  # a deadline beats the power-cycle budget
                host = place_like_nova(state, v, host_free_mips)
            if host is None:
                continue  # no room anywhere: it stays shelved, and may become a deadline miss
            spell = t_s - self.shelved_since[v]
            state.shift_s[v] += spell
            self.shelved_s[v] += spell
            self.shelved_since[v] = np.nan
            state.place(v, host)
            state.powered[host] = True
            host_free_mips[host] -= state.dc.vm_mips[v]
            self.resumes += 1
            changed += 1
        for v in np.flatnonzero(self.offered).tolist():  # arrivals the rule lets run: Nova places them
            self.offered[v] = False
            host = place_new(state, v, host_free_mips, answer.held_off)
            if host is None:
                self.unplaced += 1
                continue
            state.place(v, host)
            state.powered[host] = True
            host_free_mips[host] -= state.dc.vm_mips[v]
            changed += 1
        return changed + len(arrived)

    # --- figures -------------------------------------------------------------------------------
    @property
    def work_vm_hours(self) -> float:
        return self.work_util_s / 3600.0

    @property
    def deferred_vm_hours(self) -> float:
        return float(self.shelved_s.sum()) / 3600.0

    def missed(self, t_s: float) -> list[str]:
        """VMs shelved longer than allowed, or still shelved at the end of the run."""
        late = (self._shelved_now(t_s) > self.setup.max_deferral_s + _EPS_S) | self.shelved
        return [self.state.dc.vm_names[v] for v in np.flatnonzero(late).tolist()]


def place_like_nova(
    state: SimState, v: int, free_mips: np.ndarray, held_off: frozenset[int] = frozenset()
) -> int | None:
    """Nova's part for VM ``v`` (coming back from the shelf, or new): the fullest powered host with
    room for its full MIPS (and RAM, where the fidelity enforces it), else the first off host with
    room that is not held off; None when no host has room."""
    dc = state.dc
    fits = (free_mips >= dc.vm_mips[v]) & (dc.pe_mips * dc.vm_pes[v] >= dc.vm_mips[v])
    if state.fidelity.enforce_ram:
        ram_used = np.bincount(state.vm_host[state.alive], dc.vm_ram_mb[state.alive], dc.hosts)
        fits &= dc.ram_mb - ram_used >= dc.vm_ram_mb[v]
    on = np.array([len(vms) > 0 for vms in state.host_vms]) | (state.powered & ~state.fidelity.is_cloudsim)
    powered = np.flatnonzero(fits & on)
    if len(powered):
        return int(powered[np.argmin(free_mips[powered])])
    off = [h for h in np.flatnonzero(fits & ~on).tolist() if h not in held_off]
    return off[0] if off else None


def place_new(state: SimState, v: int, free_mips: np.ndarray, held_off: frozenset[int] = frozenset()) -> int | None:
    """Nova's part for a new instance (a day's copy arriving, or an offered arrival the rule lets
    run): as ``place_like_nova``, on no host the power-cycle budget holds off while another has
    room, else on one of those (a new instance is someone's request; the budget is wear).

    Why: a host switched on for a new instance that has no switch-off left must then stay on
    until one ages out of the 24 h window. At the midnight hand-over of a steady replay
    (20110303, geyser following the supply, 30 % deferrable) Nova so switched on 104 such hosts,
    and the budget held them on for two decisions (10 kW where 4 kW would do). In Watcher Nova
    places on no host geyser switched off at all (geyser disables it)."""
    host = place_like_nova(state, v, free_mips, held_off)
    return place_like_nova(state, v, free_mips) if host is None and held_off else host
