"""The fleet: an immutable snapshot of hosts, instances and server groups, with numpy views.

Everything in watcher-geyser reads this one shape: the scenario reader and the Watcher adapter
build it from the records (``records.py``), the solver, planner and simulator consume it. It
imports nothing from OpenStack. ``Fleet.build`` checks the records' references once, and the
fleet adds numpy views for the hot paths (capacity per host, demand per instance, current
placement, hosts grouped by power model), computed once.

Resources are indexed by ``RESOURCES``: vcpu, ram (MB), disk (GB), the order of
``Host.capacity``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from watcher_geyser.power import PowerModel
from watcher_geyser.records import Host, HostState, Instance, ServerGroup

RESOURCES = ("vcpu", "memory_mb", "disk_gb")
VCPU, RAM, DISK = 0, 1, 2


@dataclass(frozen=True)
class Fleet:
    """An immutable snapshot of a cloud: hosts, instances on them, server groups.

    Build it through ``Fleet.build`` (or the scenario reader), which checks references.
    """

    hosts: tuple[Host, ...]
    instances: tuple[Instance, ...]
    server_groups: tuple[ServerGroup, ...] = ()
    default_cpu_util: float = 1.0  # CPU use assumed for instances without a measurement
    notes: tuple[str, ...] = ()  # what the reader set aside (e.g. a malformed deferral), for the operator
    _host_index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(
        cls,
        hosts: list[Host] | tuple[Host, ...],
        instances: list[Instance] | tuple[Instance, ...],
        server_groups: list[ServerGroup] | tuple[ServerGroup, ...] = (),
        default_cpu_util: float = 1.0,
        notes: tuple[str, ...] = (),
    ) -> Fleet:
        host_index: dict[str, int] = {}
        for i, host in enumerate(hosts):
            if host.name in host_index:
                raise ValueError(f"host {host.name!r}: duplicate host name")
            host_index[host.name] = i
            if host.core_size is not None and not host.core_size > 0:
                raise ValueError(f"host {host.name!r}: core_size must be above 0 (or None: no per-core limit), "
                                 f"got {host.core_size!r}")
        seen: set[str] = set()
        group_names = {g.name for g in server_groups}
        if len(group_names) != len(server_groups):
            raise ValueError("server_groups: duplicate group name")
        off = {host.name for host in hosts if not host.powered}
        for inst in instances:
            if inst.uuid in seen:
                raise ValueError(f"instance {inst.uuid!r}: duplicate uuid")
            seen.add(inst.uuid)
            if inst.host not in host_index:
                raise ValueError(f"instance {inst.uuid!r} ({inst.name}): unknown host {inst.host!r}")
            if inst.cores is not None and inst.cores < 1:
                raise ValueError(f"instance {inst.uuid!r} ({inst.name}): cores must be 1 or more (or None: its "
                                 f"vcpus), got {inst.cores!r}")
            if inst.server_group is not None and inst.server_group not in group_names:
                raise ValueError(f"instance {inst.uuid!r} ({inst.name}): unknown server group {inst.server_group!r}")
            if inst.host in off:
                raise ValueError(
                    f"instance {inst.uuid!r} ({inst.name}): its host {inst.host!r} is 'off' but runs it; "
                    "mark the host enabled or disabled"
                )
        return cls(tuple(hosts), tuple(instances), tuple(server_groups), default_cpu_util, tuple(notes), host_index)

    # --- lookups -------------------------------------------------------------------------
    def host_index(self, name: str) -> int:
        return self._host_index[name]

    @cached_property
    def instance_index(self) -> dict[str, int]:
        return {inst.uuid: i for i, inst in enumerate(self.instances)}

    @cached_property
    def group_index(self) -> dict[str, int]:
        return {g.name: i for i, g in enumerate(self.server_groups)}

    # --- numpy views for hot paths ---------------------------------------------------------
    @cached_property
    def capacity(self) -> np.ndarray:
        """float64[H, 3]: schedulable vcpu, memory_mb, disk_gb per host."""
        return np.array([h.capacity for h in self.hosts], dtype=np.float64).reshape(len(self.hosts), 3)

    @cached_property
    def physical_cores(self) -> np.ndarray:
        """float64[H]: host cores that measured CPU use is compared against (no overcommit)."""
        return np.array([max(h.vcpus, 1) for h in self.hosts], dtype=np.float64)

    @cached_property
    def demand(self) -> np.ndarray:
        """float64[V, 3]: vcpu, memory_mb, disk_gb each instance's flavour asks for."""
        rows = [(i.vcpus, i.memory_mb, i.disk_gb) for i in self.instances]
        return np.array(rows, dtype=np.float64).reshape(len(self.instances), 3)

    @cached_property
    def cpu_used(self) -> np.ndarray:
        """float64[V]: cores each instance actually uses (measured share x its vcpus)."""
        util = [self.default_cpu_util if i.cpu_util is None else i.cpu_util for i in self.instances]
        return np.array(util, dtype=np.float64) * self.demand[:, VCPU]

    @cached_property
    def cpu_drawn(self) -> np.ndarray:
        """float64[V]: cores each row draws power for where it sits: ``cpu_used``, but 0 for a claim
        (``claims.py``: the guest runs on its instance's host, the claim's host only holds room for
        it), so the watts count a migrating instance's CPU once. ``cpu_used`` is what the CPU
        limits count."""
        claims = np.array([i.claim_of is not None for i in self.instances], dtype=bool)
        return np.where(claims, 0.0, self.cpu_used) if claims.any() else self.cpu_used

    @cached_property
    def settled_s(self) -> np.ndarray:
        """float64[V]: seconds since a migration brought each instance to its host (``Instance.settled_s``);
        ``inf`` where none is known."""
        return np.array([np.inf if i.settled_s is None else i.settled_s for i in self.instances], dtype=np.float64)

    @cached_property
    def core_size(self) -> np.ndarray:
        """float64[H]: CPU one physical core of each host gives (``inf``: no per-core limit).

        Host generations differ in core speed, and a VM whose vCPUs run over k physical cores
        gets at most k of them, however idle the host's other cores are: it cannot borrow a
        second core's speed. So a busy VM fits a host's total CPU yet is starved on a host of
        slow cores (``solver/rules/cores.py``)."""
        return np.array([np.inf if h.core_size is None else h.core_size for h in self.hosts], dtype=np.float64)

    @cached_property
    def cpu_per_core(self) -> np.ndarray:
        """float64[V]: measured CPU each instance needs from each physical core it runs over
        (``cpu_used / cores``), compared against ``core_size``."""
        cores = [i.vcpus if i.cores is None else i.cores for i in self.instances]
        return self.cpu_used / np.maximum(np.array(cores, dtype=np.float64), 1.0)

    @cached_property
    def placement(self) -> np.ndarray:
        """int64[V]: index of each instance's current host."""
        return np.array([self._host_index[i.host] for i in self.instances], dtype=np.int64)

    @cached_property
    def movable(self) -> np.ndarray:
        """bool[V]: instances that may change host."""
        return np.array([i.movable for i in self.instances], dtype=bool)

    @cached_property
    def powered(self) -> np.ndarray:
        """bool[H]: hosts drawing power now."""
        return np.array([h.powered for h in self.hosts], dtype=bool)

    @cached_property
    def accepts(self) -> np.ndarray:
        """bool[H]: hosts that may receive instances (enabled, or off and switchable on)."""
        return np.array([h.accepts_instances for h in self.hosts], dtype=bool)

    @cached_property
    def idle_w(self) -> np.ndarray:
        return np.array([h.power.idle_w for h in self.hosts], dtype=np.float64)

    @cached_property
    def max_w(self) -> np.ndarray:
        return np.array([h.power.max_w for h in self.hosts], dtype=np.float64)

    @cached_property
    def zones(self) -> tuple[str, ...]:
        return tuple(sorted({h.zone for h in self.hosts}))

    @cached_property
    def host_zone(self) -> np.ndarray:
        """int64[H]: index into ``zones`` of each host's availability zone."""
        zi = {z: i for i, z in enumerate(self.zones)}
        return np.array([zi[h.zone] for h in self.hosts], dtype=np.int64)

    # --- figures for a placement -----------------------------------------------------------
    def load(self, placement: np.ndarray | None = None) -> np.ndarray:
        """float64[H, 3]: flavour resources used on each host under ``placement``."""
        placement = self.placement if placement is None else placement
        used = np.zeros((len(self.hosts), 3))
        np.add.at(used, placement, self.demand)
        return used

    def cpu_load(self, placement: np.ndarray | None = None) -> np.ndarray:
        """float64[H]: cores in use on each host under ``placement``, as the CPU limits count them
        (a claim holding room for a guest on its way in: ``claims.py``)."""
        return self._per_host(self.cpu_used, placement)

    def cpu_drawn_load(self, placement: np.ndarray | None = None) -> np.ndarray:
        """float64[H]: cores each host runs under ``placement``, what its watts follow (``cpu_drawn``)."""
        return self._per_host(self.cpu_drawn, placement)

    def _per_host(self, values: np.ndarray, placement: np.ndarray | None) -> np.ndarray:
        placement = self.placement if placement is None else placement
        used = np.zeros(len(self.hosts))
        np.add.at(used, placement, values)
        return used

    def occupied(self, placement: np.ndarray | None = None) -> np.ndarray:
        """bool[H]: hosts holding at least one instance."""
        placement = self.placement if placement is None else placement
        counts = np.bincount(placement, minlength=len(self.hosts)) if len(placement) else np.zeros(len(self.hosts))
        return counts > 0

    def host_watts(self, placement: np.ndarray | None = None, powered: np.ndarray | None = None) -> np.ndarray:
        """float64[H]: watts of each host; hosts not ``powered`` draw 0 W.

        By default a host is powered when it holds an instance (the consolidated view);
        pass ``powered=fleet.powered`` for the fleet as it stands.
        """
        placement = self.placement if placement is None else placement
        powered = self.occupied(placement) if powered is None else powered
        util = np.minimum(self.cpu_drawn_load(placement) / self.physical_cores, 1.0)
        watts = np.zeros(len(self.hosts))
        for model, members in self.power_groups:
            on = members[powered[members]]
            if len(on):
                watts[on] = model.watts(util[on])
        return watts

    @cached_property
    def power_groups(self) -> tuple[tuple[PowerModel, np.ndarray], ...]:
        """Hosts grouped by power model: fleets have a few models and many hosts."""
        by_id: dict[int, list[int]] = {}  # by identity first: hosts usually share model objects
        for h, host in enumerate(self.hosts):
            by_id.setdefault(id(host.power), []).append(h)
        groups: dict[PowerModel, list[int]] = {}
        for members in by_id.values():
            groups.setdefault(self.hosts[members[0]].power, []).extend(members)
        return tuple((model, np.array(sorted(members), dtype=np.int64)) for model, members in groups.items())

    @cached_property
    def dynamic_slope_w_per_core(self) -> np.ndarray:
        """float64[H]: s with P(u) >= idle + s * u * cores for every u (a lower line of the curve)."""
        slopes = np.empty(len(self.hosts))
        for model, members in self.power_groups:
            slopes[members] = model.min_dynamic_slope_w
        return slopes / self.physical_cores

    def watts(self, placement: np.ndarray | None = None, powered: np.ndarray | None = None) -> float:
        return float(self.host_watts(placement, powered).sum())

    def share_host_arrays(self, other: Fleet, rows: np.ndarray | None = None) -> None:
        """Take ``other``'s host arrays (capacity, watts, power curves), computing them on
        ``other`` if need be. ``other`` holds the same hosts, perhaps in other states and
        with other instances; or, with ``rows`` (int[H], increasing), this fleet's hosts
        are ``other``'s hosts at those rows. A simulator builds a fleet at every step of a
        replay, and the pipeline leaves hosts out of it: the hosts' own figures need
        computing once."""
        names = list(self._host_index)
        theirs = list(other._host_index) if rows is None else [other.hosts[r].name for r in rows.tolist()]
        if names != theirs:
            raise ValueError("share_host_arrays: the fleets hold different hosts")
        if rows is None:
            for name in _HOSTS_ONLY:
                if name not in self.__dict__:
                    self.__dict__[name] = getattr(other, name)  # computed once on ``other``, then shared
            return
        for name in ("capacity", "physical_cores", "idle_w", "max_w", "dynamic_slope_w_per_core", "core_size"):
            if name not in self.__dict__:
                self.__dict__[name] = getattr(other, name)[rows]
        if "power_groups" not in self.__dict__:
            position = np.full(len(other.hosts), -1, dtype=np.int64)
            position[rows] = np.arange(len(rows))
            groups = [(model, position[members]) for model, members in other.power_groups]
            self.__dict__["power_groups"] = tuple((model, at[at >= 0]) for model, at in groups if (at >= 0).any())

    def with_placement(self, placement: np.ndarray) -> Fleet:
        """A new snapshot with instances on the hosts ``placement`` names; emptied hosts keep their state."""
        instances = []
        for inst, h in zip(self.instances, placement):
            name = self.hosts[int(h)].name
            instances.append(inst if inst.host == name else replace(inst, host=name))
        hosts = []
        occupied = self.occupied(placement)
        for h, host in enumerate(self.hosts):
            if occupied[h] and host.state is HostState.OFF:
                host = replace(host, state=HostState.ENABLED)
            hosts.append(host)
        # the names, sizes and instances of a valid fleet: no new checks, and the arrays that
        # neither placement nor host state change are shared (every relieved solve calls this)
        fleet = Fleet(
            tuple(hosts), tuple(instances), self.server_groups, self.default_cpu_util, self.notes, self._host_index
        )
        for name in _PLACEMENT_FREE:
            if name in self.__dict__:
                fleet.__dict__[name] = self.__dict__[name]
        return fleet


# cached arrays of a Fleet that neither the placement nor the hosts' states change
_PLACEMENT_FREE = (
    "instance_index", "group_index", "capacity", "physical_cores", "demand", "cpu_used", "cpu_drawn", "movable",
    "settled_s", "idle_w", "max_w", "zones", "host_zone", "power_groups", "dynamic_slope_w_per_core", "core_size",
    "cpu_per_core",
)
# of those, the ones only the hosts (sizes, power models, zones) decide
_HOSTS_ONLY = ("capacity", "physical_cores", "idle_w", "max_w", "zones", "host_zone", "power_groups",
               "dynamic_slope_w_per_core", "core_size")
