"""Solver speed and quality at data-centre scale: one JSON line per fleet size and kind.

    python bench/solver_scale.py                 # 100/1,000, 1,000/10,000 and 5,000/30,000, identical and mixed
    python bench/solver_scale.py --sizes 1000x10000 --time-limit 10 --seed 3

Fleets come from ``watcher_geyser.fleetgen`` (flavours of 1-16 vcpus and 1-64 GiB, ~45 %
allocated, spread the way Nova's RAM weigher spreads them). Each line gives the answer next
to its proven lower bounds and the gaps as ratios, so runs on a noisy machine compare by
quality, and by time only side by side.
"""

from __future__ import annotations

import argparse
import json
import time

from watcher_geyser.fleetgen import generate_fleet
from watcher_geyser.solver import Problem, solve
from watcher_geyser.solver.checks import check_placement
from watcher_geyser.summary import target_summary

DEFAULT_SIZES = ("100x1000", "1000x10000", "5000x30000")


def run_one(n_hosts: int, n_instances: int, mixed: bool, seed: int, time_limit_s: float, method: str) -> dict:
    started = time.perf_counter()
    fleet = generate_fleet(n_hosts, n_instances, mixed=mixed, seed=seed)
    generated = time.perf_counter() - started
    problem = Problem(fleet, time_limit_s=time_limit_s, seed=seed)
    wall = time.perf_counter()
    target = solve(problem, method=method)
    wall = time.perf_counter() - wall
    summary = target_summary(target)
    for key in ("placement", "released_hosts", "messages"):
        summary.pop(key)
    violations = check_placement(problem, target.placement)
    return {
        "size": f"{n_hosts}x{n_instances}",
        "fleet": "mixed" if mixed else "identical",
        "method": method,
        **summary,
        "hosts_over_bound": round(target.hosts_on / max(target.bounds.hosts, 1) - 1, 5),
        "watts_over_bound": round(target.watts_w / max(target.bounds.watts_w, 1e-9) - 1, 5),
        "memory_over_bound": round(target.memory_moved_mb / max(target.bounds.migration_cost_mb, 1e-9) - 1, 5),
        "wall_seconds": round(wall, 3),
        "generate_seconds": round(generated, 2),
        "valid": not violations,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="*", default=list(DEFAULT_SIZES), help="HOSTSxINSTANCES (default: all three)")
    parser.add_argument("--kinds", nargs="*", default=["identical", "mixed"], choices=["identical", "mixed"])
    parser.add_argument("--time-limit", type=float, default=10.0, help="solver time limit, seconds (default 10)")
    parser.add_argument("--method", default="auto", help="solver back-end (default auto)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for size in args.sizes:
        hosts, instances = (int(x) for x in size.lower().split("x"))
        for kind in args.kinds:
            line = run_one(hosts, instances, kind == "mixed", args.seed, args.time_limit, args.method)
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
