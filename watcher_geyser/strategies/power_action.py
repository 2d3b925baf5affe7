"""``geyser_node_power``: switch a compute host's bare-metal node on or off, safely.

Why not Watcher's own ``change_node_power_state``: in python-watcher 17.0.0 it reads
``node.get_hypervisor_node().to_dict()['running_vms']`` before powering off, but the
metal helpers now return ``nova_helper.Hypervisor``, a dataclass with neither
``to_dict`` nor ``running_vms``, so every power-off fails with AttributeError.
This action takes the same parameters (``resource_id`` = the bare-metal node id,
``state`` = on/off, ``resource_name`` = the hostname) and, before switching a host off,
asks Nova which instances the host still holds: any instance there and it refuses
(the action fails, the host stays on). It waits for the node to reach the state, as
Watcher's does, and after a power-on also for the host's nova-compute service to report
``up``, so that the migrations planned onto the host do not start before it can take them.

Options: ``[watcher_actions.geyser_node_power]`` (``poll_interval_s``, ``power_timeout_s``: how
often and how long each wait looks), handed to the action by Watcher's loader.
"""

from __future__ import annotations

from oslo_log import log
from watcher.applier.actions import change_node_power_state
from watcher.common import exception, nova_helper
from watcher.common.metal_helper import constants as metal_constants
from watcher.common.metal_helper import factory as metal_helper_factory

from watcher_geyser.strategies import opts
from watcher_geyser.strategies.action_names import NODE_POWER_ACTION
from watcher_geyser.strategies.polling import wait_until

LOG = log.getLogger(__name__)
ACTION_NAME = NODE_POWER_ACTION


class GeyserNodePower(change_node_power_state.ChangeNodePowerState):
    """Compute node power on/off through Ironic or MAAS, refusing to switch off a host with instances."""

    @classmethod
    def get_config_opts(cls):
        return opts.node_power_opts()

    @property
    def polls(self) -> tuple[int, float]:
        """(how many looks, seconds apart) in each wait, from the action's options."""
        return opts.NODE_POWER_WAIT.polls(self.config)

    def _node_manage_power(self, state, retry=None):
        """Watcher's signature; ``retry`` (looks per wait) defaults to what the options give."""
        polls, poll_s = self.polls
        retry = polls if retry is None else retry
        if state is None:
            raise exception.IllegalArgumentException(message="The target state is not defined")
        metal = metal_helper_factory.get_helper(self.osc)
        node = metal.get_node(self.node_uuid)
        current = node.get_power_state()
        if state == current.value:
            return True
        if state == metal_constants.PowerState.OFF.value:
            hostname = self.input_parameters.get("resource_name") or node.get_hypervisor_hostname()
            remaining = nova_helper.NovaHelper().get_instance_list(filters={"host": hostname})
            if remaining:
                LOG.warning("compute node %s still holds %d instance(s): not switched off", hostname, len(remaining))
                return False
        node.set_power_state(state)
        if not wait_until(lambda: metal.get_node(self.node_uuid).get_power_state() != current, retry, poll_s):
            return False
        if state == metal_constants.PowerState.ON.value:
            hostname = self.input_parameters.get("resource_name") or node.get_hypervisor_hostname()
            return wait_until(lambda: _service_up(hostname), retry, poll_s)
        return True

    def get_description(self):
        return "Compute node power on/off through Ironic or MAAS; never switches off a host with instances."


def _service_up(hostname: str) -> bool:
    services = nova_helper.NovaHelper().get_service_list()
    return any(s.host == hostname and s.binary == "nova-compute" and s.state == "up" for s in services)

