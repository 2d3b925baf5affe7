"""Regenerate the small example inputs the README names: examples/cloud.json and examples/util.csv.

    .venv/bin/python tools/make_examples.py

cloud.json is a scenario (docs/scenario.md) of 8 mixed hosts and 40 instances; util.csv is a
day of CPU use for those instances at 30-minute steps (``time,instance,cpu_util``), a daily
wave plus noise, so `geyser simulate --trace examples/util.csv --scenario examples/cloud.json`
has something to consolidate at night and to spread out by day.
"""

from pathlib import Path

import numpy as np

from watcher_geyser.fleetgen import generate_fleet
from watcher_geyser.scenario import save_scenario

ROOT = Path(__file__).resolve().parents[1] / "examples"
STEP_S = 1800
SAMPLES = 48

fleet = generate_fleet(8, 40, mixed=True, seed=11, zones=1, server_groups=1)
save_scenario(fleet, ROOT / "cloud.json")
rng = np.random.default_rng(11)
hours = np.arange(SAMPLES) * STEP_S / 3600.0
with (ROOT / "util.csv").open("w") as out:
    out.write("time,instance,cpu_util\n")
    for inst in fleet.instances:
        base = rng.uniform(0.05, 0.4)
        wave = base + 0.3 * np.clip(np.sin((hours - 6.0) / 24.0 * 2 * np.pi), 0, None)
        util = np.clip(wave + rng.normal(0, 0.05, SAMPLES), 0.0, 1.0)
        for k, value in enumerate(util):
            out.write(f"{k * STEP_S},{inst.uuid},{value:.3f}\n")
print(f"wrote {ROOT / 'cloud.json'} and {ROOT / 'util.csv'}")
