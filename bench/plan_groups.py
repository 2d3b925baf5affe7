"""Benchmark of safety: server-group rules in random plans, every intermediate state checked.

Small tight fleets with affinity and anti-affinity groups, pinned instances and zones
(``tests/plan_groups_support.group_case``), planned at random parallelism, each plan
replayed by the test suite's independent checker (``check_plan``: capacity with the wave
in flight, pinned instances, zones, power, both group policies after every wave). Two
families: targets built at random (``constructed``) and targets from the solver
(``solved``, ``--method``, a short time limit). Prints one JSON line per family: plans,
plans with a violation, the violations by rule, moves held to keep an affinity group whole.

    python bench/plan_groups.py                      # 10,000 constructed + 300 solved (exact)
    python bench/plan_groups.py --plans 2000 --solved 0
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.plan_groups_support import check_plan, group_case  # noqa: E402
from watcher_geyser.planner import UndoneReason, plan  # noqa: E402
from watcher_geyser.solver import solve  # noqa: E402


def run(family: str, count: int, seed: int, method: str, time_limit_s: float) -> dict:
    rng = random.Random(seed)
    bad_plans, rules, held, undone, migrations = 0, Counter(), 0, 0, 0
    started = time.perf_counter()
    for _ in range(count):
        target = group_case(rng.randrange(2**31), rng.randint(2, 7), rng.randint(1, 12), rng.uniform(0.85, 1.0),
                            rng.randint(1, 2))
        if family == "solved":
            problem = target.problem
            problem = type(problem)(problem.fleet, ceiling=problem.ceiling, cpu_ceiling=None,
                                    time_limit_s=time_limit_s, seed=rng.randrange(1000))
            target = solve(problem, method=method)
        result = plan(target, parallelism=rng.randint(1, 4), per_host_parallelism=rng.randint(1, 2),
                      allow_power_off=rng.random() < 0.5)
        broken = check_plan(target, result)
        bad_plans += bool(broken)
        rules.update(b.split(": ", 1)[-1].split(" ")[0] for b in broken)
        held += sum(u.code is UndoneReason.AFFINITY_HELD for u in result.left_undone)
        undone += len(result.left_undone)
        migrations += result.migrations
    return {"family": family, "plans": count, "plans_with_violation": bad_plans, "violations": dict(rules),
            "migrations": migrations, "left_undone": undone, "held_for_affinity": held,
            "method": method if family == "solved" else None, "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plans", type=int, default=10_000, help="constructed targets (default 10,000)")
    parser.add_argument("--solved", type=int, default=300, help="solver targets (default 300)")
    parser.add_argument("--method", default="exact", help="solver method for the solved family (default exact)")
    parser.add_argument("--time-limit", type=float, default=0.5, help="solver seconds per case (default 0.5)")
    parser.add_argument("--seed", type=int, default=11, help="random seed of the targets (default %(default)s)")
    args = parser.parse_args()
    for family, count in (("constructed", args.plans), ("solved", args.solved)):
        if count > 0:
            print(json.dumps(run(family, count, args.seed, args.method, args.time_limit)), flush=True)


if __name__ == "__main__":
    main()
