"""What ``geyser plan`` prints without ``--json``: the summary table, its notes and the signal's decision.

Apart from the command so that the command holds one job (read the inputs, run the pipeline);
the plan's own table is the planner's (``planner.format_plan_table``).
"""

from __future__ import annotations


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
        f"solver: {summary['solver_status']} (CP-SAT {summary['cpsat_status']}) in {summary['solve_seconds']:.2f} s; "
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
    for message in summary["messages"]:
        lines.append(f"note: {message}")
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
