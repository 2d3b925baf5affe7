"""bench/follow_energy.py's progress bar is honest: it ends at its total, cache or no cache.

A blind point read from ``--frontier-cache`` used to count in the total but never advance the bar,
so a run on a warm cache stopped at about 56 % (the steady blind points were never credited). Each
replay now advances exactly the days of steps ``run_days`` plans for it, and a cached point is
credited in full when it is read, its postfix saying so. The replays here are real, on a small day
(12 VMs, an hour of 5-minute samples, in daylight), so that what the engine reports is what is
counted.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tqdm")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from follow_energy import Day, bench_day, blind_specs, planned_days, run_days  # noqa: E402
from follow_steady import STEADY_DAYS  # noqa: E402

from watcher_geyser.inputs import epoch_s  # noqa: E402
from watcher_geyser.signal.solar import SolarSite  # noqa: E402
from watcher_geyser.simulator.datacenter import planetlab_small  # noqa: E402
from watcher_geyser.simulator.traces import Trace  # noqa: E402

SAMPLES = 13  # an hour of 5-minute samples: 12 decisions a day


class _Bar:
    """What the bench asks of tqdm, counted."""

    def __init__(self) -> None:
        self.n = 0
        self.postfixes: list[str] = []

    def update(self, n: int = 1) -> None:
        assert n >= 0, "the bar never goes back"
        self.n += n

    def set_description(self, text: str) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        self.postfixes.append(text)


def _day() -> Day:
    rng = np.random.default_rng(3)
    names = tuple(f"vm{i:02d}" for i in range(12))
    trace = Trace(names, rng.uniform(0.05, 0.6, (len(names), SAMPLES)), 300.0, "small test day")
    return Day("small", trace, planetlab_small(names), epoch_s("2011-03-03T10:00:00Z", "start"))


def _bench(day: Day, cache: Path) -> _Bar:
    bar = _Bar()
    bench_day(day, (), (1.0,), SolarSite(52.1, 5.1, peak_w=1000.0), None, bar, lambda row: None, True, cache,
              seeds=(0,))
    return bar


def test_the_plan_counts_each_replay_once_with_its_spill_day():
    assert run_days() == 1 and run_days(STEADY_DAYS) == STEADY_DAYS
    assert run_days(1, 0.3) == 2 and run_days(STEADY_DAYS, 0.3) == STEADY_DAYS + 1
    # 2 blind points, single and steady (2 x 3); per supply: fixed 1, deferrable 2, steady deferrable 3 per seed
    assert planned_days(2, 1, 1) == 6 + 1 + 2 + 3
    assert planned_days(2, 3, 2, fixed_only=True) == 2 + 3 * 1
    assert planned_days(2, 1, 1, deferrable_only=True) == 6 + 2 + 3
    assert len(blind_specs(("geyser:signal=off", "lr-mmt"))) == 3  # the reference is not counted twice


def test_the_bar_reaches_its_total_on_a_cold_and_on_a_warm_cache(tmp_path):
    day = _day()
    total = planned_days(len(blind_specs(())), 1, 1) * (SAMPLES - 1)
    cold = _bench(day, tmp_path)
    assert cold.n == total and "cached" not in cold.postfixes
    warm = _bench(day, tmp_path)  # every blind point, single day and steady, read back
    assert warm.n == total
    assert warm.postfixes.count("cached") == 2 * len(blind_specs(()))
