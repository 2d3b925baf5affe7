"""Compare our cloudsim-fidelity baselines with CloudSim 3.0.3's figures on the shared PlanetLab days.

    python bench/planetlab.py [--traces ../shared/traces/planetlab] [--day 20110303 ...] [--policy thr-mmt ...]

``--policy geyser`` adds our engine, judged against CloudSim's own lr-mmt and thr-mmt figures.
Every run goes through ``geyser simulate``'s own path (``simulate_argv``) with ``--datacenter planetlab
--fidelity cloudsim``; each row carries its ``command``, so ``geyser simulate`` reproduces it exactly
(with ``--deterministic``, to the last migration).

Prints JSON: for each day and policy our energy, migrations, SLATAH, PDM, SLAV, host shutdowns and
wall time, CloudSim's reference figures (../shared/reference/cloudsim-planetlab.md) and the ratios
ours / CloudSim. The acceptance rule: thr-mmt and lr-mmt within 5 % on energy and migrations.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from watcher_geyser.commands.simulate import simulate_argv
from watcher_geyser.simulator.baselines import BASELINES

# day -> policy -> (energy kWh, migrations, SLATAH, PDM, SLAV, host shutdowns), CloudSim 3.0.3
REFERENCE = {
    "20110303": {
        "npa": (2410.80, 0, 0, 0, 0, 455),
        "dvfs": (802.75, 0, 0, 0, 0, 455),
        "thr-mmt": (192.62, 26711, 0.04913, 0.000646, 3.176e-05, 5885),
        "lr-mmt": (163.48, 27859, 0.05858, 0.000793, 4.644e-05, 5053),
    },
    "20110306": {
        "npa": (2410.80, 0, 0, 0, 0, 544),
        "dvfs": (625.53, 0, 0, 0, 0, 544),
        "thr-mmt": (144.74, 20908, 0.05134, 0.000700, 3.596e-05, 4682),
        "lr-mmt": (123.28, 20878, 0.05882, 0.000786, 4.625e-05, 4018),
    },
    "20110309": {
        "npa": (2410.80, 0, 0, 0, 0, 584),
        "dvfs": (704.93, 0, 0, 0, 0, 584),
        "thr-mmt": (165.27, 23475, 0.05261, 0.000770, 4.052e-05, 5139),
        "lr-mmt": (142.09, 24959, 0.06550, 0.000918, 6.016e-05, 4563),
    },
    "20110322": {
        "npa": (2410.80, 0, 0, 0, 0, 386),
        "dvfs": (1011.14, 0, 0, 0, 0, 386),
        "thr-mmt": (201.70, 28902, 0.05029, 0.000608, 3.057e-05, 5950),
        "lr-mmt": (177.48, 32038, 0.06128, 0.000758, 4.644e-05, 5506),
    },
    "20110325": {
        "npa": (2410.80, 0, 0, 0, 0, 466),
        "dvfs": (789.25, 0, 0, 0, 0, 466),
        "thr-mmt": (175.24, 24883, 0.05077, 0.000665, 3.374e-05, 5449),
        "lr-mmt": (152.58, 26513, 0.06062, 0.000779, 4.723e-05, 4846),
    },
}
FIELDS = ("energy_kwh", "migrations", "slatah", "pdm", "slav", "host_shutdowns")


def default_traces() -> Path:
    """``../shared/traces/planetlab`` beside the repository (or beside the worktree's parent)."""
    root = Path(__file__).resolve().parents[1]
    for base in (root.parent, root.parent.parent):
        candidate = base / "shared" / "traces" / "planetlab"
        if candidate.is_dir():
            return candidate
    return root.parent / "shared" / "traces" / "planetlab"


def ratio(ours: float, ref: float) -> float | None:
    return ours / ref if ref else (None if ours else 1.0)


def command(traces: Path, day: str, policy: str, seed: int = 0, deterministic: bool = False) -> list[str]:
    """The ``geyser simulate`` arguments of one run: the bench replays through the command's own path."""
    argv = ["--trace", str(traces / day), "--datacenter", "planetlab", "--fidelity", "cloudsim", "--policy", policy]
    argv += ["--seed", str(seed)]
    return argv + (["--deterministic"] if deterministic else [])


def compare(traces: Path, day: str, policy: str, seed: int = 0, deterministic: bool = False) -> dict:
    argv = command(traces, day, policy, seed, deterministic)
    result = simulate_argv(argv).results[0]
    summary = result.summary()
    ours = {f: summary[f] for f in FIELDS}
    if policy == "geyser":
        return {**_geyser_row(day, result, summary, ours), "command": "geyser simulate " + " ".join(argv)}
    ref = dict(zip(FIELDS, REFERENCE[day][policy]))
    return {
        "day": day,
        "policy": policy,
        "command": "geyser simulate " + " ".join(argv),
        "vms": result.vms,
        "ours": ours,
        "cloudsim": ref,
        "ratio": {f: ratio(ours[f], ref[f]) for f in FIELDS},
        "energy_lower_bound_kwh": summary["energy_lower_bound_kwh"],
        "wall_seconds": result.wall_seconds,
        "step_seconds_mean": summary["step_seconds_mean"],
        "step_seconds_p95": summary["step_seconds_p95"],
        "step_seconds_max": summary["step_seconds_max"],
    }


def _geyser_row(day: str, result, summary: dict, ours: dict) -> dict:
    """geyser against CloudSim's own figures for its best heuristic (lr-mmt) and thr-mmt."""
    lr = dict(zip(FIELDS, REFERENCE[day]["lr-mmt"]))
    thr = dict(zip(FIELDS, REFERENCE[day]["thr-mmt"]))
    bound = summary["energy_lower_bound_kwh"]
    targets = {
        "energy_below_cloudsim_lr_mmt": ours["energy_kwh"] < lr["energy_kwh"],
        "migrations_at_most_tenth_of_thr_mmt": ours["migrations"] <= thr["migrations"] / 10,
        "slav_at_most_thr_mmt": ours["slav"] <= thr["slav"],
        "energy_within_1_3_of_bound": ours["energy_kwh"] <= 1.3 * bound,
        "day_within_30_s": result.wall_seconds <= 30,
    }
    return {
        "day": day,
        "policy": "geyser",
        "vms": result.vms,
        "ours": ours,
        "cloudsim_lr_mmt": lr,
        "cloudsim_thr_mmt": thr,
        "energy_vs_lr_mmt": ours["energy_kwh"] / lr["energy_kwh"],
        "migrations_vs_thr_mmt": ours["migrations"] / thr["migrations"],
        "slav_vs_thr_mmt": ours["slav"] / thr["slav"],
        "energy_vs_bound": ours["energy_kwh"] / bound,
        "targets": targets,
        "energy_lower_bound_kwh": bound,
        "wall_seconds": result.wall_seconds,
        "step_seconds_mean": summary["step_seconds_mean"],
        "step_seconds_p95": summary["step_seconds_p95"],
        "step_seconds_max": summary["step_seconds_max"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--traces", type=Path, default=None, help="folder of PlanetLab days (default: ../shared/traces/planetlab)"
    )
    parser.add_argument("--day", action="append", choices=sorted(REFERENCE),
                        help="a day to replay (repeatable; default: all five)")
    parser.add_argument("--policy", action="append", choices=(*BASELINES, "geyser"),
                        help=f"a policy to replay (repeatable; default: {', '.join(BASELINES)})")
    parser.add_argument("--seed", type=int, default=0, help="the solver's random seed (geyser)")
    parser.add_argument(
        "--deterministic", action="store_true", help="geyser's solver under a work limit: the same numbers every run"
    )
    args = parser.parse_args(argv)
    traces = args.traces or default_traces()
    missing = [day for day in args.day or sorted(REFERENCE) if not (traces / day).is_dir()]
    if missing:  # before any replay: a day's folder absent after an hour of replays loses the hour
        parser.error(f"no folder {traces / missing[0]}: give --traces, the folder holding the PlanetLab days "
                     f"({', '.join(sorted(REFERENCE))})")
    rows = []
    for day in args.day or sorted(REFERENCE):
        for policy in args.policy or BASELINES:
            row = compare(traces, day, policy, args.seed, args.deterministic)
            rows.append(row)
            if policy == "geyser":
                print(
                    f"{day} geyser: {row['ours']['energy_kwh']:.2f} kWh, {row['ours']['migrations']} migrations, "
                    f"targets {row['targets']}, {row['wall_seconds']:.1f} s",
                    file=sys.stderr,
                )
                continue
            ratios = row["ratio"]
            print(
                f"{day} {policy}: energy x{ratios['energy_kwh']:.4f}, migrations x{(ratios['migrations'] or 1):.4f}, "
                f"{row['wall_seconds']:.1f} s",
                file=sys.stderr,
            )
    within = all(
        abs(r["ratio"]["energy_kwh"] - 1) <= 0.05 and abs(r["ratio"]["migrations"] - 1) <= 0.05
        for r in rows
        if r["policy"] in ("thr-mmt", "lr-mmt")
    )
    geyser_rows = [r for r in rows if r["policy"] == "geyser"]
    geyser_ok = all(all(r["targets"].values()) for r in geyser_rows) if geyser_rows else None
    print(json.dumps({"within_5_percent": within, "geyser_targets_met": geyser_ok, "runs": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
