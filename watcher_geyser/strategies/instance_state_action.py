"""``geyser_instance_state``: shelve a deferrable instance, or bring one geyser shelved back.

Why our own action: Watcher 17 has ``shelve`` but no way back (``unshelve``), and its
``stop`` starts an instance only when reverting. Geyser also must remember which instances
*it* shelved, so that it never wakes one an operator shelved: shelving first writes
``geyser:shelved_at`` (the time, ISO 8601 UTC) into the instance's metadata, which also
starts the ``geyser:max_deferral`` clock; bringing back unshelves the instance, waits for it
to be ACTIVE, then removes the mark.

Where it comes back: to ``destination_node`` when the strategy chose one (``deferral/room.py``:
the plan holds its room there and may have switched other hosts off) and the compute API can
take it: microversion 2.91 added ``host`` to unshelve, for SHELVED_OFFLOADED servers only. The
request names 2.91 itself, whatever microversion Watcher's ``[nova] api_version`` pins for its
other calls (openstacksdk's ``unshelve_server`` takes ``host`` but sends it at that pinned
version, 2.56 by default, which Nova refuses). Otherwise, or if Nova refuses the host, a plain
unshelve, logged: Nova's scheduler picks the host, and the room held in the plan is still there.

Parameters: ``resource_id`` (instance uuid), ``state`` (``shelved`` or ``active``),
``resource_name`` (the instance name, for people), ``destination_node`` (optional, with
``active``: the compute host to bring it back on).

Options: ``[watcher_actions.geyser_instance_state]`` (``poll_interval_s``,
``unshelve_timeout_s``: how often and how long an unshelve is waited for), which
Watcher's loader registers and hands to the action as ``config``.

Pre-conditions (unmet: the action is SKIPPED with the reason, the plan goes on, so one
instance's problem never fails the others): the instance exists; to shelve, it is ACTIVE
or SHUTOFF and opted in (``geyser:deferrable=true``); to bring back, it is SHELVED or
SHELVED_OFFLOADED and carries geyser's mark. Post-condition: the instance is in the state
asked for. Execution errors are logged and left to the post-condition, which marks this
action FAILED with the instance and the reason; the applier then goes on with the rest of
the plan (an ``execute`` that fails stops the whole action plan in Watcher 17).
"""

from __future__ import annotations

import time

from keystoneauth1 import discover
from openstack import exceptions as sdk_exceptions
from oslo_log import log
from watcher.applier.actions import base
from watcher.common import exception, nova_helper

from watcher_geyser.deferral.spec import SHELVED_AT, parse_deferral
from watcher_geyser.inputs import iso
from watcher_geyser.strategies import opts
from watcher_geyser.strategies.polling import wait_until

LOG = log.getLogger(__name__)
ACTION_NAME = opts.INSTANCE_STATE_ACTION
UNSHELVE_TO_HOST = "2.91"  # the compute API microversion that added ``host`` to unshelve
SHELVED, ACTIVE = "shelved", "active"
SHELVED_STATUSES = ("SHELVED", "SHELVED_OFFLOADED")
SHELVABLE_STATUSES = ("ACTIVE", "SHUTOFF")


class GeyserInstanceState(base.BaseAction):
    """Shelve a deferrable instance (marking it as geyser's) or unshelve one geyser shelved."""

    @property
    def schema(self):
        return {
            "type": "object",
            "properties": {
                "resource_id": {"type": "string", "minLength": 1},
                "resource_name": {"type": "string"},
                "state": {"type": "string", "enum": [SHELVED, ACTIVE]},
                "destination_node": {"type": "string", "minLength": 1},
            },
            "required": ["resource_id", "state"],
            "additionalProperties": False,
        }

    @classmethod
    def get_config_opts(cls):
        return opts.instance_state_opts()

    @property
    def polls(self) -> tuple[int, float]:
        """(how many looks, seconds apart) while waiting for an unshelve, from the action's options: the
        first look at once, the last no earlier than ``unshelve_timeout_s``."""
        return opts.UNSHELVE_WAIT.polls(self.config)

    @property
    def state(self) -> str:
        return self.input_parameters["state"]

    @property
    def label(self) -> str:
        name = self.input_parameters.get("resource_name")
        return f"instance {name} ({self.resource_id})" if name else f"instance {self.resource_id}"

    def _nova(self):
        return nova_helper.NovaHelper()

    def _find(self, nova):
        try:
            return nova.find_instance(self.resource_id)
        except exception.ComputeResourceNotFound:
            raise exception.ActionSkipped(f"{self.label} no longer exists") from None

    def pre_condition(self):
        server = self._find(self._nova())
        metadata = server.metadata or {}
        if self.state == SHELVED:
            if server.status in SHELVED_STATUSES:
                raise exception.ActionSkipped(f"{self.label} is already shelved")
            if server.status not in SHELVABLE_STATUSES:
                raise exception.ActionSkipped(f"{self.label} is {server.status}: only ACTIVE or SHUTOFF is shelved")
            deferral, notes = parse_deferral(metadata, self.label)
            if deferral is None:
                why = " ".join(notes) or f"{self.label} is not deferrable (no geyser:deferrable=true)"
                raise exception.ActionSkipped(why)
        else:
            if server.status not in SHELVED_STATUSES:
                raise exception.ActionSkipped(f"{self.label} is {server.status}, not shelved: nothing to bring back")
            if SHELVED_AT not in metadata:
                raise exception.ActionSkipped(f"{self.label} was not shelved by geyser (no {SHELVED_AT}): left as is")

    def execute(self):
        try:
            self._apply()
        except Exception as exc:  # noqa: BLE001 - reported by post_condition, for this instance only
            LOG.error("%s: could not make it %s: %s: %s", self.label, self.state, type(exc).__name__, exc)
        return True

    def _apply(self) -> bool:
        nova = self._nova()
        compute = nova.connection.compute
        if self.state == SHELVED:
            now = iso(float(int(time.time())))
            compute.set_server_metadata(self.resource_id, **{SHELVED_AT: now})
            if nova.shelve_instance(self.resource_id):
                LOG.info("%s shelved by geyser at %s", self.label, now)
                return True
            LOG.error("%s: shelving did not complete", self.label)
            return False
        self._unshelve(compute, self._status(nova))
        if not wait_until(lambda: self._status(nova) == "ACTIVE", *self.polls):
            LOG.error("%s: unshelve did not complete (status %s)", self.label, self._status(nova))
            return False
        compute.delete_server_metadata(self.resource_id, [SHELVED_AT])
        LOG.info("%s brought back by geyser", self.label)
        return True

    def _unshelve(self, compute, status: str | None) -> None:
        """Unshelve onto ``destination_node`` when given and the compute API can (module docstring),
        else a plain unshelve."""
        host = self.input_parameters.get("destination_node")
        if host:
            why = _cannot_target(compute, status)
            if why is None:
                try:
                    response = compute.post(f"/servers/{self.resource_id}/action", json={"unshelve": {"host": host}},
                                            microversion=UNSHELVE_TO_HOST)
                    sdk_exceptions.raise_from_response(response)
                    LOG.info("%s: unshelving onto %s", self.label, host)
                    return
                except sdk_exceptions.HttpException as exc:
                    why = f"Nova refused the host ({exc})"
            LOG.warning("%s: unshelved without its destination %s (%s): Nova's scheduler picks the host; the room "
                        "the plan held there stays free", self.label, host, why)
        compute.unshelve_server(self.resource_id)

    def _status(self, nova) -> str | None:
        try:
            return nova.find_instance(self.resource_id).status
        except exception.ComputeResourceNotFound:
            return None

    def post_condition(self):
        status = self._status(self._nova())
        wanted = SHELVED_STATUSES if self.state == SHELVED else ("ACTIVE",)
        if status not in wanted:
            raise exception.ActionExecutionFailure(
                action_id=self.resource_id, reason=f"{self.label} is {status}, expected {' or '.join(wanted)}"
            )

    def revert(self):
        """Bring back an instance this action shelved; an unshelve is not undone."""
        if self.state == SHELVED and self._status(self._nova()) in SHELVED_STATUSES:
            nova = self._nova()
            nova.connection.compute.unshelve_server(self.resource_id)
            nova.connection.compute.delete_server_metadata(self.resource_id, [SHELVED_AT])
        return True

    def abort(self):
        return False

    def get_description(self):
        return "Shelve a deferrable instance when energy is scarce, or bring back one geyser shelved."



def _cannot_target(compute, status: str | None) -> str | None:
    """Why an unshelve cannot name its host, or None when it can: the server must be SHELVED_OFFLOADED
    (a SHELVED one comes back on its own host) and the compute endpoint must offer microversion 2.91."""
    if status != "SHELVED_OFFLOADED":
        return f"the instance is {status}, and only an offloaded one can be sent to a host"
    try:
        top = compute.get_endpoint_data().max_microversion
    except Exception as exc:  # noqa: BLE001 - an unknown version reads as too old
        return f"the compute API's version is unknown ({type(exc).__name__})"
    if not top or discover.normalize_version_number(top) < discover.normalize_version_number(UNSHELVE_TO_HOST):
        return f"the compute API offers microversions up to {top}, unshelve to a host needs {UNSHELVE_TO_HOST}"
    return None
