"""The summaries of ``follow_energy.py``: geyser following a supply read against the blind frontier.

One summary per day and supply size: geyser's energy above the supply against the frontier's at its
SLATAH (or why that ratio means nothing there), the floor no fixed workload gets under, the
correlation of the supply with the hosts geyser keeps on beyond blind, the 30 % deferrable case
(``follow_steady.deferrable_figures``) and the issue's targets, each met, missed or not measured.
"""

from __future__ import annotations

import numpy as np
from follow_steady import deferrable_figures

from watcher_geyser.simulator.frontier import FrontierReading, correlation, frontier_at
from watcher_geyser.simulator.metrics import day_folded_above_supply_kwh, energy_above_supply_kwh

#: Under this share of the day's energy the frontier's uncovered energy is ~0 and no ratio is meaningful.
NEGLIGIBLE_SHARE = 0.01
#: The deferrable case: this share of the VMs may be deferred (deadline 24 h).
DEFERRABLE_SHARE = 0.3
TARGETS = {
    "fixed_below_frontier": 0.08,  # uncovered at least 8 % under the frontier at equal SLATAH
    "correlation": 0.5,
    "deferrable_below_frontier": 0.30,
    "migrations_vs_thr_mmt": 0.15,
    "power_cycles_per_host_day": 2.0,
    "wall_seconds_per_policy": 60.0,
}


def folded_uncovered_kwh(result, day) -> float:
    """The run's energy above the supply with any replay past the day (deferred work) folded onto it
    (``metrics.day_folded_above_supply_kwh``): the work that spills into tomorrow meets tomorrow's
    workload, not a supply nobody else claims. Equal to the replay's own figure for a run that ends
    with its day."""
    s = result.series
    return day_folded_above_supply_kwh(s.time_s, s.power_w, s.available_w, day.trace.step_s,
                                       day.trace.samples * day.trace.step_s)


def spill_kwh(result, day) -> float:
    """Energy the run drew after the trace's end (deferred work finishing)."""
    s = result.series
    after = np.asarray(s.time_s) > day.trace.samples * day.trace.step_s
    return float(np.asarray(s.power_w)[after].sum() * day.trace.step_s / 3.6e6)


def ratio_to_frontier(uncovered_kwh: float, slatah: float, front: list,
                      day_kwh: float) -> tuple[float | None, str | None]:
    """(geyser's uncovered energy / the frontier's at its SLATAH, None) when that ratio means something;
    (None, why not) when it does not: the frontier's uncovered energy there is ~0 (under
    ``NEGLIGIBLE_SHARE`` of the day's energy), or geyser's SLATAH is beyond every blind point's (the
    frontier there is unknown; its rightmost point would flatter geyser)."""
    reading: FrontierReading = frontier_at(front, slatah)
    if reading.where == "above":
        rightmost = front[-1]
        return None, (f"not meaningful: SLATAH {slatah:.4f} is beyond the frontier's rightmost blind point "
                      f"({rightmost[0]:.4f}); against it the ratio would read "
                      f"{uncovered_kwh / rightmost[1]:.3f}, which flatters geyser" if rightmost[1] > 0 else
                      f"not meaningful: SLATAH {slatah:.4f} is beyond the frontier's rightmost blind point")
    if reading.cost < NEGLIGIBLE_SHARE * day_kwh:
        return None, (f"not meaningful: the frontier leaves {reading.cost:.3g} kWh uncovered at SLATAH {slatah:.4f} "
                      f"(under {NEGLIGIBLE_SHARE:.0%} of the day's {day_kwh:.1f} kWh): the supply covers the "
                      f"blind fleet already; geyser leaves {uncovered_kwh:.3g} kWh")
    return uncovered_kwh / reading.cost, None


def summarise(day, scale, peak_w, following, reference, thr, blind, front, skip_note, steady=None,
              s_front=None) -> dict:
    fixed = following.get(0.0)
    reading = frontier_at(front, fixed.slatah) if fixed is not None else None
    ratio, why_not = (None, None) if fixed is None else ratio_to_frontier(
        fixed.energy_above_signal_kwh, fixed.slatah, front, reference.energy_kwh)
    corr = None
    if fixed is not None and reference.series is not None:
        corr = correlation(fixed.series.available_w, np.subtract(fixed.series.hosts_on, reference.series.hosts_on))
    floor = None  # energy above the supply of the simulator's power lower bound: the fixed workload's floor
    if fixed is not None:
        floor = energy_above_supply_kwh(fixed.series.power_lower_bound_w, fixed.series.available_w, day.trace.step_s)
    every = [*blind.values(), *following.values()]
    cycles = max(r.host_power_cycles_max for r in (reference, *following.values()))  # geyser's; every point has its own
    met = {
        "blind_slatah_at_most_thr_mmt": reference.slatah <= thr.slatah,
        "blind_migrations_at_most_0_15_thr_mmt": reference.migrations
        <= TARGETS["migrations_vs_thr_mmt"] * thr.migrations,
        "geyser_power_cycles_at_most_2": cycles <= TARGETS["power_cycles_per_host_day"],
        "day_within_60_s_per_policy": max(r.wall_seconds for r in every) <= TARGETS["wall_seconds_per_policy"],
    }
    if fixed is not None:
        # None: not measured (the ratio means nothing here; ``ratio_not_meaningful`` says why)
        met["fixed_8pct_below_frontier"] = None if ratio is None else ratio <= 1 - TARGETS["fixed_below_frontier"]
        met["correlation_at_least_0_5"] = corr is not None and corr >= TARGETS["correlation"]
    row = {
        "kind": "summary", "day": day.name, "datacenter": day.dc.name, "supply_scale": scale, "supply_peak_w": peak_w,
        "supply_kwh": scale * reference.energy_kwh,
        "geyser_uncovered_kwh": fixed.energy_above_signal_kwh if fixed else None,
        "geyser_slatah": fixed.slatah if fixed else None,
        "frontier_uncovered_kwh_at_geyser_slatah": reading.cost if reading else None,
        "frontier_reading": reading.where if reading else None,
        "ratio_to_frontier": ratio, "ratio_not_meaningful": why_not,
        "floor_uncovered_kwh": floor,
        "floor_ratio_to_frontier": floor / reading.cost if floor is not None and reading.cost > 0 else None,
        "correlation_supply_vs_hosts_on_difference": corr,
        "blind_slatah": reference.slatah, "thr_mmt_slatah": thr.slatah,
        "blind_migrations_vs_thr_mmt": reference.migrations / thr.migrations if thr.migrations else None,
        "geyser_power_cycles_max": cycles, "wall_seconds_max": max(r.wall_seconds for r in every),
        "frontier": front,
    }
    if DEFERRABLE_SHARE in following:
        d = following[DEFERRABLE_SHARE]
        row.update(deferrable_figures(d, steady, front, s_front, folded_uncovered_kwh(d, day), spill_kwh(d, day),
                                      lambda kwh, slatah, f: ratio_to_frontier(kwh, slatah, f, reference.energy_kwh)))
        d_ratio = row["deferrable_ratio_to_frontier"]
        met["deferrable_30pct_below_frontier"] = None if d_ratio is None else d_ratio <= 1 - TARGETS[
            "deferrable_below_frontier"]
        met["no_deadline_misses"] = row["deadline_misses"] == 0
    else:
        row["deferrable"] = skip_note
    if reading is not None and reading.where == "below":
        row["note"] = ("geyser's SLATAH is under every blind point's: the frontier is read at its leftmost point, "
                       "which is conservative (the true frontier there costs at least that)")
    row["targets_met"] = met
    return row


def overall_met(verdicts: list[bool | None]) -> bool | None:
    """False if any day and supply missed the target, else None if any could not measure it, else True."""
    if any(v is False for v in verdicts):
        return False
    return None if any(v is None for v in verdicts) else True
