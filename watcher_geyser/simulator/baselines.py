"""The published baselines as policies: ``npa``, ``dvfs``, ``thr-mmt``, ``lr-mmt``.

A policy answers two questions: where VMs start (``initial_placement``) and, at each decision step,
which migrations to start (``decide``). The engine does everything else (time, accounting, moving).

* ``npa`` (non power aware): never migrates; in ``cloudsim`` fidelity every host is charged at
  full power all the time, as CloudSim's NonPowerAware data centre does.
* ``dvfs``: never migrates; hosts draw P(u) of what they run, empty hosts nothing.
* ``thr-mmt``: static threshold 0.8, minimum-migration-time selection, PABFD placement.
* ``lr-mmt``: local regression (safety 1.2, fallback THR 0.7), MMT, PABFD.

NPA and DVFS start VMs first-fit in host order; the consolidating policies start them with PABFD.
Every VM asks for its full MIPS at the initial placement.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from watcher_geyser.simulator.placement import Detector, LocalRegressionDetector, Planner, ThresholdDetector
from watcher_geyser.simulator.state import Migration, SimState

if TYPE_CHECKING:
    from watcher_geyser.simulator.view import StepView


class Policy(Protocol):
    """What the engine asks a policy. See the package docstring for the ``geyser`` seam."""

    name: str
    #: True: NPA accounting (every host at full power, always).
    charges_full_power: bool
    #: True: hosts emptied by migrations are switched off (realistic fidelity).
    switches_off_empty_hosts: bool

    def initial_placement(self, state: SimState) -> None: ...

    def decide(self, view: StepView) -> list[Migration] | list[list[Migration]]:
        """Migrations to start now, or waves of them (each starting when the previous has finished)."""
        ...


@dataclass
class DecisionStats:
    """What a policy reports about its last decision (shown in per-step series). The hosts found
    overloaded are not here: the engine measures them at every step, a skipped decision's too."""

    solver_s: float = 0.0
    planner_s: float = 0.0
    found_by: str = ""  # the solver pass whose answer was kept (``Target.found_by``); empty without a solver


def first_fit(state: SimState) -> None:
    """Each VM, in id order, on the first host with a core, MIPS, RAM and bandwidth for its full size."""
    dc = state.dc
    free = dc.total_mips.astype(np.float64).copy()
    ram = dc.ram_mb.copy()
    bw = dc.bw_kbit.copy()
    for v in range(dc.vms):
        ok = (dc.pe_mips * dc.vm_pes[v] >= dc.vm_mips[v]) & (free >= dc.vm_mips[v])
        ok &= (ram >= dc.vm_ram_mb[v]) & (bw >= dc.vm_bw_kbit[v])
        idx = np.flatnonzero(ok)
        if len(idx) == 0:
            continue  # CloudSim leaves such a VM uncreated; the engine reports it
        h = int(idx[0])
        free[h] -= dc.vm_mips[v]
        ram[h] -= dc.vm_ram_mb[v]
        bw[h] -= dc.vm_bw_kbit[v]
        state.place(v, h)


def pabfd_initial(state: SimState, threshold: float) -> None:
    """Each VM, in id order, where the power rises least, asking for its full MIPS.

    In ``cloudsim`` fidelity, as in CloudSim, hosts have no measured utilisation yet, so every
    host's current power is its idle power (off hosts included), and already placed VMs ask for
    nothing until the first update, so the overload check sees only the new VM. In ``realistic``
    fidelity an empty host costs its whole power to wake, and full sizes only have to fit.
    """
    cloudsim = state.fidelity.is_cloudsim
    dc = state.dc
    total = dc.total_mips.astype(np.float64)
    free = total.copy()
    ram = dc.ram_mb.copy()
    bw = dc.bw_kbit.copy()
    idle = state.watts(np.zeros(dc.hosts))
    for v in range(dc.vms):
        mips = dc.vm_mips[v]
        ok = (dc.pe_mips * dc.vm_pes[v] >= mips) & (free >= mips) & (ram >= dc.vm_ram_mb[v]) & (bw >= dc.vm_bw_kbit[v])
        in_use = free < total
        if cloudsim:
            ok &= ~(in_use & (mips / total > threshold))
        idx = np.flatnonzero(ok)
        if len(idx) == 0:
            continue
        after = state.watts_rows(idx, (total[idx] - free[idx] + mips) / total[idx])
        if cloudsim:
            now = idle[idx]
        else:
            now = np.where(in_use[idx], state.watts_rows(idx, (total[idx] - free[idx]) / total[idx]), 0.0)
        h = int(idx[np.argmin(after - now)])
        free[h] -= mips
        ram[h] -= dc.vm_ram_mb[v]
        bw[h] -= dc.vm_bw_kbit[v]
        state.place(v, h)


def start_from_scenario(state: SimState) -> bool:
    """Place every VM where the scenario starts it (False, placing none, without a scenario).

    Every policy starts from it, so that a side-by-side run compares from one placement: a policy
    that packed the VMs its own way at time 0 would get a consolidation without a migration."""
    if state.dc.initial_host is None:
        return False
    for v, h in enumerate(state.dc.initial_host.tolist()):
        state.place(v, int(h))
    return True


@dataclass
class NoMigration:
    """NPA or DVFS: VMs stay where first fit put them."""

    name: str
    charges_full_power: bool
    switches_off_empty_hosts: bool = False
    stats: DecisionStats = field(default_factory=DecisionStats)

    def initial_placement(self, state: SimState) -> None:
        if not start_from_scenario(state):
            first_fit(state)

    def decide(self, view: StepView) -> list[Migration]:
        return []


@dataclass
class Consolidation:
    """Detector + MMT + PABFD (Beloglazov & Buyya): thr-mmt, lr-mmt."""

    name: str
    detector: Detector
    charges_full_power: bool = False
    switches_off_empty_hosts: bool = True
    stats: DecisionStats = field(default_factory=DecisionStats)

    def initial_placement(self, state: SimState) -> None:
        if not start_from_scenario(state):
            pabfd_initial(state, self.detector.initial_threshold)

    def decide(self, view: StepView) -> list[Migration]:
        start = time.perf_counter()
        planner = Planner(view.state, view.snapshot, self.detector)
        moves = planner.plan()
        self.stats = DecisionStats(solver_s=time.perf_counter() - start)
        return moves


#: Policy name -> factory taking the spec's keywords (``policy_params.PARAMS`` lists them). A new
#: policy (e.g. ``geyser``) adds itself here; ``geyser simulate`` offers every name in this registry.
POLICIES: dict[str, Callable[..., Policy]] = {
    "npa": lambda: NoMigration("npa", charges_full_power=True),
    "dvfs": lambda: NoMigration("dvfs", charges_full_power=False),
    "thr-mmt": lambda threshold=0.8: Consolidation("thr-mmt", ThresholdDetector(threshold)),
    "lr-mmt": lambda safety=1.2, fallback=0.7: Consolidation("lr-mmt", LocalRegressionDetector(safety, fallback)),
    "geyser": lambda **kwargs: _geyser(**kwargs),
    "watcher-vwc": lambda **kwargs: _watcher_vwc(**kwargs),
}
#: What ``geyser simulate`` runs without ``--policy``.
DEFAULT_POLICIES = ("geyser", "thr-mmt", "lr-mmt")


def _geyser(**kwargs) -> Policy:
    from watcher_geyser.simulator.geyser_policy import GeyserPolicy  # imports the solver: only when asked

    return GeyserPolicy.with_params(**kwargs)


def _watcher_vwc(**kwargs) -> Policy:
    from watcher_geyser.simulator.watcher_vwc import WatcherVWCPolicy  # needs python-watcher: only when asked

    return WatcherVWCPolicy(**kwargs)


BASELINES = ("npa", "dvfs", "thr-mmt", "lr-mmt")


def make_policy(spec: str) -> Policy:
    """A fresh policy object (policies keep per-run state) for ``NAME[:key=value,...]``.

    The name is one of ``POLICIES``; the keys are those ``policy_params.PARAMS`` declares for it.
    With parameters, the policy's ``name`` becomes the spec's label (``thr-mmt:threshold=0.9``),
    so runs of one policy at several settings keep apart in reports. Raises ``ValueError``
    naming the valid names or keys.
    """
    from watcher_geyser.simulator.policy_params import parse_policy

    parsed = parse_policy(spec, list(POLICIES))
    policy = POLICIES[parsed.name](**parsed.kwargs)
    policy.name = parsed.label
    return policy
