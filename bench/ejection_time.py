"""The CPU seconds of the ejection pass inside a whole `geyser plan --deterministic`, per fleet family.

    python bench/ejection_time.py --families tight tight-deep --sizes 20000x200000
    python bench/ejection_time.py --sizes 5000x30000            # every family, 10 s limit

``solver/eject.py`` once took 6-7 s of a 45 s plan at 20,000 hosts; this says how much it takes
now, beside the whole command's CPU seconds and the answer's figures. Each line runs the real
command in this process (the fleet read from ``bench/solver_scale.py``'s cached scenarios),
with ``portfolio.empty_by_ejection`` timed in place, and prints one JSON line. Deterministic
mode makes the answer the same on every run, so ``placement_sha1`` compares two versions (run
this script on each checkout: equal hashes, equal answers). CPU seconds, not wall: the bench
machine is shared. One child process per line, so one fleet's memory does not weigh on the next.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from solver_scale import TIME_LIMITS, add_fleet_arguments, family_fleet  # noqa: E402


def measure(path: Path, time_limit_s: float) -> dict:
    """Run `geyser plan PATH --deterministic` here, ejection timed: its figures and CPU seconds."""
    from watcher_geyser import cli
    from watcher_geyser.solver import portfolio

    ejection = {"cpu_s": 0.0, "calls": 0}
    untimed = portfolio.empty_by_ejection

    def timed(*args, **kwargs):
        started = time.process_time()
        try:
            return untimed(*args, **kwargs)
        finally:
            ejection["cpu_s"] += time.process_time() - started
            ejection["calls"] += 1

    portfolio.empty_by_ejection = timed
    out = io.StringIO()
    started = time.process_time()
    with contextlib.redirect_stdout(out):
        code = cli.main(["plan", str(path), "--time-limit", str(time_limit_s), "--deterministic", "--json"])
    plan_cpu = time.process_time() - started
    if code != 0:
        raise RuntimeError(f"geyser plan {path} exited {code}")
    answer = json.loads(out.getvalue())
    return {
        "ejection_cpu_s": round(ejection["cpu_s"], 2),
        "ejection_calls": ejection["calls"],
        "plan_cpu_s": round(plan_cpu, 2),
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "hosts_on": answer["hosts_on_after"],
        "watts": answer["watts_after"],
        "memory_moved_mb": answer["memory_moved_mb"],
        "placement_sha1": hashlib.sha1(json.dumps(answer["placement"], sort_keys=True).encode()).hexdigest()[:16],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_fleet_arguments(parser)
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # the child's work: one scenario
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.one, args.time_limit)), flush=True)
        return
    for size in args.sizes:
        limit = args.time_limit or TIME_LIMITS.get(size, 10.0)
        for family in args.families:
            path, hosts, instances = family_fleet(args.cache, family, size, args.seed)
            child = subprocess.run([sys.executable, __file__, "--one", str(path),
                                    "--time-limit", str(limit)], capture_output=True, text=True, check=True)
            line = {"family": family, "fleet": f"{hosts}x{instances}", "time_limit_s": limit}
            line.update(json.loads(child.stdout.splitlines()[-1]))
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
