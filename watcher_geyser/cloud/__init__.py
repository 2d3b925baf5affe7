"""Snapshot a live cloud into a scenario: openstacksdk at the edge, a pure translation inside.

- ``connect(cloud=None)``: an openstacksdk connection with credentials checked (``CloudError``).
- ``read_cloud(conn, page_size, progress) -> CloudRecords``: what Nova and Placement say (``read``).
- ``to_fleet(records, power_for, default_cpu_util) -> Snapshot``: the rules that make it a
  ``Fleet`` (``records``, pure, no OpenStack imports).
"""

from watcher_geyser.cloud.connect import CloudError, connect
from watcher_geyser.cloud.read import DEFAULT_PAGE_SIZE, read_cloud
from watcher_geyser.cloud.records import (
    CloudRecords,
    HypervisorRecord,
    Inventory,
    ServerGroupRecord,
    ServerRecord,
    Snapshot,
    to_fleet,
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "CloudError",
    "CloudRecords",
    "HypervisorRecord",
    "Inventory",
    "ServerGroupRecord",
    "ServerRecord",
    "Snapshot",
    "connect",
    "read_cloud",
    "to_fleet",
]

