"""What a policy sees at a decision step (``StepView``), kept apart from the engine's loop."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from watcher_geyser.simulator.datacenter import DataCenter
from watcher_geyser.simulator.state import SimState, Snapshot


@dataclass
class StepView:
    """What a policy sees at a decision step. ``fleet()`` is the seam for Fleet-based policies."""

    step: int
    time_s: float
    state: SimState
    snapshot: Snapshot
    #: the engine's record of power cycles: each host's switch-off times so far, and which hosts
    #: were on at the last count (one on then and off now went off since; see ``switch_offs``)
    off_times_s: list[list[float]] = field(default_factory=list)
    was_on: np.ndarray | None = None

    def hosts_on(self) -> np.ndarray:
        """bool[H]: hosts on now as the accounting counts them (running something in cloudsim, powered in realistic)."""
        if self.state.fidelity.zero_utilisation_is_off:
            return self.snapshot.host_util > 0
        return self.state.powered.copy()

    def switch_offs(self) -> dict[str, list[float]]:
        """Host name -> switch-off times up to now, counting hosts on at the last count and off
        now as switched off now (the engine counts them after the decision)."""
        names = self.state.dc.host_names
        out = {names[h]: times for h, times in enumerate(self.off_times_s) if times}
        if self.was_on is not None:
            for h in np.flatnonzero(self.was_on & ~self.hosts_on()).tolist():
                out[names[h]] = [*out.get(names[h], ()), self.time_s]
        return out

    @property
    def dc(self) -> DataCenter:
        return self.state.dc

    def fleet(self):  # -> watcher_geyser.fleet.Fleet
        from watcher_geyser.simulator.fleet import fleet_from_view

        return fleet_from_view(self)
