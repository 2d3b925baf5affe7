"""An action plan as operators read it: waves, migrations, released hosts, efficacy.

Pure: it reads the plain dicts Watcher's API returns (action plan, actions) and imports
nothing from OpenStack, so the same view serves ``geyser audit`` and its tests.

Waves are the levels of the plan's dependency graph: an action's wave is one more than
the latest wave among its ``parents``, so every action of a wave may run together once
the previous wave has finished. Watcher's default planner chains actions by type; ours
(``geyser``) emits capacity-safe waves; both read the same way here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from watcher_geyser.strategies.action_names import NODE_POWER_ACTION, WATCHER_POWER_ACTION

MIGRATE = "migrate"
RELEASING = {  # action type -> the input parameter that says the host leaves service
    "change_nova_service_state": ("state", "disabled"),
    WATCHER_POWER_ACTION: ("state", "off"),
    NODE_POWER_ACTION: ("state", "off"),
}


@dataclass(frozen=True)
class ActionRow:
    wave: int
    uuid: str
    action_type: str
    state: str
    resource: str  # instance or host the action is about
    source: str = ""
    destination: str = ""
    detail: str = ""


@dataclass
class PlanReport:
    audit_uuid: str
    audit_state: str
    plan_uuid: str | None
    plan_state: str | None
    actions: list[ActionRow] = field(default_factory=list)
    efficacy: list[dict] = field(default_factory=list)  # {name, description, unit, value}
    global_efficacy: list[dict] = field(default_factory=list)

    @property
    def waves(self) -> int:
        return max((a.wave for a in self.actions), default=0)

    @property
    def migrations(self) -> list[ActionRow]:
        return [a for a in self.actions if a.action_type == MIGRATE]

    @property
    def released_hosts(self) -> list[str]:
        """Hosts the plan disables or powers off, in plan order, each once."""
        seen: dict[str, None] = {}
        for a in self.actions:
            if a.action_type in RELEASING and a.detail == RELEASING[a.action_type][1]:
                seen.setdefault(a.resource, None)
        return list(seen)

    def to_dict(self) -> dict:
        return {
            "audit_uuid": self.audit_uuid,
            "audit_state": self.audit_state,
            "action_plan_uuid": self.plan_uuid,
            "action_plan_state": self.plan_state,
            "waves": self.waves,
            "migrations": len(self.migrations),
            "released_hosts": self.released_hosts,
            "efficacy_indicators": self.efficacy,
            "global_efficacy": self.global_efficacy,
            "actions": [a.__dict__ for a in self.actions],
        }


def plan_report(audit: dict, plan: dict | None, actions: Iterable[dict]) -> PlanReport:
    """The report of ``audit``'s action ``plan``; ``actions`` as the API lists them (any order)."""
    if plan is None:
        return PlanReport(audit["uuid"], audit.get("state", ""), None, None)
    actions = list(actions)
    waves = _waves(actions)
    rows = sorted((_row(a, waves[a["uuid"]]) for a in actions), key=lambda r: (r.wave, r.action_type, r.resource))
    return PlanReport(
        audit["uuid"],
        audit.get("state", ""),
        plan["uuid"],
        plan.get("state"),
        rows,
        list(plan.get("efficacy_indicators") or []),
        list(plan.get("global_efficacy") or []),
    )


def _waves(actions: list[dict]) -> dict[str, int]:
    """Action uuid -> wave (1-based); parents outside the plan are ignored, cycles are cut."""
    parents = {a["uuid"]: [p for p in (a.get("parents") or [])] for a in actions}
    wave: dict[str, int] = {}

    def level(uuid: str, path: frozenset) -> int:
        if uuid in wave:
            return wave[uuid]
        known = [p for p in parents[uuid] if p in parents and p not in path]
        wave[uuid] = 1 + max((level(p, path | {uuid}) for p in known), default=0)
        return wave[uuid]

    for uuid in parents:
        level(uuid, frozenset())
    return wave


def _row(action: dict, wave: int) -> ActionRow:
    kind = action.get("action_type", "")
    params = action.get("input_parameters") or {}
    resource = params.get("resource_name") or params.get("resource_id") or ""
    if kind == MIGRATE:
        return ActionRow(
            wave, action["uuid"], kind, action.get("state", ""), resource,
            params.get("source_node", ""),
            params.get("destination_node") or "scheduler",  # no destination: Nova's scheduler picks one
            params.get("migration_type", ""),
        )
    if kind in RELEASING:
        key = RELEASING[kind][0]
        return ActionRow(wave, action["uuid"], kind, action.get("state", ""), resource, detail=str(params.get(key, "")))
    shown = {k: v for k, v in params.items() if k not in ("resource_id", "resource_name")}
    detail = ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))
    return ActionRow(wave, action["uuid"], kind, action.get("state", ""), resource, detail=detail)


def format_report(report: PlanReport) -> str:
    """Aligned text: a summary, the efficacy, then one line per action grouped by wave."""
    if report.plan_uuid is None:
        return f"audit {report.audit_uuid}: {report.audit_state}, no action plan"
    lines = [
        f"audit        {report.audit_uuid} ({report.audit_state})",
        f"action plan  {report.plan_uuid} ({report.plan_state})",
        f"actions      {len(report.actions)} in {report.waves} wave(s); {len(report.migrations)} migration(s)",
        f"released     {', '.join(report.released_hosts) or 'none'}",
    ]
    if report.efficacy or report.global_efficacy:
        lines.append("efficacy")
        for ind in report.global_efficacy + report.efficacy:
            unit = f" {ind['unit']}" if ind.get("unit") else ""
            lines.append(f"  {ind.get('name', ''):<36} {_number(ind.get('value'))}{unit}")
    if report.actions:
        header = ("wave", "action", "resource", "from", "to", "detail", "state")
        table = [header] + [
            (str(a.wave), a.action_type, a.resource, a.source, a.destination, a.detail, a.state)
            for a in report.actions
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


def _number(value) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.2f}"  # Watcher sends counts as floats
    return str(value)
