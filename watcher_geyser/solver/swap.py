"""Sort the CPU load onto the flattest power curves by swapping instances of one flavour.

Consolidation decides which hosts stay on; the dynamic watts then depend on which hosts
carry the measured CPU load, and hosts of mixed generations pay differently for a core of
it. The other passes never look at that: the fill, ejection and the neighbourhood models
weigh idle watts and memory moved. On the tight family the joint bound's programme
(``joint_bound``) puts the heavy instances on the hosts with the cheapest core and the light
ones on the dearest, where the answers had them as the fill left them.

Two instances of one flavour (same vcpu, memory and disk) can trade hosts without changing
any host's allocation: only the measured CPU moves. So, flavour by flavour, the heaviest
instance on a dear host trades places with the light instance on a cheaper host that saves
the most watts, as long as the cheaper host stays under its CPU limit; each swap is judged on
the hosts' real power curves (not the lower line the bounds use) and kept only if it lowers
the watts. No host is switched on or off. Two migrations a swap: it runs only where moves
are not capped, and only in the time the anytime search has (never on a short step).
"""

from __future__ import annotations

import time

import numpy as np

from watcher_geyser.solver.limits import CPU_CORES
from watcher_geyser.solver.repack import EPS
from watcher_geyser.solver.workspace import Workspace

#: The pass stops after comparing this many (instance, instance) pairs: a bound on its work
#: that holds in deterministic mode, where it has no deadline (about 5 s of CPU here: the
#: whole pass on the tight family at 5,000 hosts x 30,000 instances).
MAX_PAIRS = 1_000_000_000
GAIN_W = 1e-6  # a swap must save at least this much


def swap_for_flatter_curves(ws: Workspace, placement: np.ndarray, deadline: float) -> np.ndarray:
    """``placement`` with instances of a flavour swapped between hosts where that lowers the
    watts (module docstring); ``placement`` itself when no swap does."""
    problem = ws.problem
    if problem.eviction_cap is not None or ws.n_instances < 2:
        return placement
    fleet = ws.fleet
    cores = fleet.physical_cores
    price = fleet.dynamic_slope_w_per_core
    cpu = fleet.cpu_used
    occupied = np.bincount(placement, minlength=ws.n_hosts) > 0
    cpu_limit = ws.limits[:, CPU_CORES] if ws.use_cpu else np.full(ws.n_hosts, np.inf)
    load = np.bincount(placement, weights=cpu, minlength=ws.n_hosts)  # measured CPU, cores
    models = [None] * ws.n_hosts
    for model, members in fleet.power_groups:
        for h in members.tolist():
            models[h] = model
    # an instance may trade places when it may move and both hosts may receive
    allocated = np.zeros((ws.n_hosts, CPU_CORES))
    np.add.at(allocated, placement, ws.demand[:, :CPU_CORES])
    # a host that receives must end within its packing limits: one held above them takes no part
    within = (allocated <= ws.limits[:, :CPU_CORES] + EPS).all(axis=1) & (load <= cpu_limit + EPS)
    free = ws.movable & (ws.group < 0) & (ws.may_receive & within & occupied)[placement]
    result = placement.copy()
    pairs = 0

    def watts(h: int, cores_load: float) -> float:
        return float(models[h].watts(min(cores_load / cores[h], 1.0)))

    by_flavour = {}
    for flavour in np.unique(ws.flavour[free]).tolist():
        members = np.flatnonzero(free & (ws.flavour == flavour))
        if len(members) >= 2 and np.ptp(price[placement[members]]) > 0:
            by_flavour[flavour] = members
    heavy = np.flatnonzero(free & np.isin(ws.flavour, list(by_flavour)))
    # dear hosts' heavy instances first, whatever their flavour: they can save the most
    for a in heavy[np.argsort(-(price[placement[heavy]] * cpu[heavy]), kind="stable")].tolist():
        if pairs > MAX_PAIRS or time.monotonic() > deadline:
            break
        members = by_flavour[int(ws.flavour[a])]
        pairs += len(members)
        ha = int(result[a])
        hb = result[members]
        gain = (price[ha] - price[hb]) * (cpu[a] - cpu[members])
        ok = gain > GAIN_W
        ok &= load[hb] - cpu[members] + cpu[a] <= cpu_limit[hb] + EPS
        ok &= load[ha] - cpu[a] + cpu[members] <= cpu_limit[ha] + EPS  # a's host may gain load too
        ok &= ws.host_zone[hb] == ws.host_zone[ha]
        for row in np.flatnonzero(ok)[np.argsort(-gain[ok], kind="stable")][:4].tolist():
            b, hb_ = int(members[row]), int(hb[row])
            delta = cpu[a] - cpu[b]
            before = watts(ha, load[ha]) + watts(hb_, load[hb_])
            after = watts(ha, load[ha] - delta) + watts(hb_, load[hb_] + delta)
            if after < before - GAIN_W:  # the real curves agree with the lower lines' gain
                result[a], result[b] = hb_, ha
                load[ha] -= delta
                load[hb_] += delta
                break
    return result if (result != placement).any() else placement
