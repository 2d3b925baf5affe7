"""Our ``Plan`` -> Watcher actions in a ``WavedSolution``, and the figures for the efficacy.

Each of our action kinds has one Watcher action type:

=============  ===========================  ==============================================
ActionKind     Watcher action               resource_id
=============  ===========================  ==============================================
power_on/off   geyser_node_power            the bare-metal node id (Ironic/MAAS)
enable         change_nova_service_state    the compute node uuid
disable        change_nova_service_state    (with ``disabled_reason``)
live/cold      migrate (``migration_type``)  the instance uuid
shelve/back    geyser_instance_state        the instance uuid (``state`` shelved / active)
=============  ===========================  ==============================================

Deferrable instances (``watcher_geyser.deferral``): shelving comes first, in a wave of its
own before every migration and power action (the plan was made without them, so a host
they leave may be switched off later in the same plan); then the hosts switched on for the
instances brought back (``deferral.room``: power on, then enable, before the plan's waves,
since the plan was made with those hosts on); bringing back comes last, each instance to
its ``destination_node`` when it has one (else Nova's scheduler places it).

The solution remembers the wave of every action, which ``WavePlanner`` turns into the
action graph. Notes for the operator become a ``nop`` action ahead of everything, so
they are visible in the action plan (``openstack optimize action list``) and logged by
the applier. Power actions use our ``geyser_node_power`` (same parameters as Watcher's
``change_node_power_state``, which fails every power-off in Watcher 17.0.0).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from oslo_log import log
from watcher.applier.actions import base as baction
from watcher.common import exception
from watcher.decision_engine.solution import default

from watcher_geyser.deferral.fleet import FleetDeferral
from watcher_geyser.fleet import Fleet
from watcher_geyser.planner import ActionKind, Plan
from watcher_geyser.records import HostState
from watcher_geyser.strategies.action_names import NODE_POWER_ACTION
from watcher_geyser.strategies.opts import INSTANCE_STATE_ACTION

LOG = log.getLogger(__name__)
MAX_NOP_CHARS = 4000  # Watcher stores input parameters as JSON text; keep the message readable


class WavedSolution(default.DefaultSolution):
    """Watcher's default solution, plus the wave index of each action (parallel to ``actions``).

    ``add_action`` keeps Watcher's rules (``resource_id`` is reserved in the parameters; a
    duplicate action is dropped with a warning) but finds duplicates through a set:
    Watcher's own check scans every action so far, which costs about 15 s for a plan of
    9,000 migrations.
    """

    def __init__(self, goal, strategy):
        super().__init__(goal, strategy)
        self.waves: list[int] = []
        self._keys: set[str] = set()

    def add_action(self, action_type, input_parameters=None, resource_id=None, wave: int = 0):
        params = dict(input_parameters or {})
        if baction.BaseAction.RESOURCE_ID in params:
            raise exception.ReservedWord(name=baction.BaseAction.RESOURCE_ID)
        if resource_id is not None:
            params[baction.BaseAction.RESOURCE_ID] = resource_id
        action = {"action_type": action_type, "input_parameters": params}
        key = json.dumps(action, sort_keys=True, default=str)
        if key in self._keys:
            LOG.warning("Action %s has been added into the solution, duplicate action will be dropped.", action)
            return
        self._keys.add(key)
        self.actions.append(action)
        self.waves.append(wave)


@dataclass(frozen=True)
class Emitted:
    """What was written into the solution, and the figures of the fleet after the plan."""

    migrations: int
    released_hosts: int
    watts_before_w: float
    watts_after_w: float
    skipped: tuple[str, ...]
    shelved: int = 0
    brought_back: int = 0


def emit_plan(solution: WavedSolution, plan: Plan, fleet: Fleet, node_uuids: Mapping[str, str],
              metal_ids: Mapping[str, str], disabled_reason: str, notes: list[str],
              deferral: FleetDeferral | None = None, fleet_now: Fleet | None = None) -> Emitted:
    """Write ``plan`` (and ``notes`` as a leading ``nop``, ``deferral``'s shelves first, its due
    bring-backs before the plan's waves, the others last) into ``solution``.

    A due bring-back (``FleetDeferral.due``: its deadline falls before the plan is expected to
    end, ``deferral/decide.py`` rule 1) may not wait for the waves; its room is held in ``fleet``
    from the start (a locked instance on its destination), so it fits at every moment.

    ``fleet`` is the one the plan was made for (``deferral``'s: its shelved instances gone, its
    bring-backs in place and the hosts switched on for them on); ``fleet_now`` (default ``fleet``)
    the cloud as it stands, whose watts are ``watts_before_w``: the watts an operator is shown as
    now must not hold the hosts this plan switches on, nor lack the instances it shelves."""
    offset = 0
    if notes:
        message = " | ".join(notes)
        if len(message) > MAX_NOP_CHARS:
            message = message[: MAX_NOP_CHARS - 3] + "..."
        solution.add_action("nop", input_parameters={"message": message}, wave=0)
        offset = 1
    if deferral is not None and deferral.shelve:
        for uuid, name in deferral.shelve:
            params = {"state": "shelved", "resource_name": name}
            solution.add_action(INSTANCE_STATE_ACTION, input_parameters=params, resource_id=uuid, wave=offset)
        offset += 1
    skipped: list[str] = []
    switch_on = deferral.switch_on if deferral is not None else []
    for host in switch_on:  # before the plan's waves: its fleet shows these hosts on, holding the bring-backs
        if host not in metal_ids:
            skipped.append(f"power_on {host}: no bare-metal node is known for it")
            continue
        _host_action(solution, ActionKind.POWER_ON, host, node_uuids, metal_ids, disabled_reason, offset)
        _host_action(solution, ActionKind.ENABLE, host, node_uuids, metal_ids, disabled_reason, offset + 1)
    if switch_on:
        offset += 2
    resumed = deferral.resume if deferral is not None else []
    destinations = deferral.destinations if deferral is not None else {}
    due = deferral.due if deferral is not None else frozenset()
    if any(uuid in due for uuid, _ in resumed):  # due before the plan ends: back before its waves (rule 1)
        _bring_back(solution, [r for r in resumed if r[0] in due], destinations, offset)
        offset += 1
    released: set[str] = set()
    placement = fleet.placement.copy()
    powered = fleet.powered.copy()
    migrations = 0
    for w, wave in enumerate(plan.waves):
        for action in wave:
            if action.kind.is_migration:
                migrations += 1
                placement[fleet.instance_index[action.instance]] = fleet.host_index(action.destination)
                _migrate(solution, action, w + offset)
                continue
            if action.kind in (ActionKind.POWER_ON, ActionKind.POWER_OFF) and action.host not in metal_ids:
                skipped.append(f"{action.kind.value} {action.host}: no bare-metal node is known for it")
                continue
            if action.kind in (ActionKind.DISABLE, ActionKind.POWER_OFF):
                released.add(action.host)
            if action.kind is ActionKind.POWER_OFF:
                powered[fleet.host_index(action.host)] = False
            if action.kind is ActionKind.POWER_ON:
                powered[fleet.host_index(action.host)] = True
            _host_action(solution, action.kind, action.host, node_uuids, metal_ids, disabled_reason, w + offset)
    _bring_back(solution, [r for r in resumed if r[0] not in due], destinations, len(plan.waves) + offset)
    now = fleet if fleet_now is None else fleet_now
    return Emitted(
        migrations=migrations,
        released_hosts=len(released),
        watts_before_w=now.watts(powered=now.powered),
        watts_after_w=fleet.watts(placement, powered=powered),
        skipped=tuple(skipped),
        shelved=len(deferral.shelve) if deferral is not None else 0,
        brought_back=len(resumed),
    )


def _bring_back(solution: WavedSolution, resumed: list[tuple[str, str]], destinations: Mapping[str, str],
                wave: int) -> None:
    """Unshelve ``resumed`` ((uuid, name)) in ``wave``, each onto its destination when it has one."""
    for uuid, name in resumed:
        params = {"state": "active", "resource_name": name}
        if uuid in destinations:
            params["destination_node"] = destinations[uuid]
        solution.add_action(INSTANCE_STATE_ACTION, input_parameters=params, resource_id=uuid, wave=wave)


def _migrate(solution: WavedSolution, action, wave: int) -> None:
    params = {
        "migration_type": "live" if action.kind is ActionKind.LIVE_MIGRATE else "cold",
        "source_node": action.source,
        "destination_node": action.destination,
        "resource_name": action.instance_name or action.instance,
    }
    solution.add_action("migrate", input_parameters=params, resource_id=action.instance, wave=wave)


def _host_action(solution: WavedSolution, kind: ActionKind, host: str, node_uuids: Mapping[str, str],
                 metal_ids: Mapping[str, str], disabled_reason: str, wave: int) -> None:
    if kind in (ActionKind.POWER_ON, ActionKind.POWER_OFF):
        params = {"state": "on" if kind is ActionKind.POWER_ON else "off", "resource_name": host}
        solution.add_action(NODE_POWER_ACTION, input_parameters=params, resource_id=metal_ids[host], wave=wave)
        return
    params = {"state": "enabled" if kind is ActionKind.ENABLE else "disabled", "resource_name": host}
    if kind is ActionKind.DISABLE:
        params["disabled_reason"] = disabled_reason
    solution.add_action("change_nova_service_state", input_parameters=params, resource_id=node_uuids[host], wave=wave)


def enabled_hosts(fleet: Fleet) -> int:
    """Watcher's ``compute_nodes_count``: the compute nodes that are enabled (and up)."""
    return int(np.count_nonzero([h.state is HostState.ENABLED for h in fleet.hosts]))
