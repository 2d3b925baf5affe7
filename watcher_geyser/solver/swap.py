"""Sort the CPU load onto the flattest power curves: move a heavy instance, or swap two of one flavour.

Consolidation decides which hosts stay on; the dynamic watts then depend on which hosts
carry the measured CPU load, and hosts of mixed generations pay differently for a core of
it. The other passes never look at that: the fill, ejection and the neighbourhood models
weigh idle watts and memory moved. On the tight family the joint bound's programme
(``joint_bound``) puts the heavy instances on the hosts with the cheapest core and the light
ones on the dearest, where the answers had them as the fill left them.

Two instances of one flavour (same vcpu, memory and disk) can trade hosts without changing
any host's allocation: only the measured CPU moves. So the heavy instances on dear hosts
(price per core of load times load, most first) each trade places with the instance of their
flavour that saves the most on a host of a cheaper price level: on each level the lightest
whose host stays under its CPU limit. Each swap is judged on the hosts' real power curves
(not the lower line the bounds use). No host is switched on or off, and no instance ends on a
host whose cores are too slow for it (``rules/cores.py``): the cheap cores are often the slow
ones. Two migrations a swap: it runs only where moves are not capped, and only in the time the
anytime search has (never on a short step).

A swap only when the heavy instance cannot move alone. Where one of those cheaper hosts has room
for it beside what it holds (vcpu, memory and disk within the packing limits, measured CPU within
its CPU limit, its cores fast enough) and its own host keeps another instance (so none goes off),
it moves there one way: all its load moves instead of the difference, for one migration instead of
two. A swap there would leave the light instance a move that made no room and costs watts: the
payback rule (``payback.unpaid_moves``) flags it, as it did in 9 of the decomposition's 32 answers
in ``bench/payback.py`` before (docs/design/solver.md, "Moves that pay back"). Server group
members take no part, so no group rule is touched.

A swap is kept only when it pays for its migrations: the watts it saves, over
``Problem.swap_payback_s`` (how long the operator expects a placement to stand; 0: no swaps, no
moves), must cover the energy of copying both instances' memory, a one-way move its instance's
(``payback.payback_w``: ``payback.MIGRATION_J_PER_MB``, the slope of Liu et al.'s live-migration
energy model, HPDC 2011: about 0.5 J per MB copied, source and destination together). Without it
the pass took every swap that saved a fraction of a watt: on the tight family at 5,000 hosts it
more than doubled the instances moved (12,655 -> about 26,000) for 0.6 % of the watts. Six hours by
default (``defaults.SWAP_PAYBACK_S``), not a day: a swap acts on CPU averages, which hold for hours
rather than days; an hour would let almost none pay (the same fleet: 12,655 moves, watts as without
swaps). With six hours a 4 GB pair must save 0.19 W, a 64 GB pair 3 W; on that fleet the pass keeps
3.8 of the 4.7 kW with 4,900 extra moves instead of about 13,000.

The payback counts on the placement standing ``swap_payback_s``, so an instance that has not stood
that long where it is (``Instance.settled_s``: since a migration last brought it there) takes no
part, as either instance of a swap or a move alone. Such a placement is the one likely to move
again: in a replayed PlanetLab day (20110303, cloudsim, 1 s steps, no swaps) a VM moved in the
last six hours moved again within the next six 45-57 % of the time, one that had not 13-17 %. And a
swap's saving rests on CPU readings whose order two instances of one flavour swap from one reading
to the next: on the bundled sample (realistic) 62 of the 155 swap moves of a day put a VM back
where its previous swap had taken it, 293 migrations where 76 did without swaps, for no energy saved.
Holding the young placements back: 123 migrations there, and on the PlanetLab day fewer
migrations (4,545 -> 4,354 following the signal, 3,027 -> 2,794 blind), less SLA time and no more
energy (docs/design/solver.md, "Swaps that undo swaps"). A fleet that says nothing (``settled_s``
None: ``geyser plan``, the benchmarks, a reader without Nova's finished migrations) swaps as before.
"""

from __future__ import annotations

import time

import numpy as np

from watcher_geyser.solver.limits import CPU_CORES
from watcher_geyser.solver.payback import payback_w
from watcher_geyser.solver.repack import EPS
from watcher_geyser.solver.rules.cores import may_end_on
from watcher_geyser.solver.workspace import Workspace

#: The pass stops after comparing this many (instance, instance) pairs: a bound on its work
#: that holds in deterministic mode, where it has no deadline (the whole pass on the tight
#: family at 5,000 hosts x 30,000 instances compares far fewer, in about 1 s of CPU).
MAX_PAIRS = 1_000_000_000
GAIN_W = 1e-6  # numerical slack: the real curves must agree with the lower lines' gain by this much
#: Of a cheaper level's instances of a flavour, the lightest this many are looked at for each
#: heavy instance (the lightest that fits saves the most there).
WINDOW = 256


def swap_for_flatter_curves(ws: Workspace, placement: np.ndarray, deadline: float) -> np.ndarray:
    """``placement`` with heavy instances moved one way, or swapped with a light one of their flavour
    where they alone do not fit, where that lowers the watts by more than the migrations cost (module
    docstring); ``placement`` itself when nothing does."""
    problem = ws.problem
    if problem.eviction_cap is not None or ws.n_instances < 2 or problem.swap_payback_s == 0:
        return placement
    fleet = ws.fleet
    cores = fleet.physical_cores
    price = fleet.dynamic_slope_w_per_core
    cpu = fleet.cpu_used
    occupied = np.bincount(placement, minlength=ws.n_hosts) > 0
    cpu_limit = ws.limits[:, CPU_CORES] if ws.use_cpu else np.full(ws.n_hosts, np.inf)
    load = np.bincount(placement, weights=cpu, minlength=ws.n_hosts)  # measured CPU, cores
    # CPU the claims hold but do not draw (claims.py): in the limits, not in the watts; claims never move
    undrawn = np.bincount(placement, weights=cpu - fleet.cpu_drawn, minlength=ws.n_hosts)
    models = [None] * ws.n_hosts
    for model, members in fleet.power_groups:
        for h in members.tolist():
            models[h] = model
    # an instance may trade places when it may move and both hosts may receive
    allocated = np.zeros((ws.n_hosts, CPU_CORES))
    np.add.at(allocated, placement, ws.demand[:, :CPU_CORES])
    alloc_limit = ws.limits[:, :CPU_CORES]
    # a host that receives must end within its packing limits: one held above them takes no part
    within = (allocated <= alloc_limit + EPS).all(axis=1) & (load <= cpu_limit + EPS)
    free = ws.movable & (ws.group < 0) & (ws.may_receive & within & occupied)[placement]
    free &= fleet.settled_s >= problem.swap_payback_s  # placements younger than the payback stay (module docstring)
    count = np.bincount(placement, minlength=ws.n_hosts)  # instances a host holds: a one-way move leaves one
    result = placement.copy()
    pairs = 0

    def watts(h: int, cores_load: float) -> float:
        return float(models[h].watts(min((cores_load - undrawn[h]) / cores[h], 1.0)))

    level_price, level = np.unique(price, return_inverse=True)
    # per flavour and price level, its instances lightest first, and how many at the front have
    # left the level (skipped for good: the light instances are the ones traded away)
    light: dict[tuple[int, int], np.ndarray] = {}
    for flavour in np.unique(ws.flavour[free]).tolist():
        members = np.flatnonzero(free & (ws.flavour == flavour))
        levels = level[placement[members]]
        if len(np.unique(levels)) < 2:
            continue  # one price level: a swap saves nothing
        for lv in np.unique(levels).tolist():
            here = members[levels == lv]
            light[flavour, lv] = here[np.argsort(cpu[here], kind="stable")]
    front = dict.fromkeys(light, 0)
    heavy = np.flatnonzero(free & np.isin(ws.flavour, [f for f, _ in light]))
    # what a one-way move of each instance must save (a swap copies twice the memory: more)
    pays_move = np.maximum(payback_w(ws.ram.astype(float), problem.swap_payback_s), GAIN_W)
    # dear hosts' heavy instances first, whatever their flavour: they can save the most
    for a in heavy[np.argsort(-(price[placement[heavy]] * cpu[heavy]), kind="stable")].tolist():
        if pairs > MAX_PAIRS or time.monotonic() > deadline:
            break
        ha = int(result[a])
        flavour = int(ws.flavour[a])
        best_swap: tuple[float, int] | None = None  # (line gain, b)
        best_move: tuple[float, int] | None = None  # (line gain, host a alone moves to)
        # no move or swap of a saves more on the lines than all its load on the cheapest level: when
        # that would not pay its one migration back, its windows (the pass's cost) are not looked at
        hopeless = (price[ha] - level_price[0]) * cpu[a] < pays_move[a]
        for lv in range(int(level[ha])):  # every cheaper level
            if (flavour, lv) not in light:
                continue
            queue, start = light[flavour, lv], front[flavour, lv]
            while start < len(queue) and level[result[queue[start]]] != lv:
                start += 1
            front[flavour, lv] = start  # advanced as before, so the windows later instances see are the same
            if hopeless:
                continue
            window = queue[start:start + WINDOW]
            pairs += len(window)
            hb = result[window]
            ok = (level[hb] == lv) & (ws.host_zone[hb] == ws.host_zone[ha])
            if ws.core_tiers > 1:  # a ends only where its cores are fast enough (rules/cores.py)
                ok &= may_end_on(ws.host_core_tier, int(ws.core_tier[a]), int(ws.placement0[a]), hb)
            # a alone fits on hb, and ha keeps another instance (no host goes off): then a's
            # move needs no room from b, and b moving too would be a move that pays nothing back
            alone = ok & (load[hb] + cpu[a] <= cpu_limit[hb] + EPS) if count[ha] > 1 else np.zeros_like(ok)
            if alone.any():  # the allocation asked only where the CPU has room (the window is 256 long)
                rows = hb[alone]
                alone[alone] = (allocated[rows] + ws.demand[a, :CPU_CORES] <= alloc_limit[rows] + EPS).all(axis=1)
            if alone.any():
                gain = float((price[ha] - level_price[lv]) * cpu[a])
                if best_move is None or gain > best_move[0]:
                    best_move = (gain, int(hb[np.flatnonzero(alone)[0]]))
            ok &= ~alone & (cpu[window] < cpu[a])
            ok &= load[hb] - cpu[window] + cpu[a] <= cpu_limit[hb] + EPS
            ok &= load[ha] - cpu[a] + cpu[window] <= cpu_limit[ha] + EPS  # no-op unless ha is over
            if ws.core_tiers > 1:
                ok &= (ws.host_core_tier[ha] >= ws.core_tier[window]) | (ws.placement0[window] == ha)
            if not ok.any():
                continue
            row = int(np.flatnonzero(ok)[0])  # the lightest that fits: the most this level saves
            gain = float((price[ha] - level_price[lv]) * (cpu[a] - cpu[window[row]]))
            if best_swap is None or gain > best_swap[0]:
                best_swap = (gain, int(window[row]))
        # the one-way move first: it saves more (all of a's load moves) and copies half the memory
        pays_w = max(payback_w(float(ws.ram[a]), problem.swap_payback_s), GAIN_W)
        if best_move is not None and best_move[0] >= pays_w:
            hb_ = best_move[1]
            before = watts(ha, load[ha]) + watts(hb_, load[hb_])
            after = watts(ha, load[ha] - cpu[a]) + watts(hb_, load[hb_] + cpu[a])
            if after <= before - pays_w:  # the real curves agree, and the move pays its migration back
                result[a] = hb_
                load[ha] -= cpu[a]
                load[hb_] += cpu[a]
                allocated[ha] -= ws.demand[a, :CPU_CORES]
                allocated[hb_] += ws.demand[a, :CPU_CORES]
                count[ha] -= 1
                count[hb_] += 1
                continue
        pays_w = max(payback_w(2.0 * float(ws.ram[a]), problem.swap_payback_s), GAIN_W)  # one flavour: one memory
        if best_swap is None or best_swap[0] < pays_w:
            continue
        b = best_swap[1]
        hb_ = int(result[b])
        delta = cpu[a] - cpu[b]
        before = watts(ha, load[ha]) + watts(hb_, load[hb_])
        after = watts(ha, load[ha] - delta) + watts(hb_, load[hb_] + delta)
        if after <= before - pays_w:  # the real curves agree, and the swap pays its migrations back
            result[a], result[b] = hb_, ha
            load[ha] -= delta
            load[hb_] += delta
    return result if (result != placement).any() else placement
