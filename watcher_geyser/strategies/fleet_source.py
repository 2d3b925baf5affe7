"""The fleet an audit plans for, at the instance CPU read its signal decision asks for.

The CPU to place on depends on the decision (``metrics.cpu_read``: the recent peak, or the load
now while energy is fully scarce), and the decision weighs the supply against what the fleet
draws now, which depends on the CPU read. So the strategy looks the cloud up once (Watcher's model,
server groups, zones, Nova's tasks and migrations (in flight, and finished lately), power models,
``calibrated`` when the operator asks) into a ``FleetSource`` and builds the fleet once per read
it needs: the load now for the signal policy (only when a signal is read), then the read the
decision asks for (the same one, not read again, when energy is fully scarce).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from oslo_log import log

from watcher_geyser.claims import MigrationRecord
from watcher_geyser.power import PowerModel
from watcher_geyser.strategies import metrics, prometheus_peak
from watcher_geyser.strategies.adapter import AdaptedFleet, fleet_from_model
from watcher_geyser.strategies.power_config import PowerCatalog, calibrate

LOG = log.getLogger(__name__)


@dataclass
class FleetSource:
    """What the fleet is built from, looked up once per audit; ``datasource`` None: CPU not measured
    (every vcpu taken as busy), and every read builds the same fleet."""

    model: object  # Watcher's ModelRoot
    power_for: Callable[[str], PowerModel]
    datasource: object | None
    zones: Mapping[str, str]
    power_states: Mapping[str, str]
    groups: Mapping[str, tuple[str, str]]
    reasons: tuple[str, ...]
    groups_unknown: bool
    tasks: Mapping[str, str] | None
    migrations: list[MigrationRecord] | None
    settled: Mapping[str, float] = field(default_factory=dict)  # instance uuid -> seconds since it last moved
    _built: dict = field(default_factory=dict, repr=False)

    def fleet(self, read: metrics.CpuRead) -> tuple[AdaptedFleet, list[str]]:
        """(the fleet with instance CPU read by ``read``, the notes of that read and build); built
        once per read, so the decision's fleet is reused when the plan wants the same read."""
        key = read if self.datasource is not None else None
        if key not in self._built:
            cpu, notes = {}, []
            if self.datasource is not None:
                readings = metrics.instance_cpu(self.datasource, self.model.get_all_instances().values(), read)
                cpu, notes = readings.values, readings.notes + prometheus_peak.take_notes(self.datasource)
            adapted = fleet_from_model(self.model, self.power_for, cpu, 1.0, self.zones, self.power_states,
                                       self.groups, self.reasons, groups_unknown=self.groups_unknown,
                                       tasks=self.tasks, migrations=self.migrations, settled=self.settled)
            self._built[key] = (adapted, notes + adapted.notes)
        return self._built[key]


def calibrated(catalog: PowerCatalog, datasource, nodes: list, read: metrics.CpuRead,
               notes: list[str]) -> Callable[[str], PowerModel]:
    """Each host's power model scaled to pass through its measured watts at its measured CPU
    (``[geyser_power] calibrate``), both the mean over ``read.period_s``; the catalog's where either is missing."""
    cpu, watts = metrics.host_power(datasource, nodes, read.period_s, read.granularity_s)
    models = {}
    for node in nodes:
        model = catalog.model_for(node.hostname)
        u, w = cpu.values.get(node.hostname), watts.values.get(node.hostname)
        if u is not None and w is not None:
            model, cal = calibrate(model, u, w, node.hostname)
            if cal is not None:
                LOG.info("power model of %s scaled by %.2f (measured %.0f W at %.0f %% CPU)",
                         node.hostname, cal.factor, cal.measured_w, cal.utilisation * 100)
        models[node.hostname] = model
    if watts.notes:
        notes.append("power calibration: " + "; ".join(watts.notes))
    return lambda name: models.get(name) or catalog.model_for(name)
