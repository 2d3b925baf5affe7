"""The figures of a consolidation answer, as one flat dict: what `geyser plan --json`
prints, what the Watcher strategy reports as efficacy, what benchmarks compare."""

from __future__ import annotations

import numpy as np

from watcher_geyser.solver.problem import Target


def host_ceilings(target: Target) -> dict[str, float] | None:
    """Each host's own CPU packing ceiling when the problem had one per host (the signal's margin per
    host, ``pipeline/margin.py``), by host name; None when every host packed to ``cpu_ceiling``."""
    ceilings = target.problem.cpu_host_ceilings
    if ceilings is None:
        return None
    return {host.name: round(c, 4) for host, c in zip(target.fleet.hosts, ceilings)}


def target_summary(target: Target) -> dict:
    fleet = target.fleet
    before_w = fleet.watts(fleet.placement, powered=fleet.powered)
    occupied = fleet.occupied(target.placement)  # once: per host it cost minutes at 20,000 hosts
    released = [fleet.hosts[h].name for h in np.flatnonzero(fleet.powered & ~occupied)]
    powered_on = [fleet.hosts[h].name for h in np.flatnonzero(~fleet.powered & occupied)]
    claims = sum(1 for i in fleet.instances if i.claim_of is not None)
    return {
        "hosts": len(fleet.hosts),
        "instances": len(fleet.instances) - claims,
        "claims": claims,  # rows holding room for migrations in flight (``claims.py``), in ``placement`` too
        "hosts_on_before": int(fleet.powered.sum()),
        "hosts_on_after": target.hosts_on,
        "hosts_lower_bound": target.bounds.hosts,
        "released_hosts": released,
        "powered_on_hosts": powered_on,
        "relieved_hosts": list(target.relieved),
        "unrelieved_hosts": dict(target.unrelieved),
        "watts_before": round(before_w, 1),
        "watts_after": round(target.watts_w, 1),
        "watts_lower_bound": round(target.bounds.watts_w, 1),
        "watts_gap": round(target.gap, 5),
        "power_budget_w": target.problem.power_budget_w,
        "ceiling": target.problem.ceiling,
        "cpu_ceiling": target.problem.cpu_ceiling,
        "cpu_host_ceilings": host_ceilings(target),
        "migrations": target.migrations,
        "memory_moved_mb": round(target.memory_moved_mb, 1),
        "migration_cost_lower_bound_mb": round(target.bounds.migration_cost_mb, 1),
        "solver_status": target.status,
        "cpsat_status": target.cpsat_status,
        "found_by": target.found_by,  # the portfolio's pass whose answer was kept (``solver.problem.PASSES``)
        "solve_seconds": round(target.solve_seconds, 4),
        "messages": list(target.messages),
        "placement": {inst.uuid: fleet.hosts[int(h)].name for inst, h in zip(fleet.instances, target.placement)},
    }
