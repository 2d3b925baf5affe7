"""The seam between the simulator and Fleet-based policies (the ``geyser`` policy plugs in here).

``fleet_from_view(view)`` turns the simulator state at a decision step into a ``watcher_geyser.fleet.Fleet``
so that the same code path as the Watcher plugin (fleet -> problem -> solve -> plan) can run on it.
``migrations_to(view, placement)`` turns the answer back into the ``Migration`` list the engine
starts, with CloudSim's durations (RAM / 62.5 MB/s, plus boot time for an off host in ``realistic``).

Mapping (MIPS as capacity):

* one vcpu = ``MIPS_UNIT`` (10) MIPS, so a G4 host (2 x 1860 MIPS) has 372 vcpus and a G5 532; a
  2500-MIPS VM has 250 vcpus. Measured CPU is exact: ``cpu_util`` = the VM's demand / its MIPS, so
  ``Fleet.cpu_load / Fleet.physical_cores`` is the host utilisation CloudSim computes.
* vcpu allocation ratio ``VCPU_RATIO`` (8): flavour vcpus do not bind, as in CloudSim, where only
  current demand counts after start; give the problem a ``cpu_ceiling`` (e.g. 0.8) to cap demand.
* memory: the host's RAM and each VM's RAM; in ``cloudsim`` fidelity RAM is not enforced after start,
  expressed as a RAM allocation ratio of ``CLOUDSIM_RAM_RATIO``; in ``realistic`` 1.0.
* disk: 0 everywhere (the traces say nothing about disks).
* state: hosts running a VM (or powered, in ``realistic``) are ``enabled``, others ``off``; VMs
  migrating now are in state ``migrating``, as a Nova adapter reads a task in flight
  (``records.NOVA_TASKS``): they cannot be moved twice at once, are not shelved, and reasons say
  they are busy rather than locked; instance uuids are the trace names and host names the data
  centre's, so answers map back by index.
* settled: each VM's ``Instance.settled_s`` is the time since its last migration ended (the engine's
  ``SimState.moved_s``), as a reader of Nova's finished migrations would give it: the swap pass
  leaves a VM that moved within ``swap_payback_s`` where it is (``solver/swap.py``).
* migrations in flight: the VM sits on its source (the engine moves it when the migration ends),
  and its destination holds a *claim* for it (``claims.with_claims``: a pinned row, ``claim_of``
  naming the VM, with its flavour and CPU use), as the Watcher strategy and the snapshot read
  Nova's ``os-migrations``: both ends count it as used, so a decision neither fills the room the
  VM is about to take nor empties and switches off the host it is about to land on. The engine
  counts it there too (10 % allocated, its full request held against the host for the SLA).
  Claims are capacity, not VMs: ``migrations_to`` skips them, and nothing counting VMs reads the
  fleet (the engine counts VMs from its own state). ``claims=False`` leaves them out, as Watcher's
  own strategies see the cloud (their model places each instance on one host; ``watcher_vwc``).
* cores: each host's ``Host.core_size`` is its MIPS per core / ``MIPS_UNIT`` (186 on a G4, 266 on a
  G5), each VM's ``Instance.cores`` its PEs; so ``Fleet.cpu_per_core`` (its demand per PE in the
  same units) above a host's core size is CloudSim's core cap (``req > vm_pes x pe_mips``), and the
  solver moves no VM where it would be capped (``solver/rules/cores.py``), as CloudSim's
  ``isSuitableForVm`` does. A VM that becomes capped where it is is moved by relief to cores fast
  enough (CloudSim does not migrate for it), or named when it cannot be.

``migrations_to`` leaves the rules to the caller; the engine accepts any move and caps allocation.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from watcher_geyser.claims import MigrationRecord, with_claims
from watcher_geyser.fleet import Fleet
from watcher_geyser.records import MIGRATING, Host, HostState, Instance
from watcher_geyser.simulator.state import Migration, SimState

if TYPE_CHECKING:
    from watcher_geyser.simulator.view import StepView

MIPS_UNIT = 10.0
VCPU_RATIO = 8.0
CLOUDSIM_RAM_RATIO = 64.0


def fleet_from_view(view: StepView, cpu_util: np.ndarray | None = None, claims: bool = True) -> Fleet:
    """The fleet as it stands at this decision step (running VMs only, and with ``claims`` a claim
    on the destination of each migration in flight; see the module doc).

    ``cpu_util`` (float[V] over all trace VMs, fraction of each VM's MIPS) replaces the
    measured utilisation, e.g. with a policy's forecast of the coming interval. Built at
    every step of a replay, so per-VM figures are computed as arrays, and the arrays that
    only the hosts decide are computed once, on the run's first fleet.
    """
    state, dc = view.state, view.state.dc
    cloudsim = state.fidelity.is_cloudsim
    occupied = np.array([len(v) > 0 for v in state.host_vms])
    on = occupied if cloudsim else (state.powered | occupied)
    variants = _host_variants(state)
    hosts = [variants[h][on_h] for h, on_h in enumerate(on.tolist())]
    alive = np.flatnonzero(state.alive)
    if cpu_util is None:
        util = view.snapshot.vm_req_mips[alive] / dc.vm_mips[alive]
    else:
        util = cpu_util[alive]
    host_names = dc.host_names
    vcpus, memory_mb = _vm_sizes(state)
    settled = view.time_s - state.moved_s[alive]  # inf: never moved
    instances = [
        Instance(uuid=name, name=name, host=host_names[h], vcpus=c, memory_mb=m, disk_gb=0, cpu_util=u,
                 state=MIGRATING if moving else "active", cores=pes, settled_s=s if s < np.inf else None)
        for name, h, c, m, u, moving, pes, s in zip(
            [dc.vm_names[v] for v in alive.tolist()],
            state.vm_host[alive].tolist(),
            vcpus[alive].tolist(),
            memory_mb[alive].tolist(),
            np.minimum(util, 1.0).tolist(),
            state.in_migration[alive].tolist(),
            dc.vm_pes[alive].tolist(),
            settled.tolist(),
        )
    ]
    fleet = Fleet.build(hosts, instances)
    first = getattr(state, "_fleet_first", None)
    if first is None:
        state._fleet_first = first = fleet
    else:
        fleet.share_host_arrays(first)
    if claims and state.inflight:
        # a destination the fleet shows off (cloudsim counts a host running nothing as off) adds
        # no claim; with_claims says so in notes, which a replay has no reader for
        fleet = with_claims(fleet, migrations_in_flight(state), [])
        fleet.share_host_arrays(first)
    return fleet


def migrations_in_flight(state: SimState) -> list[MigrationRecord]:
    """The engine's migrations in flight as Nova's ``os-migrations`` lists them: live migrations
    running (a destination still booting included: the migration is on its way there)."""
    vms, hosts = state.dc.vm_names, state.dc.host_names
    return [MigrationRecord(vms[m.vm], hosts[m.src], hosts[m.dst], "running", "live-migration")
            for m in state.inflight]


def _vm_sizes(state) -> tuple[np.ndarray, np.ndarray]:
    """Each trace VM's vcpus and memory_mb as the fleet counts them (int64[V] each), built once per run."""
    cached = getattr(state, "_fleet_vm_sizes", None)
    if cached is None:
        dc = state.dc
        vcpus = np.array([int(round(mips / MIPS_UNIT)) for mips in dc.vm_mips.tolist()], dtype=np.int64)
        cached = (vcpus, np.asarray(dc.vm_ram_mb).astype(np.int64))
        state._fleet_vm_sizes = cached
    return cached


def _host_variants(state) -> list[tuple[Host, Host]]:
    """Each host as (off, enabled), built once per run: hosts differ between steps only by state."""
    cached = getattr(state, "_fleet_host_variants", None)
    if cached is not None:
        return cached
    dc, cloudsim = state.dc, state.fidelity.is_cloudsim
    total_mips = dc.total_mips
    variants = []
    for h in range(dc.hosts):
        host = Host(
            name=dc.host_names[h],
            vcpus=int(round(total_mips[h] / MIPS_UNIT)),
            memory_mb=int(dc.ram_mb[h]),
            disk_gb=0,
            power=dc.power[h],
            cpu_allocation_ratio=VCPU_RATIO,
            ram_allocation_ratio=CLOUDSIM_RAM_RATIO if cloudsim else 1.0,
            state=HostState.OFF,
            core_size=float(dc.pe_mips[h]) / MIPS_UNIT,
        )
        variants.append((host, replace(host, state=HostState.ENABLED)))
    state._fleet_host_variants = variants
    return variants


def migrations_to(view: StepView, fleet: Fleet, placement: np.ndarray) -> list[Migration]:
    """Migrations taking ``fleet`` (from ``fleet_from_view``) to ``placement`` (host index per instance);
    claim rows are room held, not VMs, and never move."""
    dc = view.state.dc
    vm_index = {name: i for i, name in enumerate(dc.vm_names)}
    host_index = {name: i for i, name in enumerate(dc.host_names)}
    moves = []
    for inst, h in zip(fleet.instances, np.asarray(placement).tolist()):
        if inst.claim_of is not None:
            continue
        target = host_index[fleet.hosts[int(h)].name]
        v = vm_index[inst.uuid]
        if target != int(view.state.vm_host[v]):
            moves.append(Migration(v, target))
    return moves
