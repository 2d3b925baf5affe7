"""``geyser simulate``: replay a utilisation trace under one or more policies and compare them."""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from watcher_geyser.simulator.baselines import DEFAULT_POLICIES, POLICIES, make_policy
from watcher_geyser.simulator.datacenter import PRESETS, scenario_datacenter, with_vm_sizes
from watcher_geyser.simulator.engine import simulate
from watcher_geyser.simulator.fidelity import FIDELITIES, fidelity
from watcher_geyser.simulator.policy_params import spec_help
from watcher_geyser.simulator.report import table, write_report
from watcher_geyser.simulator.traces import Trace, TraceError, read_csv, read_planetlab, read_scenario_series

EPILOG = f"""\
examples:
  geyser simulate                                  # the bundled PlanetLab sample, {', '.join(DEFAULT_POLICIES)}
  geyser simulate --trace ../shared/traces/planetlab/20110303 --datacenter planetlab \\
      --fidelity cloudsim --policy thr-mmt --policy lr-mmt --out results/
  geyser simulate --trace util.csv --scenario cloud.json --policy dvfs --policy thr-mmt
  geyser simulate --fidelity cloudsim --signal solar:lat=52.1,lon=5.1,peak_w=12000 \\
      --policy geyser --policy geyser:signal=off --policy geyser:ceiling=0.8,signal=off \\
      --policy thr-mmt:threshold=0.7 --policy thr-mmt:threshold=0.9   # points of a trade-off curve

policies: {', '.join(POLICIES)}; parameters as NAME:key=value,key=value:
{spec_help()}
With --signal, every policy is accounted against the supply (energy above it, share covered);
geyser follows it unless given signal=off.

traces: a PlanetLab day folder (one file per VM), a CSV with time,instance,cpu_util, or a scenario
JSON whose instances carry cpu_util_series. Data centres: planetlab (800 hosts, CloudSim's set-up),
planetlab-small (one host per 1.25 VMs), or --scenario FILE (its hosts and instances).
fidelity cloudsim reproduces CloudSim 3.0.3's accounting to compare with its figures; realistic
(the default) enforces RAM, keeps VMs alive, charges idle hosts and host boots.
"""


def bundled_sample() -> Path:
    return Path(str(resources.files("watcher_geyser") / "data" / "planetlab-sample" / "20110303"))


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="replay a utilisation trace under consolidation policies and compare energy, SLA, migrations",
        description="Replay a utilisation trace through consolidation policies in simulated time and report "
        "energy, its lower bound, migrations and CloudSim's SLA metrics side by side.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--trace", help="PlanetLab day folder, CSV file or scenario JSON (default: the bundled sample)")
    parser.add_argument(
        "--datacenter",
        default=None,
        choices=sorted(PRESETS),
        help="data centre preset (default: planetlab, or planetlab-small for the bundled sample)",
    )
    parser.add_argument("--scenario", help="scenario JSON giving hosts and instance sizes (instead of a preset)")
    parser.add_argument(
        "--fidelity", default="realistic", choices=sorted(FIDELITIES), help="accounting rules (default: realistic)"
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
        "or file:site.csv?unit=watts): the geyser policy follows it, and energy above it is reported",
    )
    parser.add_argument(
        "--signal-w", type=float, help="shorthand for --signal constant:<W>W: a constant available power in watts"
    )
    parser.add_argument(
        "--start",
        default="2026-06-21T00:00:00Z",
        help="wall-clock time of the trace's first sample, for time-dependent signals (default 2026-06-21T00:00Z)",
    )
    parser.add_argument("--limit", type=int, help="replay only the first N VMs of the trace")
    parser.add_argument("--out", help="folder for report.json, steps.csv and PNG plots")
    parser.add_argument("--no-plots", action="store_true", help="with --out, skip the PNG plots")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def load_trace(path: str | None, limit: int | None) -> tuple[Trace, dict | None]:
    if path is None:
        return read_planetlab(bundled_sample(), limit), None
    p = Path(path)
    if p.is_dir():
        return read_planetlab(p, limit), None
    if p.suffix.lower() == ".json":
        trace, raw = read_scenario_series(p)
        return (trace.head(limit) if limit else trace), raw
    trace = read_csv(p)
    return (trace.head(limit) if limit else trace), None


def run(args: argparse.Namespace) -> int:
    from watcher_geyser.scenario import ScenarioError, fleet_from_dict, load_scenario

    policies = args.policy or list(DEFAULT_POLICIES)
    try:
        # a policy that cannot run, or a bad parameter, says so before any trace is read
        made = _make_policies(policies)
    except ValueError as exc:
        print(f"geyser simulate: {exc}", file=sys.stderr)
        return 2
    try:
        trace, raw = load_trace(args.trace, args.limit)
    except TraceError as exc:
        print(f"geyser simulate: {exc}", file=sys.stderr)
        return 2
    try:
        if args.scenario or raw is not None:
            fleet = load_scenario(args.scenario) if args.scenario else fleet_from_dict(raw)
            dc = scenario_datacenter(fleet, trace.names)
        else:
            preset = args.datacenter or ("planetlab-small" if args.trace is None else "planetlab")
            dc = with_vm_sizes(PRESETS[preset](trace.names), trace.vm_mips, trace.vm_ram_mb)
    except (ScenarioError, ValueError) as exc:
        print(f"geyser simulate: {exc}", file=sys.stderr)
        return 2
    fid = fidelity(args.fidelity)
    try:
        feed = _signal_feed(args)
    except ValueError as exc:
        print(f"geyser simulate: {exc}", file=sys.stderr)
        return 2
    signal = None if feed is None or feed.series.unit.value != "watts" else feed.available_w
    results = []
    for policy in made:
        bar = None
        if not args.quiet:
            from tqdm import tqdm

            bar = tqdm(total=trace.samples - 1, desc=f"{policy.name:8s}", unit="step", leave=False, file=sys.stderr)
        try:
            if getattr(policy, "follow_signal", False) and feed is not None:
                policy.signal = feed
            results.append(simulate(trace, dc, policy, fid, signal, bar.update if bar else None))
        finally:
            if bar is not None:
                bar.close()
    print(
        f"trace {trace.source}: {len(trace.names)} VMs, {trace.samples} samples; data centre {dc.name}: "
        f"{dc.hosts} hosts; fidelity {fid.mode.value}"
    )
    print(table(results))
    for r in results:
        if r.vms_unplaced:
            print(
                f"note: {r.policy}: {r.vms_unplaced} VMs found no host at the start and were left out (as CloudSim "
                "does); add hosts or choose a larger data centre",
                file=sys.stderr,
            )
    if args.out:
        meta = {
            "trace": trace.source,
            "datacenter": dc.name,
            "fidelity": fid.mode.value,
            "signal": None if feed is None else feed.series.origin or args.signal,
            "start": args.start,
        }
        paths = write_report(results, args.out, meta, plots=not args.no_plots)
        print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _make_policies(specs: list[str]) -> list:
    """One fresh policy per ``--policy`` spec; a spec given twice is an error (its runs would collide)."""
    made = [make_policy(spec) for spec in specs]
    seen: set[str] = set()
    for policy in made:
        if policy.name in seen:
            raise ValueError(f"policy {policy.name!r} is given twice; give each policy or setting once")
        seen.add(policy.name)
    return made


def _signal_feed(args: argparse.Namespace):
    """The signal over the simulated period, read once (None without --signal)."""
    from watcher_geyser.signal import SignalError, parse_spec
    from watcher_geyser.signal.series import parse_time
    from watcher_geyser.simulator.geyser_policy import SignalFeed

    spec = args.signal or (None if args.signal_w is None else f"constant:{args.signal_w}W")
    if spec is None:
        return None
    start_s = parse_time(args.start)
    try:
        series = parse_spec(spec).read(start_s)
    except SignalError as exc:
        raise ValueError(f"signal {spec!r}: {exc}") from None
    return SignalFeed(series, start_s)
