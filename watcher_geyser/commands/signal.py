"""``geyser signal``: what the energy policy would decide now (or at a given time), and why."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time

from watcher_geyser.inputs import LIMITS, cli_number, closest, epoch_s, iso
from watcher_geyser.signal.decision import Fallback
from watcher_geyser.signal.policy import Decision, SignalPolicy
from watcher_geyser.signal.series import Series, SignalError, Unit
from watcher_geyser.signal.sources import read_safely
from watcher_geyser.signal.spec import SPEC_HELP, parse_spec
from watcher_geyser.signal.state import PolicyState, load_state, save_state

DESCRIPTION = f"""\
Read an energy-availability SOURCE and show what the signal policy would decide: the value
read and its unit, the power budget (W) and packing ceiling the solver would get, whether
hosts may be switched off, and which fallback was used and why. Use it to check a
configuration before an audit runs with it.

Thresholds, horizon, hysteresis and HTTP settings come from the [geyser_signal] group of
--config-file (defaults otherwise); SOURCE overrides its 'source' option.

{SPEC_HELP}
Exit status: 0 the signal was used; 1 a fallback was used (the reason says why);
2 the command line, the config file or the spec is wrong.

Examples:
  geyser signal constant:5000W --fleet-peak-w 12000
  geyser signal file:etc/watcher-geyser/signals/site-watts.csv --at 2026-06-21T13:00:00Z \\
      --scenario my-fleet.json
  geyser signal file:etc/watcher-geyser/signals/carbon-intensity.json --at 2026-06-21T12:00Z --json
  geyser signal solar:lat=52.1,lon=5.1,peak_w=20000 --at 2026-06-21T12:00Z --fleet-peak-w 30000
  geyser signal 'prometheus:http://127.0.0.1:9090?query=sum(site_available_watts)' --fleet-peak-w 40000
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "signal",
        help="show what the energy policy would decide from a signal source",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", nargs="?", metavar="SOURCE", help="source spec (see above); default: the config's")
    p.add_argument("--at", metavar="TIME", help="decide at TIME (ISO 8601 or epoch seconds) instead of now")
    p.add_argument("--json", action="store_true", help="print the decision as JSON")
    peak = p.add_mutually_exclusive_group()
    peak.add_argument("--fleet-peak-w", type=cli_number(low=0, low_open=True, high=LIMITS["power_budget_w"][1]),
                      metavar="W", help="fleet peak watts (all hosts at full load)")
    peak.add_argument("--scenario", metavar="FILE", help="take the fleet peak from a scenario (sum of hosts' max_w)")
    p.add_argument("--config-file", metavar="FILE", help="oslo.config file with a [geyser_signal] group")
    p.add_argument(
        "--state-file",
        metavar="FILE",
        help="policy memory to start from and update (hysteresis, last good value); default: none",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        now_s = time.time() if args.at in (None, "now") else epoch_s(args.at, "--at", show=True)
        policy, source = _setup(args)
        peak_w = _fleet_peak(args)
    except (SignalError, ValueError, OSError) as exc:
        print(f"geyser signal: {exc}", file=sys.stderr)
        return 2
    observation = read_safely(source, now_s)
    if isinstance(observation, Series) and observation.unit in (Unit.WATTS, Unit.FRACTION) and peak_w is None:
        print(
            f"geyser signal: a signal in {observation.unit.symbol} needs the fleet's peak watts; "
            "pass --fleet-peak-w W or --scenario FILE",
            file=sys.stderr,
        )
        return 2
    decision = policy.decide(observation, now_s, peak_w, source.describe())
    if args.state_file:
        note = save_state(args.state_file, policy.state)
        if note:
            print(f"geyser signal: {note}", file=sys.stderr)
    series = observation if isinstance(observation, Series) else None
    if args.json:
        out = decision.to_dict()
        out["fleet_peak_w"] = peak_w
        out["series"] = series.describe() if series else None
        print(json.dumps(out, indent=2))
    else:
        print(render(decision, series, peak_w))
    return 0 if decision.fallback is None else 1


def _setup(args) -> tuple[SignalPolicy, object]:
    from oslo_config import cfg

    from watcher_geyser.signal import opts

    conf = cfg.ConfigOpts()
    opts.register_opts(conf)
    files = [args.config_file] if args.config_file else []
    try:
        conf(args=[], project="watcher-geyser", default_config_files=files)
        config = opts.policy_config(conf)
        spec = args.source or conf[opts.GROUP].source
        http = opts.http_options(conf, spec)
        files_options = opts.file_options(conf)
    except cfg.ConfigSourceValueError as exc:  # oslo names the file as a LocationInfo(...) repr: say it plainly
        text = re.sub(r" from LocationInfo\(.*?detail='[^']*'\)", "", str(exc))
        raise ValueError(f"config file {args.config_file}: {text}; fix it in [geyser_signal] (every option is "
                         "documented in etc/watcher-geyser/watcher-geyser.conf.sample)") from None
    except cfg.Error as exc:
        raise ValueError(f"config file {args.config_file}: {exc}; give a readable oslo.config file "
                         "with a [geyser_signal] group, or leave --config-file out") from None
    for note in _misspelt_options(args.config_file, set(conf[opts.GROUP].keys())) if args.config_file else ():
        print(f"geyser signal: note: {note}", file=sys.stderr)
    if not spec:
        raise ValueError("no SOURCE given and no config file sets a [geyser_signal] source; give one, such as "
                         "`geyser signal constant:5000W --fleet-peak-w 12000` (specs: geyser signal --help)")
    source = parse_spec(spec, http, files_options)
    state = PolicyState(source=source.describe())
    if args.state_file:
        state, note = load_state(args.state_file, source.describe())
        if note:
            print(f"geyser signal: {note}", file=sys.stderr)
    return SignalPolicy(config, state), source


def _misspelt_options(path: str, known: set[str]) -> list[str]:
    """Notes on [geyser_signal] options that look like a known one misspelt ('sorce'): oslo.config
    ignores unknown options, so the typo would leave the default in force unseen, in this check
    and in the audits that read the same file."""
    import configparser

    from watcher_geyser.signal.opts import GROUP

    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return []  # oslo.config read it; a file configparser cannot read is not ours to judge
    if not parser.has_section(GROUP):
        return []
    return [f"config file {path}: [{GROUP}] unknown option {key!r} ignored; did you mean {guess!r}?"
            for key in parser.options(GROUP) if key not in known and (guess := closest(key, known)) is not None]


def _fleet_peak(args) -> float | None:
    if args.fleet_peak_w is not None:
        if not args.fleet_peak_w > 0:
            raise ValueError(f"--fleet-peak-w must be > 0, got {args.fleet_peak_w:g}")
        return args.fleet_peak_w
    if args.scenario:
        from watcher_geyser.scenario import load_scenario
        from watcher_geyser.signal.policy import fleet_peak_w

        return fleet_peak_w(load_scenario(args.scenario))
    return None


def render(d: Decision, series: Series | None, peak_w: float | None) -> str:
    """The decision as aligned text for a terminal."""
    unit = d.unit.symbol if d.unit else ""
    if d.value is None:
        value = "none (no usable reading)"
    else:
        value = f"{d.value:g} {unit}"
        if d.value_now is not None and d.value_now != d.value:
            value += f" (now {d.value_now:g} {unit})"
    budget = "none (no cap)" if d.budget_w is None else f"{d.budget_w:,.0f} W"
    if d.budget_w is not None and peak_w:
        budget += f" ({d.budget_w / peak_w:.0%} of the fleet peak {peak_w:,.0f} W)"
    mode = "consolidate" if d.consolidate else "relax (plentiful)"
    power = "may switch idle hosts off" if d.allow_power_off else "switch no host off"
    scarcity = f"{d.level:.2f} (0 plenty .. 1 scarce): {mode}, {power}"
    if d.fallback is Fallback.SAFE_DEFAULT:  # not plentiful: unknown, so the default that risks no host
        scarcity = f"unknown (no reading): the safe default, relax and {power}"
    rows = [
        ("source", d.source),
        ("series", series.describe() if series else "unavailable"),
        ("at", iso(d.at_s)),
        ("value", value),
        ("power budget", budget),
        ("ceiling", f"{d.ceiling:.3f}"),
        ("scarcity", scarcity),
        ("held", "yes (hysteresis)" if d.held else "no"),
        ("fallback", d.fallback.value if d.fallback else "none"),
        ("reason", d.reason),
    ]
    if d.notes:
        rows.append(("notes", "; ".join(d.notes)))
    if d.held and d.proposed_ceiling is not None:
        proposed = "none" if d.proposed_budget_w is None else f"{d.proposed_budget_w:,.0f} W"
        rows.insert(-3, ("signal alone", f"budget {proposed}, ceiling {d.proposed_ceiling:.3f}"))
    return "\n".join(f"{k:<13} {v}" for k, v in rows)
