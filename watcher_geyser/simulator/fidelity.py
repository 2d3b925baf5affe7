"""Accounting rules: ``cloudsim`` (compare with CloudSim 3.0.3's figures) or ``realistic`` (the default).

``cloudsim`` reproduces what CloudSim 3.0.3's power-aware example does, quirks included, so our
baselines can be checked against its published output (``traces/planetlab/FORMAT.md``):

* decisions run at t = 300 k + 0.1 s (k = 1..287) and see the trace interpolated at that time;
* the first interval is not charged (no host has a previous utilisation yet);
* a host whose utilisation at the start of an interval is 0 counts as off (0 J);
* RAM is checked only at the initial placement;
* a VM whose demand is exactly 0 at an update is retired for good.

``realistic`` keeps VMs alive, enforces RAM at every placement, charges every powered-on host its
power (idle included) until the policy switches it off, and makes a host that was off boot first
(``boot_s`` at full power) before a migration to it starts.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FidelityMode(enum.StrEnum):
    CLOUDSIM = "cloudsim"
    REALISTIC = "realistic"


@dataclass(frozen=True)
class Fidelity:
    mode: FidelityMode
    decision_offset_s: float
    charge_first_interval: bool
    retire_idle_vms: bool
    enforce_ram: bool
    zero_utilisation_is_off: bool  # cloudsim: a host at 0 % is off; realistic: power state is tracked
    boot_s: float  # seconds a switched-off host needs before it can receive a VM
    #: Share of a host's network bandwidth a live migration gets (CloudSim: half of it).
    migration_bw_share: float = 0.5

    @property
    def is_cloudsim(self) -> bool:
        return self.mode is FidelityMode.CLOUDSIM

    def migration_s(self, ram_mb: float, host_bw_kbit: float) -> float:
        """Seconds to move ``ram_mb`` of memory: RAM / (BW x share / 8000) (62.5 MB/s at 1 Gbit/s)."""
        return ram_mb / (host_bw_kbit * self.migration_bw_share / 8000.0)


CLOUDSIM = Fidelity(
    mode=FidelityMode.CLOUDSIM,
    decision_offset_s=0.1,
    charge_first_interval=False,
    retire_idle_vms=True,
    enforce_ram=False,
    zero_utilisation_is_off=True,
    boot_s=0.0,
)

REALISTIC = Fidelity(
    mode=FidelityMode.REALISTIC,
    decision_offset_s=0.0,
    charge_first_interval=True,
    retire_idle_vms=False,
    enforce_ram=True,
    zero_utilisation_is_off=False,
    boot_s=120.0,
)

FIDELITIES = {FidelityMode.CLOUDSIM.value: CLOUDSIM, FidelityMode.REALISTIC.value: REALISTIC}


def fidelity(name: str) -> Fidelity:
    try:
        return FIDELITIES[name]
    except KeyError:
        raise ValueError(f"unknown fidelity {name!r}; choose one of {', '.join(FIDELITIES)}") from None
