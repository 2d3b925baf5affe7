"""geyser_consolidation against Watcher's own vm_workload_consolidation, side by side.

    python bench/vs_watcher.py                     # the default cases (below), about 3 minutes
    python bench/vs_watcher.py --all               # every size x loose/tight x identical/mixed, ~10 minutes
    python bench/vs_watcher.py --sizes 100x2000 --tightness tight --kinds mixed
    python bench/vs_watcher.py --sizes 113x15800 --time-limit 2 --seed 3
    python bench/vs_watcher.py --families deep generations zones tight identical   # issue 14's families

Both strategies are loaded by Watcher's strategy loader (their ``watcher_strategies``
entry points) and run by their own ``execute()`` on the same Watcher compute model, built
from a ``fleetgen`` fleet (``watcher_geyser.strategies.model_builder``), with the fleet's
measured CPU served by one datasource at Watcher's datasource seam
(``watcher_geyser.strategies.offline``). Nothing of Watcher's strategy is re-implemented;
our strategy gets each host's power model through ``[geyser_power] host_models``.

Each case prints one JSON line: the fleet (hosts, instances, allocation, the lower bounds
on hosts and watts), then for each strategy (``vwc``, ``geyser``) hosts on after, released
hosts, migrations, memory moved (and the least memory any answer with that many hosts on
must move), watts after under the fleet's power models (``Fleet.watts``: occupied hosts
on, empty hosts off, for both), the wall time of ``execute()`` (and of its phases:
Watcher 17's own ``pre_execute`` and ``post_execute`` render the whole model as XML for a
debug line, and its solution checks each new action against all earlier ones, which
weighs at 16,000 instances), hosts left over capacity
or with RAM or disk full, server-group rules broken, and ``overloaded_migrations``:
migrations whose destination is over its capacity (vcpu, RAM, disk under the allocation
ratios, or measured CPU over the host's cores) at the worst moment of the step they run
in, both ends charged, as Watcher would run them: VWC's actions grouped by Watcher's
``weight`` planner (migrations two at a time), ours by the waves of our ``geyser``
planner, both judged by ``watcher_geyser.planner.replay``. ``ratios`` give ours / theirs
and ``targets`` whether each goal holds: no more hosts on, less memory moved, fewer
watts (mixed fleets), no overloaded step, no more wall time. A last line sums the misses.

Default cases: 20x200 and 100x2000 loose and tight, 113x15800 tight and 200x16000 loose,
each with identical and mixed hosts (12 cases). ``--time-limit match`` (the default)
gives our solver half of Watcher's wall time on the same case (at least 0.1 s, at most
10 s, the strategy's default), leaving the rest for reading the model, planning and
emitting; a number gives a fixed solver limit.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter

import numpy as np

from watcher_geyser.bounds import (
    hosts_lower_bound,
    hosts_on_by_zone,
    migration_cost_lower_bound_mb,
    watts_lower_bound,
)
from watcher_geyser.fleet import RAM, Fleet
from watcher_geyser.fleetgen import FAMILIES, generate_family, generate_fleet
from watcher_geyser.records import GroupPolicy

ALL_SIZES = ("20x200", "100x2000", "113x15800", "200x16000")
DEFAULT_CASES = (  # (size, tightness): the large ones once each, Watcher's strategy takes a minute there
    ("20x200", "loose"), ("20x200", "tight"), ("100x2000", "loose"), ("100x2000", "tight"),
    ("113x15800", "tight"), ("200x16000", "loose"),
)
TIGHTNESS = {"loose": 0.45, "tight": 0.7}
FAMILY_SIZES = ("200x1200", "200x4000")  # deep (six per host) and the two-generation case of issue 14
VWC = "vm_workload_consolidation"
OURS = "geyser_consolidation"
FULL = 0.995  # a resource this full counts as filled to the brim
MIN_SOLVER_S = 0.1  # the strategy's schema refuses less
MAX_SOLVER_S = 10.0  # the strategy's default time_limit_s
SOLVER_SHARE = 0.5


def strategy_figures(fleet: Fleet, run, waves: list[list]) -> dict:
    """What one strategy's solution does to ``fleet``; ``waves`` as the planner would run them."""
    from watcher_geyser.strategies import offline

    actions = offline.solution_actions(run.actions)
    placement = offline.placement_after(fleet, actions)
    moves = [a for a in actions if a.kind.is_migration]
    memory = float(sum(fleet.demand[fleet.instance_index[a.instance], RAM] for a in moves))
    occupied_before, occupied_after = fleet.occupied(), fleet.occupied(placement)
    judged = offline.overloads(fleet, waves)
    load = fleet.load(placement)
    cpu = fleet.cpu_load(placement)
    capacity = fleet.capacity
    over_after = ((load > capacity + 1e-6).any(axis=1) | (cpu > fleet.physical_cores + 1e-6)) & occupied_after
    full = ((load[:, 1:] >= FULL * capacity[:, 1:]).any(axis=1)) & occupied_after
    return {
        "hosts_on_after": int(occupied_after.sum()),
        "released_hosts": int((occupied_before & ~occupied_after).sum()),
        "migrations": len(moves),
        "memory_moved_mb": round(memory),
        "memory_lower_bound_mb": round(migration_cost_lower_bound_mb(fleet, hosts_on_by_zone(fleet, placement))),
        "watts_after_w": round(fleet.watts(placement), 1),
        "wall_seconds": round(run.seconds, 3),
        "phase_seconds": run.phase_seconds,
        "overloaded_migrations": judged.migrations,
        "overloaded_steps": judged.steps,
        "steps": len(waves),
        "replay_violations": len(judged.violations),
        "hosts_over_capacity_after": int(over_after.sum()),
        "hosts_ram_or_disk_full_after": int(full.sum()),
        "server_group_violations": group_violations(fleet, placement),
    }


def group_violations(fleet: Fleet, placement: np.ndarray) -> int:
    """Hard server-group rules broken by ``placement``: extra members sharing a host in an
    anti-affinity group, extra hosts spanned by an affinity group."""
    broken = 0
    for g in fleet.server_groups:
        hosts = [int(placement[v]) for v, i in enumerate(fleet.instances) if i.server_group == g.name]
        if g.policy is GroupPolicy.ANTI_AFFINITY:
            broken += len(hosts) - len(set(hosts))
        elif g.policy is GroupPolicy.AFFINITY:
            broken += max(len(set(hosts)) - 1, 0)
    return broken


def run_case(n_hosts: int, n_instances: int, tightness: str, mixed: bool, seed: int, time_limit: str,
             server_groups: int, watts_tolerance: float = 0.0, family: str | None = None) -> dict:
    """One case; ``family`` (``fleetgen.FAMILIES``) replaces tightness, kind and server groups."""
    from watcher_geyser.strategies import offline

    started = time.perf_counter()
    if family is not None:
        fleet = generate_family(family, n_hosts, n_instances, seed=seed)
    else:
        fleet = generate_fleet(n_hosts, n_instances, mixed=mixed, allocation=TIGHTNESS[tightness], seed=seed,
                               server_groups=server_groups)
    generated = time.perf_counter() - started
    vwc = offline.run_strategy(VWC, fleet)
    vwc_waves = offline.weight_planner_waves(vwc.actions)
    solver_s = _solver_time(time_limit, vwc.seconds)
    ours = offline.run_strategy(OURS, fleet, {"time_limit_s": solver_s, "watts_tolerance": watts_tolerance})
    our_waves = _waved(ours)
    theirs_fig = strategy_figures(fleet, vwc, vwc_waves)
    ours_fig = strategy_figures(fleet, ours, our_waves)
    ours_fig["solver_time_limit_s"] = round(solver_s, 3)
    ours_fig["solver_status"] = _status(ours)
    hosts_bound = hosts_lower_bound(fleet, fleet.capacity)
    line = {
        "case": (f"{n_hosts}x{n_instances} family {family}" if family
                 else f"{n_hosts}x{n_instances} {tightness} {'mixed' if mixed else 'identical'}"),
        "hosts": n_hosts,
        "instances": n_instances,
        "allocation": round(float((fleet.load()[:, RAM] / fleet.capacity[:, RAM]).mean()), 3),
        "hosts_lower_bound": hosts_bound,
        "watts_lower_bound_w": round(watts_lower_bound(fleet, fleet.capacity, True, hosts_bound,
                                                       fleet.physical_cores), 1),
        "hosts_on_before": int(fleet.occupied().sum()),
        "watts_before_w": round(fleet.watts(powered=fleet.powered), 1),
        "vwc": theirs_fig,
        "geyser": ours_fig,
        "ratios": _ratios(ours_fig, theirs_fig),
        "generate_seconds": round(generated, 2),
    }
    line["targets"] = _targets(line, mixed, never_more_watts=family is not None)
    return line


def _solver_time(time_limit: str, vwc_seconds: float) -> float:
    """The solver's limit: fixed, or half of VWC's wall time (within 0.1 .. 10 s)."""
    if time_limit != "match":
        return float(time_limit)
    return min(max(SOLVER_SHARE * vwc_seconds, MIN_SOLVER_S), MAX_SOLVER_S)


def _waved(run) -> list[list[dict]]:
    """Our solution's actions grouped by the wave our planner gave them (``WavedSolution``)."""
    grouped: dict[int, list[dict]] = {}
    for action, wave in zip(run.solution.actions, run.solution.waves):
        grouped.setdefault(wave, []).append(action)
    return [grouped[w] for w in sorted(grouped)]


def _status(run) -> str:
    outcome = getattr(run.strategy, "outcome", {}) or {}
    notes = outcome.get("notes") or []
    return "; ".join(notes)[:300] if notes else "ok"


def _ratios(ours: dict, theirs: dict) -> dict:
    out = {}
    for key in ("hosts_on_after", "migrations", "memory_moved_mb", "watts_after_w", "wall_seconds"):
        out[key] = round(ours[key] / theirs[key], 4) if theirs[key] else None
    return out


def _targets(line: dict, mixed: bool, never_more_watts: bool = False) -> dict:
    ours, theirs = line["geyser"], line["vwc"]
    out = {
        "hosts": ours["hosts_on_after"] <= theirs["hosts_on_after"],
        "memory": (ours["memory_moved_mb"] < theirs["memory_moved_mb"]
                   or ours["migrations"] == 0 == theirs["migrations"]),
        "no_overload": ours["overloaded_migrations"] == 0 and ours["replay_violations"] == 0,
        "wall": ours["wall_seconds"] <= theirs["wall_seconds"],
    }
    if mixed:
        out["watts"] = ours["watts_after_w"] < theirs["watts_after_w"]
    if never_more_watts:  # issue 14: on every family, never more watts than Watcher's strategy
        out["watts"] = ours["watts_after_w"] <= theirs["watts_after_w"] + 1e-6
    return out


def _warm_up() -> None:
    """Run both strategies once on a tiny fleet: a decision engine is a long-lived service, so
    the first audit's imports (OR-Tools, the planner) are not part of any case's time."""
    from watcher_geyser.strategies import offline

    fleet = generate_fleet(4, 16, seed=0)
    offline.run_strategy(VWC, fleet)
    offline.run_strategy(OURS, fleet, {"time_limit_s": MIN_SOLVER_S})


def _quiet() -> None:
    """Per-instance warnings (VWC logs two for every instance without RAM metrics) go nowhere,
    for both strategies alike: in a real decision engine they would go to its log file."""
    for name in ("watcher", "watcher_geyser", "stevedore", "oslo", "oslo_config"):
        logging.getLogger(name).setLevel(logging.ERROR)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="*",
                        help=f"HOSTSxINSTANCES, each run loose and tight, identical and mixed (default: the default "
                        f"cases; --all: {' '.join(ALL_SIZES)})")
    parser.add_argument("--all", action="store_true", help=f"every variant of {', '.join(ALL_SIZES)}")
    parser.add_argument("--tightness", nargs="*", default=list(TIGHTNESS), choices=list(TIGHTNESS),
                        help="loose: hosts ~45 %% allocated (RAM); tight: ~70 %% (default: both)")
    parser.add_argument("--kinds", nargs="*", default=["identical", "mixed"], choices=["identical", "mixed"],
                        help="identical hosts, or three host types with different power models (default: both)")
    parser.add_argument("--time-limit", default="match",
                        help="our solver's limit in seconds, or 'match' (default): half of Watcher's wall time "
                        "on the case, within 0.1 .. 10 s")
    parser.add_argument("--server-groups", type=int, default=0,
                        help="hard server groups in each fleet (half anti-affinity), which Watcher's strategy "
                        "ignores (default 0)")
    parser.add_argument("--families", nargs="*", choices=FAMILIES,
                        help="fleet families of bench/solver_scale.py instead of loose/tight x identical/mixed "
                        f"(sizes default to {' '.join(FAMILY_SIZES)})")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the fleets (default %(default)s)")
    parser.add_argument("--watts-tolerance", type=float, default=0.0,
                        help="our strategy's watts_tolerance parameter (default 0: watts strictly first)")
    args = parser.parse_args()
    try:
        import watcher  # noqa: F401
    except ImportError:
        print("python-watcher is not installed: pip install -e '.[watcher]'", file=sys.stderr)
        return 2
    _quiet()
    _warm_up()
    if args.families:
        cases = [(*(int(x) for x in size.lower().split("x")), "", family)
                 for size in (args.sizes or FAMILY_SIZES) for family in args.families]
        return _run_cases(cases, args, families=True)
    if args.sizes or args.all:
        grid = [(size, t) for size in (args.sizes or ALL_SIZES) for t in args.tightness]
    else:
        grid = [(size, t) for size, t in DEFAULT_CASES if t in args.tightness]
    cases = []
    for size, tightness in grid:
        try:
            hosts, instances = (int(x) for x in size.lower().split("x"))
        except ValueError:
            parser.error(f"--sizes: {size!r} is not HOSTSxINSTANCES, e.g. 100x2000")
        cases += [(hosts, instances, tightness, k) for k in args.kinds]
    return _run_cases(cases, args)


def _run_cases(cases: list[tuple], args: argparse.Namespace, families: bool = False) -> int:
    totals: Counter[str] = Counter()
    for i, (hosts, instances, tightness, kind) in enumerate(cases, start=1):
        print(f"[{i}/{len(cases)}] {hosts}x{instances} {tightness} {kind} ...", file=sys.stderr, flush=True)
        line = run_case(hosts, instances, tightness or "loose", kind == "mixed", args.seed, args.time_limit,
                        args.server_groups, args.watts_tolerance, family=kind if families else None)
        print(json.dumps(line), flush=True)
        for key, ok in line["targets"].items():
            totals[key] += int(not ok)
    print(json.dumps({"cases": len(cases), "targets_missed": dict(totals)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
