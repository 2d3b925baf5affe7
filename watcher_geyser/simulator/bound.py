"""Per-step lower bounds on the hosts that must be on and the watts they must draw.

No policy serving every VM's demand in full can do better than these, so the report's
``energy_lower_bound_kwh`` says how far a policy is from the best possible.

* ``cloudsim`` fidelity (CloudSim's accounting: a host at 0 % draws nothing, RAM is checked
  only at the start): the demand in MIPS at the least full-load watts per MIPS of any host, as
  the validation against CloudSim's figures has always used.
* ``realistic`` fidelity: every powered-on host draws its idle power and RAM is enforced, so
  RAM usually binds long before CPU does. At least ``k`` hosts must be on, ``k`` the larger of
  the fewest hosts whose MIPS cover the demand and the fewest whose RAM holds the running VMs
  (each taking the largest hosts first); they draw at least the ``k`` smallest idle powers, plus
  the demand at the least dynamic watts per MIPS of any host (the curve above idle, at its
  flattest). Virtual cores are not a capacity in the simulator (time-shared cores, as in
  CloudSim), so they bind nothing and are not counted.

A policy may still draw less than the bound by overloading hosts (demand it does not serve):
SLATAH says when that happened.
"""

from __future__ import annotations

import numpy as np

from watcher_geyser.simulator.datacenter import DataCenter


def fewest_covering(need: float, capacity_desc: np.ndarray) -> int:
    """Fewest items (largest first) whose capacities add up to ``need``; all of them if none do."""
    if need <= 0:
        return 0
    cum = np.cumsum(capacity_desc)
    return int(min(np.searchsorted(cum, need - 1e-9) + 1, len(cum)))


def dynamic_watts_per_mips(dc: DataCenter) -> float:
    """The least watts above idle per MIPS served, over every host and every load on its curve."""
    curves = dc.curve_w  # [H, 11] at 0, 10, .., 100 %
    load = np.linspace(0.0, 1.0, curves.shape[1])[1:]
    per_mips = (curves[:, 1:] - curves[:, :1]) / (load[None, :] * dc.total_mips[:, None])
    return float(max(per_mips.min(), 0.0))


class StepBound:
    """The bounds of one data centre under one accounting, evaluated at each step."""

    def __init__(self, dc: DataCenter, counts_idle: bool, enforces_ram: bool) -> None:
        self.counts_idle, self.enforces_ram = counts_idle, enforces_ram
        self._mips_desc = np.sort(dc.total_mips.astype(np.float64))[::-1]
        self._ram_desc = np.sort(dc.ram_mb.astype(np.float64))[::-1]
        self._idle_cum = np.cumsum(np.sort([p.idle_w for p in dc.power]))
        self._full_w_per_mips = dc.best_watts_per_mips()
        self._dynamic_w_per_mips = dynamic_watts_per_mips(dc)
        self._vm_ram_mb = dc.vm_ram_mb.astype(np.float64)

    def hosts(self, demand_mips: float, running: np.ndarray) -> int:
        """Fewest hosts that can serve ``demand_mips`` and (when RAM is enforced) hold the running VMs."""
        hosts = fewest_covering(demand_mips, self._mips_desc)
        if self.enforces_ram:
            hosts = max(hosts, fewest_covering(float(self._vm_ram_mb[running].sum()), self._ram_desc))
        return hosts

    def watts(self, demand_mips: float, running: np.ndarray) -> float:
        """Least fleet watts that serve ``demand_mips`` with the VMs in ``running`` (bool[V]) placed."""
        if not self.counts_idle:
            return demand_mips * self._full_w_per_mips
        hosts = self.hosts(demand_mips, running)
        idle = float(self._idle_cum[hosts - 1]) if hosts else 0.0
        return idle + demand_mips * self._dynamic_w_per_mips
