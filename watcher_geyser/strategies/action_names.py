"""The Watcher action names our strategy emits and our power-cycle record reads, spelt once.

Why a module of its own: the strategy (``emit``), the action itself (``power_action``), the
cycle record read from Watcher's database (``cycles``) and the offline runner (``offline``)
must agree on these strings, and a typo in one would silently stop counting power cycles.
Imports nothing, so the pure-Python parts of the adapter can read it without Watcher.
"""

from __future__ import annotations

#: Our power action: Watcher 17's ``change_node_power_state`` cannot power off safely (see ``power_action``).
NODE_POWER_ACTION = "geyser_node_power"
#: Watcher's own power action, which an operator's other strategies may still run.
WATCHER_POWER_ACTION = "change_node_power_state"
#: Every action that switches a host's power, ours first.
POWER_ACTIONS = (NODE_POWER_ACTION, WATCHER_POWER_ACTION)
