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
budget still holds.

A host switched off outside Watcher (by hand, by Ironic's power sync) is not in that
history. Nova gives a cheap signal (``outside_switch_offs``): the host is off now and its
nova-compute service is down, with its last heartbeat (the service's ``updated_at``) in the
window and no power-off of Watcher's at or after it. Then it went off then without Watcher:
one switch-off is counted, ``HEARTBEAT_S`` after the heartbeat (it went off no earlier, so
the hold lasts no less than it should). What stays unseen is named in
docs/design/signal-policy.md: a host switched off and back on outside Watcher between two
audits, and a service whose heartbeat Nova does not report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from watcher_geyser.inputs import InputError, epoch_s
from watcher_geyser.names import listed
from watcher_geyser.pipeline import CycleBudget, Hold
from watcher_geyser.strategies.action_names import POWER_ACTIONS

COUNTED_STATES = ("SUCCEEDED", "ONGOING", "PENDING")  # PENDING: only read from approved plans
DONE_STATES = ("SUCCEEDED", "ONGOING")
HEARTBEAT_S = 60.0  # a down service's last heartbeat is at most this long before the host went off (Nova's
# service_down_time default; its report_interval is 10 s)
CLOCK_SLACK_S = 300.0  # Watcher's and Nova's clocks may differ this much
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
    out = [PowerAction(a.action_type, a.state, dict(a.input_parameters or {}),
                       epoch_s(a.updated_at or a.created_at, f"action {a.uuid}: updated_at"))
           for a in found if a.action_type in POWER_ACTIONS]
    approved = {p.id for p in objects.ActionPlan.list(context, filters={"state__in": APPROVED_PLAN_STATES})}
    if approved:
        pending = objects.Action.list(context, filters={"state": "PENDING"})
        out += [PowerAction(a.action_type, a.state, dict(a.input_parameters or {}), now_s)
                for a in pending if a.action_type in POWER_ACTIONS and a.action_plan_id in approved]
    return out


def outside_switch_offs(hosts_off: Iterable[str], down_since: Mapping[str, float],
                        recorded: Mapping[str, list[float]], since_s: float, now_s: float) -> dict[str, float]:
    """Hosts off now that went off without Watcher (module doc) -> when that switch-off is counted.

    ``down_since``: hostname -> last heartbeat of its nova-compute service, for services that
    are down; ``recorded``: the switch-offs Watcher's history holds (``switch_offs``)."""
    out: dict[str, float] = {}
    for host in hosts_off:
        beat_s = down_since.get(host)
        if beat_s is None or not since_s < beat_s <= now_s:
            continue  # no heartbeat said, or down since before the window: not a switch-off of this window
        if any(t >= beat_s - CLOCK_SLACK_S for t in recorded.get(host, ())):
            continue  # Watcher's own power-off took it down: already counted
        out[host] = min(beat_s + HEARTBEAT_S, now_s)
    return out


def hold_from_history(budget: CycleBudget, now_s: float, hosts_on: Iterable[tuple[str, bool]],
                      actions: Iterable[PowerAction], node_ids: Mapping[str, str],
                      down_since: Mapping[str, float] | None = None, notes: list[str] | None = None) -> Hold:
    """The hosts the budget holds now. ``node_ids``: hostname -> bare-metal node id (as the metal
    inventory); ``down_since``: see ``outside_switch_offs``; what it adds is said in ``notes``."""
    hosts_on = list(hosts_on)
    node_hosts = {node: host for host, node in node_ids.items()}
    recorded = switch_offs(actions, node_hosts)
    outside = outside_switch_offs((name for name, on in hosts_on if not on), down_since or {}, recorded,
                                  now_s - budget.window_s, now_s)
    for host, at_s in outside.items():
        recorded.setdefault(host, []).append(at_s)
    if outside and notes is not None:
        notes.append(f"power cycles: {len(outside)} host(s) found off, their compute service down with no "
                     f"power-off of Watcher's since, counted as switched off outside Watcher: "
                     f"{listed(sorted(outside))}")
    return budget.hold(now_s, hosts_on, recorded)


def down_since(services: Iterable) -> dict[str, float]:
    """Hostname -> last heartbeat (epoch seconds) of each nova-compute service that is down
    (``services``: Watcher's ``nova_helper.Service`` records; ``updated_at`` ISO 8601, naive UTC)."""
    out: dict[str, float] = {}
    for s in services:
        if (getattr(s, "state", "") or "").lower() != "down" or not getattr(s, "updated_at", None):
            continue
        try:
            out[s.host] = epoch_s(s.updated_at, f"the heartbeat of {s.host}")
        except InputError:
            continue  # a heartbeat we cannot read is no signal
    return out
