"""``geyser simulate``: replay a utilisation trace under one or more policies and compare them.

One run is one call to ``execute(args)`` (or ``simulate_argv(argv)`` with the command line as a
list): ``geyser simulate`` prints its outcome, ``geyser sweep`` runs one per grid cell on Dask, and
``bench/planetlab.py`` replays CloudSim's days through it, so every flag means the same everywhere.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from watcher_geyser.commands.simulate_setup import (
    configure,
    deferral_setup,
    make_policies,
    preset_name,
    signal_feed,
    start_overload_note,
)
from watcher_geyser.inputs import LIMITS, InputError, check_writable_folder, cli_number, epoch_s
from watcher_geyser.simulator.arrivals import MAX_REPEAT_DAYS
from watcher_geyser.simulator.baselines import DEFAULT_POLICIES, POLICIES
from watcher_geyser.simulator.datacenter import PRESETS, DataCenter, scenario_datacenter, with_vm_sizes
from watcher_geyser.simulator.datasets import FORMATS
from watcher_geyser.simulator.deferral import vm_work
from watcher_geyser.simulator.engine import RunResult, simulate
from watcher_geyser.simulator.fidelity import FIDELITIES, PLANS, fidelity
from watcher_geyser.simulator.policy_params import spec_help
from watcher_geyser.simulator.report import slatah_split, table, write_report
from watcher_geyser.simulator.traces import Trace, TraceError, read_csv, read_planetlab, read_scenario_series

EPILOG = f"""\
examples:
  geyser simulate                                  # the bundled PlanetLab sample, {', '.join(DEFAULT_POLICIES)}
  geyser simulate --trace ../shared/traces/planetlab/20110303 --datacenter planetlab \\
      --fidelity cloudsim --policy thr-mmt --policy lr-mmt --out results/
  geyser simulate --trace examples/util.csv --scenario examples/cloud.json --policy dvfs --policy thr-mmt
  geyser simulate --policy geyser --seed 3 --deterministic   # the same numbers on every run
  geyser simulate --signal solar:lat=52.1,lon=5.1,peak_w=12000 --deferrable 0.3   # 30 % of VMs may wait
  geyser simulate --fidelity cloudsim --signal solar:lat=52.1,lon=5.1,peak_w=12000 \\
      --policy geyser --policy geyser:signal=off --policy geyser:ceiling=0.8,signal=off \\
      --policy thr-mmt:threshold=0.7 --policy thr-mmt:threshold=0.9   # points of a trade-off curve

policies: {', '.join(POLICIES)}; parameters as NAME:key=value,key=value:
{spec_help()}
With --signal, every policy is accounted against the supply (energy above it, share covered);
geyser follows it unless given signal=off.

traces: a PlanetLab day folder (one file per VM), a CSV with time,instance,cpu_util, a scenario
JSON whose instances carry cpu_util_series, or a public dataset (--trace-format): Azure's VM
dataset (vmtable.csv + vm_cpu_readings), Google's 2011 task_usage, Bitbrains' GWA-T-12 (docs/traces.md).
Data centres: planetlab (800 hosts, CloudSim's set-up), planetlab-small (one host per 1.25
VMs), modern (32-core hosts for the public datasets), three-gen (three host generations), or
--scenario FILE (its hosts and instances).
fidelity cloudsim reproduces CloudSim 3.0.3's accounting to compare with its figures; realistic
(the default) enforces RAM, keeps VMs alive, charges idle hosts and host boots, and lets a plan
run to its end, skipping the decisions due meanwhile, as Watcher does (--plans).

deferrable VMs (--deferrable): a seeded choice of VMs (uniform, or stratified by work with
--deferrable-choice work) whose work may wait, shelved, for at most --deferral-deadline in total;
the geyser policy shelves them when energy is scarce and brings them back when it returns or
before their deadline. Their work is shifted in time, not lost: the replay
runs past the trace's end until it is done. Signal-blind policies run them at once.

a steady state (--repeat-day N): the trace's day replayed N times back to back, each day with its
own copy of the VMs (NAME@d2, NAME@d3, ..; the same traces and deferrable choice) arriving at the
day's start and placed as Nova would place a new instance. Deferred work that spills past its day
then competes with the next day's work; the last day's figures (last_day in report.json, one
line per policy here) hold the previous day's spill and the day's own work: "every day like this
one". The signal is read over the whole replay.
"""


class SimulateError(ValueError):
    """A run that cannot start: bad trace, scenario, signal, policy or option (one line, exit 2)."""


@dataclass
class Outcome:
    """What one ``geyser simulate`` run produced: a result per policy and what was replayed."""

    results: list[RunResult]
    trace: Trace
    dc: DataCenter
    meta: dict

    def headline(self) -> str:
        return (
            f"trace {self.trace.source}: {len(self.trace.names)} VMs, {self.trace.samples} samples; data centre "
            f"{self.dc.name}: {self.dc.hosts} hosts; fidelity {self.meta['fidelity']}"
        )


def bundled_sample() -> Path:
    return Path(str(resources.files("watcher_geyser") / "data" / "planetlab-sample" / "20110303"))


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="replay a utilisation trace under consolidation policies and compare energy, SLA, migrations",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


DESCRIPTION = (
    "Replay a utilisation trace through consolidation policies in simulated time and report "
    "energy, its lower bound, migrations and CloudSim's SLA metrics side by side."
)


_SEED = cli_number(low=0, high=2**31 - 1, integer=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every option of one run (``geyser sweep`` grids use these names, without the dashes)."""
    parser.add_argument("--trace", metavar="PATH",
                        help="PlanetLab day folder, CSV file or scenario JSON (default: the bundled sample)")
    parser.add_argument(
        "--trace-format",
        default="auto",
        choices=FORMATS,
        help="how to read --trace (default auto: by looking; azure, google and bitbrains are the public "
        "datasets of docs/traces.md)",
    )
    parser.add_argument(
        "--datacenter",
        default=None,
        choices=sorted(PRESETS),
        help="data centre preset (default: planetlab; planetlab-small for the bundled sample; modern for the "
        "public datasets of --trace-format; three-gen, three host generations at two VMs per host, for a fleet "
        "the engine was not tuned on)",
    )
    parser.add_argument("--scenario", metavar="FILE",
                        help="scenario JSON giving hosts and instance sizes (instead of a preset)")
    parser.add_argument(
        "--fidelity", default="realistic", choices=sorted(FIDELITIES), help="accounting rules (default: %(default)s)"
    )
    parser.add_argument(
        "--plans", default=None, choices=PLANS,
        help="what a decision does to the last plan's migrations still running. run-to-end (realistic's default): "
        "the decision is skipped and the plan finishes (counted as decisions_skipped), which is what Watcher does: "
        "it runs no audit while an action plan is ONGOING (ActionPlanIsOngoing) and a plan is ONGOING until its "
        "last action ends. drop: their waves not yet started are dropped and the decision replans (counted as "
        "migrations_dropped; cloudsim's only choice, its waves all start at once as CloudSim starts them) "
        "(default: the fidelity's own)",
    )
    parser.add_argument(
        "--policy",
        action="append",
        metavar="NAME[:KEY=VALUE,...]",
        help="policy to run, with parameters if wanted (keys below); repeat for a side-by-side table "
        f"(default: {', '.join(DEFAULT_POLICIES)})",
    )
    parser.add_argument(
        "--signal",
        metavar="SPEC",
        help="energy-availability signal, as `geyser signal` takes it (e.g. solar:lat=52.1,lon=5.1,peak_w=60000 "
        "or file:site.csv?unit=watts): the geyser policy follows it, and energy above it is reported "
        "(default: none, no supply)",
    )
    parser.add_argument(
        "--signal-w", type=cli_number(low=0, high=LIMITS["power_budget_w"][1]), metavar="W",
        help="shorthand for --signal constant:<W>W: a constant available power in watts"
    )
    parser.add_argument(
        "--start", metavar="TIME",
        default="2026-06-21T00:00:00Z",
        help="wall-clock time of the trace's first sample, for time-dependent signals (default %(default)s)",
    )
    parser.add_argument(
        "--deferrable",
        type=cli_number(low=0, high=1),
        default=0.0,
        metavar="FRACTION",
        help="share of VMs (0..1, chosen with --deferral-seed as --deferrable-choice says) whose work may be deferred "
        "(default %(default)g)",
    )
    parser.add_argument(
        "--deferral-deadline",
        default="24h",
        metavar="DURATION",
        help="longest a deferrable VM may be held shelved in total, e.g. 8h, 90m, 1d (default %(default)s)",
    )
    parser.add_argument("--deferral-seed", type=_SEED, default=0, metavar="N",
                        help="seed of the choice of deferrable VMs (default %(default)s)")
    parser.add_argument(
        "--deferrable-choice", choices=("vms", "work"), default="vms",
        help="how --deferral-seed chooses the deferrable VMs: vms, FRACTION of the VMs uniformly at random "
        "(their share of the work varies with the seed: 30 %% of PlanetLab's VMs carry 23 to 33 %% of a "
        "day's work); work, FRACTION of the VMs stratified by their work over the trace (sorted by "
        "utilisation x MIPS, one VM per stratum), so that they carry about FRACTION of it (default %(default)s)",
    )
    parser.add_argument(
        "--repeat-day", type=cli_number(low=1, high=MAX_REPEAT_DAYS, integer=True), default=1, metavar="N",
        help="replay the trace's day N times back to back, each day's VMs arriving at its start, and report "
        f"the last day as the steady state (1 to {MAX_REPEAT_DAYS}; default 1: the day once)",
    )
    parser.add_argument("--limit", type=cli_number(low=1, high=10**9, integer=True), metavar="N",
                        help="replay only the first N VMs of the trace (N >= 1; default: all)")
    parser.add_argument(
        "--seed", type=_SEED, default=0, metavar="N",
        help="random seed of the solver's search (CP-SAT's random_seed; default %(default)s)"
    )
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="the same numbers on every run and machine: the solver runs one CP-SAT worker under a work limit "
        "instead of a wall-clock limit (steps may take longer on a busy machine)",
    )
    parser.add_argument("--out", metavar="DIR",
                        help="folder for report.json (per policy: the table's figures, passes_won: the solver "
                        "pass each geyser decision kept, and the series), steps.csv (a row per step, its found_by "
                        "naming that pass; a last tail row for migrations still running after the last decision, "
                        "so the rows sum to the totals) and PNG plots; README 'Output' lists every field "
                        "(default: none, only the table)")
    parser.add_argument("--no-plots", action="store_true", help="with --out, skip the PNG plots")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # a sweep cell's bad option is the cell's error, not an exit
        raise SimulateError(f"{self.prog}: {message}")


def parse(argv: list[str]) -> argparse.Namespace:
    """``geyser simulate``'s options from ``argv``; a bad option raises ``SimulateError``."""
    parser = _Parser(prog="geyser simulate", add_help=False)
    add_arguments(parser)
    return parser.parse_args(argv)


def simulate_argv(argv: list[str]) -> Outcome:
    """One ``geyser simulate`` run from its command line (as a list), without printing anything."""
    args = parse(argv)
    args.quiet = True
    return execute(args)


def load_trace(path: str | None, limit: int | None, fmt: str = "auto") -> tuple[Trace, dict | None]:
    """The trace at ``path`` (the bundled sample when None) in format ``fmt`` (``auto`` looks)."""
    from watcher_geyser.simulator.datasets import READERS, detect, read_dataset

    if path is None:
        return read_planetlab(bundled_sample(), limit), None
    p = Path(path)
    if fmt == "auto":
        fmt = detect(p) or ("planetlab" if p.is_dir() else "scenario" if p.suffix.lower() == ".json" else "csv")
    raw = None
    if fmt in READERS:
        trace = read_dataset(p, fmt)
    elif fmt == "planetlab":
        return read_planetlab(p, limit), None
    elif fmt == "scenario":
        trace, raw = read_scenario_series(p)
    else:
        trace = read_csv(p)
    return (trace.head(limit) if limit else trace), raw


def check(args: argparse.Namespace, paths: bool = True) -> list:
    """The run's policies, after every check that needs no trace read: the policies and their
    parameters, ``--start``, ``--fidelity`` with ``--plans``, the signal's spec and (``paths``) that
    ``--trace`` and ``--scenario`` exist. Raises ``SimulateError``; ``geyser sweep`` checks each cell
    with it before any cell runs (without ``paths`` for a remote cluster, whose workers may see paths
    this machine does not)."""
    from watcher_geyser.signal import SignalError, parse_spec

    try:
        made = make_policies(args.policy or list(DEFAULT_POLICIES))
        epoch_s(args.start, "--start", show=True)  # even without a signal: a typo is refused, not ignored
        fidelity(args.fidelity, getattr(args, "plans", None))  # --plans run-to-end with cloudsim is refused
        if args.signal:
            parse_spec(args.signal)
    except SignalError as exc:
        raise SimulateError(f"signal {args.signal!r}: {exc}") from None
    except (InputError, ValueError) as exc:
        raise SimulateError(str(exc)) from None
    if args.scenario and args.datacenter:
        raise SimulateError(f"--datacenter {args.datacenter} and --scenario both give the hosts; give one of them")
    for flag, path in (("--trace", args.trace), ("--scenario", args.scenario)):
        if paths and path is not None and not Path(path).exists():
            raise SimulateError(f"{flag} {path}: no such file or folder; give an existing path")
    return made


def execute(args: argparse.Namespace, policies: list | None = None) -> Outcome:
    """Replay the trace under every policy asked for; bad input raises ``SimulateError``.

    ``policies`` replaces the ones ``--policy`` makes (still checked): a bench replays them with
    a setting the command line does not offer, keeping the rest of the command's path."""
    from watcher_geyser.scenario import ScenarioError, fleet_from_dict, load_scenario

    if getattr(args, "out", None):  # before the run: a long replay must not end in an unwritable folder
        try:
            check_writable_folder(args.out, "--out")
        except InputError as exc:
            raise SimulateError(str(exc)) from None
    made = check(args)
    if policies is not None:
        made = policies
    try:
        trace, raw = load_trace(args.trace, args.limit, args.trace_format)
    except TraceError as exc:
        raise SimulateError(str(exc)) from None
    try:
        if args.scenario or raw is not None:
            fleet = load_scenario(args.scenario) if args.scenario else fleet_from_dict(raw)
            dc = scenario_datacenter(fleet, trace.names)
        else:
            preset = PRESETS[preset_name(args, trace)]
            dc = with_vm_sizes(preset(trace.names), trace.vm_mips, trace.vm_ram_mb, trace.vm_pes)
    except ScenarioError as exc:
        raise SimulateError(str(exc)) from None
    except ValueError as exc:
        if args.trace is None and args.scenario:  # the sample's VMs are not the scenario's: edit neither
            raise SimulateError(
                f"--scenario {args.scenario} without --trace: the bundled PlanetLab sample was read, and the "
                "scenario does not hold its VMs; give --trace with the scenario's CPU use (a "
                "CSV time,instance,cpu_util over its uuids, or a scenario whose instances carry cpu_util_series)"
            ) from None
        raise SimulateError(str(exc)) from None
    try:
        fid = fidelity(args.fidelity, getattr(args, "plans", None))
    except ValueError as exc:
        raise SimulateError(str(exc)) from None
    try:
        feed = signal_feed(args)
    except ValueError as exc:
        raise SimulateError(str(exc)) from None
    signal = None if feed is None or feed.series.unit.value != "watts" else feed.available_w
    try:
        deferral = deferral_setup(args, vm_work(trace.util, dc.vm_mips))
    except ValueError as exc:
        raise SimulateError(str(exc)) from None
    results = []
    for policy in made:
        configure(policy, args, feed)
        bar = None
        if not args.quiet:
            from tqdm import tqdm

            bar = tqdm(total=args.repeat_day * trace.samples - 1, desc=f"{policy.name:8s}", unit="step",
                       leave=False, file=sys.stderr)
        try:
            results.append(simulate(trace, dc, policy, fid, signal, bar.update if bar else None, deferral,
                                    args.repeat_day))
        finally:
            if bar is not None:
                bar.close()
    meta = {
        "trace": trace.source,
        "datacenter": dc.name,
        "fidelity": fid.mode.value,
        "plans": fid.plans,
        "signal": None if feed is None else feed.series.origin or args.signal,
        "start": args.start,
        "seed": args.seed,
        "deterministic": args.deterministic,
        "deferrable": args.deferrable,
        "deferral_deadline": args.deferral_deadline,
        "deferral_seed": args.deferral_seed,
        "deferrable_choice": args.deferrable_choice,
        "repeat_day": args.repeat_day,
    }
    return Outcome(results, trace, dc, meta)


def run(args: argparse.Namespace) -> int:
    try:
        outcome = execute(args)
    except SimulateError as exc:
        print(f"geyser simulate: {exc}; nothing was replayed", file=sys.stderr)
        return 2
    results = outcome.results
    if note := start_overload_note(outcome.dc):
        print(note, file=sys.stderr)
    vms = len(outcome.trace.names)
    if args.datacenter is None and outcome.dc.name == "planetlab" and outcome.dc.hosts > vms:
        print(f"geyser simulate: note: {vms} VMs on the planetlab data centre's {outcome.dc.hosts} hosts (CloudSim's "
              "set-up for a whole day of ~1,000 VMs), so idle hosts weigh on energy; --datacenter planetlab-small "
              "sizes the hosts to the trace", file=sys.stderr)
    if args.deferrable > 0 and args.signal is None and args.signal_w is None:  # else a silent no-op
        print(f"geyser simulate: note: --deferrable {args.deferrable:g} without --signal: no VM waited (they wait "
              "only while energy is scarce, and there was no supply to follow); give --signal or --signal-w",
              file=sys.stderr)
    print(outcome.headline())
    print(table(results))
    for r in results:
        if (last := r.last_day()) is not None:
            above = "" if last.above_supply_kwh is None else f"above supply {last.above_supply_kwh:.2f} kWh, "
            print(f"{r.policy}: last day ({r.repeat_days} of {r.repeat_days}, the steady state): {above}"
                  f"energy {last.energy_kwh:.2f} kWh, SLATAH {last.slatah:.2%} "
                  f"(ovl/cap/migr {slatah_split(last.as_dict()) or '-'} %), {last.migrations} migrations, "
                  f"{last.deferred_vm_hours:.0f} deferred VM-h, power cycles max {last.power_cycles_max:g}/host/day")
    for r in results:
        if r.decisions_skipped:
            print(f"{r.policy}: {r.decisions_skipped} decision(s) skipped while the last plan ran "
                  f"(--plans run-to-end), {r.migrations_dropped} migration(s) dropped")
    for r in results:
        if r.vms_unplaced:
            print(
                f"note: {r.policy}: {r.vms_unplaced} VMs found no host at the start and were left out (as CloudSim "
                "does); add hosts or choose a larger data centre",
                file=sys.stderr,
            )
    for r in results:
        if r.deadline_missed:
            shown = ", ".join(r.deadline_missed[:5]) + (" .." if len(r.deadline_missed) > 5 else "")
            print(
                f"note: {r.policy}: {r.deadline_misses} deferrable VMs finished after their deadline ({shown}): "
                "no host had room when they were due back; add hosts or lengthen --deferral-deadline",
                file=sys.stderr,
            )
    if args.out:
        paths = write_report(results, args.out, outcome.meta, plots=not args.no_plots)
        print("wrote " + ", ".join(str(p) for p in paths))
    return 0
