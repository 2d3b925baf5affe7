"""Our cloudsim-fidelity baselines against CloudSim 3.0.3's figures (shared/reference/cloudsim-planetlab.md).

The full five-day comparison is ``bench/planetlab.py``; this test replays one day (about 5 s).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from watcher_geyser.simulator.baselines import make_policy
from watcher_geyser.simulator.datacenter import planetlab
from watcher_geyser.simulator.engine import simulate
from watcher_geyser.simulator.fidelity import CLOUDSIM
from watcher_geyser.simulator.traces import read_planetlab

ROOT = Path(__file__).resolve().parents[1]
DAY = "20110306"
# CloudSim 3.0.3 on 20110306: energy kWh, migrations (THR-MMT-0.8); DVFS energy
THR_MMT = (144.74, 20908)
DVFS_KWH = 625.53


def _day() -> Path:
    for base in (ROOT.parent, ROOT.parent.parent):
        folder = base / "shared" / "traces" / "planetlab" / DAY
        if folder.is_dir():
            return folder
    pytest.skip(f"PlanetLab traces not found beside the repository ({DAY})")


def test_thr_mmt_within_five_percent_of_cloudsim():
    trace = read_planetlab(_day())
    result = simulate(trace, planetlab(trace.names), make_policy("thr-mmt"), CLOUDSIM)
    assert result.energy_kwh == pytest.approx(THR_MMT[0], rel=0.05)
    assert result.migrations == pytest.approx(THR_MMT[1], rel=0.05)


def test_dvfs_matches_cloudsim_exactly():
    trace = read_planetlab(_day())
    result = simulate(trace, planetlab(trace.names), make_policy("dvfs"), CLOUDSIM)
    assert result.energy_kwh == pytest.approx(DVFS_KWH, abs=0.005)
    assert result.host_shutdowns == 544
