"""What each way of reading instance CPU hides, on the PlanetLab traces: the Watcher strategy's reads
against the simulator's forecast (each VM's highest of its last ``defaults.CPU_FORECAST_WINDOW``
samples, the newest included).

At every step with an hour of history, per VM: ``peak`` (the simulator's forecast, the strategy's
``max`` over ``cpu_period_s`` = 900 s where the datasource takes the max over time, and on
Prometheus or Aetos, which do not, the strategy's own read of the samples: polled every 300 s,
``strategies/prometheus_peak.bucket_rates`` gives these three samples, at any polling phase),
``mean_15min`` (what Watcher 17's Prometheus helper answers to that read: its aggregate is across
series, so it is the mean rate over the period; the strategy reads it where its own query fails),
``hour_mean`` (the strategy's read before: the mean over 3600 s) and ``now`` (the latest sample:
the fully scarce read, and what Gnocchi answers to a mean). Per
read: its fleet-wide sum against the peak's, and the share of VM-steps whose next sample, the load
the decision has to hold until the next audit, passes the read by more than ``--points``
percentage points (a burst the read did not see coming). Prints one JSON line per day.

    .venv/bin/python bench/cpu_reads.py [--traces ../shared/traces/planetlab] [--points 10]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from watcher_geyser import defaults
from watcher_geyser.simulator.traces import read_planetlab

HOUR_SAMPLES = 3600 // defaults.CPU_SAMPLE_S


def reads(util: np.ndarray) -> dict[str, np.ndarray]:
    """Each read at every step t with an hour of samples behind it (t = 11 .. T-2, so t+1 exists): [V, steps]."""
    steps = np.arange(HOUR_SAMPLES - 1, util.shape[1] - 1)

    def back(k: int) -> np.ndarray:
        return np.stack([util[:, steps - i] for i in range(k)])

    window = defaults.CPU_FORECAST_WINDOW
    return {"peak": back(window).max(axis=0), "mean_15min": back(window).mean(axis=0),
            "hour_mean": back(HOUR_SAMPLES).mean(axis=0), "now": util[:, steps], "next": util[:, steps + 1]}


def day(folder: Path, points: float) -> dict:
    read = reads(read_planetlab(folder).util)
    nxt, peak = read.pop("next"), read["peak"]
    return {
        "day": folder.name, "vms": int(nxt.shape[0]), "steps": int(nxt.shape[1]),
        "fleet_sum_to_peak": {k: round(float(v.sum() / peak.sum()), 3) for k, v in read.items()},
        "next_sample_above_read": {k: round(float((nxt - v > points / 100).mean()), 4) for k, v in read.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=Path, default=Path("../shared/traces/planetlab"),
                        help="folder of PlanetLab day folders (default: %(default)s)")
    parser.add_argument("--points", type=float, default=10.0,
                        help="percentage points by which the next sample must pass a read to count "
                        "(default: %(default)s)")
    args = parser.parse_args()
    days = sorted(p for p in args.traces.iterdir() if p.is_dir())
    if not days:
        parser.error(f"no day folders in {args.traces}: point --traces at the PlanetLab folder")
    for folder in days:
        print(json.dumps(day(folder, args.points)), flush=True)


if __name__ == "__main__":
    main()
