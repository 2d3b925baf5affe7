"""A Watcher datasource that answers from a ``Fleet``'s measured CPU, for offline runs.

Watcher strategies read measurements through ``self.datasource_backend``, an object from
``DataSourceManager.get_backend`` with methods such as ``get_instance_cpu_usage``. To run
a strategy on a fleet built offline (a benchmark, a simulator step), this object stands
in for Prometheus or Gnocchi at exactly that seam, with Watcher's units:

- ``get_instance_cpu_usage``: the instance's CPU use in percent of its vcpus
  (``Instance.cpu_util`` x 100; the fleet's ``default_cpu_util`` where not measured);
- ``get_host_cpu_usage``: the host's CPU use in percent of its cores, the sum of what its
  instances use where they run (``Fleet.cpu_drawn_load / physical_cores``: a claim runs nothing), so
  host and instance figures agree;
- everything else (RAM use, root disk size, host RAM, host power) has no measurement:
  ``None``, on which Watcher's strategies fall back to the flavour's figures.

A fleet is one snapshot: every period and aggregate (``max`` or ``mean``, the strategy's peak
read or its load now) is answered with the same value, its measured CPU.

A value of 0 % is served as it is; note that Watcher's ``vm_workload_consolidation``
reads a 0 as "no value" and then takes the instance as fully busy (its own rule).
"""

from __future__ import annotations

import numpy as np

from watcher_geyser.fleet import VCPU, Fleet


class FleetDatasource:
    """Watcher's datasource interface over one fleet snapshot; counts the queries it answers."""

    NAME = "geyser_fleet"
    METRIC_MAP = {
        "instance_cpu_usage": "cpu_util",
        "host_cpu_usage": "host_cpu_util",
        "instance_ram_usage": None,
        "instance_ram_allocated": None,
        "instance_root_disk_size": None,
        "host_ram_usage": None,
        "host_power": None,
    }

    def __init__(self, fleet: Fleet, placement: np.ndarray | None = None):
        placement = fleet.placement if placement is None else np.asarray(placement)
        util = fleet.cpu_used / np.maximum(fleet.demand[:, VCPU], 1e-12)
        self._instance_percent = {inst.uuid: float(u) * 100.0 for inst, u in zip(fleet.instances, util.tolist())}
        host_util = fleet.cpu_drawn_load(placement) / fleet.physical_cores  # where guests run (claims.py)
        self._host_percent = {h.name: float(u) * 100.0 for h, u in zip(fleet.hosts, host_util.tolist())}
        self.queries = 0

    # --- what DataSourceManager and the strategy endpoint ask of a backend --------------------
    def list_metrics(self) -> list[str]:
        return ["cpu_util", "host_cpu_util"]

    def check_availability(self) -> str:
        return "available"

    # --- measurements ------------------------------------------------------------------------
    def get_instance_cpu_usage(self, resource, period=None, aggregate=None, granularity=None) -> float | None:
        self.queries += 1
        return self._instance_percent.get(resource.uuid)

    def get_host_cpu_usage(self, resource, period=None, aggregate=None, granularity=None) -> float | None:
        self.queries += 1
        return self._host_percent.get(resource.hostname)

    def get_instance_ram_usage(self, resource, period=None, aggregate=None, granularity=None) -> None:
        return None

    def get_instance_ram_allocated(self, resource, period=None, aggregate=None, granularity=None) -> None:
        return None

    def get_instance_root_disk_size(self, resource, period=None, aggregate=None, granularity=None) -> None:
        return None

    def get_host_ram_usage(self, resource, period=None, aggregate=None, granularity=None) -> None:
        return None

    def get_host_power(self, resource, period=None, aggregate=None, granularity=None) -> None:
        return None
