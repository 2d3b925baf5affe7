"""The steady state for ``follow_energy.py``: the day replayed twice back to back, blind and following.

Why: deferred work spills past its day. In a steady state (every day like this one, the sun
included) yesterday's spill meets today's work on the same fleet; ``geyser simulate --repeat-day 2``
replays exactly that, and its second day's window (``RunResult.last_day``) is the figure. The
frontier it is held against is measured the same way: each blind point's second day of a
two-day replay (blind policies never defer, but a second day starts from the first day's end,
not from a cold initial placement, and is a whole 24 h where the single day stops at the
trace's last sample), cached beside the single-day frontier in ``DIR/<day>-steady.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from follow_frontier import read_rows, write_rows

from watcher_geyser.simulator.frontier import frontier_at, pareto_front
from watcher_geyser.simulator.metrics import supply_at_midpoints, window_figures

#: With a 24 h deferral deadline the second day holds the first day's spill and its own work (its
#: own spill, which a third day would replace, lies past it).
STEADY_DAYS = 2


def last_day_uncovered_kwh(result, feed, step_s: float) -> float:
    """Energy above ``feed``'s supply in ``result``'s last day (a blind run replayed without a supply)."""
    last = result.last_day()
    supplied = replace(result.series, available_w=list(supply_at_midpoints(result.series.time_s, step_s,
                                                                           feed.available_w)))
    return window_figures(supplied, step_s, last.start_s, last.end_s).above_supply_kwh


def steady_blind(day, specs, run: Callable, feeds: dict, cache: Path | None, emit,
                 cached: Callable[[str], None] | None = None) -> dict[str, dict]:
    """Each blind point's last day of a ``STEADY_DAYS`` replay (``run(spec)`` replays it): SLATAH,
    energy, migrations and energy above each supply of ``feeds`` (scale -> steady feed), by spec;
    a point is read from ``cache`` when its row holds every supply, else replayed and written there
    (its row's earlier supplies kept). Every cached point usable at every supply is returned;
    ``cached(spec)`` is called for each point of ``specs`` read from the cache (the progress bar
    credits it as it would a replay)."""
    path = None if cache is None else cache / day.cache_name.replace(".json", "-steady.json")
    rows = read_rows(path)  # every row of the file, kept when rewritten: a run never drops a point another run wrote
    usable = [spec for spec, r in rows.items() if all(str(s) in r["uncovered_kwh_by_supply"] for s in feeds)]
    fresh = [spec for spec in specs if spec not in usable]
    for spec in specs:
        if spec in usable and cached is not None:
            cached(spec)
    for spec in fresh:
        before = rows.get(spec, {}).get("uncovered_kwh_by_supply", {})  # sizes measured before, kept
        result = run(spec)
        last = result.last_day()
        rows[spec] = {"kind": "point", "day": day.name, "policy": spec, "signal": "off", "repeat_days": STEADY_DAYS,
                      "slatah": last.slatah, "energy_kwh": last.energy_kwh, "migrations": last.migrations,
                      "power_cycles_max": last.power_cycles_max, "wall_seconds": result.wall_seconds,
                      "uncovered_kwh_by_supply": {str(scale): last_day_uncovered_kwh(result, feed, day.trace.step_s)
                                                  for scale, feed in feeds.items()}}
        emit(rows[spec])
        rows[spec]["uncovered_kwh_by_supply"] = {**before, **rows[spec]["uncovered_kwh_by_supply"]}
    if path is not None and fresh:
        write_rows(path, {"day": day.name, "repeat_days": STEADY_DAYS}, rows)
    return {spec: rows[spec] for spec in [*usable, *fresh]}


def steady_front(rows: dict[str, dict], scale: float) -> list:
    """The steady frontier at one supply: uncovered energy against SLATAH over the blind points' last days."""
    return pareto_front([(r["slatah"], r["uncovered_kwh_by_supply"][str(scale)]) for r in rows.values()])


def steady_figures(steady, front: list, single_front: list, ratio: Callable) -> dict:
    """The following run's last day against the steady frontier (and, beside it, the single-day one)."""
    last = steady.last_day()
    r, why = ratio(last.above_supply_kwh, last.slatah, front)
    single, _ = ratio(last.above_supply_kwh, last.slatah, single_front)
    out = {"deferrable_uncovered_steady_kwh": last.above_supply_kwh, "deferrable_ratio_steady": r,
           "deferrable_ratio_steady_not_meaningful": why, "deferrable_ratio_steady_single_day_frontier": single,
           "deferrable_slatah_steady": last.slatah, "steady_reading": frontier_at(front, last.slatah).where,
           "steady_frontier": front, "steady_energy_kwh": last.energy_kwh, "steady_migrations": last.migrations,
           "steady_deferred_vm_hours": last.deferred_vm_hours, "steady_power_cycles_max": last.power_cycles_max,
           "steady_deadline_misses": steady.deadline_misses, "steady_wall_seconds": steady.wall_seconds}
    return out


def deferrable_figures(d, steady, front: list, s_front: list | None, folded_kwh: float, spill_kwh: float,
                       ratio: Callable) -> dict:
    """The 30 % deferrable point three ways, each against a frontier at its own SLATAH (``ratio(kwh,
    slatah, front) -> (ratio or None, why not)``). The headline (``deferrable_ratio_to_frontier``,
    ``deferrable_uncovered_kwh``) is the steady state when it was replayed: the last day of
    ``steady`` (the day twice back to back), which holds yesterday's spill and today's work on one
    fleet, against the steady frontier ``s_front``. Beside it the single day ``d`` folded onto itself
    (``folded_kwh``: the steady state's earlier stand-in, two fleets summed, so twice the idle power
    and no contention) and as replayed (its spill meets a sunny day no other work claims), against
    the single-day frontier ``front``."""
    folded_ratio, folded_why = ratio(folded_kwh, d.slatah, front)
    replayed_ratio, _ = ratio(d.energy_above_signal_kwh, d.slatah, front)
    out = {"deferrable_uncovered_folded_kwh": folded_kwh, "deferrable_ratio_folded": folded_ratio,
           "deferrable_uncovered_as_replayed_kwh": d.energy_above_signal_kwh,
           "deferrable_ratio_as_replayed": replayed_ratio, "deferrable_slatah_single_day": d.slatah,
           "deferrable_spill_kwh": spill_kwh, "deferred_vm_hours_single_day": d.deferred_vm_hours}
    headline = {"deferrable_headline": "folded", "deferrable_uncovered_kwh": folded_kwh,
                "deferrable_ratio_to_frontier": folded_ratio, "deferrable_ratio_not_meaningful": folded_why,
                "deferrable_slatah": d.slatah, "deferrable_reading": frontier_at(front, d.slatah).where,
                "deferred_vm_hours": d.deferred_vm_hours, "deadline_misses": d.deadline_misses,
                "deadline_missed": list(d.deadline_missed)}
    if steady is not None:
        last = steady.last_day()
        out.update(steady_figures(steady, s_front, front, ratio))
        headline = {"deferrable_headline": "steady", "deferrable_uncovered_kwh": last.above_supply_kwh,
                    "deferrable_ratio_to_frontier": out["deferrable_ratio_steady"],
                    "deferrable_ratio_not_meaningful": out["deferrable_ratio_steady_not_meaningful"],
                    "deferrable_slatah": last.slatah, "deferrable_reading": out["steady_reading"],
                    "deferred_vm_hours": last.deferred_vm_hours,  # in the steady day's window
                    "deadline_misses": steady.deadline_misses,  # over the whole replay
                    "deadline_missed": list(steady.deadline_missed)}
    return {**headline, **out}
