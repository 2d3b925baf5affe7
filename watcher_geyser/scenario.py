"""Read and write the scenario format (docs/scenario.md): the one input every part shares.

The reader is strict about what matters and lenient about the rest: unknown fields are
ignored (so snapshots from newer versions still load; a misspelt known one is named in
a note), missing required fields and
impossible values raise ``ScenarioError`` naming the offending entry, so an operator can
find it in a file of thousands of instances.

Time enters in one place: an instance's ``moved_at`` (when a migration last brought it to its
host, as a snapshot read it) becomes ``settled_s`` counted to the reader's clock (``now_s``:
the plan's; ``settled.SettledClock``), so a scenario planned hours after it was taken holds a
recently moved instance out of the swap pass for as long as the payback time says, not longer.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from watcher_geyser.deferral.spec import parse_deferral
from watcher_geyser.fleet import Fleet
from watcher_geyser.inputs import LIMITS, InputError, closest, load_json, number, read_text, write_atomically
from watcher_geyser.power import PowerModel
from watcher_geyser.records import (
    DEFAULT_ZONE,
    MOVABLE_STATES,
    NOVA_TASKS,
    PINNED_STATES,
    GroupPolicy,
    Host,
    HostState,
    Instance,
    ServerGroup,
)
from watcher_geyser.settled import SettledClock, iso_utc


class ScenarioError(InputError):
    """A scenario that cannot be read; the message names the entry and the field."""


def load_scenario(path: str | Path, now_s: float | None = None) -> Fleet:
    """The fleet in ``path``; ``now_s``: the clock its ``moved_at`` times count to (None: the current time)."""
    return load_snapshot(path, now_s)[0]


def load_snapshot(path: str | Path, now_s: float | None = None) -> tuple[Fleet, float | None]:
    """The fleet in ``path`` (as ``load_scenario``) and since when its moves are known (epoch s; None:
    not said): its ``taken_at`` less its ``moved_within_s``, the window ``geyser snapshot`` read
    Nova's migrations over. An instance that moved before it has no ``moved_at`` although it may
    have moved, so ``geyser plan`` says when its ``--swap-payback`` reaches further back."""
    path = Path(path)
    try:
        data = load_json(read_text(path, "scenario"), str(path))
    except InputError as exc:
        raise ScenarioError(str(exc)) from None
    try:
        clock_s = time.time() if now_s is None else now_s
        return fleet_from_dict(data, clock_s), _moves_known_since(data, clock_s)
    except InputError as exc:
        raise ScenarioError(f"{path}: {exc}") from None


def _moves_known_since(data: dict, now_s: float) -> float | None:
    """``taken_at`` (else ``now_s``) less ``moved_within_s``; None without ``moved_within_s``."""
    if data.get("moved_within_s") is None:
        return None
    window_s = float(number(data["moved_within_s"], "scenario", "moved_within_s", low=0))
    taken_at_s = _clock(data, now_s).taken_at_s
    return (now_s if taken_at_s is None else taken_at_s) - window_s


def fleet_from_dict(data: Any, now_s: float | None = None) -> Fleet:
    """The fleet ``data`` describes, each instance's ``moved_at`` counted to ``now_s`` (None: the current
    time) as its ``settled_s`` (``_settled``)."""
    if not isinstance(data, dict):
        raise ScenarioError("a scenario is a JSON object with 'hosts' and 'instances'")
    hosts_raw = _list(data, "hosts", "scenario")
    if not hosts_raw:
        raise ScenarioError("scenario: 'hosts' is empty; a scenario needs at least one host")
    instances_raw = _list(data, "instances", "scenario", required=False)
    groups_raw = _list(data, "server_groups", "scenario", required=False)
    groups = [_group(g, i) for i, g in enumerate(groups_raw)]
    hosts = [_host(h, i) for i, h in enumerate(hosts_raw)]
    notes: list[str] = _typos([data], TOP_FIELDS, "the scenario")
    notes += _typos(hosts_raw, HOST_FIELDS, "host(s)") + _typos(instances_raw, INSTANCE_FIELDS, "instance(s)")
    notes += _typos(groups_raw, GROUP_FIELDS, "server group(s)")
    clock = _clock(data, time.time() if now_s is None else now_s)
    instances = [_instance(v, i, notes, clock) for i, v in enumerate(instances_raw)]
    notes += _state_typos(instances)
    default_cpu = data.get("default_cpu_util", 1.0)
    _fraction(default_cpu, "scenario", "default_cpu_util")
    try:
        return Fleet.build(hosts, instances, groups, float(default_cpu), tuple(notes))
    except ValueError as exc:
        raise ScenarioError(str(exc)) from exc


# The fields the reader knows (docs/scenario.md); the simulator's trace adds step_s and cpu_util_series.
TOP_FIELDS = frozenset({"hosts", "instances", "server_groups", "default_cpu_util", "step_s", "taken_at",
                        "moved_within_s"})
HOST_FIELDS = frozenset({
    "name", "vcpus", "memory_mb", "disk_gb", "cpu_allocation_ratio", "ram_allocation_ratio",
    "disk_allocation_ratio", "reserved_vcpus", "reserved_memory_mb", "reserved_disk_gb", "power", "state", "zone",
    "core_size",
})
INSTANCE_FIELDS = frozenset({
    "uuid", "name", "host", "vcpus", "memory_mb", "disk_gb", "cpu_util", "state", "locked", "excluded",
    "server_group", "metadata", "cpu_util_series", "cores", "claim_of", "settled_s",
    "moved_at",
})
GROUP_FIELDS = frozenset({"name", "policy"})


def _typos(entries: list, known: frozenset[str], what: str) -> list[str]:
    """Notes on unknown fields that look like a known one misspelt ('cpu_utl'): unknown fields are
    ignored (newer snapshots load), but a typo would silently drop a value the operator gave."""
    counts: dict[str, int] = {}
    for entry in entries:
        if isinstance(entry, dict):
            for key in entry.keys() - known:
                counts[key] = counts.get(key, 0) + 1
    notes = []
    for key, count in sorted(counts.items(), key=lambda kv: str(kv[0])):
        if (close := closest(key, known)) is not None:
            where = what if what == "the scenario" else f"{count} {what}"
            notes.append(f"{where}: unknown field {key!r} ignored; did you mean {close!r}? (docs/scenario.md)")
    return notes


def _state_typos(instances: list[Instance]) -> list[str]:
    """Notes on states that are no Nova state nor task but look like a movable one ('actve'): any
    other state pins an instance (Nova has more than we list), so a typo would pin it silently."""
    counts: dict[tuple[str, str], int] = {}
    for inst in instances:
        if inst.state in MOVABLE_STATES or inst.state in PINNED_STATES or inst.state in NOVA_TASKS:
            continue
        if (guess := closest(inst.state, MOVABLE_STATES)) is not None:
            counts[inst.state, guess] = counts.get((inst.state, guess), 0) + 1
    return [f"{count} instance(s): state {state!r} is no Nova state, so they stay where they are; did you mean "
            f"{guess!r}? (docs/scenario.md)" for (state, guess), count in sorted(counts.items())]


def fleet_to_dict(fleet: Fleet, taken_at_s: float | None = None, moved_within_s: float | None = None) -> dict:
    """The scenario form of a fleet; ``fleet_from_dict(fleet_to_dict(f))`` equals ``f``.

    With ``taken_at_s`` (when the fleet was read, as ``geyser snapshot`` knows it), the scenario says
    so (``taken_at``) and each instance's ``settled_s`` becomes the time it was moved (``moved_at``),
    which a plan counts to its own clock; both to the second, rounded alike, so no ``moved_at``
    lies after ``taken_at``."""
    hosts = []
    for h in fleet.hosts:
        hosts.append(
            {
                "name": h.name,
                "vcpus": h.vcpus,
                "memory_mb": h.memory_mb,
                "disk_gb": h.disk_gb,
                "cpu_allocation_ratio": h.cpu_allocation_ratio,
                "ram_allocation_ratio": h.ram_allocation_ratio,
                "disk_allocation_ratio": h.disk_allocation_ratio,
                "reserved_vcpus": h.reserved_vcpus,
                "reserved_memory_mb": h.reserved_memory_mb,
                "reserved_disk_gb": h.reserved_disk_gb,
                "power": h.power.to_json(),
                "state": h.state.value,
                "zone": h.zone,
            }
        )
        if h.core_size is not None:
            hosts[-1]["core_size"] = h.core_size
    instances = []
    for v in fleet.instances:
        row = {
            "uuid": v.uuid,
            "name": v.name,
            "host": v.host,
            "vcpus": v.vcpus,
            "memory_mb": v.memory_mb,
            "disk_gb": v.disk_gb,
            "state": v.state,
            "locked": v.locked,
        }
        if v.cpu_util is not None:
            row["cpu_util"] = v.cpu_util
        if v.excluded:
            row["excluded"] = True
        if v.server_group is not None:
            row["server_group"] = v.server_group
        if v.deferral is not None:
            row["metadata"] = v.deferral.to_metadata()
        if v.cores is not None:
            row["cores"] = v.cores
        if v.claim_of is not None:
            row["claim_of"] = v.claim_of
        if v.settled_s is not None and taken_at_s is not None:
            row["moved_at"] = iso_utc(round(taken_at_s - v.settled_s))
        elif v.settled_s is not None:
            row["settled_s"] = v.settled_s
        instances.append(row)
    data = {} if taken_at_s is None else {"taken_at": iso_utc(round(taken_at_s))}
    if moved_within_s is not None:  # how far back the moves were read (load_snapshot)
        data["moved_within_s"] = moved_within_s
    return data | {
        "hosts": hosts,
        "instances": instances,
        "server_groups": [{"name": g.name, "policy": g.policy.value} for g in fleet.server_groups],
        "default_cpu_util": fleet.default_cpu_util,
    }


def save_scenario(fleet: Fleet, path: str | Path) -> None:
    """Write atomically: a reader sees the old file or the new one, never half of one."""
    write_atomically(path, json.dumps(fleet_to_dict(fleet), indent=1) + "\n")


# --- field readers: each names the entry it reads ----------------------------------------


def _list(data: dict, key: str, where: str, required: bool = True) -> list:
    if key not in data:
        if required:
            raise ScenarioError(f"{where}: missing required field {key!r}")
        return []
    value = data[key]
    if not isinstance(value, list):
        raise ScenarioError(f"{where}: {key!r} must be a list, got {type(value).__name__}")
    return value


def _required(entry: dict, key: str, where: str) -> Any:
    if key not in entry:
        raise ScenarioError(f"{where}: missing required field {key!r}")
    return entry[key]


def _name(entry: Any, key: str, where: str) -> str:
    value = _required(entry, key, where)
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"{where}: {key!r} must be a non-empty string")
    return value


def _number(value: Any, where: str, key: str, integer: bool = False, positive: bool = False) -> float:
    """A finite number >= 0 (> 0 with ``positive``) within ``inputs.LIMITS`` for ``key``."""
    high = LIMITS.get(key, (0, None))[1]
    try:
        return number(value, where, key, low=0, high=high, low_open=positive, integer=integer)
    except InputError as exc:
        raise ScenarioError(str(exc)) from None


def _fraction(value: Any, where: str, key: str) -> float:
    try:
        return number(value, where, key, low=0, high=1, hint="a fraction between 0 and 1")
    except InputError as exc:
        raise ScenarioError(str(exc)) from None


def _host(entry: Any, index: int) -> Host:
    if not isinstance(entry, dict):
        raise ScenarioError(f"hosts[{index}]: must be an object")
    name = _name(entry, "name", f"hosts[{index}]")
    where = f"host {name!r}"
    size = {
        k: int(_number(_required(entry, k, where), where, k, integer=True)) for k in ("vcpus", "memory_mb", "disk_gb")
    }
    ratios = {
        k: float(_number(entry.get(k, 1.0), where, k, positive=True))
        for k in ("cpu_allocation_ratio", "ram_allocation_ratio", "disk_allocation_ratio")
    }
    reserved = {
        k: int(_number(entry.get(k, 0), where, k, integer=True))
        for k in ("reserved_vcpus", "reserved_memory_mb", "reserved_disk_gb")
    }
    for res, total in (
        ("reserved_vcpus", "vcpus"),
        ("reserved_memory_mb", "memory_mb"),
        ("reserved_disk_gb", "disk_gb"),
    ):
        if reserved[res] > size[total]:
            raise ScenarioError(f"{where}: {res} ({reserved[res]}) exceeds {total} ({size[total]})")
    state_raw = entry.get("state", "enabled")
    try:
        state = HostState(state_raw)
    except ValueError:
        raise ScenarioError(f"{where}: state must be one of enabled, disabled, off; got {state_raw!r}") from None
    zone = entry.get("zone", DEFAULT_ZONE)
    if not isinstance(zone, str) or not zone:
        raise ScenarioError(f"{where}: 'zone' must be a non-empty string")
    core_size = entry.get("core_size")
    if core_size is not None:
        core_size = float(_number(core_size, where, "core_size", positive=True))
    return Host(
        name=name,
        power=_power(_required(entry, "power", where), where),
        state=state,
        zone=zone,
        core_size=core_size,
        **size,
        **ratios,
        **reserved,
    )


def _power(entry: Any, where: str) -> PowerModel:
    if not isinstance(entry, dict):
        raise ScenarioError(f"{where}: 'power' must be an object with idle_w/max_w or curve_w")
    try:
        if "curve_w" in entry:
            curve = entry["curve_w"]
            if not isinstance(curve, list):
                raise ValueError("'curve_w' must be a list of 11 numbers")
            return PowerModel.curve([_number(p, where, "curve_w") for p in curve])
        if "idle_w" in entry and "max_w" in entry:
            return PowerModel.linear(_number(entry["idle_w"], where, "idle_w"), _number(entry["max_w"], where, "max_w"))
    except ValueError as exc:
        raise ScenarioError(f"{where}: power: {exc}") from None
    raise ScenarioError(f"{where}: 'power' needs either idle_w and max_w, or curve_w (11 points)")


def _instance(entry: Any, index: int, notes: list[str], clock: SettledClock) -> Instance:
    if not isinstance(entry, dict):
        raise ScenarioError(f"instances[{index}]: must be an object")
    uuid = _name(entry, "uuid", f"instances[{index}]")
    where = f"instance {uuid!r}"
    name = entry.get("name", uuid)
    if not isinstance(name, str):
        raise ScenarioError(f"{where}: 'name' must be a string")
    size = {
        k: int(_number(_required(entry, k, where), where, k, integer=True)) for k in ("vcpus", "memory_mb", "disk_gb")
    }
    cpu_util = entry.get("cpu_util")
    if cpu_util is not None:
        cpu_util = float(_fraction(cpu_util, where, "cpu_util"))
    state = entry.get("state", "active")
    if not isinstance(state, str):
        raise ScenarioError(f"{where}: 'state' must be a string")
    flags = {}
    for key in ("locked", "excluded"):
        value = entry.get(key, False)
        if not isinstance(value, bool):
            raise ScenarioError(f"{where}: {key!r} must be true or false, got {value!r}")
        flags[key] = value
    group = entry.get("server_group")
    if group is not None and not isinstance(group, str):
        raise ScenarioError(f"{where}: 'server_group' must be a group name")
    metadata = entry.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ScenarioError(f"{where}: 'metadata' must be an object of string keys and values")
    deferral, deferral_notes = parse_deferral(metadata, where)
    notes.extend(deferral_notes)
    cores = entry.get("cores")
    if cores is not None:
        cores = int(_number(cores, where, "cores", integer=True, positive=True))
    claim_of = entry.get("claim_of")
    if claim_of is not None and (not isinstance(claim_of, str) or not claim_of):
        raise ScenarioError(f"{where}: 'claim_of' must be the uuid of the migrating instance it holds room for")
    try:
        settled_s = clock.settled_s(entry.get("moved_at"), entry.get("settled_s"), where)
    except InputError as exc:
        raise ScenarioError(str(exc)) from None
    return Instance(
        claim_of=claim_of,
        cores=cores,
        settled_s=settled_s,
        uuid=uuid,
        name=name,
        host=_name(entry, "host", where),
        cpu_util=cpu_util,
        state=state.lower(),
        server_group=group,
        deferral=deferral,
        **size,
        **flags,
    )


def _clock(data: dict, now_s: float) -> SettledClock:
    """The plan's clock with the scenario's ``taken_at`` (``settled.SettledClock``)."""
    try:
        return SettledClock.of(data.get("taken_at"), now_s)
    except InputError as exc:
        raise ScenarioError(str(exc)) from None


def _group(entry: Any, index: int) -> ServerGroup:
    if not isinstance(entry, dict):
        raise ScenarioError(f"server_groups[{index}]: must be an object")
    name = _name(entry, "name", f"server_groups[{index}]")
    policy = _required(entry, "policy", f"server group {name!r}")
    try:
        return ServerGroup(name, GroupPolicy(policy))
    except ValueError:
        choices = ", ".join(p.value for p in GroupPolicy)
        raise ScenarioError(f"server group {name!r}: policy must be one of {choices}; got {policy!r}") from None

