"""A plan as text an operator reads at a glance: one row per action, grouped by wave."""

from __future__ import annotations

from watcher_geyser.planner.actions import Action, Plan

_LABELS = {
    "power_on": "power on",
    "enable": "enable",
    "live_migrate": "live migrate",
    "cold_migrate": "cold migrate",
    "disable": "disable",
    "power_off": "power off",
}


def format_plan_table(plan: Plan, max_rows: int | None = None, messages: bool = True) -> str:
    """The waves as an aligned table, then the moves left undone and a summary line.

    ``max_rows`` cuts long plans (the summary still counts everything); None shows all.
    ``messages=False`` leaves out the closing summary for a caller that printed the plan's
    messages already (``geyser plan`` lists them among its notes).
    """
    header = ("wave", "action", "instance", "from / host", "to")
    rows = []
    for w, wave in enumerate(plan.waves, start=1):
        for action in wave:
            rows.append((str(w), *_cells(action)))
    shown = rows if max_rows is None else rows[:max_rows]
    widths = [max(len(r[c]) for r in [header, *shown]) for c in range(len(header))]
    lines = [_line(header, widths), _line(tuple("-" * n for n in widths), widths)]
    lines += [_line(r, widths) for r in shown]
    if len(shown) < len(rows):
        lines.append(f"... {len(rows) - len(shown)} more action(s); use --json for the whole plan")
    if plan.left_undone:
        lines.append("")
        lines.append(f"Left undone ({len(plan.left_undone)}):")
        for u in plan.left_undone:
            lines.append(f"  {u.instance_name}  {u.source} -> {u.destination}  [{u.code.value}] {u.reason}")
    if messages:
        lines.append("")
        lines.extend(plan.messages or [f"{plan.migrations} migration(s) in {plan.wave_count} wave(s)."])
    return "\n".join(lines)


def _cells(a: Action) -> tuple[str, str, str, str]:
    label = _LABELS[a.kind.value]
    if a.kind.is_migration:
        name = a.instance_name or a.instance or ""
        if a.staging:
            label += " (staging)"
        return label, name, a.source or "", a.destination or ""
    return label, "", a.host or "", ""


def _line(cells: tuple[str, ...], widths: list[int]) -> str:
    return "  ".join(c.ljust(n) for c, n in zip(cells, widths)).rstrip()
