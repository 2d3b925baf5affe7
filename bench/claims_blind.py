"""What counting migrations in flight on their other host changes: blind plans against claimed ones.

Random fleets (``fleetgen``) with a share of instances migrating (pinned, ``migrating``) to a random
other host. Each fleet is solved twice, blind (the migrating instance counted on its source only,
as before ``claims.py``) and with the claims; both answers are judged on the claimed fleet: hosts a
blind answer fills past their limits counting the claims (Nova would refuse those moves, or the host
be over-committed when the migration lands), and hosts holding a claim that the plan disables or
switches off. Prints one JSON object.

    .venv/bin/python bench/claims_blind.py --seeds 5 --hosts 40 --instances 300 --migrating 0.05
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import numpy as np

from watcher_geyser.claims import MigrationRecord, with_claims
from watcher_geyser.fleet import Fleet
from watcher_geyser.fleetgen import generate_fleet
from watcher_geyser.planner import ActionKind, plan
from watcher_geyser.records import MIGRATING
from watcher_geyser.solver import Problem, solve
from watcher_geyser.solver.checks import check_placement


def _migrating(fleet: Fleet, share: float, seed: int) -> tuple[Fleet, list[MigrationRecord]]:
    rng = np.random.default_rng(seed + 1000)
    chosen = set(rng.choice(len(fleet.instances), max(1, int(share * len(fleet.instances))), replace=False).tolist())
    names = [h.name for h in fleet.hosts]
    instances, records = [], []
    for v, inst in enumerate(fleet.instances):
        if v in chosen:
            dest = names[int(rng.choice([h for h in range(len(names)) if names[h] != inst.host]))]
            records.append(MigrationRecord(inst.uuid, inst.host, dest, "running", "live-migration"))
            inst = replace(inst, state=MIGRATING)
        instances.append(inst)
    return Fleet.build(fleet.hosts, instances, fleet.server_groups, fleet.default_cpu_util), records


def _judge(claimed: Fleet, placement: np.ndarray, problem: Problem, released: set[str]) -> dict:
    """The answer's instances placed on the claimed fleet (its claim rows where they are)."""
    full = np.concatenate([placement, claimed.placement[len(placement):]])
    judged = Problem(claimed, ceiling=problem.ceiling, cpu_ceiling=problem.cpu_ceiling)
    claim_hosts = {i.host for i in claimed.instances if i.claim_of is not None}
    return {"hosts_over_limits": len(check_placement(judged, full)),
            "claim_hosts_released": len(claim_hosts & released)}


def _released(result) -> set[str]:
    return {a.host for wave in result.waves for a in wave if a.kind in (ActionKind.DISABLE, ActionKind.POWER_OFF)}


def run(seeds: int, hosts: int, instances: int, share: float, method: str, time_limit_s: float) -> dict:
    rows = []
    for seed in range(seeds):
        blind, records = _migrating(generate_fleet(hosts, instances, mixed=True, seed=seed), share, seed)
        claimed = with_claims(blind, records, [])
        row = {"seed": seed, "migrating": len(records)}
        for name, fleet in (("blind", blind), ("claims", claimed)):
            problem = Problem(fleet, time_limit_s=time_limit_s, deterministic=True, workers=1)
            start = time.perf_counter()
            target = solve(problem, method=method)
            seconds = time.perf_counter() - start
            result = plan(target, allow_power_off=True)
            judged = _judge(claimed, target.placement[:len(blind.instances)], problem, _released(result))
            row[name] = {"hosts_on": target.hosts_on, "migrations": target.migrations,
                         "solve_s": round(seconds, 3), **judged}
        rows.append(row)
    total = {name: {k: sum(r[name][k] for r in rows) for k in ("hosts_over_limits", "claim_hosts_released",
                                                                  "hosts_on", "migrations")}
             for name in ("blind", "claims")}
    return {"hosts": hosts, "instances": instances, "migrating_share": share, "method": method, "rows": rows,
            "total": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="random fleets, seeds 0 .. N-1 (default %(default)s)")
    parser.add_argument("--hosts", type=int, default=40, help="hosts per fleet (default %(default)s)")
    parser.add_argument("--instances", type=int, default=300, help="instances per fleet (default %(default)s)")
    parser.add_argument("--migrating", type=float, default=0.05,
                        help="share of instances migrating (default %(default)s)")
    parser.add_argument("--method", default="auto", help="solver method for both solves (default %(default)s)")
    parser.add_argument("--time-limit-s", type=float, default=5.0,
                        help="solver seconds per solve (default %(default)s)")
    args = parser.parse_args()
    print(json.dumps(run(args.seeds, args.hosts, args.instances, args.migrating, args.method, args.time_limit_s),
                     indent=1))


if __name__ == "__main__":
    main()
