"""The signal-blind frontier for ``follow_energy.py``: each blind point replayed once, or read back.

With ``--frontier-cache DIR`` every blind point of a day is a row of ``DIR/<day>.json`` (``Day.cache_name``)
holding its figures, its energy above each supply size measured so far and its per-step power and hosts
on. The cache is reused point by point: a cached point joins the frontier whatever else the file holds;
its energy above a supply size it was not measured at is computed from its cached power (the supply is
sized from blind geyser's energy, which the cache holds too), not replayed; only a point the file lacks,
or an old row without power that lacks a size, is replayed. Rows are merged: a run never drops a point
another run wrote (a ``--frontier small --scales 3`` run keeps the full frontier's rows at 0.5, 1 and 2).
Each file names the simulator's solve settings its points were replayed under (``solve_key``); a file
made under others (the 0.15 s steps before the limit became 1 s) is read as empty, so its points are
replayed and the file rewritten, never silently mixed with today's.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from watcher_geyser.simulator.geyser_policy import SIM_SETTINGS, SignalFeed
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


def solve_key() -> dict:
    """The simulator's solve settings blind geyser points are replayed under (``SIM_SETTINGS.solve``:
    time limit, method, workers; not the seed nor deterministic mode, which each run sets). Another
    limit makes other decisions at every step, so a cache made under other settings is stale."""
    return {k: v for k, v in asdict(SIM_SETTINGS.solve).items() if k not in ("seed", "deterministic")}


def read_rows(path: Path | None) -> dict[str, dict]:
    """Every row of a cache file, by spec: none without a file, or when the file was made under other
    solve settings than today's (``solve_key``; a file without them predates the key, made at 0.15 s)."""
    if path is None or not path.is_file():
        return {}
    data = json.loads(path.read_text())
    if data.get("solve") != solve_key():
        print(f"frontier cache {path}: made with the simulator's solve settings {data.get('solve')}, not "
              f"{solve_key()}: its points are replayed", file=sys.stderr)
        return {}
    return {row["policy"]: row for row in data["points"]}


def write_rows(path: Path, header: dict, rows: dict[str, dict]) -> None:
    """The cache file at ``path``: ``header``, today's ``solve_key`` and the rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**header, "solve": solve_key(), "points": list(rows.values())}, indent=1))


def read_cache(cache: Path | None, cache_name: str) -> dict[str, dict]:
    """Every row of the day's cache file, by spec (empty without a cache, a file or today's solve settings)."""
    return read_rows(None if cache is None else cache / cache_name)


def write_cache(cache: Path, day, rows: dict[str, dict]) -> None:
    write_rows(cache / day.cache_name, {"day": day.name, "datacenter": day.dc.name}, rows)


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
