"""How long does a PlanetLab day take to replay, per policy, and what does the speed cost in quality?

    python bench/day_speed.py                                   # every bundled day, geyser's three runs and thr-mmt
    python bench/day_speed.py --day 20110303 --mode blind       # one day, geyser without a signal and thr-mmt
    python bench/day_speed.py --baseline /tmp/main-src          # the same runs with other code, side by side

Per day (800 hosts, cloudsim fidelity) the runs are: ``blind`` (geyser without a signal, and
thr-mmt beside it), ``solar`` (geyser following a clear-sky solar supply whose energy over the
day equals blind geyser's, as ``bench/follow_energy.py`` sizes it) and ``deferrable`` (the same
supply, 30 % of the VMs deferrable). One JSON line per run: energy (and energy above the supply
with a signal), migrations, SLATAH, SLAV, wall seconds and CPU seconds (the process's, every
thread counted: the machine is shared, so wall time follows its load and CPU time is the
steadier figure), and the issue's 60 s target. Without ``--deterministic`` the solver stops on
the wall clock, so on a loaded machine quality moves with the load too: compare code side by
side, and use ``--deterministic`` for quality alone.

``--baseline SRC`` (a folder holding another version's ``watcher_geyser`` package, for example a
``git worktree`` of main) runs every day twice in turn, once with that code and once with this
checkout's, each in its own process (``PYTHONPATH``), so both see the same load; each line says
which (``"code"``), and one ``"kind": "compare"`` line per day and run gives the ratios
(this / baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from follow_energy import DEFERRABLE_SHARE, load_day, solar_supply  # noqa: E402
from planetlab import default_traces  # noqa: E402

MODES = ("blind", "solar", "deferrable")
TARGET_WALL_S = 60.0
FIGURES = ("energy_kwh", "migrations", "slatah", "slav", "wall_seconds", "cpu_seconds")


def run_day(path: Path, modes: tuple[str, ...], deterministic: bool, code: str, emit) -> None:
    """Replay one day under every mode asked for; one JSON line per run."""
    from watcher_geyser.signal.solar import SolarSite
    from watcher_geyser.simulator.baselines import make_policy
    from watcher_geyser.simulator.engine import simulate
    from watcher_geyser.simulator.fidelity import CLOUDSIM

    day = load_day(path, "planetlab", None)

    def replay(spec: str, mode: str, feed=None, deferrable: float = 0.0):
        policy = make_policy(spec)
        if deterministic and hasattr(policy, "settings"):
            policy.settings = policy.settings.with_solve(deterministic=True)
        if feed is not None:
            policy.signal = feed
        kwargs = {}
        if deferrable:
            from watcher_geyser.simulator.deferral import DeferralSetup

            kwargs["deferral"] = DeferralSetup.seeded(len(day.trace.names), deferrable)
        supply = feed.available_w if feed is not None else None
        cpu = time.process_time()
        result = simulate(day.trace, day.dc, policy, CLOUDSIM, supply, None, **kwargs)
        cpu_s = time.process_time() - cpu
        s = result.summary()
        emit({
            "kind": "run", "code": code, "day": path.name, "mode": mode, "policy": spec,
            **{k: s[k] for k in ("energy_kwh", "energy_above_signal_kwh", "migrations", "slatah", "slav",
                                 "wall_seconds")},
            "cpu_seconds": cpu_s, "step_seconds_mean": s["step_seconds_mean"],
            "within_60_s": s["wall_seconds"] <= TARGET_WALL_S,
        })
        return result

    blind = replay("geyser", "blind")
    if "blind" in modes:
        replay("thr-mmt", "blind")
    if "solar" in modes or "deferrable" in modes:
        feed, _ = solar_supply(day, SolarSite(52.1, 5.1, peak_w=1000.0), blind.energy_kwh)
        if "solar" in modes:
            replay("geyser", "solar", feed)
        if "deferrable" in modes:
            replay("geyser", "deferrable", feed, DEFERRABLE_SHARE)


def compare(days: list[Path], args, baseline: Path, emit) -> None:
    """Each day with the baseline's code, then with ours, in child processes; ratio lines."""
    ours = Path(__file__).resolve().parents[1]
    for path in days:
        rows: dict[str, list[dict]] = {}
        for code, src in (("baseline", baseline), ("this", ours)):
            argv = [sys.executable, __file__, "--traces", str(path.parent), "--day", path.name, "--code", code]
            argv += [x for m in args.mode or MODES for x in ("--mode", m)]
            argv += ["--deterministic"] if args.deterministic else []
            env = {**os.environ, "PYTHONPATH": str(src)}
            out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout
            rows[code] = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
            for row in rows[code]:
                emit(row)
        for before, after in zip(rows["baseline"], rows["this"]):
            emit({
                "kind": "compare", "day": path.name, "mode": before["mode"], "policy": before["policy"],
                **{f"{k}_ratio": (after[k] / before[k] if before[k] else None) for k in FIGURES},
            })


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", type=Path, help="folder of PlanetLab days (default: ../shared/traces/planetlab)")
    parser.add_argument("--day", action="append", help="a day folder name (repeatable; default: every day)")
    parser.add_argument("--mode", action="append", choices=MODES, help="runs per day (repeatable; default: all three)")
    parser.add_argument("--deterministic", action="store_true", help="geyser's solver under a work limit")
    parser.add_argument("--baseline", type=Path, help="folder holding another version's watcher_geyser package")
    parser.add_argument("--code", default="this", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    traces = args.traces or default_traces()
    days = [traces / n for n in (args.day or sorted(p.name for p in traces.iterdir() if p.is_dir()))]
    missing = [str(p) for p in days if not p.is_dir()]
    if missing:
        print(f"day_speed: no such day folder: {', '.join(missing)}; see --traces", file=sys.stderr)
        return 2
    if args.baseline is not None and not (args.baseline / "watcher_geyser").is_dir():
        print(f"day_speed: {args.baseline} holds no watcher_geyser package; give a checkout's root", file=sys.stderr)
        return 2

    def emit(row: dict) -> None:
        print(json.dumps(row), flush=True)

    if args.baseline is not None:
        compare(days, args, args.baseline, emit)
        return 0
    for path in days:
        run_day(path, tuple(args.mode or MODES), args.deterministic, args.code, emit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
