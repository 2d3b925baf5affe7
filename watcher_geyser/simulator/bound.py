"""Per-step lower bounds on the hosts that must be on and the watts they must draw.

No policy serving every VM's demand in full can do better than these, so the report's
``energy_lower_bound_kwh`` says how far a policy is from the best possible.

* ``cloudsim`` fidelity (CloudSim's accounting: a host at 0 % draws nothing, RAM is checked
  only at the start): the demand in MIPS served by the hosts with the least watts per MIPS first
  (each host's best point on its curve, full load for every SPECpower curve shipped), each up to
  its MIPS. While the most efficient kind of host can serve the whole demand, as on every
  PlanetLab day, this is the demand at the least watts per MIPS of any host, the figure the
  validation against CloudSim has always used; past it, the next kind pays for the rest, so the
  bound no longer assumes more efficient hosts than the data centre has.
* ``realistic`` fidelity: every powered-on host draws its idle power and RAM is enforced, so
  RAM usually binds long before CPU does. At least ``k`` hosts must be on, ``k`` the larger of
  the fewest hosts whose MIPS cover the demand and the fewest whose RAM holds the running VMs
  (each taking the largest hosts first); they draw at least the ``k`` smallest idle powers, plus
  the demand served at the least dynamic watts per MIPS first (the curve above idle, at its
  flattest), each host up to its MIPS. Virtual cores are not a capacity in the simulator (time-shared cores, as in
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


def watts_per_mips(dc: DataCenter, above_idle: bool) -> np.ndarray:
    """Per host, the least watts (above idle with ``above_idle``) per MIPS served over every load
    on its curve: a host serving x MIPS draws at least x times it (the curve is linear between its
    points, so the ratio is least at one of them)."""
    curves = dc.curve_w  # [H, 11] at 0, 10, .., 100 %
    load = np.linspace(0.0, 1.0, curves.shape[1])[1:]
    watts = curves[:, 1:] - curves[:, :1] if above_idle else curves[:, 1:]
    per_mips = watts / (load[None, :] * dc.total_mips[:, None])
    return np.maximum(per_mips.min(axis=1), 0.0)


class CheapestFill:
    """The least watts that serve a demand in MIPS when each host serves at most its MIPS at no
    less than its own watts per MIPS: the cheapest hosts first (a fractional knapsack, so a lower
    bound on any placement). Demand past every host's MIPS is not served, so it adds nothing."""

    def __init__(self, per_mips: np.ndarray, mips: np.ndarray) -> None:
        order = np.argsort(per_mips, kind="stable")
        self._per_mips = per_mips[order].astype(np.float64)
        self._cum_mips = np.concatenate(([0.0], np.cumsum(mips[order].astype(np.float64))))
        self._cum_watts = np.concatenate(([0.0], np.cumsum(self._per_mips * mips[order])))

    def watts(self, demand_mips: float) -> float:
        """The bound's watts for ``demand_mips``."""
        if demand_mips <= 0:
            return 0.0
        full = int(np.searchsorted(self._cum_mips, demand_mips, side="right")) - 1  # hosts filled entirely
        if full >= len(self._per_mips):
            return float(self._cum_watts[-1])
        rest = demand_mips - self._cum_mips[full]
        return float(self._cum_watts[full] + rest * self._per_mips[full])


class StepBound:
    """The bounds of one data centre under one accounting, evaluated at each step."""

    def __init__(self, dc: DataCenter, counts_idle: bool, enforces_ram: bool) -> None:
        self.counts_idle, self.enforces_ram = counts_idle, enforces_ram
        self._mips_desc = np.sort(dc.total_mips.astype(np.float64))[::-1]
        self._ram_desc = np.sort(dc.ram_mb.astype(np.float64))[::-1]
        self._idle_cum = np.cumsum(np.sort([p.idle_w for p in dc.power]))
        self._full = CheapestFill(watts_per_mips(dc, above_idle=False), dc.total_mips)
        self._dynamic = CheapestFill(watts_per_mips(dc, above_idle=True), dc.total_mips)
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
            return self._full.watts(demand_mips)
        hosts = self.hosts(demand_mips, running)
        idle = float(self._idle_cum[hosts - 1]) if hosts else 0.0
        return idle + self._dynamic.watts(demand_mips)
