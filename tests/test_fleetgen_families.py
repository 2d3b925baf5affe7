"""The benchmark families are what their names say: depth, fill and generations."""

import numpy as np

from watcher_geyser.fleet import RAM
from watcher_geyser.fleetgen import INSTANCES_PER_HOST, generate_family


def test_tight_deep_hosts_hold_tens_of_instances_of_three_generations_most_of_them_full():
    per_host = INSTANCES_PER_HOST["tight-deep"]
    fleet = generate_family("tight-deep", 100, 100 * per_host, seed=2)
    held = np.bincount(fleet.placement, minlength=len(fleet.hosts))
    assert held.min() >= 20 and held.max() <= 40
    memory = np.bincount(fleet.placement, weights=fleet.demand[:, RAM], minlength=len(fleet.hosts))
    allocated = memory / fleet.capacity[:, RAM]
    assert 0.75 <= allocated.mean() <= 0.85
    assert len(np.unique(fleet.idle_w)) == 3  # three host generations, each its own power curve
