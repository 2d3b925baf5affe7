"""Where the uncovered energy and the SLATAH come from, hour by hour: geyser following a solar supply.

    python bench/follow_hours.py --day 20110325 --frontier-cache .cache/frontier
    python bench/follow_hours.py --day 20110325 --frontier-cache .cache/frontier \\
        --policy geyser --policy geyser:relaxed=0.6     # variants side by side, one replay each
    python bench/follow_hours.py --day 20110303 --frontier-cache .cache/frontier --no-blind \
        --deferrable 0.3                                 # where the deferrable run's uncovered energy goes
    python bench/follow_hours.py --day 20110303 --datacenter three-gen --by-kind \
        --frontier-cache .cache/frontier                 # which host generations stay on, and how full

Replays geyser following the supply of ``follow_energy.py`` (clear-sky solar sized to blind geyser's
daily energy x ``--scale``) once per ``--policy``, and blind geyser (``geyser:signal=off``) unless
``--no-blind``. Prints, per hour and policy, the mean supply and draw (kW), the uncovered energy
(kWh), hosts on, hosts violating the SLA (mean over the hour), their share of the hour's host-time
(SLATAH's terms) and their host-hours by cause (overload, core cap, migration: ``state.SlaCause``),
migrations and, for following, the mean
scarcity level and CPU ceiling it decided; then per policy one JSON line with its totals and, when
the day's blind points are in ``--frontier-cache`` (written by ``follow_energy.py``), its ratio to
the frontier at its SLATAH, read as ``follow_energy.py`` reads it (with ``--deferrable``, also the
VM-hours spent shelved while the supply covered the draw: deferral that bought nothing then).
``--datacenter three-gen`` (and ``--vms-per-host``) replays follow_energy's mixed fleet; ``--by-kind``
adds, per hour and per host kind, the hosts on and their mean CPU. ``--save DIR`` keeps each run's
per-step series as ``DIR/<day>_<policy>.json`` for further looks.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from follow_energy import BLIND_REFERENCE, DATACENTERS, load_day, solar_supply  # noqa: E402
from follow_frontier import read_cache  # noqa: E402
from planetlab import default_traces  # noqa: E402

from watcher_geyser.signal.solar import SolarSite  # noqa: E402
from watcher_geyser.simulator.baselines import make_policy  # noqa: E402
from watcher_geyser.simulator.deferral import DeferralSetup  # noqa: E402
from watcher_geyser.simulator.engine import simulate  # noqa: E402
from watcher_geyser.simulator.fidelity import CLOUDSIM  # noqa: E402
from watcher_geyser.simulator.frontier import frontier_at, pareto_front  # noqa: E402
from watcher_geyser.simulator.metrics import supply_at_midpoints  # noqa: E402

HOUR_S = 3600.0


def host_kinds(dc) -> list[str]:
    """Per host, a label of its kind: cores x MIPS per core, idle-full watts (one per generation)."""
    return [f"{int(c)}x{m:g} {p.idle_w:g}-{p.max_w:g}W" for c, m, p in zip(dc.pes, dc.pe_mips, dc.power)]


class KindRecorder:
    """Wraps a policy's ``decide`` to keep, at each decision step, per host kind: hosts on and their
    mean CPU (as the accounting sees them, before the step's migrations). Which hosts a policy keeps
    on at night, and how full, is what decides a mixed fleet's energy (``--by-kind``)."""

    def __init__(self, policy, dc) -> None:
        labels = host_kinds(dc)
        self.kinds = sorted(set(labels))
        self._of = np.array([self.kinds.index(k) for k in labels])
        self.times_s: list[float] = []
        self.on: list[list[int]] = []
        self.cpu: list[list[float]] = []
        self._decide = policy.decide
        policy.decide = self.decide

    def decide(self, view):
        on = view.hosts_on()
        util = view.snapshot.host_util
        self.times_s.append(view.time_s)
        self.on.append([int((on & (self._of == k)).sum()) for k in range(len(self.kinds))])
        self.cpu.append([float(util[on & (self._of == k)].mean()) if (on & (self._of == k)).any() else 0.0
                         for k in range(len(self.kinds))])
        return self._decide(view)

    def hour(self, h: int) -> dict[str, list[float]]:
        """{kind: [mean hosts on, mean CPU of those on]} over hour ``h``."""
        t = np.asarray(self.times_s)
        m = (t >= h * HOUR_S) & (t < (h + 1) * HOUR_S)
        if not m.any():
            return {}
        on, cpu = np.asarray(self.on, dtype=float)[m], np.asarray(self.cpu)[m]
        out = {}
        for k, kind in enumerate(self.kinds):
            hosts = on[:, k]
            busy = hosts > 0
            out[kind] = [float(hosts.mean()), float(cpu[busy, k].mean()) if busy.any() else 0.0]
        return out


def replay(day, spec: str, feed, deferrable: float = 0.0, by_kind: bool = False):
    """One deterministic replay of ``spec`` against ``feed`` (``deferrable``: that share of the VMs
    deferrable, deadline 24 h, as follow_energy.py draws them); (result, the policy's decisions,
    the per-kind record or None)."""
    policy = make_policy(spec)
    if hasattr(policy, "settings"):
        policy.settings = policy.settings.with_solve(deterministic=True)
    if getattr(policy, "follow_signal", False):
        policy.signal = feed
    recorder = KindRecorder(policy, day.dc) if by_kind else None
    setup = DeferralSetup.seeded(len(day.trace.names), deferrable) if deferrable else None
    result = simulate(day.trace, day.dc, policy, CLOUDSIM, feed.available_w, deferral=setup)
    return result, list(getattr(policy, "decisions", [])), recorder


def hourly(result, decisions, feed, step_s: float, recorder: KindRecorder | None = None) -> list[dict]:
    """Per hour of the replay: supply, draw, uncovered energy, hosts, hot hosts, migrations, decisions
    (and, with a ``recorder``, hosts on and their CPU per host kind)."""
    s = result.series
    t = np.asarray(s.time_s)
    power = np.asarray(s.power_w)
    supply = supply_at_midpoints(t, step_s, feed.available_w)
    uncovered_kwh = np.maximum(power - supply, 0.0) * step_s / 3.6e6
    hour = ((t - step_s / 2) // HOUR_S).astype(int)
    level = np.full(len(t), np.nan)
    ceiling = np.full(len(t), np.nan)
    at = {round(d.at_s - feed.start_s): d for d in decisions}
    for i, ti in enumerate(t):  # the decision taken at the step that opened this interval
        d = at.get(round(ti - step_s))
        if d is not None:
            level[i], ceiling[i] = d.level, d.ceiling
    rows = []
    violating = np.asarray(s.violation_host_s)
    for h in np.unique(hour):
        m = hour == h
        rows.append({
            "hour": int(h), "supply_kw": float(supply[m].mean() / 1e3), "power_kw": float(power[m].mean() / 1e3),
            "uncovered_kwh": float(uncovered_kwh[m].sum()), "hosts_on": float(np.mean(np.asarray(s.hosts_on)[m])),
            "violating_hosts": float(violating[m].sum() / (m.sum() * step_s)),
            "violation_share": float(violating[m].sum() / max(np.asarray(s.host_s)[m].sum(), 1e-9)),
            "violation_host_h": float(violating[m].sum() / HOUR_S),
            # the same violating host-hours by cause (``state.SlaCause``): they sum to ``violation_host_h``
            **{f"violation_{cause.name.lower()}_host_h": float(np.asarray(values)[m].sum() / HOUR_S)
               for cause, values in s.violation_by_cause().items()},
            "migrations": int(np.asarray(s.migrations)[m].sum()),
            "shelved": float(np.mean(np.asarray(s.vms_shelved)[m])),
            # shelved while the supply covered the draw: deferral that bought no covered hour then
            "shelved_covered_vm_h": float((np.asarray(s.vms_shelved)[m] * ((supply[m] > 0) & (supply[m] >= power[m])))
                                          .sum() * step_s / HOUR_S),
            "level": float(np.nanmean(level[m])) if np.isfinite(level[m]).any() else None,
            "ceiling": float(np.nanmean(ceiling[m])) if np.isfinite(ceiling[m]).any() else None,
            **({"by_kind": recorder.hour(int(h))} if recorder is not None else {}),
        })
    return rows


def night_by_kind(rows: list[dict]) -> dict[str, list[float]]:
    """{kind: [mean hosts on, mean CPU of those on]} over the hours without sun (hour 0 left out: the
    initial placement)."""
    night = [r["by_kind"] for r in rows if r["supply_kw"] < 0.05 and r["hour"] > 0 and r.get("by_kind")]
    out = {}
    for kind in (night[0] if night else {}):
        on = np.array([n[kind][0] for n in night])
        cpu = np.array([n[kind][1] for n in night])
        out[kind] = [float(on.mean()), float((on * cpu).sum() / on.sum()) if on.sum() > 0 else 0.0]
    return out


def by_period(rows: list[dict], trace_h: float) -> dict[str, float]:
    """Uncovered kWh per stretch of the replay: each night and each day (supply over 1 % of its peak),
    numbered from the start, and how much of it falls past the trace's end (deferred work running late)."""
    peak_kw = max((r["supply_kw"] for r in rows), default=0.0)
    periods: dict[str, float] = {}
    kind, count = None, {"night": 0, "day": 0}
    for r in rows:
        now = "day" if r["supply_kw"] > 0.01 * peak_kw else "night"
        if now != kind:
            kind = now
            count[kind] += 1
        key = f"{kind}{count[kind]}"
        periods[key] = periods.get(key, 0.0) + r["uncovered_kwh"]
    periods["past_trace_end"] = sum(r["uncovered_kwh"] for r in rows if r["hour"] >= trace_h)
    return periods


def frontier(cache: Path | None, cache_name: str, scale: float):
    """The day's blind frontier (SLATAH, uncovered kWh) from the cache file ``cache_name``, or None."""
    rows = read_cache(cache, cache_name).values()  # none from a file made under other solve settings
    points = [(r["slatah"], r["uncovered_kwh_by_supply"][str(scale)]) for r in rows
              if str(scale) in r["uncovered_kwh_by_supply"]]
    return pareto_front(points) if points else None


def print_hours(label: str, rows: list[dict]) -> None:
    print(f"# {label}", file=sys.stderr)
    kinds = list(rows[0].get("by_kind", {})) if rows else []
    print("# hour supply_kw power_kw uncovered_kwh hosts_on violating_hosts violation_share "
          "violation_host_h(ovl/cap/migr) migrations level ceiling shelved"
          + "".join(f" | {k}: on cpu" for k in kinds), file=sys.stderr)
    for r in rows:
        level = "-" if r["level"] is None else f"{r['level']:.2f}"
        ceiling = "-" if r["ceiling"] is None else f"{r['ceiling']:.2f}"
        print(f"  {r['hour']:3d} {r['supply_kw']:7.2f} {r['power_kw']:7.2f} {r['uncovered_kwh']:7.2f} "
              f"{r['hosts_on']:6.1f} {r['violating_hosts']:5.2f} {100 * r['violation_share']:5.2f}% "
              f"{r['violation_overload_host_h']:5.2f}/{r['violation_core_cap_host_h']:4.2f}/"
              f"{r['violation_migration_host_h']:4.2f} {r['migrations']:5d} "
              f"{level:>5} {ceiling:>5} {r['shelved']:7.1f}"
              + "".join(f" | {on:5.1f} {cpu:4.2f}" for on, cpu in (r.get("by_kind", {}).get(k, (0.0, 0.0))
                                                                  for k in kinds)),
              file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--day", required=True, help="a day folder name, for example 20110325")
    parser.add_argument("--traces", type=Path, help="folder of PlanetLab days (default: ../shared/traces/planetlab)")
    parser.add_argument("--policy", action="append", help="a following policy spec (repeatable; default geyser)")
    parser.add_argument("--datacenter", choices=DATACENTERS, default="planetlab",
                        help="the fleet, as in follow_energy.py (default planetlab)")
    parser.add_argument("--vms-per-host", type=float, metavar="N",
                        help="three-gen only: the depth, VMs per host (default 2)")
    parser.add_argument("--no-blind", action="store_true", help="skip blind geyser's replay")
    parser.add_argument("--scale", type=float, default=1.0, help="supply size, x blind geyser's energy (default 1)")
    parser.add_argument("--blind-kwh", type=float, help="blind geyser's daily energy (default: from the cache, "
                        "else replayed)")
    parser.add_argument("--frontier-cache", type=Path, metavar="DIR", help="follow_energy.py's cache of blind points")
    parser.add_argument("--save", type=Path, metavar="DIR", help="write each run's per-step series here")
    parser.add_argument("--quiet", action="store_true", help="no hourly tables, only the totals")
    parser.add_argument("--by-kind", action="store_true", help="per hour, hosts on and their mean CPU per host "
                        "kind (cores x MIPS, idle-full watts): which generations a policy keeps on, and how full")
    parser.add_argument("--deferrable", type=float, default=0.0, metavar="FRACTION",
                        help="that share of the VMs deferrable, deadline 24 h (0.3 is follow_energy's case; the "
                        "blind replay runs them at once); the totals then split the uncovered energy by period")
    args = parser.parse_args(argv)
    path = (args.traces or default_traces()) / args.day
    if not path.is_dir():
        print(f"follow_hours: no such day folder: {path}; see --traces", file=sys.stderr)
        return 2
    if args.vms_per_host is not None and not (args.datacenter == "three-gen" and args.vms_per_host > 0):
        print("follow_hours: --vms-per-host takes a positive number with --datacenter three-gen", file=sys.stderr)
        return 2
    three_gen = args.datacenter == "three-gen"
    day = load_day(path, args.datacenter, None, (args.vms_per_host or 2.0) if three_gen else None)
    step = day.trace.step_s
    cached = read_cache(args.frontier_cache, day.cache_name)
    blind_kwh = args.blind_kwh or cached.get(BLIND_REFERENCE, {}).get("energy_kwh")
    specs = [] if args.no_blind else [BLIND_REFERENCE]
    specs += args.policy or ["geyser"]
    if blind_kwh is None:
        blind_kwh = simulate(day.trace, day.dc, make_policy(BLIND_REFERENCE), CLOUDSIM).energy_kwh
    feed, peak_w = solar_supply(day, SolarSite(52.1, 5.1, peak_w=1000.0), args.scale * blind_kwh)
    front = frontier(args.frontier_cache, day.cache_name, args.scale)
    for spec in specs:
        result, decisions, recorder = replay(day, spec, feed, args.deferrable, args.by_kind)
        rows = hourly(result, decisions, feed, step, recorder)
        if not args.quiet:
            print_hours(spec, rows)
        reading = frontier_at(front, result.slatah) if front else None
        ratio = result.energy_above_signal_kwh / reading.cost if reading and reading.cost > 0 else None
        print(json.dumps({
            "day": args.day, "policy": spec, "supply_scale": args.scale, "supply_peak_w": peak_w,
            "uncovered_kwh": result.energy_above_signal_kwh, "slatah": result.slatah, "energy_kwh": result.energy_kwh,
            "migrations": result.migrations, "host_power_cycles_max": result.host_power_cycles_max,
            "frontier_kwh": reading.cost if reading else None, "ratio_to_frontier": ratio,
            "wall_seconds": result.wall_seconds,
            "night_uncovered_kwh": sum(r["uncovered_kwh"] for r in rows if r["supply_kw"] < 0.05),
            **({"night_by_kind": night_by_kind(rows)} if args.by_kind else {}),
            "deferred_vm_hours": result.deferred_vm_hours, "deadline_misses": result.deadline_misses,
            "deferred_vm_hours_while_covered": sum(r["shelved_covered_vm_h"] for r in rows),
            "uncovered_kwh_by_period": by_period(rows, day.trace.samples * step / HOUR_S),
        }), flush=True)
        if args.save is not None:
            args.save.mkdir(parents=True, exist_ok=True)
            safe = spec.replace(":", "_").replace(",", "_").replace("=", "-")
            (args.save / f"{args.day}_{safe}.json").write_text(json.dumps(
                {"series": result.series.as_dict(), "hours": rows,
                 "decisions": [(d.at_s - feed.start_s, d.level, d.ceiling, d.relief_margin, d.allow_power_off)
                               for d in decisions]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
