"""``geyser snapshot``: read a live cloud (read-only) and write it as a scenario for ``geyser plan``."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from watcher_geyser.defaults import HOST_IDLE_W, HOST_MAX_W, MOVED_WITHIN_S, SWAP_PAYBACK_S
from watcher_geyser.inputs import LIMITS, InputError, check_writable_folder, cli_number, write_atomically
from watcher_geyser.records import HostState

DESCRIPTION = """\
Read a live OpenStack cloud and write what it holds as a scenario file (docs/scenario.md):
hypervisors with their Placement inventories (size, reserved, allocation ratios), compute
service status, availability zones, servers with flavours, states and hosts, server
groups with their policies, the migrations in flight (a claim on their other host) and when
each instance was last moved (--moved-within). Nothing in the cloud is changed.

Credentials come from clouds.yaml (--os-cloud NAME) or the OS_* variables of an openrc
file, as for the openstack client; an admin account is needed to see every project's
servers and Placement. Nova has no power figures: every host gets the --idle-w/--max-w
model unless a --power rule matches its name.

Exit status: 0 written; 1 the cloud could not be read (the message names what);
2 bad arguments, unknown cloud or missing credentials.
"""

EPILOG = """\
examples:
  geyser snapshot --os-cloud prod -o prod.json
  geyser snapshot --os-cloud prod -o prod.json --idle-w 110 --max-w 330 \\
      --power 'gpu-*=170/420' \\
      --power 'old-*=93.7 97 101 105 110 116 121 125 129 133 135'
  geyser snapshot -o - --cpu-util-file cpu.json | geyser plan -
  geyser plan prod.json --signal constant:5000W     # what geyser would do there, as a dry run

--power PATTERN=SPEC: PATTERN is a host name or an fnmatch pattern (first match wins);
SPEC is IDLE_W/MAX_W (linear) or 11 watts at 0, 10, .., 100 % CPU (SPECpower style).
--cpu-util-file: JSON {"<server uuid>": fraction 0..1 of its vcpus, ..} from your metrics
system; servers without a figure get --default-cpu-util.
--cpu-prometheus URL --cpu-query PROMQL: the same from Prometheus' HTTP API, an instant
query giving one series per server labelled with its uuid (--cpu-label), e.g. for a
libvirt exporter (names depend on the exporter):
  --cpu-query 'rate(libvirt_domain_info_cpu_time_seconds_total[10m]) / libvirt_domain_info_virtual_cpus'
"""


_WATTS = cli_number(low=0, high=LIMITS["max_w"][1])


def _moved_within(text: str) -> float:
    """``--moved-within``: a duration (``24h``, ``90m``, ``2d``, ``3600s``) from 0 to the longest swap
    payback time (a month: a longer window holds no instance longer)."""
    from watcher_geyser.deferral import parse_duration
    from watcher_geyser.solver.problem import MAX_SWAP_PAYBACK_S

    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not 0 <= seconds <= MAX_SWAP_PAYBACK_S:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0s and {MAX_SWAP_PAYBACK_S / 86400:g}d "
                                         "(the longest --swap-payback)")
    return seconds


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "snapshot",
        help="read a live cloud into a scenario file (read-only)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--os-cloud", metavar="NAME", help="cloud in clouds.yaml (default: the OS_* variables)")
    p.add_argument("-o", "--output", metavar="FILE", required=True, help="scenario file to write ('-': stdout)")
    p.add_argument("--idle-w", type=_WATTS, default=None, metavar="W",
                   help=f"idle watts of a host (default {HOST_IDLE_W:g})")
    p.add_argument("--max-w", type=_WATTS, default=None, metavar="W",
                   help=f"full-load watts of a host (default {HOST_MAX_W:g})")
    p.add_argument(
        "--power",
        action="append",
        default=[],
        metavar="PATTERN=SPEC",
        help="power model for hosts matching PATTERN (repeatable; see below)",
    )
    cpu = p.add_mutually_exclusive_group()
    cpu.add_argument("--cpu-util-file", metavar="FILE", help="measured CPU use per server (JSON, see below)")
    cpu.add_argument("--cpu-prometheus", metavar="URL", help="read measured CPU use from this Prometheus (see below)")
    p.add_argument("--cpu-query", metavar="PROMQL", help="with --cpu-prometheus: one series per server, 0..1")
    p.add_argument("--cpu-label", default="uuid", metavar="NAME",
                   help="label holding the server uuid (default %(default)s)")
    p.add_argument("--cpu-scale", type=cli_number(low=0, low_open=True, high=1e6), default=1.0, metavar="F",
                   help="multiply values (default 1; 0.01 for percent)")
    p.add_argument(
        "--default-cpu-util",
        type=float,
        default=1.0,
        metavar="F",
        help="CPU use assumed for servers without a measurement, 0..1 of their vcpus "
        "(default %(default)g: flavour size)",
    )
    p.add_argument(
        "--page-size", type=int, default=None, metavar="N",
        help="servers and server groups per API request (default 500)"
    )
    p.add_argument(
        "--power-history", metavar="FILE",
        help="also write an empty power history dated now, for `geyser plan --power-history`: add the hosts' "
        "switch-offs of the last 24 h to it (Nova keeps none), or plan with none counted",
    )
    p.add_argument(
        # a text default: argparse reads it through _moved_within, and --help shows it as written
        "--moved-within", type=_moved_within, default=f"{MOVED_WITHIN_S / 3600:g}h", metavar="DURATION",
        help="write when each instance was moved (moved_at) for the migrations Nova lists as ended this far back, "
        "e.g. 24h, 90m, 2d; 0s: none read (default %(default)s). `geyser plan` holds an instance moved within its "
        f"--swap-payback ({SWAP_PAYBACK_S / 3600:g} h by default) out of swaps, counted to the plan's clock: "
        "a day lets a plan made hours later, or with any --swap-payback up to a day, hold every one it should; "
        "the window is written as moved_within_s, and a plan whose payback reaches back before it says so",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


class _Stop(Exception):
    """Ends the command with one line on stderr and its exit status (2: the command line or the
    credentials need fixing; 1: the cloud or the metrics could not be read into a fleet)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def run(args: argparse.Namespace) -> int:
    say = (lambda _msg: None) if args.quiet else (lambda msg: print(f"geyser snapshot: {msg}", file=sys.stderr))
    started_s = time.time()
    try:
        _check_output(args.output)
        if args.power_history:
            if args.power_history == "-":
                raise _Stop(2, "--power-history needs a file name ('-' is for the scenario); nothing read")
            _check_output(args.power_history, "--power-history")
        catalog, cpu_util = _inputs(args)
        cpu_util, cpu_notes = _prometheus_cpu(args, say) if args.cpu_prometheus else (cpu_util, [])
        records = _read(args, say)
        _attach_cpu(records, cpu_util, cpu_notes, args)
        snapshot = _fleet(records, catalog, args.default_cpu_util)
        for note in snapshot.notes:
            say(f"note: {note}")
        taken_at_s = float(math.floor(started_s if records.taken_at_s is None else records.taken_at_s))
        _write(args.output, snapshot.fleet, taken_at_s, args.moved_within)
        if args.power_history:
            _write_history(args.power_history, taken_at_s)
    except _Stop as stop:
        print(f"geyser snapshot: {stop}", file=sys.stderr)
        return stop.code
    say(_summary(args.output, snapshot.fleet))
    if args.power_history:
        say(f"wrote {args.power_history}: an empty power history as of the snapshot; add each host's switch-offs "
            "of the 24 h before it, or `geyser plan --power-history` counts none")
    return 0


def _write_history(path: str, now_s: float) -> None:
    from watcher_geyser.pipeline.history import PowerHistory, write_power_history

    try:
        write_power_history(path, PowerHistory({}, now_s))
    except OSError as exc:
        raise _Stop(1, f"--power-history {path}: cannot be written ({exc}); the scenario was written") from None


def _check_output(output: str, flag: str = "-o") -> None:
    """Before reading the cloud, which takes minutes on a large one: can the output be written?"""
    if output == "-":
        return
    try:
        check_writable_folder(Path(output).resolve().parent, flag)
    except InputError as exc:
        raise _Stop(2, f"{exc}; nothing read") from None


def _inputs(args: argparse.Namespace):
    """(power catalog, measured CPU use from --cpu-util-file): every flag checked before the cloud is asked."""
    from watcher_geyser.strategies.power_config import PowerCatalog, PowerConfigError

    try:
        overrides = [_pattern_spec(text) for text in args.power]
        catalog = PowerCatalog.from_specs(
            HOST_IDLE_W if args.idle_w is None else args.idle_w,
            HOST_MAX_W if args.max_w is None else args.max_w,
            overrides,
        )
        if not 0 <= args.default_cpu_util <= 1:
            raise ValueError(f"--default-cpu-util is a fraction 0..1, got {args.default_cpu_util:g}")
        if args.page_size is not None and args.page_size < 1:
            raise ValueError(f"--page-size must be >= 1, got {args.page_size}")
        cpu_util = _cpu_util(args.cpu_util_file) if args.cpu_util_file else {}
        if bool(args.cpu_prometheus) != bool(args.cpu_query):
            raise ValueError("--cpu-prometheus URL and --cpu-query PROMQL go together")
        if not args.cpu_scale > 0:
            raise ValueError(f"--cpu-scale must be > 0, got {args.cpu_scale:g}")
    except (PowerConfigError, ValueError) as exc:
        raise _Stop(2, str(exc)) from None
    return catalog, cpu_util


def _prometheus_cpu(args: argparse.Namespace, say) -> tuple[dict[str, float], list[str]]:
    """Measured CPU use per server from Prometheus, and notes on what it could not use."""
    from watcher_geyser.cloud.metrics import prometheus_cpu_util
    from watcher_geyser.signal import SignalError

    say("reading CPU use from Prometheus ..")
    try:
        return prometheus_cpu_util(args.cpu_prometheus, args.cpu_query, args.cpu_label, args.cpu_scale)
    except SignalError as exc:
        raise _Stop(1, f"{exc}; nothing written") from None


def _read(args: argparse.Namespace, say):
    """The cloud's records: bad credentials are the command line's fault (2), a failed read the cloud's (1)."""
    from watcher_geyser.cloud import DEFAULT_PAGE_SIZE, CloudError, connect, read_cloud

    try:
        conn = connect(args.os_cloud)
    except CloudError as exc:
        raise _Stop(2, str(exc)) from None
    try:
        return read_cloud(conn, args.page_size or DEFAULT_PAGE_SIZE, say, args.moved_within)
    except CloudError as exc:
        raise _Stop(1, f"{exc}; nothing written") from None


def _attach_cpu(records, cpu_util: dict[str, float], cpu_notes: list[str], args: argparse.Namespace) -> None:
    """Give the records the measured CPU use; measurements naming no server at all mean a wrong
    label or file, so nothing is written rather than a fleet planned at flavour size."""
    records.cpu_util.update(cpu_util)
    records.notes.extend(cpu_notes)
    servers = {s.uuid for s in records.servers}
    unknown = set(cpu_util) - servers
    if unknown:
        records.notes.append(f"CPU use: {len(unknown)} uuid(s) are no server read, ignored")
    measured = len(set(cpu_util) & servers)
    if cpu_util and records.servers and not measured:
        example = sorted(cpu_util)[0]
        fix = "--cpu-label" if args.cpu_prometheus else "the file's keys"
        raise _Stop(1, f"CPU use: none of the {len(cpu_util)} measured ids (such as {example!r}) is a server "
                       f"uuid; check {fix}; nothing written")
    if cpu_util:
        records.notes.append(f"CPU use measured for {measured} of {len(records.servers)} servers")


def _fleet(records, catalog, default_cpu_util: float):
    from watcher_geyser.cloud import to_fleet

    try:
        return to_fleet(records, catalog.model_for, default_cpu_util)
    except ValueError as exc:
        raise _Stop(1, f"the cloud's data do not form a valid fleet: {exc}; nothing written") from None


def _write(output: str, fleet, taken_at_s: float, moved_within_s: float) -> None:
    """The scenario with its taken_at and moved_within_s (how far back moves were read: a plan whose
    --swap-payback reaches further says so)."""
    from watcher_geyser.scenario import fleet_to_dict

    text = json.dumps(fleet_to_dict(fleet, taken_at_s, moved_within_s), indent=1) + "\n"
    if output == "-":
        sys.stdout.write(text)
        return
    try:
        write_atomically(output, text)  # a reader never sees half a scenario
    except OSError as exc:
        raise _Stop(2, f"cannot write {output}: {exc.strerror or exc}") from None


def _summary(output: str, fleet) -> str:
    states = {s: sum(1 for h in fleet.hosts if h.state is s) for s in HostState}
    claims = sum(1 for i in fleet.instances if i.claim_of is not None)
    held = f" (and {claims} claim(s) of migrations in flight)" if claims else ""
    return (
        f"wrote {output}: {len(fleet.hosts)} hosts ({states[HostState.ENABLED]} enabled, "
        f"{states[HostState.DISABLED]} disabled, {states[HostState.OFF]} off), {len(fleet.instances) - claims} "
        f"instances{held}, {len(fleet.server_groups)} server groups, {len(fleet.zones)} zone(s)"
    )


def _pattern_spec(text: str) -> tuple[str, str]:
    pattern, sep, spec = text.partition("=")
    if not sep or not pattern.strip() or not spec.strip():
        raise ValueError(f"--power {text!r}: write PATTERN=SPEC, such as 'gpu-*=170/420'")
    return pattern.strip(), spec


def _cpu_util(path: str) -> dict[str, float]:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ValueError(f"--cpu-util-file {path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"--cpu-util-file {path}: not valid JSON (line {exc.lineno}): {exc.msg}") from None
    if not isinstance(data, dict):
        raise ValueError(f"--cpu-util-file {path}: must be an object {{server uuid: fraction 0..1}}")
    result = {}
    for uuid, value in data.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(f"--cpu-util-file {path}: server {uuid!r}: {value!r} is not a fraction 0..1")
        result[uuid] = float(value)
    return result
