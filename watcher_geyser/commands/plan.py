"""`geyser plan`: what watcher-geyser would do to a fleet, without touching any cloud."""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib import resources
from pathlib import Path

from watcher_geyser import defaults
from watcher_geyser.commands.plan_report import format_summary, metrics_note, why_no_actions
from watcher_geyser.fleet import Fleet
from watcher_geyser.inputs import FUTURE_SLACK_S, LIMITS, InputError, cli_number, epoch_s, iso
from watcher_geyser.names import listed
from watcher_geyser.pipeline import (
    DEFAULTS,
    CycleBudget,
    Limits,
    PlanSettings,
    Settings,
    SolveSettings,
    apply_decision,
)
from watcher_geyser.pipeline import run as run_pipeline
from watcher_geyser.pipeline.history import PowerHistory, PowerHistoryError, read_power_history
from watcher_geyser.pipeline.request import Result
from watcher_geyser.planner import format_plan_table
from watcher_geyser.scenario import ScenarioError, load_snapshot
from watcher_geyser.signal import Decision, SignalError, SignalPolicy, fleet_need_w, fleet_peak_w, parse_spec
from watcher_geyser.solver import METHODS
from watcher_geyser.solver.clock import validate_time_limit
from watcher_geyser.solver.problem import MAX_SWAP_PAYBACK_S, MIGRATION_CAP
from watcher_geyser.solver.relief import POWER_ON_FORBIDDEN, unrelieved_message
from watcher_geyser.summary import target_summary

LIM, SOL, PLAN = DEFAULTS.limits, DEFAULTS.solve, DEFAULTS.plan

BUNDLED = "demo.json"
#: Plan rows the table shows unless --max-rows says otherwise.
MAX_ROWS = 60

EPILOG = """\
examples:
  geyser plan                                  # the bundled demo fleet (16 hosts, 120 instances)
  geyser plan cloud.json --ceiling 0.8         # leave 20 percent head-room on every host
  geyser plan cloud.json --power-budget 4000 --json > answer.json
  geyser plan cloud.json --parallelism 8 --power-off   # waves as Watcher would run them
  geyser plan cloud.json --signal constant:5000W   # budget and ceiling from the energy policy
  geyser plan cloud.json --power-off --power-history offs.csv   # at most 2 power cycles per host a day
  geyser plan cloud.json --signal site.csv --now 2026-11-26T06:00Z   # plan as of that time

The scenario format is described in docs/scenario.md; `geyser snapshot` writes one from a
live cloud. Nothing is changed anywhere: this only computes and prints.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="compute a consolidation (target placement, bounds, migrations) for a scenario",
        description="Compute where every instance should be to draw the fewest watts with the "
        "fewest and cheapest migrations, and how far that is from the proven best.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("scenario", nargs="?",
                        help="scenario JSON file, '-' for stdin (default: the bundled demo fleet)")
    _add_solver_arguments(parser)
    _add_limit_arguments(parser)
    _add_energy_arguments(parser)
    _add_plan_arguments(parser.add_argument_group("migration plan"))
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of tables (its fields, found_by among them: README, "
                        "`geyser plan`)")
    parser.set_defaults(func=run)


def _add_number(parser: argparse.ArgumentParser | argparse._ArgumentGroup, flag: str, parse, default,
                metavar: str | None, help_text: str) -> None:
    """Add a numeric option whose ``--help`` states its default: ``help_text`` places it with argparse's
    ``%(default)g``, so each default is written once (in ``pipeline.DEFAULTS`` or ``defaults``)."""
    if "%(default)g" not in help_text:
        raise ValueError(f"{flag}: its help must state the default with %(default)g")
    parser.add_argument(flag, type=parse, default=default, metavar=metavar, help=help_text)


def _add_solver_arguments(parser: argparse.ArgumentParser) -> None:
    """How long and how the solver searches: the defaults are the Watcher strategy's (``pipeline.DEFAULTS``)."""
    _add_number(parser, "--time-limit", float, SOL.time_limit_s, "S",
                "solver time limit, seconds, finite and above 0 (default %(default)g)")
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="same scenario, same answer on every run: one CP-SAT worker under a work limit derived from "
        "--time-limit (slower to improve, and the wall time follows the machine's speed)",
    )
    parser.add_argument(
        "--method", choices=METHODS, default=SOL.method, help=f"solver back-end (default {SOL.method})"
    )
    _add_number(parser, "--seed", _seed, SOL.seed, None, "CP-SAT random seed, 0 to 2147483647 (default %(default)g)")


def _add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    """What the target placement may use: ceilings, relief, power budget and migration cap."""
    _add_number(parser, "--ceiling", _fraction, LIM.ceiling, "F",
                "fraction of each host's schedulable vcpu/RAM/disk usable after consolidation "
                "(default %(default)g); the signal never moves it")
    _add_number(parser, "--cpu-ceiling", _fraction_or_none, LIM.cpu_ceiling, "F",
                "fraction of each host's cores that measured CPU use may reach (default %(default)g; "
                "'none' ignores CPU use); --signal replaces it with the policy's ceiling")
    _add_number(parser, "--relief-margin", _margin, LIM.relief_margin, "F",
                "a host sheds instances once its CPU use passes the CPU ceiling by this much (default "
                "%(default)g, capped at 100 %%)")
    parser.add_argument("--power-budget", type=_watts, metavar="W",
                        help="watts available to the fleet, a soft target: watts above it are cut first "
                        "(default: no budget)")
    parser.add_argument("--max-migrations", type=_count, metavar="N",
                        help="most instances that may move (default: no cap)")
    parser.add_argument("--no-power-on", action="store_true", help="never switch on a host that is off now")
    _add_number(parser, "--watts-tolerance", _tolerance, LIM.watts_tolerance, "F",
                "give up to this fraction of the fewest watts for less memory to move, never for more hosts on "
                "(default %(default)g: watts strictly first)")
    _add_number(parser, "--swap-payback", _payback_s, LIM.swap_payback_s, "S",
                "how long the placement is expected to stand, seconds: two instances swap hosts for a flatter "
                "power curve only when the watts saved over this long pay for both migrations, and an instance "
                "the scenario says moved (moved_at) less than this before the plan's clock (--now) stays out of "
                "swaps (default %(default)g; 0: no swaps)")


def _add_energy_arguments(parser: argparse.ArgumentParser) -> None:
    """The plan's clock, the energy signal and the power-cycle budget, which the Watcher plugin applies as well."""
    parser.add_argument(
        "--now",
        metavar="TIME",
        help="the plan's clock, ISO 8601 (2026-11-26T06:00:00Z; no offset: UTC) or epoch seconds: the time "
        "--signal decides at, the power-cycle budget counts to and the scenario's moved_at times age to "
        "(default: the --power-history file's now, else the current time); give the snapshot's taken_at to "
        "plan it as it was taken",
    )
    parser.add_argument(
        "--power-history",
        metavar="FILE",
        help="switch-offs of the last 24 h per host (JSON or CSV with host and time, see README): applies the "
        "power-cycle budget as the Watcher plugin does (a host with no switch-off left is not switched on, "
        "and one on with none left is not emptied); without it, no budget is applied",
    )
    _add_number(parser, "--max-power-cycles", _positive_int, defaults.MAX_POWER_CYCLES_PER_DAY, "N",
                "switch-offs a host may make in any 24 h, with --power-history (default %(default)g)")
    parser.add_argument(
        "--signal",
        metavar="SPEC",
        help="energy signal source (as for `geyser signal`); the policy's decision at the plan's clock (--now) sets "
        "the available power and the CPU ceiling, replacing --power-budget and --cpu-ceiling, and may forbid "
        "--power-off",
    )


def _add_plan_arguments(migration: argparse._ArgumentGroup) -> None:
    """How the target becomes waves of actions, as Watcher's applier would run them."""
    _add_number(migration, "--parallelism", _positive_int, PLAN.parallelism, "N",
                "migrations running at once, as Watcher's applier runs them (default %(default)g)")
    _add_number(migration, "--per-host-parallelism", _positive_int, PLAN.per_host_parallelism, "N",
                "migrations touching one host at once, as source or destination "
                "(default %(default)g, Nova's max_concurrent_live_migrations)")
    migration.add_argument("--power-off", action="store_true", help="switch off the hosts the plan empties")
    _add_number(migration, "--bandwidth", _positive, PLAN.bandwidth_mb_s, "MB/S",
                "live-migration speed for the plan's duration estimate (each migration: its memory over this, "
                "plus --migration-overhead); the Watcher strategy's migration_bandwidth_mb_s. Measure it: "
                "Nova's migration records, memory_total / duration (default %(default)g MB/s)")
    _add_number(migration, "--migration-overhead", _action_s, PLAN.migration_overhead_s, "S",
                "seconds each migration takes besides copying, in the same estimate (default %(default)g s)")
    _add_number(migration, "--power-on-time", _action_s, PLAN.power_on_s, "S",
                "seconds a host takes from power-on until its nova-compute service is up, for the same estimate "
                "(a wave that switches hosts on lasts this long); the Watcher strategy's host_power_on_s. Bare "
                "metal through Ironic often takes 5-15 min: measure the node's power state change "
                "(default %(default)g s)")
    _add_number(migration, "--power-off-time", _action_s, PLAN.power_off_s, "S",
                "seconds a host takes to power off (the wave that switches emptied hosts off); the Watcher "
                "strategy's host_power_off_s (default %(default)g s)")
    migration.add_argument(
        "--stage-on-emptied-hosts",
        action="store_true",
        help="let swap cycles be broken through hosts that are being emptied (delays their disable)",
    )
    _add_number(migration, "--max-rows", _count, MAX_ROWS, "N", "plan rows shown in the table (default %(default)g)")


NOTHING_PLANNED = "; nothing was planned"


class _Refused(ValueError):
    """An input ``geyser plan`` cannot plan with; the message is the one line it prints (exit 2)."""


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        fleet, settings, decision = _request(args, started)
    except _Refused as exc:
        text = str(exc) if str(exc).endswith(NOTHING_PLANNED) else f"{exc}{NOTHING_PLANNED}"
        print(f"geyser plan: {text}", file=sys.stderr)
        return 2
    read_s = time.monotonic() - started
    if sys.stderr.isatty():  # seconds of silence otherwise: say what runs and for how long at most
        print(f"geyser plan: solving {len(fleet.instances)} instance(s) on {len(fleet.hosts)} host(s), up to "
              f"{args.time_limit:g} s (--time-limit) ..", file=sys.stderr)
    result = run_pipeline(fleet, settings)
    summary = _summary(args, settings, decision, result, started, read_s)
    if (why := why_no_actions(fleet, result)) is not None:
        summary["messages"].append(f"no actions: {why}")
    if args.json:
        json.dump(summary, sys.stdout, indent=1)
        print()
    else:
        print(format_summary(summary))
        if result.plan.actions or result.plan.left_undone:  # else the notes said why: no empty table
            print()
            print(format_plan_table(result.plan, max_rows=args.max_rows, messages=False))  # they are notes above
    return 0


def _request(args: argparse.Namespace, started: float) -> tuple[Fleet, Settings, Decision | None]:
    """The fleet, the pipeline's settings (signal, power history and solver share applied) and the
    signal's decision (None without ``--signal``); ``_Refused`` names a bad input."""
    try:
        validate_time_limit(args.time_limit, "--time-limit")
    except ValueError as exc:
        raise _Refused(str(exc)) from None
    history = _power_history(args)
    now_s, clock = _clock(args, history)
    fleet, known_since_s = _fleet(args, now_s)
    if args.max_migrations is not None and args.max_migrations < 0:
        raise _Refused("--max-migrations must be >= 0")
    try:
        settings = _settings(args)
    except ValueError as exc:
        raise _Refused(str(exc)) from None
    decision = None
    if args.signal:
        try:
            decision = _decide(args.signal, fleet, now_s)
        except SignalError as exc:
            raise _Refused(f"--signal: {exc}") from None
        settings = apply_decision(settings, decision).noted(_replaced(args, settings.limits, decision))
    if history is not None:
        settings = with_power_history(settings, fleet, history, CycleBudget(args.max_power_cycles), now_s, clock)
    settings = settings.noted(metrics_note(fleet, settings.limits.cpu_ceiling),
                              _moves_unknown_note(args.swap_payback, now_s, known_since_s))
    # deterministic: the solver's share may not follow how long reading took
    spent_s = 0.0 if args.deterministic else time.monotonic() - started
    settings = settings.with_solve(time_limit_s=solver_limit_s(args.time_limit, spent_s, len(fleet.instances)))
    return fleet, settings, decision


def _replaced(args: argparse.Namespace, before: Limits, decision: Decision) -> str:
    """A note naming the flags the signal's decision overrode (empty when none was given)."""
    replaced = []
    if args.power_budget is not None:
        budget = "none" if decision.budget_w is None else f"{decision.budget_w:,.0f} W"
        replaced.append(f"--power-budget {args.power_budget:g} W by the signal's budget ({budget})")
    if args.cpu_ceiling != LIM.cpu_ceiling and before.cpu_ceiling is not None:
        replaced.append(f"--cpu-ceiling {args.cpu_ceiling:g} by the signal's ceiling ({decision.ceiling:g})")
    if not replaced:
        return ""
    return "--signal replaced " + " and ".join(replaced) + "; leave --signal out to plan with yours"


def _clock(args: argparse.Namespace, history: PowerHistory | None) -> tuple[float, str]:
    """The plan's one clock (epoch s) and what set it, for the notes: ``--now``, else the power
    history's ``now``, else the current time. A switch-off the history dates after ``--now`` is
    refused, as the history's own ``now`` refuses one: a budget counted on a wrong clock is worse
    than none."""
    if args.now is None:
        if history is not None and history.now_s is not None:
            return history.now_s, "the power history's now"
        return time.time(), "the current time"
    try:
        now_s = epoch_s(args.now, "--now", show=True)
    except InputError as exc:
        raise _Refused(str(exc)) from None
    if history is not None:
        late = [(at_s, host) for host, times in history.switch_offs.items() for at_s in times
                if at_s > now_s + FUTURE_SLACK_S]
        if late:
            at_s, host = min(late)
            raise _Refused(f"--power-history {args.power_history}: {host}'s switch-off at {iso(at_s)} is after --now "
                           f"({iso(now_s)}); give a --now after the history's switch-offs, or leave --now out")
    return now_s, "--now"


def _moves_unknown_note(payback_s: float, now_s: float, known_since_s: float | None) -> str:
    """A note when ``--swap-payback`` reaches back before the moves the snapshot read (its
    ``moved_within_s`` before its ``taken_at``): an instance moved earlier has no ``moved_at``, so the
    swap pass may move it again although it moved within the payback time (empty otherwise)."""
    if known_since_s is None or payback_s <= 0 or now_s - payback_s >= known_since_s:
        return ""
    return (f"--swap-payback {payback_s / 3600:g} h reaches back to {iso(now_s - payback_s)}, but the snapshot read "
            f"Nova's migrations only since {iso(known_since_s)} (its moved_within_s): instances moved earlier are not "
            "known to have moved and may be swapped; take the snapshot with a longer --moved-within to hold them")


def _power_history(args: argparse.Namespace) -> PowerHistory | None:
    """The ``--power-history`` file read (None without one); ``_Refused`` names a malformed one."""
    if not args.power_history:
        return None
    try:
        return read_power_history(args.power_history)
    except PowerHistoryError as exc:
        raise _Refused(f"--power-history {exc}") from None


def _fleet(args: argparse.Namespace, now_s: float) -> tuple[Fleet, float | None]:
    """The scenario given, or the bundled demo fleet, and since when its moves are known
    (``scenario.load_snapshot``); its notes (a malformed deferral: the instance is planned as not
    deferrable) go to stderr. ``now_s``: the plan's clock (``_clock``), which each instance's
    ``moved_at`` counts to, as the budget and the signal do."""
    try:
        if args.scenario:  # '-': stdin, as `geyser snapshot -o -` writes to stdout
            fleet, known_since_s = load_snapshot("/dev/stdin" if args.scenario == "-" else args.scenario, now_s)
        else:
            path = resources.files("watcher_geyser") / "data" / "scenarios" / BUNDLED
            print(f"geyser plan: no scenario given, planning the bundled demo fleet ({BUNDLED})", file=sys.stderr)
            with resources.as_file(path) as real:
                fleet, known_since_s = load_snapshot(Path(real), now_s)
    except ScenarioError as exc:
        text = str(exc)
        if "the plan's clock" in text:  # the scenario's times against ours: say what set ours
            text += "; the plan's clock is --now, else the --power-history file's now, else the current time"
        raise _Refused(text) from None
    for note in fleet.notes:
        print(f"geyser plan: note: {note}", file=sys.stderr)
    return fleet, known_since_s


def _summary(args: argparse.Namespace, settings: Settings, decision: Decision | None, result: Result,
             started: float, read_s: float) -> dict:
    """What ``geyser plan`` reports (``--json`` prints it as is): the target's summary, the plan,
    every note, the signal's decision and the seconds each phase took. A host relief left hot is
    in ``unrelieved_hosts`` (host -> reason) only: the core's message naming it is not repeated
    in ``messages``."""
    target, moves = result.target, result.plan
    solved = read_s + started + target.solve_seconds
    planned = time.monotonic()
    summary = target_summary(target)
    plan_json = moves.to_json()
    summary["planned_migrations"] = plan_json.pop("migrations")
    summary["messages"] += plan_json.pop("messages")
    summary.update(plan_json)
    # a host relief left hot is one fact: its entry in unrelieved_hosts, not also the core's message for it
    said = {unrelieved_message(name, why) for name, why in summary["unrelieved_hosts"].items()}
    summary["messages"] = [_in_flags(m) for m in list(settings.notes) + summary["messages"] if m not in said]
    summary["unrelieved_hosts"] = {name: _in_flags(why) for name, why in summary["unrelieved_hosts"].items()}
    if decision is not None:
        summary["signal"] = decision.to_dict()
    summary["time_limit_s"] = args.time_limit
    summary["solver_time_limit_s"] = round(settings.solve.time_limit_s, 3)
    summary["phase_seconds"] = {
        "read": round(read_s, 3),
        "solve": round(solved - started - read_s, 3),
        "plan": round(planned - solved, 3),
        "summary": round(time.monotonic() - planned, 3),  # writing follows; it is not counted here
    }
    return summary


#: The request's names in the core's reasons, as this command's flags say them.
FLAGS = {
    f"({POWER_ON_FORBIDDEN})": "(--no-power-on was given: leave it out to let hosts be switched on)",
    f"({MIGRATION_CAP}": "(--max-migrations ",
}


def _in_flags(text: str) -> str:
    """``text`` (a note or a reason from the core) with the request's names put as this command's flags."""
    for name, flag in FLAGS.items():
        text = text.replace(name, flag)
    return text


# What `geyser plan` keeps back from --time-limit for planning and writing: a fixed part and
# a part per instance (the planner and the JSON writer scale with the instances). Measured
# on 5,000 hosts / 30,000 instances; a busy machine can still overrun by a second or two.
RESERVE_S = 0.2
RESERVE_S_PER_INSTANCE = 60e-6
MIN_SOLVER_S = 0.5


def solver_limit_s(time_limit_s: float, spent_s: float, instances: int) -> float:
    """The solver's share of the whole command's limit: what reading left, less the reserve
    for planning and writing; never under MIN_SOLVER_S (or the limit, when smaller)."""
    reserve = min(RESERVE_S + RESERVE_S_PER_INSTANCE * instances, 0.5 * time_limit_s)
    return max(time_limit_s - spent_s - reserve, min(MIN_SOLVER_S, time_limit_s))


def _settings(args: argparse.Namespace) -> Settings:
    """The pipeline's settings from the command line (before any signal)."""
    return Settings(
        Limits(
            ceiling=args.ceiling,
            cpu_ceiling=args.cpu_ceiling,
            relief_margin=args.relief_margin,
            supply_w=args.power_budget,
            max_migrations=args.max_migrations,
            allow_power_on=not args.no_power_on,
            watts_tolerance=args.watts_tolerance,
            swap_payback_s=args.swap_payback,
        ),
        SolveSettings(time_limit_s=args.time_limit, method=args.method, seed=args.seed,
                      deterministic=args.deterministic),
        PlanSettings(
            parallelism=args.parallelism,
            per_host_parallelism=args.per_host_parallelism,
            allow_power_off=args.power_off,
            bandwidth_mb_s=args.bandwidth,
            migration_overhead_s=args.migration_overhead,
            power_on_s=args.power_on_time,
            power_off_s=args.power_off_time,
            stage_on_emptied_hosts=args.stage_on_emptied_hosts,
        ),
    )


def with_power_history(settings: Settings, fleet, history: PowerHistory, budget: CycleBudget, now_s: float,
                       clock: str) -> Settings:
    """``settings`` under the power-cycle budget counted on ``history`` as of the plan's clock
    (``now_s``, set by ``clock``: ``_clock``), with a note on what was counted and any host it names
    that the fleet lacks."""
    hosts_on = [(h.name, h.powered) for h in fleet.hosts]
    settings = budget.hold(now_s, hosts_on, history.switch_offs).apply(settings)
    names = {name for name, _ in hosts_on}
    recent = sum(len(budget.recent(times, now_s)) for host, times in history.switch_offs.items() if host in names)
    notes = [f"power history: {recent} switch-off(s) of the scenario's hosts in the {budget.window_s / 3600:g} h "
             f"before {iso(now_s)} ({clock}), budget {budget.max_per_day} per host"]
    unknown = sorted(set(history.switch_offs) - names)
    if unknown:
        notes.append(f"power history names {len(unknown)} host(s) not in the scenario, ignored: {listed(unknown)}")
    return settings.noted(*notes)


def _decide(spec: str, fleet, now_s: float) -> Decision:
    """What the energy policy (default thresholds) decides from ``spec`` at the plan's clock
    (``now_s``); never touches the cloud."""
    source = parse_spec(spec)
    return SignalPolicy().decide_from(source, now_s, fleet_peak_w(fleet), need_w=fleet_need_w(fleet))


# Every flag is read through ``inputs.cli_number``: finite, in range, one-line error and exit 2.
_positive = cli_number(low=0, low_open=True, high=1e9)
_positive_int = cli_number(low=1, high=1_000_000, integer=True)
_count = cli_number(low=0, high=10**9, integer=True)
_watts = cli_number(low=0, high=LIMITS["power_budget_w"][1])
_fraction = cli_number(low=0, low_open=True, high=1)
_fraction_or_none = cli_number(low=0, low_open=True, high=1, none="none")
_tolerance = cli_number(low=0, high=0.99)
_margin = cli_number(low=0, high=1)
_payback_s = cli_number(low=0, high=MAX_SWAP_PAYBACK_S)
_action_s = cli_number(low=0, high=86400)  # seconds one action takes: at most a day
_seed = cli_number(low=0, high=2**31 - 1, integer=True)
