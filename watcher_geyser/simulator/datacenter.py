"""Data centres the simulator replays traces on: hosts, VM sizes, initial placements.

Capacity is counted in MIPS as CloudSim counts it: a host has ``pes`` cores of ``pe_mips`` each, a
VM asks for ``vm_mips`` spread over ``vm_pes`` virtual cores and can never get more than
``vm_pes x pe_mips`` of its host. A trace's utilisation u of VM v means a demand of
``u x vm_mips[v]`` MIPS.

Presets:

* ``planetlab``: the set-up of CloudSim's power-aware consolidation experiments (800 hosts, even ids
  HP ProLiant ML110 G4 with 2 x 1860 MIPS, odd ids G5 with 2 x 2660 MIPS, 4 GB RAM, 1 Gbit/s; four
  VM types handed out by sorted file name: the first quarter 2500 MIPS / 870 MB, then 2000 / 1740,
  1000 / 1740, 500 / 613; one core each). Power curves are SPECpower's.
* ``planetlab-small``: the same host and VM types with fewer hosts (one per 1.25 VMs, as 800 / 1000),
  for the bundled sample.
* ``three-gen``: a fleet we did not shape the engine on, three host generations in turn (G4, G5
  and an 8 x 3000 MIPS, 16 GiB host on the plugin's default linear 120/350 W model) and deeper
  packing (two VMs per host where PlanetLab has 1.3; ``vms_per_host`` changes it).
* ``scenario_datacenter(fleet, trace)``: any fleet from a scenario file; one vcpu counts as
  ``MIPS_PER_VCPU`` MIPS and instances start where the scenario puts them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from watcher_geyser.defaults import HOST_IDLE_W, HOST_MAX_W
from watcher_geyser.fleet import RAM, Fleet
from watcher_geyser.power import CURVE_POINTS, PowerModel

G4_CURVE_W = (86.0, 89.4, 92.6, 96.0, 99.5, 102.0, 106.0, 108.0, 112.0, 114.0, 117.0)
G5_CURVE_W = (93.7, 97.0, 101.0, 105.0, 110.0, 116.0, 121.0, 125.0, 129.0, 133.0, 135.0)
G4_POWER = PowerModel.curve(G4_CURVE_W)
G5_POWER = PowerModel.curve(G5_CURVE_W)
#: The Watcher plugin's default host model (``[geyser_power] default_idle_w`` / ``default_max_w``):
#: linear, 120 W idle to 350 W at full load. Not a measured server: a third shape of curve
#: (a high idle floor, the cheapest watts per MIPS at full load) beside SPECpower's two.
PLUGIN_DEFAULT_POWER = PowerModel.linear(HOST_IDLE_W, HOST_MAX_W)

HOST_BW_KBIT = 1_000_000.0
VM_BW_KBIT = 100_000.0


@dataclass(frozen=True)
class HostType:
    """One kind of host: ``pes`` cores of ``pe_mips`` each, RAM, network and power model."""

    name: str
    pes: int
    pe_mips: float
    ram_mb: float
    power: PowerModel
    bw_kbit: float = HOST_BW_KBIT


@dataclass(frozen=True)
class VmType:
    """One kind of VM: the MIPS it asks for (on one core) and its RAM."""

    mips: float
    ram_mb: float


#: CloudSim's two PlanetLab hosts (even host ids G4, odd ones G5).
G4_HOST = HostType("HP ProLiant ML110 G4", pes=2, pe_mips=1860.0, ram_mb=4096.0, power=G4_POWER)
G5_HOST = HostType("HP ProLiant ML110 G5", pes=2, pe_mips=2660.0, ram_mb=4096.0, power=G5_POWER)
#: ``three-gen``'s newest generation: holds as much as six old hosts, on the plugin's default model.
EIGHT_CORE_HOST = HostType("8 x 3000 MIPS, 16 GiB", pes=8, pe_mips=3000.0, ram_mb=16384.0,
                           power=PLUGIN_DEFAULT_POWER)
#: ``modern``'s host, for today's multi-core, multi-GB VMs.
MODERN_HOST = HostType("2 x 16 x 3000 MIPS, 256 GiB", pes=32, pe_mips=3000.0, ram_mb=262144.0,
                       power=PLUGIN_DEFAULT_POWER, bw_kbit=10 * HOST_BW_KBIT)
#: CloudSim's four PlanetLab VM types, handed out by quarters of the sorted VM names.
PLANETLAB_VM_TYPES = (VmType(2500.0, 870.0), VmType(2000.0, 1740.0), VmType(1000.0, 1740.0), VmType(500.0, 613.0))
PLANETLAB_HOSTS = 800
#: How many MIPS one vcpu of a scenario host or instance stands for.
MIPS_PER_VCPU = 1000.0


@dataclass(frozen=True)
class DataCenter:
    """Hosts (arrays indexed by host) and VMs (arrays indexed by VM, in trace order)."""

    name: str
    host_names: tuple[str, ...]
    pes: np.ndarray  # int64[H]
    pe_mips: np.ndarray  # float64[H]
    ram_mb: np.ndarray  # float64[H]
    bw_kbit: np.ndarray  # float64[H]
    power: tuple[PowerModel, ...]  # per host
    vm_names: tuple[str, ...]
    vm_mips: np.ndarray  # float64[V]
    vm_pes: np.ndarray  # int64[V]
    vm_ram_mb: np.ndarray  # float64[V]
    vm_bw_kbit: np.ndarray  # float64[V]
    initial_host: np.ndarray | None = None  # int64[V]: where a scenario starts each VM, else None

    @property
    def hosts(self) -> int:
        return len(self.host_names)

    @property
    def vms(self) -> int:
        return len(self.vm_names)

    @property
    def total_mips(self) -> np.ndarray:
        return self.pes * self.pe_mips

    @property
    def curve_w(self) -> np.ndarray:
        """float64[H, 11]: each host's power at 0, 10, .., 100 % CPU (linear models resampled)."""
        rows = []
        for model in self.power:
            points = np.asarray(model.curve_w)
            if len(points) != CURVE_POINTS:
                points = np.interp(np.linspace(0, 1, CURVE_POINTS), np.linspace(0, 1, len(points)), points)
            rows.append(points)
        return np.array(rows).reshape(self.hosts, CURVE_POINTS)


def planetlab(
    vm_names: tuple[str, ...] | list[str], hosts: int = PLANETLAB_HOSTS, name: str = "planetlab"
) -> DataCenter:
    """CloudSim's PlanetLab set-up for the VMs of one day (names in sorted order)."""
    n = len(vm_names)
    if hosts < 1:
        raise ValueError(f"a data centre needs at least one host, got {hosts}")
    per_type = max(math.ceil(n / len(PLANETLAB_VM_TYPES)), 1)
    vm_types = [PLANETLAB_VM_TYPES[v // per_type] for v in range(n)]
    return DataCenter(
        name=name,
        host_names=tuple(f"host-{i:03d}" for i in range(hosts)),
        **_host_arrays([(G4_HOST, G5_HOST)[h % 2] for h in range(hosts)]),
        vm_names=tuple(vm_names),
        vm_mips=np.array([t.mips for t in vm_types], dtype=np.float64),
        vm_pes=np.ones(n, dtype=np.int64),
        vm_ram_mb=np.array([t.ram_mb for t in vm_types], dtype=np.float64),
        vm_bw_kbit=np.full(n, VM_BW_KBIT),
    )


def _host_arrays(types: list[HostType]) -> dict:
    """The ``DataCenter`` host fields for hosts of these types, in order."""
    return {
        "pes": np.array([t.pes for t in types], dtype=np.int64),
        "pe_mips": np.array([t.pe_mips for t in types], dtype=np.float64),
        "ram_mb": np.array([t.ram_mb for t in types], dtype=np.float64),
        "bw_kbit": np.array([t.bw_kbit for t in types], dtype=np.float64),
        "power": tuple(t.power for t in types),
    }


def planetlab_small(vm_names: tuple[str, ...] | list[str]) -> DataCenter:
    """``planetlab`` with one host per 1.25 VMs (800 hosts for 1,000 VMs), at least 2."""
    return planetlab(vm_names, hosts=max(2, round(len(vm_names) * 0.8)), name="planetlab-small")


#: The ``three-gen`` generations, handed out in turn.
THREE_GEN_HOSTS = (G4_HOST, G5_HOST, EIGHT_CORE_HOST)


def three_gen(vm_names: tuple[str, ...] | list[str], vms_per_host: float = 2.0) -> DataCenter:
    """Three host generations in turn (``THREE_GEN_HOSTS``), one host per ``vms_per_host`` VMs
    (at least 3); VMs as in ``planetlab``. Why: the PlanetLab set-up has two nearly identical
    2-core generations, so an engine tuned there may lean on that; here the newest host holds
    as much as six old ones, idles at 120 W and is the cheapest per MIPS only when nearly full."""
    if not vms_per_host > 0:
        raise ValueError(f"vms_per_host must be positive, got {vms_per_host}")
    hosts = max(3, math.ceil(len(vm_names) / vms_per_host))
    dc = planetlab(vm_names, hosts=hosts, name="three-gen")
    return replace(dc, **_host_arrays([THREE_GEN_HOSTS[h % len(THREE_GEN_HOSTS)] for h in range(hosts)]))


def scenario_datacenter(fleet: Fleet, vm_names: tuple[str, ...] | list[str]) -> DataCenter:
    """A data centre from a scenario fleet; ``vm_names`` (the trace's) pick and order its instances."""
    by_uuid = {inst.uuid: inst for inst in fleet.instances}
    missing = [n for n in vm_names if n not in by_uuid]
    if missing:
        shown = ", ".join(repr(n) for n in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise ValueError(
            f"the trace names {len(missing)} instance(s) the scenario does not hold ({shown}): its instance "
            "column must hold the scenario's uuids; add them to the scenario or drop their rows from the trace"
        )
    instances = [by_uuid[n] for n in vm_names]
    return DataCenter(
        name="scenario",
        host_names=tuple(h.name for h in fleet.hosts),
        pes=np.array([max(h.vcpus, 1) for h in fleet.hosts], dtype=np.int64),
        pe_mips=np.full(len(fleet.hosts), MIPS_PER_VCPU),
        ram_mb=np.array([h.capacity[RAM] for h in fleet.hosts], dtype=np.float64),
        bw_kbit=np.full(len(fleet.hosts), HOST_BW_KBIT),
        power=tuple(h.power for h in fleet.hosts),
        vm_names=tuple(vm_names),
        vm_mips=np.array([max(i.vcpus, 1) * MIPS_PER_VCPU for i in instances]),
        vm_pes=np.array([max(i.vcpus, 1) for i in instances], dtype=np.int64),
        vm_ram_mb=np.array([float(i.memory_mb) for i in instances]),
        vm_bw_kbit=np.full(len(instances), VM_BW_KBIT),
        initial_host=np.array([fleet.host_index(i.host) for i in instances], dtype=np.int64),
    )


def modern(vm_names: tuple[str, ...] | list[str]) -> DataCenter:
    """Hosts for today's VMs (the public datasets' multi-core, multi-GB VMs fit no PlanetLab host):
    2 x 16 cores of 3000 MIPS, 256 GiB RAM, 10 Gbit/s, 120 W idle to 350 W at full load (the
    Watcher plugin's default power model), one host per 4 VMs (at least 2). VM sizes come from
    the trace (``with_vm_sizes``); until then, the smallest PlanetLab VM type."""
    n = len(vm_names)
    hosts = max(2, math.ceil(n / 4))
    return DataCenter(
        name="modern",
        host_names=tuple(f"host-{i:03d}" for i in range(hosts)),
        **_host_arrays([MODERN_HOST] * hosts),
        vm_names=tuple(vm_names),
        vm_mips=np.full(n, PLANETLAB_VM_TYPES[-1].mips),
        vm_pes=np.ones(n, dtype=np.int64),
        vm_ram_mb=np.full(n, PLANETLAB_VM_TYPES[-1].ram_mb),
        vm_bw_kbit=np.full(n, VM_BW_KBIT),
    )


PRESETS = {"planetlab": planetlab, "planetlab-small": planetlab_small, "modern": modern, "three-gen": three_gen}


def with_vm_sizes(
    dc: DataCenter, vm_mips: np.ndarray | None, vm_ram_mb: np.ndarray | None, vm_pes: np.ndarray | None = None
) -> DataCenter:
    """``dc`` with the VM sizes a trace gives, when it gives them: ``vm_mips`` over ``vm_pes``
    virtual cores (one when the trace does not say)."""
    if vm_mips is None or vm_ram_mb is None:
        return dc
    sized = replace(
        dc, vm_mips=np.asarray(vm_mips, dtype=np.float64), vm_ram_mb=np.asarray(vm_ram_mb, dtype=np.float64)
    )
    return sized if vm_pes is None else replace(sized, vm_pes=np.asarray(vm_pes, dtype=np.int64))


def cloudsim_watts(curve_w: np.ndarray, utilisation: np.ndarray) -> np.ndarray:
    """Watts of each host (row of ``curve_w``) at ``utilisation``, interpolated as CloudSim does.

    CloudSim's SPECpower model takes the two points around u and interpolates linearly; the value is
    the same as ``PowerModel.watts`` up to rounding, computed for all hosts at once.
    """
    u = np.clip(utilisation, 0.0, 1.0)
    x = u * 10.0
    lo = np.minimum(np.floor(x).astype(np.int64), CURVE_POINTS - 2)
    rows = np.arange(len(u)) if curve_w.shape[0] == len(u) else None
    p_lo = curve_w[rows, lo] if rows is not None else curve_w[0, lo]
    p_hi = curve_w[rows, lo + 1] if rows is not None else curve_w[0, lo + 1]
    return p_lo + (p_hi - p_lo) * (x - lo)
