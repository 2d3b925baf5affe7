"""Time the signal layer's simulator path: a month of clear-sky PV computed once, then one
policy decision per 5-minute step. Prints JSON.

    python bench/signal_decide.py [--days 30] [--step-s 300]
"""

from __future__ import annotations

import argparse
import json
import time

from watcher_geyser.signal import PolicyConfig, SignalPolicy, SolarSite, solar_series
from watcher_geyser.signal.series import parse_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30,
                        help="days of clear-sky PV, from 2026-06-01 (default %(default)s)")
    parser.add_argument("--step-s", type=float, default=300.0, help="seconds between decisions (default %(default)s)")
    args = parser.parse_args()
    start_s = parse_time("2026-06-01T00:00:00Z")
    end_s = start_s + args.days * 86400
    t = time.perf_counter()
    supply = solar_series(SolarSite(52.1, 5.1, peak_w=20_000), start_s, end_s, args.step_s)
    series_s = time.perf_counter() - t
    policy = SignalPolicy(PolicyConfig())
    steps = len(supply)
    t = time.perf_counter()
    changes, last = 0, None
    for k in range(steps):
        d = policy.decide(supply, start_s + k * args.step_s, 30_000)
        changes += last is not None and d.ceiling != last
        last = d.ceiling
    decide_s = time.perf_counter() - t
    print(
        json.dumps(
            {
                "days": args.days,
                "steps": steps,
                "solar_series_s": round(series_s, 3),
                "decide_us_per_call": round(decide_s / steps * 1e6, 1),
                "ceiling_changes": changes,
                "energy_kwh": round(float(supply.values.sum()) * args.step_s / 3.6e6, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
