"""Power cycles across audits, from what Watcher itself executed or is about to.

The core's budget (``pipeline.cycles``) needs each host's switch-offs of the last 24 h. A
strategy keeps nothing between audits, and a state file of our own would drift from what
really happened (plans rejected, actions failed, hosts switched by hand). Watcher's
database already holds the truth: every action, with its type, parameters, state and time.
So each audit reads the power-off actions (our ``geyser_node_power`` or Watcher's
``change_node_power_state``) that count, by state:

- ``SUCCEEDED``: done, at the time it finished;
- ``ONGOING``: under way, the host is going off;
- ``PENDING`` in an action plan that is ``PENDING`` or ``ONGOING``: approved, the applier
  will run it. Counted as if done now (it happens no earlier), so two audits in quick
  succession (an auto-triggered plan still queued when the next audit runs) cannot each
  spend a host's last switch-off: the second sees the first's.

Not counted: actions of ``RECOMMENDED`` plans (not approved: an operator may never start
one, and a continuous audit cancels its own at its next run; counting them would hold hosts
for up to ``action_plan_expiry`` on a recommendation), and ``FAILED``, ``CANCELLED``,
``SKIPPED`` or ``DELETED`` ones (they did not switch the host off). The host is the
action's ``resource_name`` (both set it), else the hostname behind its bare-metal node id.

When the history cannot be read, the audit switches nothing off (a switch-off could be one
too many) and says why; switching on stays allowed, because a host switched on outside the
rule is held on at the next audit that can read the history (``Hold.held_on``), so the
budget still holds. A host switched off outside Watcher (by hand, by Ironic's power sync)
is not in the history: that is the record's limit, named in docs/design/signal-policy.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from watcher_geyser.pipeline import CycleBudget, Hold

POWER_ACTIONS = ("geyser_node_power", "change_node_power_state")
COUNTED_STATES = ("SUCCEEDED", "ONGOING", "PENDING")  # PENDING: only read from approved plans
DONE_STATES = ("SUCCEEDED", "ONGOING")
APPROVED_PLAN_STATES = ("PENDING", "ONGOING")  # action plans the applier runs or will run


@dataclass(frozen=True)
class PowerAction:
    """What the budget reads of one Watcher action."""

    action_type: str
    state: str
    parameters: Mapping[str, object]
    at_s: float  # when it last changed state (epoch seconds)


def switch_offs(actions: Iterable[PowerAction], node_hosts: Mapping[str, str]) -> dict[str, list[float]]:
    """Hostname -> times of the power-offs among ``actions`` (``node_hosts``: bare-metal node id -> hostname)."""
    out: dict[str, list[float]] = {}
    for a in actions:
        if a.action_type not in POWER_ACTIONS or a.state not in COUNTED_STATES:
            continue
        if str(a.parameters.get("state", "")).lower() != "off":
            continue
        host = a.parameters.get("resource_name") or node_hosts.get(str(a.parameters.get("resource_id", "")))
        if host:
            out.setdefault(str(host), []).append(a.at_s)
    return out


def counted_power_actions(context, since_s: float, now_s: float) -> list[PowerAction]:
    """Watcher's power actions that count (module doc): done or under way since ``since_s``,
    and those still pending in approved action plans, dated ``now_s`` (the audit's now)."""
    from watcher import objects

    since = dt.datetime.fromtimestamp(since_s, dt.UTC).replace(tzinfo=None)  # Watcher stores naive UTC
    found = objects.Action.list(context, filters={"state__in": DONE_STATES, "updated_at__gte": since})
    out = [PowerAction(a.action_type, a.state, dict(a.input_parameters or {}), _epoch(a.updated_at or a.created_at))
           for a in found if a.action_type in POWER_ACTIONS]
    approved = {p.id for p in objects.ActionPlan.list(context, filters={"state__in": APPROVED_PLAN_STATES})}
    if approved:
        pending = objects.Action.list(context, filters={"state": "PENDING"})
        out += [PowerAction(a.action_type, a.state, dict(a.input_parameters or {}), now_s)
                for a in pending if a.action_type in POWER_ACTIONS and a.action_plan_id in approved]
    return out


def hold_from_history(budget: CycleBudget, now_s: float, hosts_on: Iterable[tuple[str, bool]],
                      actions: Iterable[PowerAction], node_ids: Mapping[str, str]) -> Hold:
    """The hosts the budget holds now. ``node_ids``: hostname -> bare-metal node id (as the metal inventory)."""
    node_hosts = {node: host for host, node in node_ids.items()}
    return budget.hold(now_s, hosts_on, switch_offs(actions, node_hosts))


def _epoch(when) -> float:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()
