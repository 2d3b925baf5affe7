"""The simulator's mutable state and the per-update accounting CloudSim's hosts do.

``SimState`` holds where every VM runs, which VMs are migrating, each VM's utilisation history
(what the overload detectors read), and which hosts are powered. ``SimState.snapshot(t)`` computes,
for all hosts at once, what a CloudSim host update computes at time t:

* each VM asks for ``u(t) x MIPS`` (u interpolated between trace samples), capped at what its
  virtual cores can get from the host's cores (``vm_pes x pe_mips``);
* a VM migrating out gets 90 % of that on its source (the missing 10 % is the PDM), the destination
  reserves 10 %; when a host is oversubscribed every share is scaled down to fit and floored;
* host utilisation = allocated MIPS / host MIPS, a migrating-out VM counted at its undegraded share;
* a host violates its SLA (SLATAH) while allocated < requested, a migrating-in VM counting at
  its full request; ``SlaCause`` says why (overload, core cap, migration).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from watcher_geyser.simulator.datacenter import DataCenter, cloudsim_watts
from watcher_geyser.simulator.fidelity import Fidelity
from watcher_geyser.simulator.traces import Trace

HISTORY_LENGTH = 30  # CloudSim's PowerVm.HISTORY_LENGTH: utilisation values a VM remembers
MIGRATION_SOURCE_SHARE = 0.9
MIGRATION_DEST_SHARE = 0.1


@dataclass(frozen=True)
class Migration:
    """Move VM ``vm`` (index into the trace) to host ``host`` (index into the data centre)."""

    vm: int
    host: int


class SlaCause(IntEnum):
    """Why a host violates its SLA at an update (``Snapshot.host_sla_cause``); the first that holds wins.

    ``OVERLOAD``: the capped requests held against the host exceed its MIPS, every share is scaled down.
    ``CORE_CAP``: not overloaded, but a VM on it (running or migrating in) asks for more than its
    virtual cores can get from the host's cores (``req > vm_pes x pe_mips``).
    ``MIGRATION``: neither, but a VM migrates in or out. A VM migrating in counts at its full request
    while 10 % of it is allocated (CloudSim's rule), so the destination violates for the whole
    migration. On the source the VM's 90 % share is counted back as ``alloc / 0.9``, which in floating
    point lands a hair under the request for about one value in 25 (CloudSim divides the same way),
    so a source host violates by rounding now and then: a migration's doing too.
    A violating host none of these explains would count as ``OVERLOAD``; by the rules above there is
    none (without a VM migrating or capped, allocated equals requested to the last bit)."""

    NONE = 0
    OVERLOAD = 1
    CORE_CAP = 2
    MIGRATION = 3


@dataclass
class InFlight:
    vm: int
    src: int
    dst: int
    end_s: float
    seq: int


@dataclass
class Snapshot:
    """What a host update at ``time_s`` finds (arrays over hosts H and VMs V)."""

    time_s: float
    vm_req_mips: np.ndarray  # [V] requested MIPS (0 for VMs not running)
    vm_alloc_mips: np.ndarray  # [V] allocated on the VM's own host (source side while migrating)
    host_util: np.ndarray  # [H] utilisation 0..1 as CloudSim measures it
    host_req_mips: np.ndarray  # [H] requested MIPS incl. VMs migrating in
    host_alloc_mips: np.ndarray  # [H] allocated MIPS (getUtilizationOfCpuMips before planning)
    host_cap_mips: np.ndarray  # [H] capped requests held against the host's MIPS (free = total - this)
    host_violation: np.ndarray  # [H] bool: allocated < requested
    host_sla_cause: np.ndarray  # int8[H]: a ``SlaCause`` per host, NONE where not violating
    host_watts: np.ndarray  # [H] P(util) of every host (whether on or not)


@dataclass
class SimState:
    dc: DataCenter
    trace: Trace
    fidelity: Fidelity
    vm_host: np.ndarray = field(init=False)  # int64[V]: host running each VM, -1 if none
    alive: np.ndarray = field(init=False)  # bool[V]: running (not retired, placed)
    in_migration: np.ndarray = field(init=False)
    moved_s: np.ndarray = field(init=False)  # float64[V]: when each VM's last migration ended, -inf if none
    host_vms: list[list[int]] = field(init=False)  # per host, VMs in arrival order (CloudSim's vmList)
    inflight: list[InFlight] = field(init=False)
    history: np.ndarray = field(init=False)  # float64[V, 30]: utilisation at past decisions, newest first
    history_len: int = 0
    powered: np.ndarray = field(init=False)  # bool[H]: realistic fidelity's power state
    shift_s: np.ndarray = field(init=False)  # float64[V]: how far each VM's trace runs behind the clock (deferral)
    _util: np.ndarray = field(init=False, repr=False)  # [V, T+1]: trace with CloudSim's extra last point

    def __post_init__(self) -> None:
        v, h = self.dc.vms, self.dc.hosts
        self.vm_host = np.full(v, -1, dtype=np.int64)
        self.alive = np.zeros(v, dtype=bool)
        self.in_migration = np.zeros(v, dtype=bool)
        self.moved_s = np.full(v, -np.inf)
        self.host_vms = [[] for _ in range(h)]
        self.inflight = []
        self.history = np.zeros((v, HISTORY_LENGTH))
        self.powered = np.zeros(h, dtype=bool)
        self.shift_s = np.zeros(v)
        self._util = np.hstack([self.trace.util, self.trace.util[:, -1:]])
        self._total = self.dc.total_mips.astype(np.float64)
        self._curve = self.dc.curve_w
        self._curve_flat = self._curve.ravel().copy()
        self._vm_core_cap = self.dc.vm_pes.astype(np.float64)

    # --- demand -------------------------------------------------------------------------
    def utilisation(self, time_s: float) -> np.ndarray:
        """float64[V]: trace utilisation at ``time_s``, linear between samples (CloudSim's rule).

        A VM whose trace runs behind the clock (``shift_s``, deferred work) is read at its own
        position ``time_s - shift_s``.
        """
        if self.shift_s.any():
            return self._shifted_utilisation(time_s - self.shift_s)
        step = self.trace.step_s
        i = int(time_s // step)
        last = self._util.shape[1] - 1
        if i >= last:
            return self._util[:, last].copy()
        frac = (time_s - i * step) / step
        if frac == 0:
            return self._util[:, i].copy()
        return self._util[:, i] + (self._util[:, i + 1] - self._util[:, i]) * frac

    def _shifted_utilisation(self, position_s: np.ndarray) -> np.ndarray:
        step, last = self.trace.step_s, self._util.shape[1] - 1
        x = np.clip(position_s / step, 0.0, float(last))
        lo = np.minimum(np.floor(x).astype(np.int64), last)
        hi = np.minimum(lo + 1, last)
        rows = np.arange(len(position_s))
        return self._util[rows, lo] + (self._util[rows, hi] - self._util[rows, lo]) * (x - lo)

    def demand_mips(self, time_s: float) -> np.ndarray:
        return self.utilisation(time_s) * self.dc.vm_mips * self.alive

    def watts(self, util: np.ndarray) -> np.ndarray:
        return cloudsim_watts(self._curve, util)

    def watts_rows(self, hosts: np.ndarray, util: np.ndarray) -> np.ndarray:
        """Watts of the hosts ``hosts`` at ``util`` (one value per listed host): the hot path of PABFD."""
        x = np.clip(util, 0.0, 1.0) * 10.0
        lo = np.minimum(x.astype(np.int64), 9)
        flat = hosts * 11 + lo
        p_lo = self._curve_flat[flat]
        return p_lo + (self._curve_flat[flat + 1] - p_lo) * (x - lo)

    # --- placement changes --------------------------------------------------------------
    def place(self, vm: int, host: int) -> None:
        self.vm_host[vm] = host
        self.alive[vm] = True
        self.host_vms[host].append(vm)

    def retire(self, vms: np.ndarray) -> None:
        for v in vms.tolist():
            self.host_vms[int(self.vm_host[v])].remove(v)
            self.vm_host[v] = -1
            self.alive[v] = False

    def record_history(self, util: np.ndarray) -> None:
        self.history[:, 1:] = self.history[:, :-1]
        self.history[:, 0] = np.where(self.alive, util, 0.0)
        self.history_len = min(self.history_len + 1, HISTORY_LENGTH)

    # --- the host update ----------------------------------------------------------------
    def snapshot(self, time_s: float) -> Snapshot:
        req = self.demand_mips(time_s)
        total = self._total
        n_hosts = len(total)
        src_v = np.flatnonzero(self.alive)
        src_h = self.vm_host[src_v]
        pe = self.dc.pe_mips
        cap_src = np.minimum(req[src_v], self._vm_core_cap[src_v] * pe[src_h])
        migrating = self.in_migration[src_v]
        f_src = np.where(migrating, MIGRATION_SOURCE_SHARE, 1.0)
        if self.inflight:
            dst_v = np.array([m.vm for m in self.inflight], dtype=np.int64)
            dst_h = np.array([m.dst for m in self.inflight], dtype=np.int64)
        else:
            dst_v = dst_h = np.zeros(0, dtype=np.int64)
        cap_dst = np.minimum(req[dst_v], self._vm_core_cap[dst_v] * pe[dst_h])
        held = np.bincount(src_h, cap_src, n_hosts) + np.bincount(dst_h, MIGRATION_DEST_SHARE * cap_dst, n_hosts)
        over = held > total
        scale = np.ones(n_hosts)  # divided only where overloaded: a near-zero load elsewhere must not overflow
        np.divide(total, held, out=scale, where=over)
        alloc_src = np.where(over[src_h], np.floor(cap_src * scale[src_h] * f_src), cap_src * f_src)
        alloc_dst = np.where(
            over[dst_h], np.floor(cap_dst * MIGRATION_DEST_SHARE * scale[dst_h]), cap_dst * MIGRATION_DEST_SHARE
        )
        counted_src = np.where(migrating, alloc_src / MIGRATION_SOURCE_SHARE, alloc_src)
        util_mips = np.bincount(src_h, counted_src, n_hosts) + np.bincount(dst_h, alloc_dst, n_hosts)
        alloc_mips = np.bincount(src_h, alloc_src, n_hosts) + np.bincount(dst_h, alloc_dst, n_hosts)
        host_req = np.bincount(src_h, req[src_v], n_hosts) + np.bincount(dst_h, req[dst_v], n_hosts)
        util = util_mips / total
        util[(util > 1.0) & (util < 1.01)] = 1.0
        vm_alloc = np.zeros(len(req))
        vm_alloc[src_v] = alloc_src
        violation = util_mips < host_req
        capped_src, capped_dst = req[src_v] > cap_src, req[dst_v] > cap_dst  # asking more than their cores give
        core_capped = np.bincount(src_h, capped_src, n_hosts) + np.bincount(dst_h, capped_dst, n_hosts)
        moving = np.bincount(dst_h, req[dst_v] > 0, n_hosts) + np.bincount(src_h, migrating, n_hosts)
        return Snapshot(
            time_s=time_s,
            vm_req_mips=req,
            vm_alloc_mips=vm_alloc,
            host_util=util,
            host_req_mips=host_req,
            host_alloc_mips=alloc_mips,
            host_cap_mips=held,
            host_violation=violation,
            host_sla_cause=sla_causes(violation, over, core_capped > 0, moving > 0),
            host_watts=self.watts(util),
        )


def sla_causes(violation: np.ndarray, overloaded: np.ndarray, core_capped: np.ndarray,
               migrating: np.ndarray) -> np.ndarray:
    """int8[H]: each host's ``SlaCause`` from its flags (bool[H] each: violating, oversubscribed, a VM
    capped by its cores, a VM migrating in or out), in priority order; a violating host that matches
    none counts as ``OVERLOAD``, a host not violating is ``NONE``."""
    flags = [~violation, overloaded, core_capped, migrating]
    causes = [SlaCause.NONE, SlaCause.OVERLOAD, SlaCause.CORE_CAP, SlaCause.MIGRATION]
    return np.select(flags, causes, SlaCause.OVERLOAD).astype(np.int8)
