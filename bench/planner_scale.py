"""Benchmark: plan a consolidation of a large fleet (default 5,000 hosts / 30,000 instances).

The target comes from the solver (``--target solver``, the default: what `geyser plan`
plans) or from a simple first-fit-decreasing packing written here (``--target ffd``: keep
the fullest hosts and pack the others' instances into them up to ``--ceiling``). Prints
one JSON object: fleet size, migrations, waves, staging moves, moves left undone, plan
seconds (the figure to hold under 2 s), the duration estimate, and the replay's verdict.

    python bench/planner_scale.py                       # 5,000 / 30,000, parallelism 2
    python bench/planner_scale.py --parallelism 32 --per-host 2 --hosts 500 --instances 3000
    python bench/planner_scale.py --allocation 0.9 --ceiling 1 --swaps 500 --stage-on-emptied-hosts

The last one swaps 500 pairs of large instances between full hosts: cycles the planner
breaks through staging hosts. At ``--allocation 0.9`` every host holds instances, so there
is no spare host (empty now and at the end), and at ``--ceiling 1`` the kept hosts end
with less room than a large instance: the only hosts with room are those being emptied,
which the planner stages on only when asked (``--stage-on-emptied-hosts``, as
``geyser plan``'s flag). Without it every swap is left undone as a ``deadlock``, which is
the planner's rule, not a failure; ``left_undone_by_code`` and ``spare_hosts`` say so.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from watcher_geyser.fleet import Fleet  # noqa: E402
from watcher_geyser.fleetgen import generate_fleet  # noqa: E402
from watcher_geyser.planner import plan, problem_limits, replay  # noqa: E402
from watcher_geyser.solver import solve  # noqa: E402
from watcher_geyser.solver.problem import Bounds, Problem, Target  # noqa: E402


def consolidation_target(fleet: Fleet, ceiling: float) -> np.ndarray:
    """First-fit decreasing onto the fullest hosts; pinned instances keep their host on."""
    limit = fleet.capacity * ceiling
    load = fleet.load()
    share = (load / np.maximum(fleet.capacity, 1e-9)).max(axis=1)
    order = np.argsort(-share, kind="stable")
    kept = np.zeros(len(fleet.hosts), dtype=bool)
    kept[fleet.placement[~fleet.movable]] = True  # hosts with pinned instances stay on
    need = (fleet.demand.sum(axis=0) / limit.mean(axis=0)).max()
    for h in order[: int(np.ceil(need * 1.02))]:
        kept[h] = True
    goal = fleet.placement.copy()
    used = fleet.load() * kept[:, None]
    movers = np.flatnonzero(~kept[fleet.placement])
    movers = movers[np.argsort(-fleet.demand[movers, 1], kind="stable")]
    zone = fleet.host_zone
    for v in movers:
        if kept[fleet.placement[v]]:
            continue  # its host was opened for an instance before it: it stays there (goal and used hold it)
        fits = kept & (zone == zone[fleet.placement[v]]) & ((used + fleet.demand[v]) <= limit).all(axis=1)
        candidates = np.flatnonzero(fits)
        if len(candidates) == 0:  # open one more host: the next fullest not kept yet, same zone
            spare = [h for h in order if not kept[h] and zone[h] == zone[fleet.placement[v]]]
            h = spare[0]
            kept[h] = True
            used[h] = load[h]
            goal[np.flatnonzero(fleet.placement == h)] = h
            if fleet.placement[v] == h:
                continue
        else:
            h = int(candidates[0])
        goal[v] = h
        used[h] += fleet.demand[v]
    return goal


def add_swaps(fleet: Fleet, goal: np.ndarray, swaps: int, seed: int) -> np.ndarray:
    """Swap the targets of ``swaps`` pairs of same-flavour instances on distinct kept hosts.

    The end loads do not change, but full hosts swapping large instances block each
    other: cycles the planner must break through staging hosts.
    """
    rng = np.random.default_rng(seed)
    goal = goal.copy()
    staying = np.flatnonzero((goal == fleet.placement) & fleet.movable)
    staying = staying[np.argsort(-fleet.demand[staying, 1], kind="stable")][: max(4 * swaps, 1)]
    by_flavour: dict[tuple, list[int]] = {}
    for v in rng.permutation(staying):
        by_flavour.setdefault(tuple(fleet.demand[v]), []).append(int(v))
    done = 0
    for members in by_flavour.values():
        while len(members) >= 2 and done < swaps:
            x, y = members.pop(), members.pop()
            if goal[x] != goal[y] and fleet.host_zone[goal[x]] == fleet.host_zone[goal[y]]:
                goal[x], goal[y] = goal[y], goal[x]
                done += 1
    return goal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=5000, help="hosts in the fleet (default %(default)s)")
    parser.add_argument("--instances", type=int, default=30000, help="instances in the fleet (default %(default)s)")
    parser.add_argument("--ceiling", type=float, default=0.9, help="packing ceiling of the target (default 0.9)")
    parser.add_argument("--parallelism", type=int, default=2, help="migrations per wave (default 2)")
    parser.add_argument("--per-host", type=int, default=1, help="migrations per host per wave (default 1)")
    parser.add_argument("--allocation", type=float, default=0.4,
                        help="how full the generated fleet is before consolidation (default 0.4)")
    parser.add_argument("--swaps", type=int, default=0,
                        help="also swap this many pairs of large instances between kept hosts (cycles to stage)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the fleet and swaps (default %(default)s)")
    parser.add_argument("--target", choices=("solver", "ffd"), default="solver",
                        help="where the consolidation target comes from (default: the solver)")
    parser.add_argument("--stage-on-emptied-hosts", action="store_true",
                        help="let cycles be broken through hosts being emptied (needed for --swaps on a full fleet)")
    parser.add_argument("--no-replay", action="store_true", help="skip the replay check (faster)")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    fleet = generate_fleet(args.hosts, args.instances, mixed=True, allocation=args.allocation, seed=args.seed,
                           locked_share=0.01)
    t1 = time.perf_counter()
    problem = Problem(fleet, ceiling=args.ceiling)
    if args.target == "solver" and not args.swaps:
        target = solve(problem)
    else:
        goal = consolidation_target(fleet, args.ceiling)
        if args.swaps:
            goal = add_swaps(fleet, goal, args.swaps, args.seed)
        target = Target(problem=problem, placement=goal, bounds=Bounds(0, 0, 0), status="FFD", solve_seconds=0)
    t2 = time.perf_counter()
    result = plan(target, parallelism=args.parallelism, per_host_parallelism=args.per_host, allow_power_off=True,
                  stage_on_emptied_hosts=args.stage_on_emptied_hosts)
    t3 = time.perf_counter()
    out = {
        "hosts": len(fleet.hosts),
        "instances": len(fleet.instances),
        "hosts_on_before": int(fleet.occupied().sum()),
        "hosts_on_target": target.hosts_on,
        "target": target.status,
        "target_migrations": target.migrations,
        "parallelism": args.parallelism,
        "per_host_parallelism": args.per_host,
        "migrations": result.migrations,
        "waves": result.wave_count,
        "swaps": args.swaps,
        "staging_moves": result.staging_moves,
        "left_undone": len(result.left_undone),
        "left_undone_by_code": dict(Counter(u.code.value for u in result.left_undone)),
        "spare_hosts": int((~fleet.occupied() & ~fleet.occupied(target.placement)).sum()),
        "stage_on_emptied_hosts": args.stage_on_emptied_hosts,
        "plan_seconds": round(t3 - t2, 3),
        "duration_estimate_h": round(result.duration_estimate_s / 3600, 2),
        "fleet_seconds": round(t1 - t0, 2),
        "target_seconds": round(t2 - t1, 2),
    }
    if not args.no_replay:
        t4 = time.perf_counter()
        check = replay(fleet, result, problem_limits(problem), args.parallelism, args.per_host)
        out["replay_violations"] = len(check.violations)
        out["replay_seconds"] = round(time.perf_counter() - t4, 2)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
