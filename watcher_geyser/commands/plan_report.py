"""What ``geyser plan`` prints without ``--json``: the summary table, its notes and the signal's decision.

Apart from the command so that the command holds one job (read the inputs, run the pipeline);
the plan's own table is the planner's (``planner.format_plan_table``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watcher_geyser.fleet import Fleet
    from watcher_geyser.pipeline.request import Result


def format_summary(summary: dict) -> str:
    """Before, after and the lower bound of hosts, watts, migrations and memory moved; then the
    hosts released, relieved or switched on, every note, and the signal's decision."""
    rows = [
        ("hosts on", summary["hosts_on_before"], summary["hosts_on_after"], summary["hosts_lower_bound"]),
        (
            "watts",
            f"{summary['watts_before']:.0f}",
            f"{summary['watts_after']:.0f}",
            f"{summary['watts_lower_bound']:.0f}",
        ),
        ("migrations", "", summary["migrations"], ""),
        (
            "memory moved (MB)",
            "",
            f"{summary['memory_moved_mb']:.0f}",
            f"{summary['migration_cost_lower_bound_mb']:.0f}",
        ),
    ]
    lines = [f"{'':20}{'before':>12}{'after':>12}{'lower bound':>14}"]
    lines += [f"{label:20}{str(a):>12}{str(b):>12}{str(c):>14}" for label, a, b, c in rows]
    lines.append("")
    lines.append(
        f"solver: {summary['solver_status']} (CP-SAT {summary['cpsat_status']}), found by {summary['found_by']}, "
        f"in {summary['solve_seconds']:.2f} s; "
        f"watts within {summary['watts_gap']:.2%} of the bound"
    )
    if summary["released_hosts"]:
        lines.append(f"released hosts: {', '.join(summary['released_hosts'])}")
    if summary["relieved_hosts"]:
        lines.append(f"relieved hosts (were above their relief limit): {', '.join(summary['relieved_hosts'])}")
    if summary["powered_on_hosts"]:
        lines.append(f"hosts switched on: {', '.join(summary['powered_on_hosts'])}")
    for name, reason in summary["unrelieved_hosts"].items():
        lines.append(f"NOT RELIEVED {name}: {reason}")
    lines += [f"note: {message}" for message in summary["messages"]]  # an unrelieved host is not among them
    if "signal" in summary:
        lines.append(format_signal(summary["signal"]))
    return "\n".join(lines)


def format_signal(d: dict) -> str:
    """The energy decision the plan was made under, one line per fact."""
    unit = d["unit_symbol"] or ""
    value = "none (no usable reading)" if d["value"] is None else f"{d['value']:g} {unit}".strip()
    budget = "none (no cap)" if d["power_budget_w"] is None else f"{d['power_budget_w']:,.0f} W"
    fallback = d["fallback"] or "none"
    power = "idle hosts may be switched off" if d["allow_power_off"] else "no host is switched off"
    return "\n".join(
        [
            f"signal: {d['source']}",
            f"  value {value}; power budget {budget}; ceiling {d['ceiling']:.3f}; {power}",
            f"  fallback {fallback}: {d['reason']}",
        ]
    )


def metrics_note(fleet: Fleet, cpu_ceiling: float | None) -> str:
    """What was assumed for instances without a measured ``cpu_util`` (empty when all have one,
    or when CPU use does not count): an operator should know the plan packs them as that busy."""
    missing = sum(1 for i in fleet.instances if i.cpu_util is None)
    if not missing or cpu_ceiling is None:
        return ""
    return (
        f"{missing} of {len(fleet.instances)} instance(s) have no cpu_util: planned at the scenario's "
        f"default_cpu_util {fleet.default_cpu_util:g} of their vcpus (1: fully busy, as the Watcher plugin "
        "counts instances without metrics); give cpu_util per instance "
        "(geyser snapshot --cpu-util-file or --cpu-prometheus) or default_cpu_util for a tighter plan"
    )


def why_no_actions(fleet: Fleet, result: Result) -> str | None:
    """Why the plan holds no action at all (None when it holds some): the first reason that applies."""
    plan = result.plan
    if plan.actions:
        return None
    undone = len(plan.left_undone)
    if undone:
        return f"all {undone} move(s) of the target were left undone (left_undone gives each reason)"
    if not fleet.instances:
        return "the scenario has no instances and no host to release"
    if not fleet.accepts.any():
        return (f"no host may receive an instance (all {len(fleet.hosts)} are disabled); "
                "enable hosts in the scenario (state 'enabled') to let geyser consolidate")
    if not fleet.movable.any():
        return (f"none of the {len(fleet.instances)} instance(s) may move (locked, excluded, or in a state "
                "that does not migrate: see docs/scenario.md)")
    limits = result.settings.limits
    if limits.max_migrations == 0:
        return "--max-migrations is 0"
    drawn_w = fleet.watts(fleet.placement, powered=fleet.powered)
    if limits.supply_w is not None and drawn_w <= limits.supply_w:
        return (f"the supply ({limits.supply_w:,.0f} W) covers what the fleet draws ({drawn_w:,.0f} W): while energy "
                "is plentiful no watts are worth a migration (watts above the supply come first, then memory moved)")
    cpu = "none" if limits.cpu_ceiling is None else f"{limits.cpu_ceiling:g}"
    target = result.target
    if result.unreached is not None:
        return (f"no placement better than the current one can be reached in a safe order ({target.status}, watts "
                f"within {target.gap:.2%} of the lower bound): {result.unreached}")
    if target.unrelieved:
        return (f"{len(target.unrelieved)} host(s) stay above their limits and relief found no move for them under "
                f"ceiling {limits.ceiling:g}, CPU ceiling {cpu} (NOT RELIEVED says why, and the fix, for each)")
    return (f"the solver's answer is the current placement ({target.status}, watts within {target.gap:.2%} of the "
            f"lower bound): under these limits (ceiling {limits.ceiling:g}, CPU ceiling {cpu}) it found no better one")
