"""What one ``geyser simulate`` run is handed besides its trace, read from its flags: the policies
(fresh and configured), the data centre preset, the signal over the replayed period and the
deferrable VMs. Each reader raises ``ValueError`` naming the flag; ``simulate.execute`` turns it
into the run's one-line error."""

from __future__ import annotations

import argparse

import numpy as np

from watcher_geyser.inputs import epoch_s
from watcher_geyser.simulator.baselines import make_policy
from watcher_geyser.simulator.traces import Trace


def preset_name(args: argparse.Namespace, trace: Trace) -> str:
    """The data centre asked for, or the default for the trace: CloudSim's for PlanetLab days,
    its small variant for the bundled sample, ``modern`` for public datasets (their VMs fit no
    PlanetLab host)."""
    if args.datacenter:
        return args.datacenter
    if args.trace is None:
        return "planetlab-small"
    return "modern" if trace.vm_pes is not None else "planetlab"


def configure(policy, args: argparse.Namespace, feed) -> None:
    """Hand a policy what the command line says about it (only the policies that take it)."""
    if hasattr(policy, "settings"):  # geyser: the pipeline's solve settings
        policy.settings = policy.settings.with_solve(seed=args.seed, deterministic=args.deterministic)
    if hasattr(policy, "seed"):
        policy.seed = args.seed
    if hasattr(policy, "deterministic"):
        policy.deterministic = args.deterministic
    if feed is not None and getattr(policy, "follow_signal", False):
        policy.signal = feed


def make_policies(specs: list[str]) -> list:
    """One fresh policy per ``--policy`` spec; a spec given twice is an error (its runs would collide)."""
    made = [make_policy(spec) for spec in specs]
    seen: set[str] = set()
    for policy in made:
        if policy.name in seen:
            raise ValueError(f"policy {policy.name!r} is given twice; give each policy or setting once")
        seen.add(policy.name)
    return made


def signal_feed(args: argparse.Namespace):
    """The signal over the simulated period, read once (None without --signal)."""
    from watcher_geyser.signal import SignalError, parse_spec
    from watcher_geyser.simulator.geyser_policy import SignalFeed

    spec = args.signal or (None if args.signal_w is None else f"constant:{args.signal_w}W")
    if spec is None:
        return None
    start_s = epoch_s(args.start, "--start", show=True)
    try:
        source = parse_spec(spec)
    except SignalError as exc:
        raise ValueError(f"signal {spec!r}: {exc}") from None
    try:
        series = source.read(start_s)
        for day in range(1, getattr(args, "repeat_day", 1) + 1):  # a repeated day reads on, day by day
            series = _read_on(source, series, start_s + day * 86400.0)
    except SignalError as exc:  # a replay has no last good value to fall back on, unlike an audit
        remote = spec.startswith(("http://", "https://", "prometheus:"))
        hint = ("; the replay reads the whole series before it starts: check that the server answers, or save "
                "the series to a file and give file:PATH") if remote else ""
        raise ValueError(f"signal {spec!r}: {exc}{hint}") from None
    return SignalFeed(series, start_s)


def _read_on(source, series, now_s: float):
    """``series`` followed by what ``source`` reads at ``now_s`` past its end (the same series when it
    gives nothing new: a file or a constant already holds all it has)."""
    from watcher_geyser.signal import Series

    more = source.read(now_s)
    new = more.times_s > series.times_s[-1] + series.durations_s[-1] - 1e-9
    if not new.any():
        return series
    return Series.build(np.concatenate([series.times_s, more.times_s[new]]),
                        np.concatenate([series.values, more.values[new]]), series.unit,
                        np.concatenate([series.durations_s, more.durations_s[new]]), origin=series.origin)


def deferral_setup(args: argparse.Namespace, work: np.ndarray):
    """The seeded choice of deferrable VMs (None when --deferrable is 0), by --deferrable-choice among
    the VMs whose work over the trace is ``work`` (``vm_work``); ValueError names the option."""
    from watcher_geyser.deferral import parse_duration
    from watcher_geyser.simulator.deferral import choose_deferrable

    if not 0 <= args.deferrable <= 1:
        raise ValueError(f"--deferrable is a fraction between 0 and 1 (e.g. 0.3), got {args.deferrable}")
    try:
        deadline_s = parse_duration(args.deferral_deadline)
    except ValueError as exc:
        raise ValueError(f"--deferral-deadline: {exc}") from None
    if deadline_s <= 0:
        raise ValueError(f"--deferral-deadline must be longer than 0, got {args.deferral_deadline!r}")
    if args.deferrable == 0:
        return None
    return choose_deferrable(args.deferrable_choice, work, args.deferrable, deadline_s, args.deferral_seed)


def start_overload_note(dc) -> str:
    """A note when the scenario starts hosts above their RAM (empty otherwise): every policy starts
    from that placement, so they run overloaded, and energy can fall under a bound that assumes
    hosts enough for the demand. Said before the table, so that its figures are read with it."""
    if dc.initial_host is None:
        return ""
    held = np.bincount(dc.initial_host, weights=dc.vm_ram_mb, minlength=dc.hosts)
    over = np.flatnonzero(held > dc.ram_mb + 1e-6)
    if len(over) == 0:
        return ""
    shown = ", ".join(f"{dc.host_names[h]}: {held[h]:,.0f} of {dc.ram_mb[h]:,.0f} MB" for h in over[:3].tolist())
    more = f" and {len(over) - 3} more" if len(over) > 3 else ""
    return (
        f"note: the scenario starts {len(over)} host(s) above their RAM ({shown}{more}): every policy starts "
        "there and runs them overloaded until it moves VMs off, and a policy's energy may fall under the bound "
        "(which assumes hosts enough for the demand); add hosts or move instances in the scenario"
    )
