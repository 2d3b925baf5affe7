"""The ``watcher-vwc`` policy: Watcher's own ``vm_workload_consolidation``, run at every step.

At each decision step the simulator's state becomes our ``Fleet`` (``fleet_from_view``,
the same seam as the ``geyser`` policy), the fleet becomes a Watcher compute model
(``strategies.model_builder``), and python-watcher's real strategy is loaded by Watcher's
strategy loader and executed on it (``strategies.offline``), with the trace's CPU use
served as its metrics. Its migrate actions are the step's migrations. Nothing of the
strategy is re-implemented; python-watcher must be installed (``pip install -e '.[watcher]'``).

How the simulated cloud is shown to Watcher:

- CPU: the datasource answers ``instance_cpu_usage`` with each VM's mean utilisation over
  the strategy's ``period`` (3600 s by default: the last twelve 5-minute samples, fewer at
  the start), as Watcher asks its datasource for, and ``host_cpu_usage`` with the sum over
  the host. A VM at exactly 0 % is taken as fully busy by the strategy (its own rule);
- capacity: the fleet's, as ``fleet_from_view`` maps MIPS to vcpus, so both engines see the
  same cloud. The strategy's CPU test compares measured use with ``vcpu_capacity``, which
  includes the vcpu allocation ratio (8 in the simulator's fleets): where RAM does not bind
  (``cloudsim`` fidelity, RAM not enforced) it packs measured CPU far past the hosts' MIPS,
  so its energy falls below the bound for demand it does not serve, and SLATAH shows it.
  That is the strategy's own rule on an overcommitted cloud; in ``realistic`` fidelity RAM
  binds first. ``cpu_allocation_ratio`` sets another ratio for this policy only (1.0: CPU
  never past the MIPS, but then flavours, sized at peak MIPS, bind and it barely consolidates);
- disk: the traces say nothing about it; hosts get a nominal ``NOMINAL_DISK_GB`` (the
  strategy divides by disk capacity), VMs none;
- hosts the simulator switched off are shown as Watcher leaves the hosts it releases,
  disabled and up, so the strategy may enable them again when it offloads (the engine
  boots them in realistic fidelity); VMs migrating now are in state ``migrating``, which
  the strategy does not move, and sit on their source only: the strategy reads no migrations
  list, so their destination looks as free to it as it does in Watcher (the geyser policy's
  fleet holds a claim there, as the plugin does).

Order: in ``cloudsim`` fidelity every migration starts at once (as CloudSim does); in
``realistic`` fidelity they run as Watcher's default ``weight`` planner schedules them,
two at a time, each pair after the previous one.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from watcher_geyser.fleet import Fleet
from watcher_geyser.records import HostState
from watcher_geyser.simulator.baselines import DecisionStats, pabfd_initial, start_from_scenario
from watcher_geyser.simulator.fleet import fleet_from_view
from watcher_geyser.simulator.state import Migration, SimState

STRATEGY = "vm_workload_consolidation"
STEP_S = 300.0
NOMINAL_DISK_GB = 1000


def require_watcher() -> None:
    """Raise a ``ValueError`` naming the fix when python-watcher cannot be imported."""
    try:
        with warnings.catch_warnings(record=True):  # python-watcher's imports warn about eventlet and oslo deprecations
            warnings.simplefilter("ignore")
            import watcher.common.metal_helper.factory  # noqa: F401
            import watcher.common.nova_helper  # noqa: F401
            import watcher.decision_engine.datasources.manager  # noqa: F401
            import watcher.decision_engine.loading.default  # noqa: F401
            import watcher.decision_engine.planner.weight  # noqa: F401
            import watcher.decision_engine.strategy.strategies.vm_workload_consolidation  # noqa: F401
    except ImportError as exc:
        raise ValueError(
            f"policy watcher-vwc runs Watcher's own strategy, but python-watcher cannot be imported ({exc}); "
            "install it with: pip install -e '.[watcher]'"
        ) from None


@dataclass
class WatcherVWCPolicy:
    name: str = "watcher-vwc"
    charges_full_power: bool = False
    switches_off_empty_hosts: bool = True
    period_s: float = 3600.0  # the strategy's default ``period``: the window its datasource averages
    cpu_allocation_ratio: float | None = None  # None: the simulator fleet's own
    stats: DecisionStats = field(default_factory=DecisionStats)

    def __post_init__(self) -> None:
        require_watcher()

    def initial_placement(self, state: SimState) -> None:
        if not start_from_scenario(state):
            pabfd_initial(state, 1.0)

    def decide(self, view) -> list[Migration] | list[list[Migration]]:
        from watcher_geyser.strategies import offline

        started = time.perf_counter()
        state = view.state
        fleet = self._fleet(view)
        # CRITICAL: VWC logs an error for every instance it sees migrating (our in-flight ones)
        with offline.quiet_watcher_logs(logging.CRITICAL):
            run = offline.run_strategy(STRATEGY, fleet, {"period": self.period_s}, fleet_power=False)
        vm_index = {name: i for i, name in enumerate(state.dc.vm_names)}
        host_index = {name: i for i, name in enumerate(state.dc.host_names)}

        def migrations(actions: list[dict]) -> list[Migration]:
            out = []
            for a in offline.solution_actions(actions):
                if a.kind.is_migration and host_index[a.destination] != int(state.vm_host[vm_index[a.instance]]):
                    out.append(Migration(vm_index[a.instance], host_index[a.destination]))
            return out

        if state.fidelity.is_cloudsim:
            decided: list[Migration] | list[list[Migration]] = migrations(run.actions)
        else:
            decided = [m for m in (migrations(w) for w in offline.weight_planner_waves(run.actions)) if m]
        self.stats = DecisionStats(solver_s=time.perf_counter() - started)
        return decided

    def _fleet(self, view) -> Fleet:
        """The step's fleet as Watcher would see it (see the module docstring)."""
        # no claims: Watcher's own strategy reads no migrations list, its model places each
        # instance on the one host Nova names (and model_builder would leave claim rows out)
        fleet = fleet_from_view(view, self._mean_cpu(view), claims=False)
        hosts = []
        for h in fleet.hosts:
            if h.disk_gb == 0:  # the strategy divides by disk capacity; VMs use none
                h = replace(h, disk_gb=NOMINAL_DISK_GB)
            if h.state is HostState.OFF:
                h = replace(h, state=HostState.DISABLED)
            if self.cpu_allocation_ratio is not None:
                h = replace(h, cpu_allocation_ratio=self.cpu_allocation_ratio)
            hosts.append(h)
        # VMs migrating now are already in state ``migrating`` (``fleet_from_view``)
        return Fleet.build(hosts, list(fleet.instances), fleet.server_groups, fleet.default_cpu_util)

    def _mean_cpu(self, view) -> np.ndarray:
        """Per VM: mean utilisation over the last ``period_s`` (the history's newest sample is now's)."""
        state = view.state
        k = min(max(int(self.period_s // STEP_S), 1), state.history_len)
        if k == 0:
            return view.snapshot.vm_req_mips / state.dc.vm_mips
        return state.history[:, :k].mean(axis=1)


__all__ = ["WatcherVWCPolicy", "require_watcher"]
