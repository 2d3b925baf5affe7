"""bench/follow_frontier.py reuses ``--frontier-cache`` point by point.

A cached blind point is never replayed for a supply size it was not measured at (its cached power
gives its energy above the new supply), a point the file lacks is replayed alone, and a run never
drops rows another run wrote. The replays here are stand-ins handed in as ``run``: what is under
test is which points get replayed and what the file keeps.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from follow_frontier import CachedRun, blind_points, solve_key, uncovered_kwh, write_rows  # noqa: E402
from follow_steady import steady_blind  # noqa: E402

from watcher_geyser.simulator.geyser_policy import SIM_SETTINGS  # noqa: E402

STEP_S = 300.0
STEPS = 288


@dataclass
class _Series:
    time_s: list
    power_w: list
    hosts_on: list


@dataclass
class _Result:
    """What the frontier reads of a replay: its figures and per-step power."""

    spec: str
    energy_kwh: float
    series: _Series
    slatah: float = 0.01
    migrations: int = 3
    host_power_cycles_max: float = 1.0
    wall_seconds: float = 2.0


@dataclass(frozen=True)
class _Trace:
    step_s: float = STEP_S


@dataclass(frozen=True)
class _Dc:
    name: str = "planetlab"


@dataclass(frozen=True)
class _Day:
    name: str = "20110303"
    trace: _Trace = _Trace()
    dc: _Dc = _Dc()
    cache_name: str = "20110303.json"


@dataclass
class _Feed:
    """A flat supply of ``watts``."""

    watts: float

    def available_w(self, t_s: float) -> float:
        return self.watts


class _Bench:
    """Counts the replays; each spec draws a flat power of its own."""

    def __init__(self) -> None:
        self.replayed: list[str] = []

    def run(self, spec: str) -> _Result:
        self.replayed.append(spec)
        watts = 1000.0 + 100.0 * len(spec)
        series = _Series([STEP_S * (i + 1) for i in range(STEPS)], [watts] * STEPS, [4] * STEPS)
        return _Result(spec, watts * STEPS * STEP_S / 3.6e6, series)

    def points(self, specs, scales, cache: Path, need_reference_series: bool = True):
        def size(energy_kwh: float) -> dict:
            return {s: (_Feed(s * energy_kwh * 3.6e6 / (STEPS * STEP_S)), 0.0) for s in scales}

        def row_of(spec, r, by_scale) -> dict:
            return {"kind": "point", "policy": spec, "energy_kwh": r.energy_kwh, "slatah": r.slatah,
                    "migrations": r.migrations, "host_power_cycles_max": r.host_power_cycles_max,
                    "wall_seconds": r.wall_seconds, "uncovered_kwh_by_supply": by_scale}

        return blind_points(_Day(), tuple(specs), "ref", self.run, size, row_of, cache, lambda row: None,
                            need_reference_series)


def _rows(cache: Path) -> dict:
    return {r["policy"]: r for r in json.loads((cache / "20110303.json").read_text())["points"]}


def test_a_cold_cache_replays_each_point_once_and_keeps_its_power(tmp_path):
    bench = _Bench()
    points, feeds = bench.points(("ref", "thr", "lr"), (1.0,), tmp_path)
    assert bench.replayed == ["ref", "thr", "lr"]
    assert set(points) == {"ref", "thr", "lr"} and set(feeds) == {1.0}
    assert all(len(row["series"]["power_w"]) == STEPS for row in _rows(tmp_path).values())


def test_a_new_supply_size_is_computed_from_the_cached_power_not_replayed(tmp_path):
    _Bench().points(("ref", "thr", "lr"), (1.0,), tmp_path)
    bench = _Bench()
    points, feeds = bench.points(("ref", "thr", "lr"), (0.5, 1.0), tmp_path)
    assert bench.replayed == []
    assert all(isinstance(p, CachedRun) for p in points.values())
    fresh = _Bench().run("thr")
    assert points["thr"].uncovered_kwh_by_supply["0.5"] == pytest.approx(
        uncovered_kwh(fresh.series, feeds[0.5][0], STEP_S))
    assert set(_rows(tmp_path)["lr"]["uncovered_kwh_by_supply"]) == {"0.5", "1.0"}  # written back


def test_only_the_points_the_cache_lacks_are_replayed_and_no_row_is_dropped(tmp_path):
    _Bench().points(("ref", "thr", "lr"), (1.0,), tmp_path)
    bench = _Bench()
    points, _ = bench.points(("ref", "npa"), (2.0,), tmp_path)
    assert bench.replayed == ["npa"]
    assert set(points) == {"ref", "thr", "lr", "npa"}  # every cached point joins the frontier
    rows = _rows(tmp_path)
    assert set(rows) == {"ref", "thr", "lr", "npa"}
    assert set(rows["npa"]["uncovered_kwh_by_supply"]) == {"2.0"}


def test_an_old_row_without_power_is_replayed_alone_and_keeps_its_earlier_sizes(tmp_path):
    _Bench().points(("ref", "thr", "lr"), (1.0,), tmp_path)
    path = tmp_path / "20110303.json"
    doc = json.loads(path.read_text())
    for row in doc["points"]:
        if row["policy"] == "thr":
            del row["series"]  # as a cache written before every point kept its power
    path.write_text(json.dumps(doc))
    bench = _Bench()
    bench.points(("ref", "thr", "lr"), (0.5,), tmp_path)
    assert bench.replayed == ["thr"]
    assert set(_rows(tmp_path)["thr"]["uncovered_kwh_by_supply"]) == {"0.5", "1.0"}


def test_a_reference_cached_without_power_is_replayed_when_the_plots_need_it(tmp_path):
    _Bench().points(("ref", "thr"), (1.0,), tmp_path)
    path = tmp_path / "20110303.json"
    doc = json.loads(path.read_text())
    del doc["points"][0]["series"]
    path.write_text(json.dumps(doc))
    assert _Bench().points(("ref", "thr"), (1.0,), tmp_path, need_reference_series=False)[0]["ref"].series is None
    bench = _Bench()
    bench.points(("ref", "thr"), (1.0,), tmp_path)
    assert bench.replayed == ["ref"]


@pytest.mark.parametrize("made_under", [None, {"time_limit_s": 0.15, "method": "decompose", "workers": 1}])
def test_a_cache_made_under_other_solve_settings_is_replayed_not_reused(tmp_path, made_under, capsys):
    """Blind geyser at another time limit makes other decisions at every step: its cached points (a file
    without the key predates it, made at 0.15 s) are replayed and the file rewritten under today's key."""
    _Bench().points(("ref", "thr", "lr"), (1.0,), tmp_path)
    path = tmp_path / "20110303.json"
    doc = json.loads(path.read_text())
    assert doc["solve"] == solve_key() and solve_key()["time_limit_s"] == SIM_SETTINGS.solve.time_limit_s
    if made_under is None:
        del doc["solve"]
    else:
        doc["solve"] = made_under
    doc["points"].append({**doc["points"][0], "policy": "stale-only"})
    path.write_text(json.dumps(doc))
    bench = _Bench()
    points, _ = bench.points(("ref", "thr", "lr"), (1.0,), tmp_path)
    assert bench.replayed == ["ref", "thr", "lr"] and "stale-only" not in points
    assert "its points are replayed" in capsys.readouterr().err
    rewritten = json.loads(path.read_text())
    assert rewritten["solve"] == solve_key() and {r["policy"] for r in rewritten["points"]} == {"ref", "thr", "lr"}
    bench = _Bench()
    bench.points(("ref", "thr", "lr"), (1.0,), tmp_path)
    assert bench.replayed == []  # today's file is reused


class _Replayed(Exception):
    """Raised by a stand-in replay: the point was not taken from the cache."""


def test_the_steady_cache_is_keyed_by_the_solve_settings_too(tmp_path):
    path = tmp_path / "20110303-steady.json"
    write_rows(path, {"day": "20110303"}, {"ref": {"policy": "ref", "uncovered_kwh_by_supply": {"1.0": 1.0}}})

    def run(spec: str):
        raise _Replayed(spec)

    assert set(steady_blind(_Day(), ("ref",), run, {1.0: _Feed(1.0)}, tmp_path, print)) == {"ref"}
    doc = json.loads(path.read_text())
    doc["solve"] = {**solve_key(), "time_limit_s": 0.15}
    path.write_text(json.dumps(doc))
    with pytest.raises(_Replayed):
        steady_blind(_Day(), ("ref",), run, {1.0: _Feed(1.0)}, tmp_path, print)
