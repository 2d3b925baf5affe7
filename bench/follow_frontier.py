"""The signal-blind frontier for ``follow_energy.py``: each blind point replayed once, or read back.

With ``--frontier-cache DIR`` every blind point of a day is a row of ``DIR/<day>.json`` (``Day.cache_name``)
holding its figures, its energy above each supply size measured so far and its per-step power and hosts
on. The cache is reused point by point: a cached point joins the frontier whatever else the file holds;
its energy above a supply size it was not measured at is computed from its cached power (the supply is
sized from blind geyser's energy, which the cache holds too), not replayed; only a point the file lacks,
or an old row without power that lacks a size, is replayed. Rows are merged: a run never drops a point
another run wrote (a ``--frontier small --scales 3`` run keeps the full frontier's rows at 0.5, 1 and 2).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watcher_geyser.simulator.geyser_policy import SignalFeed
from watcher_geyser.simulator.metrics import energy_above_supply_kwh, supply_at_midpoints


@dataclass
class CachedSeries:
    """A blind point's per-step figures kept in the cache: its energy above any supply, the hosts-on
    correlation and the power plot read them, so a cached point gives all three without a replay."""

    time_s: list[float]
    power_w: list[float]
    hosts_on: list[int]

    @classmethod
    def of(cls, series) -> dict:
        return {"time_s": list(series.time_s), "power_w": list(series.power_w), "hosts_on": list(series.hosts_on)}


@dataclass
class CachedRun:
    """A blind point read back from ``--frontier-cache``: the figures the summary and plots read."""

    spec: str
    energy_kwh: float
    slatah: float
    migrations: int
    host_power_cycles_max: float
    wall_seconds: float
    uncovered_kwh_by_supply: dict[str, float]
    series: CachedSeries | None = None

    @classmethod
    def from_row(cls, row: dict) -> CachedRun:
        series = CachedSeries(**row["series"]) if row.get("series") else None
        return cls(row["policy"], row["energy_kwh"], row["slatah"], row["migrations"], row["host_power_cycles_max"],
                   row["wall_seconds"], row["uncovered_kwh_by_supply"], series)


def uncovered_kwh(series, feed: SignalFeed, step_s: float) -> float:
    """Energy (kWh) of ``series``' per-step power above ``feed``'s supply, as the simulator accounts it."""
    supply = supply_at_midpoints(series.time_s, step_s, feed.available_w)
    return energy_above_supply_kwh(series.power_w, supply, step_s)


def read_cache(cache: Path | None, cache_name: str) -> dict[str, dict]:
    """Every row of the day's cache file, by spec (empty without a cache or a file)."""
    path = None if cache is None else cache / cache_name
    if path is None or not path.is_file():
        return {}
    return {row["policy"]: row for row in json.loads(path.read_text())["points"]}


def write_cache(cache: Path, day, rows: dict[str, dict]) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    (cache / day.cache_name).write_text(json.dumps({"day": day.name, "datacenter": day.dc.name,
                                                    "points": list(rows.values())}, indent=1))


def complete(row: dict, feeds: dict[float, SignalFeed], step_s: float) -> bool:
    """Fill in ``row``'s energy above each supply of ``feeds`` (scale -> feed) it lacks, from its cached
    power; True when it changed. A row without power is left as it is."""
    have = row["uncovered_kwh_by_supply"]
    missing = [scale for scale in feeds if str(scale) not in have]
    if not missing or not row.get("series"):
        return False
    series = CachedSeries(**row["series"])
    have.update({str(scale): uncovered_kwh(series, feeds[scale], step_s) for scale in missing})
    return True


def blind_points(day, specs: tuple[str, ...], reference_spec: str, run: Callable, size_feeds: Callable,
                 row_of: Callable, cache: Path | None, emit, need_reference_series: bool = True,
                 cached: Callable[[str], None] | None = None):
    """The frontier's points and the supplies: ``(points by spec, feeds)``.

    ``run(spec)`` replays a blind point; ``size_feeds(reference energy kWh)`` gives the supplies (scale ->
    feed); ``row_of(spec, result, uncovered by supply)`` is a fresh point's row, printed with ``emit``. The
    reference (``reference_spec``) comes first: the supplies are sized from its energy. Every cached point
    usable at every supply joins the frontier, asked for or not; the cache file is rewritten when a point
    was replayed or completed. ``cached(spec)`` is called for each point of ``specs`` read from the cache
    instead of replayed (the progress bar credits it), so each is either run or said cached, once."""
    step = day.trace.step_s
    rows = read_cache(cache, day.cache_name)
    reference_row = rows.get(reference_spec)
    fresh: dict[str, object] = {}
    if reference_row is None or (need_reference_series and not reference_row.get("series")):
        # an absent reference, or one cached before the cache kept its series (the correlation and the power
        # plot need it): replayed (deterministic, the same figures)
        fresh[reference_spec] = run(reference_spec)
        energy_kwh = fresh[reference_spec].energy_kwh
    else:
        energy_kwh = reference_row["energy_kwh"]
    feeds = size_feeds(energy_kwh)
    plain = {scale: feed for scale, (feed, _) in feeds.items()}
    changed = any([complete(row, plain, step) for row in rows.values()])
    usable = [spec for spec, row in rows.items()
              if spec not in fresh and all(str(s) in row["uncovered_kwh_by_supply"] for s in plain)]
    for spec in specs:
        if spec not in usable and spec not in fresh:
            fresh[spec] = run(spec)
        elif spec not in fresh and cached is not None:
            cached(spec)
    for spec, result in fresh.items():
        by_scale = {str(scale): uncovered_kwh(result.series, feed, step) for scale, feed in plain.items()}
        row = row_of(spec, result, by_scale)
        emit(row)
        measured_before = rows.get(spec, {}).get("uncovered_kwh_by_supply", {})  # kept: sizes not asked for now
        rows[spec] = {**row, "uncovered_kwh_by_supply": {**measured_before, **by_scale},
                      "series": CachedSeries.of(result.series)}
    points = {spec: CachedRun.from_row(rows[spec]) for spec in usable}
    points.update(fresh)
    if cache is not None and (fresh or changed):
        write_cache(cache, day, rows)
    return points, feeds
