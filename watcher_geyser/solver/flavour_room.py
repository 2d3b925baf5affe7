"""Which flavours still fit somewhere: a quick "no" for passes that try to empty every host.

``greedy.empty_more_hosts`` tries to move each instance of a host, largest first, onto the
other receiving hosts of its zone, and gives the host up at the first that finds no room.
Under ``anytime.polish`` it tries every occupied host, and each try scanned the room of
every receiver: at 20,000 hosts x 200,000 instances on the tight family that pass took about
12 s of a 45 s solve, almost all of it on hosts given up at their first instance.

Here, per zone and flavour (a distinct demand row), the number of receiving hosts that have
room for one more instance of it is kept up to date as hosts are emptied. A host holding a
flavour that fits on no receiver but itself cannot be emptied (room only shrinks while its
instances are placed), so the pass skips it in a few operations, with the outcome the scan
would have had: the same answer, faster. Flavours are judged on vcpu, memory and disk alone
(measured CPU makes every instance differ): a necessary test, which on packed fleets, full
in memory, is the one that fails. A kind is a flavour and a core tier (``rules/cores.py``):
a host has room for an instance only if its cores are fast enough for it.
"""

from __future__ import annotations

import numpy as np

from watcher_geyser.solver.limits import CPU_CORES
from watcher_geyser.solver.repack import EPS
from watcher_geyser.solver.workspace import Workspace

#: Past this many distinct flavours the table costs more than the scans it saves.
MAX_FLAVOURS = 64


class FlavourRoom:
    """Per host and flavour: room for one more (``fits``) and instances held (``held``); per
    zone and flavour, receiving hosts with room for one more (``count``)."""

    def __init__(self, ws: Workspace, placement: np.ndarray, load: np.ndarray, receiving: np.ndarray) -> None:
        self.ws = ws
        # a kind: a flavour and a core tier (rules/cores.py), so that "fits" is "may end there" too
        self.kind = np.unique(ws.flavour * ws.core_tiers + ws.core_tier, return_inverse=True)[1].reshape(-1)
        n_kinds = int(self.kind.max()) + 1
        first = np.zeros(n_kinds, dtype=np.int64)
        first[self.kind[::-1]] = np.arange(ws.n_instances)[::-1]
        self.rows = ws.demand[first, :CPU_CORES]
        self.tier = ws.core_tier[first]
        self.fits = self._fits(ws.limits - load, np.arange(ws.n_hosts))
        self.count = np.zeros((int(ws.host_zone.max()) + 1, n_kinds), dtype=np.int64)
        np.add.at(self.count, ws.host_zone[receiving], self.fits[receiving].astype(np.int64))
        self.held = np.zeros((ws.n_hosts, n_kinds), dtype=np.int64)
        np.add.at(self.held, (placement, self.kind), 1)
        order = np.argsort(placement, kind="stable")
        bounds = np.searchsorted(placement[order], np.arange(ws.n_hosts + 1))
        self.members = [order[bounds[h]:bounds[h + 1]] for h in range(ws.n_hosts)]

    @classmethod
    def worth_building(cls, ws: Workspace) -> bool:
        """Are a workspace's flavours few?"""
        return ws.n_instances > 0 and int(ws.flavour.max()) < MAX_FLAVOURS

    def _fits(self, residual: np.ndarray, hosts: np.ndarray) -> np.ndarray:
        # the very comparison the pass makes (``residual >= need - EPS``), so both agree to the bit
        fits = (residual[:, None, :CPU_CORES] >= self.rows[None, :, :] - EPS).all(axis=2)
        if self.ws.core_tiers > 1:  # and its cores test (``core_rows``)
            fits &= self.ws.host_core_tier[hosts, None] >= self.tier[None, :]
        return fits

    def may_empty(self, h: int, receiving: bool) -> bool:
        """False when some flavour on ``h`` fits on no other receiving host of its zone."""
        others = self.count[self.ws.host_zone[h]] - (self.fits[h] if receiving else 0)
        return not ((self.held[h] > 0) & (others <= 0)).any()

    def items(self, h: int) -> np.ndarray:
        """``h``'s instances, in index order (as ``np.flatnonzero(placement == h)``)."""
        return self.members[h]

    def place(self, order: np.ndarray, load: np.ndarray, receivers: np.ndarray) -> list[tuple[int, int]] | None:
        """``empty_more_hosts``' search, on fewer rows: each instance of ``order`` in turn on the
        receiver (bool[H] ``receivers``) with room that it leaves least room on, ties to the
        lowest index; the moves, or None when one finds no room. Only hosts with room for the
        flavour before the search can have room for it during it (room only shrinks), so the
        others are left out; the rows kept get the search's own figures, bit for bit."""
        ws = self.ws
        taken: dict[int, np.ndarray] = {}  # host -> its room after this search's moves so far
        moves = []
        for v in order.tolist():
            need = ws.demand[v]
            hosts = np.flatnonzero(self.fits[:, self.kind[v]] & receivers)
            residual = ws.limits[hosts] - load[hosts]
            for host, room in taken.items():
                row = np.searchsorted(hosts, host)
                if row < len(hosts) and hosts[row] == host:
                    residual[row] = room
            row = tightest_fit(residual, need, ws.scale)
            if row is None:
                return None
            residual[row] -= need
            taken[int(hosts[row])] = residual[row]
            moves.append((v, int(hosts[row])))
        return moves

    def emptied(self, h: int, moves: list[tuple[int, int]], load: np.ndarray, was_receiving: bool) -> None:
        """Record that ``h``'s instances moved as ``moves`` says ((instance, host)), with ``load``
        updated, and that ``h`` receives no more."""
        zone = self.ws.host_zone[h]
        if was_receiving:
            self.count[zone] -= self.fits[h]
        arrivals: dict[int, list[int]] = {}
        for v, dst in moves:
            self.held[h, self.kind[v]] -= 1
            self.held[dst, self.kind[v]] += 1
            arrivals.setdefault(dst, []).append(v)
        for dst, vs in arrivals.items():
            self.members[dst] = np.sort(np.concatenate([self.members[dst], vs]))
        self.members[h] = self.members[h][:0]
        touched = np.array(sorted(arrivals), dtype=np.int64)
        now = self._fits(self.ws.limits[touched] - load[touched], touched)
        # receivers only: the pass moves instances onto receiving hosts of h's zone
        np.add.at(self.count, self.ws.host_zone[touched], now.astype(np.int64) - self.fits[touched])
        self.fits[touched] = now
        self.fits[h] = self._fits(self.ws.limits[h:h + 1] - load[h:h + 1], np.array([h]))[0]


def tightest_fit(residual: np.ndarray, need: np.ndarray, scale: np.ndarray, allowed: np.ndarray | None = None
                 ) -> int | None:
    """The row of ``residual`` (one receiver's room each) that ``need`` fits and leaves the least
    room on (summed over resources in units of ``scale``), the first on ties; None if none fits.
    Best fit keeps the large gaps for the large instances still to place. ``allowed`` (bool, one
    per row; None: all) keeps out rows the instance may not end on (``core_rows``)."""
    fits = (residual >= need - EPS).all(axis=1)
    cand = np.flatnonzero(fits if allowed is None else fits & allowed)
    if len(cand) == 0:
        return None
    return int(cand[np.argmin(((residual[cand] - need) / scale).sum(axis=1))])


def core_rows(ws: Workspace, v: int, hosts: np.ndarray) -> np.ndarray | None:
    """bool[len(hosts)]: which of ``hosts`` have cores fast enough for instance ``v``
    (``rules/cores.py``; its home too only if so: as ``FlavourRoom``, whose answers must agree);
    None when every host's are."""
    return None if ws.core_tiers == 1 else ws.host_core_tier[hosts] >= ws.core_tier[v]
