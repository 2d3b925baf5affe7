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

What becomes of a plan still running at the next decision (``plan_runs_to_end``; each fidelity
has its own default, ``fidelity(name)``):

* off (``drop``; cloudsim's only choice, its plan's waves all start at once and end within
  seconds, as CloudSim starts them): the waves not yet started are dropped (counted as
  ``migrations_dropped``) and the decision replans from the state reached;
* on (``run-to-end``, realistic's default, as Watcher): the decision is skipped (counted as ``decisions_skipped``),
  the policy is not asked, and the plan's waves go on starting as their predecessors end. Watcher
  runs no audit while an action plan is ONGOING (``decision_engine/audit/base.py``:
  ``pre_execute`` -> ``check_ongoing_action_plans`` raises ``ActionPlanIsOngoing`` unless the
  audit is ``force``d), and a plan is ONGOING until its last action has ended, so a continuous
  audit's run finds the plan still going and does nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


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
    #: True: a decision due while the last plan still runs (a wave pending or a migration in
    #: flight) is skipped, as Watcher skips an audit while an action plan is ONGOING; False:
    #: the pending waves are dropped and the decision replans (see the module doc).
    plan_runs_to_end: bool = False

    @property
    def plans(self) -> str:
        """``plan_runs_to_end`` as ``--plans`` names it (one of ``PLANS``), for the report."""
        return "run-to-end" if self.plan_runs_to_end else "drop"

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
    plan_runs_to_end=True,  # what Watcher does (module doc); --plans drop to replan instead
)

FIDELITIES = {FidelityMode.CLOUDSIM.value: CLOUDSIM, FidelityMode.REALISTIC.value: REALISTIC}


#: What a decision does to a plan still running (``geyser simulate --plans``): ``drop`` its pending
#: waves and replan, or let it ``run-to-end`` and skip the decision (as Watcher does).
PLANS = ("drop", "run-to-end")


def fidelity(name: str, plans: str | None = None) -> Fidelity:
    """The fidelity called ``name``, with ``plans`` (one of ``PLANS``) for a plan still running at a
    decision; None keeps the fidelity's own (realistic: run-to-end, as Watcher; cloudsim: drop)."""
    try:
        fid = FIDELITIES[name]
    except KeyError:
        raise ValueError(f"unknown fidelity {name!r}; choose one of {', '.join(FIDELITIES)}") from None
    if plans is None or plans == fid.plans:
        return fid
    if plans not in PLANS:
        raise ValueError(f"unknown plans {plans!r}; choose one of {', '.join(PLANS)}")
    if plans == "drop":
        return replace(fid, plan_runs_to_end=False)
    if fid.is_cloudsim:
        raise ValueError(
            f"plans {plans!r} applies to realistic fidelity only (a cloudsim plan's waves all start at once, as "
            "CloudSim starts them); use --fidelity realistic, or --plans drop (cloudsim's own) or no --plans"
        )
    return replace(fid, plan_runs_to_end=True)
