"""Solver quality and the whole `geyser plan` command's time at data-centre scale, per fleet family.

    python bench/solver_scale.py                                   # every family at 5,000/30,000 and 20,000/200,000
    python bench/solver_scale.py --families deep tight --sizes 5000x30000 --time-limit 10
    python bench/solver_scale.py --sizes 20000x200000 --time-limit 45
    python bench/solver_scale.py --families tight --deterministic   # answers comparable across versions
    python bench/solver_scale.py --baseline /tmp/main-src --no-first  # another version's code, side by side

Families (``watcher_geyser.fleetgen.FAMILIES``): ``identical`` (fleetgen's, ~45 % allocated),
``deep`` (large hosts, few instances each), ``generations`` (two host types), ``zones``
(three zones, server groups, locked instances), ``tight`` (~75 % allocated, mixed types,
~6 instances per host), ``tight-deep`` (~80 % allocated, three host generations, ~30 instances
per host: a size's instances on fewer hosts, 5000x30000 runs as 1000x30000 and 20000x200000
as 6666x200000).

Each line runs the real command, ``geyser plan SCENARIO --time-limit T --json``, in a child
process (scenarios are generated once and cached under ``--cache``), and gives hosts, watts
and memory moved against their proven lower bounds as ratios, the wall and CPU seconds of
the whole command and of each phase, the child's peak memory, whether the placement passes
the rule checkers (recomputed here, independently of the command), and the gap of the
first answer: the same fleet solved in-process with a 1 s limit. On a shared machine wall
times mean little alone: compare CPU seconds, and ratios from one run.

``--baseline SRC`` (a folder holding another version's ``watcher_geyser`` package, for example
``git archive main watcher_geyser | tar -x -C /tmp/main-src``) runs every fleet twice in turn, the
command with that code and then with this checkout's (``PYTHONPATH``), so both see the same load;
each line says which (``"code"``), and a ``"kind": "compare"`` line per fleet gives the ratios
(this / baseline) and whether the placements are the same.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from watcher_geyser.fleetgen import FAMILIES, INSTANCES_PER_HOST, generate_family
from watcher_geyser.scenario import load_scenario, save_scenario
from watcher_geyser.solver import Problem, solve
from watcher_geyser.solver.checks import check_placement

DEFAULT_SIZES = ("5000x30000", "20000x200000")
TIME_LIMITS = {"5000x30000": 10.0, "20000x200000": 45.0}


def add_fleet_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that choose the fleets (sizes, families, time limit, seed, scenario cache), shared
    with ``bench/ejection_time.py`` so both measure the same fleets the same way."""
    parser.add_argument("--sizes", nargs="*", type=_size, default=list(DEFAULT_SIZES),
                        help=f"HOSTSxINSTANCES (default: {' '.join(DEFAULT_SIZES)})")
    parser.add_argument("--families", nargs="*", default=list(FAMILIES), choices=FAMILIES,
                        help="fleetgen families (default: all of them)")
    parser.add_argument("--time-limit", type=float, help="seconds (default: 10 at 5,000 hosts, 45 at 20,000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the fleets (default %(default)s)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/geyser-bench"),
                        help="folder of the generated scenarios, reused across runs (default %(default)s)")


def _size(text: str) -> str:
    """``HOSTSxINSTANCES`` checked when it is read, so a typo fails before any fleet is built."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not HOSTSxINSTANCES, such as 5000x30000")
    return text


def family_fleet(cache: Path, family: str, size: str, seed: int) -> tuple[Path, int, int]:
    """(cached scenario, hosts, instances) of ``family`` at ``size`` (HOSTSxINSTANCES): a deep family
    puts the size's instances on fewer hosts."""
    hosts, instances = (int(x) for x in size.lower().split("x"))
    if family in INSTANCES_PER_HOST:
        hosts = min(hosts, instances // INSTANCES_PER_HOST[family])
    return scenario_path(cache, family, hosts, instances, seed), hosts, instances


def scenario_path(cache: Path, family: str, hosts: int, instances: int, seed: int) -> Path:
    """The cached scenario file of one family and size, generated on first use."""
    path = cache / f"{family}-{hosts}x{instances}-s{seed}.json"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        save_scenario(generate_family(family, hosts, instances, seed=seed), path)
    return path


def run_command(
    path: Path, time_limit_s: float, deterministic: bool = False, code: Path | None = None
) -> tuple[dict, float, float, int]:
    """(the command's JSON answer, wall seconds, CPU seconds, peak memory in MB); ``code``: the folder
    whose ``watcher_geyser`` the command runs (default: the one this process imports)."""
    argv = [sys.executable, "-m", "watcher_geyser.cli", "plan", str(path), "--time-limit", str(time_limit_s), "--json"]
    if deterministic:
        argv.append("--deterministic")
    started = time.perf_counter()
    env = None if code is None else {**os.environ, "PYTHONPATH": str(code)}
    cwd = None if code is None else code  # ``-m`` puts the working folder first on the path
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"geyser plan {path} exited {child.returncode}")
    return json.loads(out), wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def first_answer(path: Path, seconds: float = 1.0) -> dict:
    """The answer the solver has after ``seconds`` (in-process, fleet already read)."""
    fleet = load_scenario(path)
    fleet.demand, fleet.movable, fleet.capacity  # noqa: B018 - build the fleet's arrays outside the clock
    started = time.perf_counter()
    target = solve(Problem(fleet, time_limit_s=seconds))
    return {
        "first_seconds": round(time.perf_counter() - started, 2),
        "first_watts_over_bound": round(target.watts_w / max(target.bounds.watts_w, 1e-9) - 1, 5),
        "first_hosts_over_bound": round(target.hosts_on / max(target.bounds.hosts, 1) - 1, 5),
    }


def run_one(family: str, size: str, seed: int, time_limit_s: float, cache: Path, first: bool,
            deterministic: bool = False, code: Path | None = None) -> dict:
    path, hosts, instances = family_fleet(cache, family, size, seed)
    answer, wall, cpu, peak_mb = run_command(path.resolve(), time_limit_s, deterministic, code)
    fleet = load_scenario(path)
    placement = np.array([fleet.host_index(answer["placement"][inst.uuid]) for inst in fleet.instances], dtype=np.int64)
    violations = check_placement(Problem(fleet), placement)
    line = {
        "family": family,
        "size": size,
        "fleet": f"{hosts}x{instances}",
        "time_limit_s": time_limit_s,
        "hosts_on": answer["hosts_on_after"],
        "hosts_bound": answer["hosts_lower_bound"],
        "migrations": answer["migrations"],
        "memory_moved_mb": answer["memory_moved_mb"],
        "watts": answer["watts_after"],
        "hosts_over_bound": round(answer["hosts_on_after"] / max(answer["hosts_lower_bound"], 1) - 1, 5),
        "watts_over_bound": round(answer["watts_after"] / max(answer["watts_lower_bound"], 1e-9) - 1, 5),
        "memory_over_bound": round(
            answer["memory_moved_mb"] / max(answer["migration_cost_lower_bound_mb"], 1e-9) - 1, 5
        ),
        "solver_status": answer["solver_status"],
        "cpsat_status": answer["cpsat_status"],
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "phase_seconds": answer.get("phase_seconds"),
        "peak_memory_mb": peak_mb,
        "valid": not violations,
        # two runs of --deterministic on two versions gave the same answer if these are equal
        "placement_sha1": hashlib.sha1(placement.tobytes()).hexdigest()[:16],
        "gap_notes": [m for m in answer["messages"] if "above its watts lower bound" in m],
    }
    if first:
        line.update(first_answer(path))
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_fleet_arguments(parser)
    parser.add_argument("--no-first", action="store_true", help="skip the 1 s first-answer solve")
    parser.add_argument("--deterministic", action="store_true",
                        help="geyser plan --deterministic: the same answer on every run (compare placement_sha1 "
                             "across versions); CPU-bound, so it takes longer than --time-limit")
    parser.add_argument("--baseline", type=Path, help="folder holding another version's watcher_geyser package")
    args = parser.parse_args()
    if args.baseline is not None and not (args.baseline / "watcher_geyser").is_dir():
        parser.error(f"{args.baseline} holds no watcher_geyser package; give a checkout's root")
    ours = Path(__file__).resolve().parents[1]
    for size in args.sizes:
        limit = args.time_limit or TIME_LIMITS.get(size, 10.0)
        for family in args.families:
            if args.baseline is None:
                line = run_one(family, size, args.seed, limit, args.cache, not args.no_first, args.deterministic)
                print(json.dumps(line), flush=True)
                continue
            rows = {}
            for code, src in (("baseline", args.baseline.resolve()), ("this", ours)):
                rows[code] = run_one(family, size, args.seed, limit, args.cache, False, args.deterministic, src)
                print(json.dumps({"code": code, **rows[code]}), flush=True)
            print(json.dumps(compare(rows["baseline"], rows["this"])), flush=True)


COMPARED = ("hosts_on", "watts", "migrations", "memory_moved_mb", "wall_seconds", "cpu_seconds")


def compare(before: dict, after: dict) -> dict:
    """this / baseline for one fleet: the answers' figures, the command's seconds and its solve phase's."""
    ratios = {f"{k}_ratio": round(after[k] / before[k], 4) if before[k] else None for k in COMPARED}
    solve = [(row.get("phase_seconds") or {}).get("solve") for row in (before, after)]
    return {
        "kind": "compare", "family": before["family"], "fleet": before["fleet"], **ratios,
        "solve_seconds": solve, "solve_ratio": round(solve[1] / solve[0], 4) if all(solve) else None,
        "watts_over_bound": [before["watts_over_bound"], after["watts_over_bound"]],
        "same_placement": before["placement_sha1"] == after["placement_sha1"],
    }


if __name__ == "__main__":
    main()
