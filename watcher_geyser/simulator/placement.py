"""Power-aware best-fit decreasing (PABFD) and the overload / underload loop of Beloglazov & Buyya.

Written from the published description (CCPE 2012) and the behaviour FORMAT.md documents for
CloudSim 3.0.3, whose figures we compare with:

* overload: every host the detector flags gives up VMs by minimum migration time (least RAM
  first, ties in arrival order) until the detector no longer flags it;
* the VMs to move are sorted by current demand, largest first (a stable sort), and each goes to the
  allowed host whose power rises least, P(u_after) - P(u_now); a host already in use must not be
  flagged overloaded with the VM added; a host must have the core, the MIPS (and in ``realistic``
  fidelity the RAM) for it;
* underload: repeatedly the powered-on host with the lowest measured utilisation tries to move all
  its VMs with PABFD; if one VM finds no host, none moves. Hosts that received VMs from an earlier
  underloaded host are not tried as sources; hosts that received VMs from overloaded hosts are (a
  quirk of CloudSim's code that its figures depend on).

The ``Planner`` keeps tentative per-host sums while a step is planned; the simulator state changes
only when the engine starts the returned migrations.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from watcher_geyser.simulator.state import HISTORY_LENGTH, Migration, SimState, Snapshot

LR_WINDOW = 10


def regression_weights(window: int = LR_WINDOW, ahead: int = 1) -> np.ndarray:
    """w such that w @ y is the least-squares line through y (x = 1..window) evaluated at window + ahead."""
    x = np.arange(1, window + 1, dtype=np.float64)
    design = np.column_stack([np.ones(window), x])
    return np.array([1.0, window + ahead]) @ np.linalg.pinv(design)


class Detector(Protocol):
    """Says which hosts are overloaded, now and with one more VM."""

    initial_threshold: float

    def prepare(self, planner: Planner) -> None: ...

    def overloaded(self, planner: Planner, host: int) -> bool: ...

    def overloaded_hosts(self, planner: Planner) -> np.ndarray: ...

    def overloaded_after(self, planner: Planner, vm: int) -> np.ndarray: ...


class Planner:
    """Tentative placement of one step: VM lists and per-host sums, updated as VMs are moved."""

    def __init__(self, state: SimState, snap: Snapshot, detector: Detector) -> None:
        self.state = state
        self.dc = state.dc
        self.detector = detector
        self.req = snap.vm_req_mips * state.alive
        self.total = state.dc.total_mips.astype(np.float64)
        self.core_cap = state.dc.pe_mips  # a 1-core VM gets at most one host core
        self.lists = [list(vms) for vms in state.host_vms]
        self.sizes = np.array([len(vms) for vms in self.lists], dtype=np.int64)
        h = state.vm_host
        run = np.flatnonzero(state.alive)
        n = len(self.total)
        self.sum_req = np.bincount(h[run], self.req[run], n)
        self.held = snap.host_cap_mips.copy()
        self.alloc = snap.host_alloc_mips.copy()
        self.measured = snap.host_util
        self.enforce_ram = state.fidelity.enforce_ram
        self.ram_used = np.bincount(h[run], state.dc.vm_ram_mb[run], n)
        for m in state.inflight:
            self.ram_used[m.dst] += state.dc.vm_ram_mb[m.vm]
        if state.fidelity.zero_utilisation_is_off:
            self.p_now = snap.host_watts
            self.off = snap.host_util == 0
        else:
            self.p_now = np.where(state.powered, snap.host_watts, 0.0)
            self.off = ~state.powered
        detector.prepare(self)

    # --- tentative moves ----------------------------------------------------------------
    def create(self, vm: int, host: int) -> None:
        """Put ``vm`` on ``host`` (CloudSim's vmCreate during planning)."""
        r = self.req[vm]
        self.lists[host].append(vm)
        self.sizes[host] += 1
        self.sum_req[host] += r
        self.held[host] += r
        self.alloc[host] += r
        self.ram_used[host] += self.dc.vm_ram_mb[vm]
        self.detector_add(vm, host, +1.0)

    def destroy(self, vm: int, host: int) -> None:
        """Take ``vm`` off ``host`` and recompute the host's sums from what is left."""
        self.lists[host].remove(vm)
        self.sizes[host] -= 1
        self.detector_add(vm, host, -1.0)
        vms = np.array(self.lists[host], dtype=np.int64)
        req = self.req[vms]
        cap = np.minimum(req, self.dc.vm_pes[vms] * self.core_cap[host])
        held = float(cap.sum())
        self.sum_req[host] = float(req.sum())
        self.held[host] = held
        total = self.total[host]
        self.alloc[host] = held if held <= total else float(np.floor(cap * (total / held)).sum())
        self.ram_used[host] = float(self.dc.vm_ram_mb[vms].sum())

    def detector_add(self, vm: int, host: int, sign: float) -> None:
        pred = getattr(self, "pred_sum", None)
        if pred is not None:
            pred[host] += sign * self.pred_vm[vm] * self.dc.vm_mips[vm] / self.total[host]

    # --- PABFD ---------------------------------------------------------------------------
    def find_host(self, vm: int, excluded: np.ndarray) -> int | None:
        """The allowed host whose power rises least with ``vm``, or None."""
        r = self.req[vm]
        free = np.where(self.held <= self.total, self.total - self.held, 0.0)
        ok = ~excluded & (free >= r) & (self.dc.vm_pes[vm] * self.core_cap >= r)
        if self.enforce_ram:
            ok &= self.ram_used + self.dc.vm_ram_mb[vm] <= self.dc.ram_mb
        ok &= ~((self.alloc != 0) & self.detector.overloaded_after(self, vm))
        idx = np.flatnonzero(ok)
        if len(idx) == 0:
            return None
        after = self.state.watts_rows(idx, (self.alloc[idx] + r) / self.total[idx])
        return int(idx[np.argmin(after - self.p_now[idx])])

    def place_all(self, vms: list[int], excluded: np.ndarray, all_or_nothing: bool) -> list[Migration]:
        order = sorted(vms, key=lambda v: -self.req[v])  # stable: ties keep their order
        moves: list[Migration] = []
        for vm in order:
            host = self.find_host(vm, excluded)
            if host is None:
                if all_or_nothing:
                    for m in moves:
                        self.destroy(m.vm, m.host)
                    return []
                continue
            self.create(vm, host)
            moves.append(Migration(vm, host))
        return moves

    # --- the two phases --------------------------------------------------------------------
    def select_mmt(self, host: int) -> list[int]:
        """VMs to take off an overloaded host, least RAM first, until it is no longer overloaded."""
        chosen = []
        ram = self.dc.vm_ram_mb
        while True:
            movable = [v for v in self.lists[host] if not self.state.in_migration[v]]
            if not movable:
                break
            vm = min(movable, key=lambda v: ram[v])  # min() keeps the first of equals
            chosen.append(vm)
            self.destroy(vm, host)
            if not self.detector.overloaded(self, host):
                break
        return chosen

    def plan(self) -> list[Migration]:
        """Migrations for this step: relieve the hosts the detector finds overloaded, then empty underloaded ones."""
        over = self.detector.overloaded_hosts(self)
        to_move: list[int] = []
        for host in np.flatnonzero(over).tolist():
            to_move.extend(self.select_mmt(host))
        moves = self.place_all(to_move, over.copy(), all_or_nothing=False)
        moves.extend(self.underload(over))
        return moves

    def underload(self, over: np.ndarray) -> list[Migration]:
        not_source = over | self.off
        not_target = over | self.off
        moves: list[Migration] = []
        busy_in = np.zeros(len(self.total), dtype=bool)
        for m in self.state.inflight:
            busy_in[m.dst] = True
        # Measured utilisation does not change while a step is planned and sources are only ever
        # excluded, so "the least utilised host left" is the next host in one stable sort.
        eligible = ~not_source & (self.measured > 0) & (self.measured < 1) & ~busy_in
        order = np.flatnonzero(eligible)[np.argsort(self.measured[eligible], kind="stable")]
        for host in order.tolist():
            if not_source[host] or self.sizes[host] == 0:
                continue
            not_source[host] = not_target[host] = True
            vms = [v for v in self.lists[host] if not self.state.in_migration[v]]
            if not vms:
                continue
            placed = self.place_all(vms, not_target, all_or_nothing=True)
            for m in placed:
                not_source[m.host] = True
            moves.extend(placed)
        return moves


class ThresholdDetector:
    """THR: a host is overloaded when requested MIPS / host MIPS > ``threshold``."""

    def __init__(self, threshold: float = 0.8) -> None:
        self.threshold = threshold
        self.initial_threshold = threshold

    def prepare(self, planner: Planner) -> None:
        pass

    def overloaded(self, planner: Planner, host: int) -> bool:
        return bool(planner.sum_req[host] / planner.total[host] > self.threshold)

    def overloaded_hosts(self, planner: Planner) -> np.ndarray:
        return planner.sum_req / planner.total > self.threshold

    def overloaded_after(self, planner: Planner, vm: int) -> np.ndarray:
        return (planner.sum_req + planner.req[vm]) / planner.total > self.threshold


class LocalRegressionDetector:
    """LR: a line through the host's last 10 utilisation values predicts the next; overloaded when
    ``safety x prediction >= 1``. With fewer than 10 values (and for a host without VM sizes) it falls back to THR
    ``fallback`` (0.7).

    A host's history is the sum of its VMs' histories weighted by VM MIPS / host MIPS, so its
    prediction is the same weighted sum of per-VM predictions: computed once per step.
    """

    def __init__(self, safety: float = 1.2, fallback: float = 0.7) -> None:
        self.safety = safety
        self.fallback = ThresholdDetector(fallback)
        self.initial_threshold = fallback
        self.weights = regression_weights()

    def prepare(self, planner: Planner) -> None:
        state = planner.state
        self.active = state.history_len >= LR_WINDOW
        if not self.active:
            return
        assert state.history.shape[1] == HISTORY_LENGTH
        oldest_first = state.history[:, LR_WINDOW - 1 :: -1]
        planner.pred_vm = oldest_first @ self.weights
        run = np.flatnonzero(state.alive)
        h = state.vm_host[run]
        planner.pred_sum = np.bincount(
            h, planner.pred_vm[run] * state.dc.vm_mips[run] / planner.total[h], len(planner.total)
        )

    def overloaded(self, planner: Planner, host: int) -> bool:
        if not self.active or planner.sizes[host] == 0:
            return self.fallback.overloaded(planner, host)
        return bool(planner.pred_sum[host] * self.safety >= 1.0)

    def overloaded_hosts(self, planner: Planner) -> np.ndarray:
        if not self.active:
            return self.fallback.overloaded_hosts(planner)
        predicted = planner.pred_sum * self.safety >= 1.0
        return np.where(planner.sizes > 0, predicted, self.fallback.overloaded_hosts(planner))

    def overloaded_after(self, planner: Planner, vm: int) -> np.ndarray:
        if not self.active:
            return self.fallback.overloaded_after(planner, vm)
        extra = planner.pred_vm[vm] * planner.dc.vm_mips[vm] / planner.total
        return (planner.pred_sum + extra) * self.safety >= 1.0
