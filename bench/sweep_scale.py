"""A PlanetLab grid on a 2-worker Dask LocalCluster against the same cells one after another.

    python bench/sweep_scale.py [--traces ../shared/traces/planetlab] [--day D ...] [--policy P ...]
                                [--workers 2] [--limit N] [--fidelity cloudsim]

Every cell is one deterministic `geyser simulate` run (``--deterministic``), so the cluster's
numbers must equal the sequential run's exactly. Prints one JSON line per cell (the figures, both
wall times of the cell, whether they agree) and a last line with both sweep wall times, their
ratio and the target (cluster at most 0.6x the sequential time). The sequential run goes first;
both write to fresh temporary folders, so nothing is skipped. On a shared machine the ratio moves
with the load: quote both times, and the cores each phase actually got (its cells' CPU seconds over
its wall time).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from planetlab import default_traces  # bench/planetlab.py, beside this script

from watcher_geyser.sweep.grid import cells_from_dict
from watcher_geyser.sweep.runner import run_sweep

DAYS = ("20110303", "20110306", "20110309", "20110322", "20110325")
POLICIES = ("geyser", "thr-mmt", "lr-mmt", "dvfs")
FIGURES = ("energy_kwh", "energy_lower_bound_kwh", "migrations", "slatah", "pdm", "slav", "host_shutdowns")
TARGET_RATIO = 0.6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", type=Path, default=None, help="folder of PlanetLab days")
    parser.add_argument("--day", action="append", help=f"days (default: the five, {', '.join(DAYS)})")
    parser.add_argument("--policy", action="append", help=f"policies (default: {', '.join(POLICIES)})")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default 2)")
    parser.add_argument("--limit", type=int, help="only the first N VMs of each day (default: all)")
    parser.add_argument("--fidelity", default="cloudsim", help="accounting (default cloudsim)")
    args = parser.parse_args(argv)
    traces = (args.traces or default_traces()).resolve()
    fixed = {"traces": str(traces), "fidelity": args.fidelity, "deterministic": True}
    if args.limit:
        fixed["limit"] = args.limit
    grid = {"day": list(args.day or DAYS), "policy": list(args.policy or POLICIES)}
    cells = cells_from_dict({"fixed": fixed, "grid": grid}, traces / "grid.toml")
    print(f"{len(cells)} cells: sequential first, then {args.workers} Dask workers", file=sys.stderr)
    with tempfile.TemporaryDirectory() as seq_dir, tempfile.TemporaryDirectory() as dask_dir:
        seq = run_sweep(cells, seq_dir, local=True, plots=False)
        par = run_sweep(cells, dask_dir, workers=args.workers, plots=False)
    all_equal = True
    for cell in cells:
        a, b = seq.records[cell.key], par.records[cell.key]
        if "error" in a or "error" in b:
            print(json.dumps({"cell": cell.params, "error": a.get("error") or b.get("error")}))
            all_equal = False
            continue
        ours = {f: a["summary"][f] for f in FIGURES}
        equal = ours == {f: b["summary"][f] for f in FIGURES}
        all_equal &= equal
        print(json.dumps({"day": Path(cell.params["trace"]).name, "policy": cell.params["policy"], **ours,
                          "sequential_cell_s": round(a["seconds"], 2), "dask_cell_s": round(b["seconds"], 2),
                          "equal": equal}))
    ratio = par.wall_seconds / seq.wall_seconds
    seq_cpu, par_cpu = (sum(r.get("cpu_seconds") or 0.0 for r in run.records.values()) for run in (seq, par))
    print(json.dumps({
        "cells": len(cells), "workers": args.workers, "sequential_s": round(seq.wall_seconds, 1),
        "dask_s": round(par.wall_seconds, 1), "ratio": round(ratio, 3), "target_ratio": TARGET_RATIO,
        "ratio_met": ratio <= TARGET_RATIO, "numbers_equal": all_equal,
        # cores the run actually got (cells' CPU seconds over wall): the machine's other load shows here
        "sequential_cores_used": round(seq_cpu / seq.wall_seconds, 2),
        "dask_cores_used": round(par_cpu / par.wall_seconds, 2),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
