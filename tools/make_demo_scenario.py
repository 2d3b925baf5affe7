"""Regenerate watcher_geyser/data/scenarios/demo.json, the fleet `geyser plan` uses by default."""

from dataclasses import replace

from watcher_geyser.fleet import Fleet
from watcher_geyser.fleetgen import generate_fleet
from watcher_geyser.records import HostState
from watcher_geyser.scenario import save_scenario

f = generate_fleet(16, 120, mixed=True, seed=7, zones=2, server_groups=2, locked_share=0.03)
hosts = list(f.hosts)
# one host disabled for maintenance, one empty host powered off
hosts[5] = replace(hosts[5], state=HostState.DISABLED)
empty = [h for h in range(16) if not f.occupied()[h]]
inst = list(f.instances)
# move instances of the last host away to make it empty & off
last = hosts[-1].name
target = hosts[-3].name if hosts[-3].zone == hosts[-1].zone else hosts[-2].name
inst = [replace(i, host=target) if i.host == last else i for i in inst]
hosts[-1] = replace(hosts[-1], state=HostState.OFF)
inst[3] = replace(inst[3], state="shutoff")
inst[4] = replace(inst[4], state="error")
inst[5] = replace(inst[5], excluded=True)
fleet = Fleet.build(hosts, inst, f.server_groups)
save_scenario(fleet, "watcher_geyser/data/scenarios/demo.json")
print(len(fleet.hosts), len(fleet.instances), fleet.occupied().sum())
