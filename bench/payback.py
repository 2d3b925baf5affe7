"""How often do the back-ends' answers hold moves that neither free a host, relieve one, nor pay back?

    python bench/payback.py                                  # every family, small sizes, all methods
    python bench/payback.py --families tight tight-deep --seeds 1 2 3 --time-limit 4

The rule is ``solver/payback.py``'s ``unpaid_moves``: a side move (its home stays on, its home is
not hot, its cores are fast enough at home) whose group can go home with the answer still valid
and saves less than its migrations cost over ``Problem.swap_payback_s`` (6 h by default, about
0.5 J per MB copied). Fleets: ``fleetgen`` families at sizes the exact model takes (a few tens of
hosts), and the bundled scenarios (``watcher_geyser/data/scenarios``, ``examples/cloud.json``).
Every solve is deterministic (one CP-SAT worker, a work limit), so two runs on two versions give
the same answers. One JSON line per fleet and method, then a summary line per method: answers
holding unpaid moves, the moves, the memory they copy and the watts they save; then what
``payback.pay_back`` would drop from the answer (``drop_*``: sending one group home can make
room for another to go home, so it drops more than the first check counts).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from watcher_geyser.fleet import RAM, Fleet
from watcher_geyser.fleetgen import FAMILIES, generate_family
from watcher_geyser.scenario import load_scenario
from watcher_geyser.solver import Problem, solve
from watcher_geyser.solver.checks import check_placement
from watcher_geyser.solver.payback import pay_back, unpaid_moves

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = (ROOT / "watcher_geyser/data/scenarios/demo.json", ROOT / "examples/cloud.json")
#: (hosts, instances) per family: within the exact model's reach (``portfolio.EXACT_MAX_BOOLEANS``).
SIZES = {"tight-deep": (6, 180), "identical": (16, 120)}
DEFAULT_SIZE = (16, 96)
METHODS = ("exact", "auto", "decompose", "greedy")


def fleets(families: list[str], seeds: list[int], scenarios: bool) -> list[tuple[str, Fleet]]:
    out = []
    for family in families:
        hosts, instances = SIZES.get(family, DEFAULT_SIZE)
        for seed in seeds:
            out.append((f"{family}-{hosts}x{instances}-s{seed}", generate_family(family, hosts, instances, seed=seed)))
    if scenarios:
        out += [(path.name, load_scenario(path)) for path in SCENARIOS]
    return out


def measure(name: str, fleet: Fleet, method: str, time_limit_s: float) -> dict:
    problem = Problem(fleet, time_limit_s=time_limit_s, deterministic=True)
    target = solve(problem, method)
    unpaid = unpaid_moves(problem, target.placement, target.unrelieved)
    moves = [v for members, _ in unpaid for v in members.tolist()]
    paid = pay_back(problem, target.placement)  # sending them home frees room for others to go home too
    dropped = target.moved & (paid == fleet.placement)
    return {
        "fleet": name,
        "method": method,
        "status": target.status,
        "hosts_on": target.hosts_on,
        "watts": round(target.watts_w, 3),
        "watts_bound": round(target.bounds.watts_w, 3),
        "migrations": target.migrations,
        "memory_moved_mb": target.memory_moved_mb,
        "solve_seconds": round(target.solve_seconds, 3),
        "valid": not check_placement(problem, target.placement, target.unrelieved),
        "unpaid_groups": len(unpaid),
        "unpaid_moves": len(moves),
        "unpaid_memory_mb": float(fleet.demand[moves, RAM].sum()),
        "unpaid_saved_w": round(sum(saved for _, saved in unpaid), 4),
        "drop_moves": int(dropped.sum()),
        "drop_memory_mb": float(fleet.demand[dropped, RAM].sum()),
        "drop_watts_delta_w": round(fleet.watts(paid) - target.watts_w, 4),
        "messages": [m for m in target.messages if "pay back" in m],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="*", default=list(FAMILIES), choices=FAMILIES,
                        help="fleetgen families (default: all of them)")
    parser.add_argument("--seeds", nargs="*", type=int, default=[1, 2],
                        help="one fleet per family and seed (default 1 2)")
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=METHODS,
                        help="solver methods, each on every fleet (default: all of them)")
    parser.add_argument("--time-limit", type=float, default=3.0, help="solver seconds per solve (default %(default)s)")
    parser.add_argument("--no-scenarios", action="store_true", help="fleetgen families only")
    args = parser.parse_args()
    rows = []
    for name, fleet in fleets(args.families, args.seeds, not args.no_scenarios):
        for method in args.methods:
            row = measure(name, fleet, method, args.time_limit)
            rows.append(row)
            print(json.dumps(row), flush=True)
    for method in args.methods:
        mine = [r for r in rows if r["method"] == method]
        print(json.dumps({
            "summary": method,
            "answers": len(mine),
            "answers_with_unpaid_moves": sum(r["unpaid_moves"] > 0 for r in mine),
            "unpaid_moves": sum(r["unpaid_moves"] for r in mine),
            "migrations": sum(r["migrations"] for r in mine),
            "unpaid_memory_mb": sum(r["unpaid_memory_mb"] for r in mine),
            "memory_moved_mb": sum(r["memory_moved_mb"] for r in mine),
            "unpaid_saved_w": round(sum(r["unpaid_saved_w"] for r in mine), 4),
            "watts": round(sum(r["watts"] for r in mine), 3),
            "hosts_on": sum(r["hosts_on"] for r in mine),
            "solve_seconds": round(sum(r["solve_seconds"] for r in mine), 2),
            "answers_pay_back_would_change": sum(r["drop_moves"] > 0 for r in mine),
            "drop_moves": sum(r["drop_moves"] for r in mine),
            "drop_memory_mb": sum(r["drop_memory_mb"] for r in mine),
            "drop_watts_delta_w": round(sum(r["drop_watts_delta_w"] for r in mine), 4),
            "all_valid": all(r["valid"] for r in mine),
        }), flush=True)


if __name__ == "__main__":
    main()
