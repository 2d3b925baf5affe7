"""bench/follow_energy_plots.py draws from what the bench hands it, cached blind points included.

A blind reference read back from ``--frontier-cache`` is a ``CachedRun``: it carries per-step
power and hosts on, and its energy above each supply as a figure, not a replay's result. The
power plot once read the replay's attribute and failed on every run with a warm cache.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from follow_energy_plots import plot_power  # noqa: E402
from follow_frontier import CachedRun, CachedSeries  # noqa: E402


class _Sun:
    """A supply of 2 kW from 06:00 to 18:00, none otherwise."""

    @staticmethod
    def available_w(t_s: float) -> float:
        return 2000.0 if 6 * 3600 <= t_s % 86400 < 18 * 3600 else 0.0


def _cached(spec: str, power_w: float, hosts: int) -> CachedRun:
    time_s = [300.0 * (i + 1) for i in range(288)]
    series = CachedSeries(time_s, [power_w] * 288, [hosts] * 288)
    return CachedRun(spec, power_w * 24 / 1000, 0.01, 10, 2.0, 1.0, {"1.0": 12.0}, series)


def test_power_plot_from_a_cached_blind_reference(tmp_path):
    path = tmp_path / "power.png"
    blind, following = _cached("geyser:signal=off", 1500.0, 10), _cached("geyser", 1200.0, 8)
    plot_power(path, "20110303", blind, following, _Sun(), 300.0, (12.0, 9.6))
    assert path.stat().st_size > 10_000
