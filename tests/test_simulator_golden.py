"""Golden replays: the bundled sample under every baseline, both fidelities, against stored figures.

Any change to the engine's accounting shows up here. When a change is intended, regenerate with
``GEYSER_REGEN_GOLDEN=1 python -m pytest tests/test_simulator_golden.py`` and explain the new
figures in the commit message (and re-run ``bench/planetlab.py``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from watcher_geyser.commands.simulate import bundled_sample
from watcher_geyser.simulator.baselines import BASELINES, make_policy
from watcher_geyser.simulator.datacenter import planetlab_small
from watcher_geyser.simulator.engine import simulate
from watcher_geyser.simulator.fidelity import FIDELITIES
from watcher_geyser.simulator.traces import read_planetlab

GOLDEN = Path(__file__).parent / "golden" / "simulator_sample.json"
FIELDS = ("energy_kwh", "energy_lower_bound_kwh", "migrations", "slatah", "pdm", "host_shutdowns",
          "host_power_ons", "host_power_offs")


def replay_all() -> dict:
    trace = read_planetlab(bundled_sample())
    dc = planetlab_small(trace.names)
    figures = {}
    for fid_name, fid in sorted(FIDELITIES.items()):
        for policy in BASELINES:
            summary = simulate(trace, dc, make_policy(policy), fid).summary()
            figures[f"{fid_name}/{policy}"] = {f: summary[f] for f in FIELDS}
    return figures


def test_sample_replays_match_golden_figures():
    figures = replay_all()
    if os.environ.get("GEYSER_REGEN_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert sorted(figures) == sorted(golden)
    for run, expected in golden.items():
        for field, value in expected.items():
            assert figures[run][field] == pytest.approx(value, rel=1e-9, abs=1e-12), f"{run} {field}"
