"""The rule applied to a fleet: which of its deferrable instances to shelve, which shelved ones to bring back.

Shared by the Watcher strategy (and any shell holding a ``Fleet``): running deferrable
instances come from the fleet, instances geyser holds shelved (which Nova keeps off every
host, so they are not in the fleet) are passed in. The answer carries the fleet without the
instances to shelve, so the solver plans as if they were gone: the hosts they free may be
emptied and switched off in the same plan, after they are shelved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from watcher_geyser.deferral.decide import Candidate, DeferralConfig, Energy, decide_deferral
from watcher_geyser.deferral.spec import Deferral
from watcher_geyser.fleet import Fleet
from watcher_geyser.records import GroupPolicy


@dataclass(frozen=True)
class Shelved:
    """An instance geyser holds shelved (it carries ``geyser:shelved_at``)."""

    uuid: str
    name: str
    deferral: Deferral
    vcpus: int | None = None  # its flavour (None: unknown, Nova's scheduler places it)
    memory_mb: int | None = None
    disk_gb: int | None = None
    zone: str | None = None  # its availability zone, when Nova says
    server_group: str | None = None  # its server group's key (``strategies.cloud.group_key``), when any
    group_policy: GroupPolicy | None = None  # that group's policy: where it may come back (``room``)


@dataclass
class FleetDeferral:
    """What to do with deferrable instances, and the fleet the solver should plan."""

    fleet: Fleet
    shelve: list[tuple[str, str]] = field(default_factory=list)  # (uuid, name)
    resume: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    due: frozenset[str] = frozenset()  # of ``resume``: brought back by their deadline
    back: dict[str, Shelved] = field(default_factory=dict)  # uuid -> the shelved instance, for each of ``resume``
    destinations: dict[str, str] = field(default_factory=dict)  # uuid -> host, set by ``room.with_room``
    switch_on: list[str] = field(default_factory=list)  # hosts to switch on (and enable) before the bring-backs


def with_groups(shelved: Iterable[Shelved], groups: Mapping[str, tuple[str, str]]) -> list[Shelved]:
    """``shelved`` with their server groups, from ``groups`` (instance uuid -> (group key, policy), as
    Nova lists its groups: a shelved instance stays a member). Nova's listing of shelved instances
    does not say the group, and the room made for them must keep its policy (``room``)."""
    known = {p.value for p in GroupPolicy}
    out = []
    for s in shelved:
        key, policy = groups.get(s.uuid, (None, None))
        # a policy this model does not know binds nothing here, as none binds the solver (``adapter``)
        out.append(replace(s, server_group=key, group_policy=GroupPolicy(policy)) if policy in known else s)
    return out


def spare_hosts(shelve: Iterable[str], host_of: Mapping[str, str], occupants: Mapping[str, int],
                keep_on: frozenset[str]) -> tuple[list[str], list[str]]:
    """``shelve`` without what would empty a host of ``keep_on``; (kept, spared).

    Hosts whose power-cycle budget is spent must stay on (``pipeline.PowerCycles``): shelving
    every instance of one would switch it off behind the solver's back. ``occupants`` counts
    each host's running instances; the last one of a kept host stays running.
    """
    left = dict(occupants)
    kept, spared = [], []
    for uuid in shelve:
        host = host_of.get(uuid)
        if host in keep_on and left.get(host, 0) <= 1:
            spared.append(uuid)
            continue
        if host is not None:
            left[host] = left.get(host, 0) - 1
        kept.append(uuid)
    return kept, spared


def defer_in_fleet(
    fleet: Fleet, shelved: list[Shelved], energy: Energy, now_s: float, config: DeferralConfig | None = None,
    keep_on: frozenset[str] = frozenset(), plan_s: float = 0.0,
) -> FleetDeferral:
    """Apply the rule (``decide``) to the fleet's running deferrable instances and to ``shelved``,
    with ``plan_s`` the expected duration of the plan this decision makes (rule 1).

    Only instances that could be moved are shelved (not locked, not excluded, active or
    stopped): the same instances an operator lets geyser touch; none that would empty a host
    of ``keep_on`` (``spare_hosts``).
    """
    names = {i.uuid: i.name for i in fleet.instances}
    names.update({s.uuid: s.name for s in shelved})
    candidates = [
        Candidate(i.uuid, False, i.deferral.resume_by_s(now_s), i.deferral.runtime_s or None)
        for i in fleet.instances
        if i.deferral is not None and i.movable
    ]
    candidates += [Candidate(s.uuid, True, s.deferral.resume_by_s(now_s), s.deferral.runtime_s or None)
                   for s in shelved]
    plan = decide_deferral(candidates, energy, now_s, config, plan_s)
    host_of = {i.uuid: i.host for i in fleet.instances if i.host is not None}
    occupants: dict[str, int] = {}
    for host in host_of.values():
        occupants[host] = occupants.get(host, 0) + 1
    to_shelve, spared = spare_hosts(plan.shelve, host_of, occupants, keep_on)
    notes = [f"shelve {names[u]}: {plan.reasons[u]}" for u in to_shelve]
    notes += [f"{names[u]} stays running: its host {host_of[u]} must stay on (power-cycle budget spent)"
              for u in spared]
    notes += [f"bring back {names[u]}: {plan.reasons[u]}" for u in plan.resume]
    leaving = set(to_shelve)
    if leaving:
        kept = [i for i in fleet.instances if i.uuid not in leaving]
        fleet = Fleet.build(fleet.hosts, kept, fleet.server_groups, fleet.default_cpu_util, fleet.notes)
    by_uuid = {s.uuid: s for s in shelved}
    return FleetDeferral(
        fleet,
        [(u, names[u]) for u in to_shelve],
        [(u, names[u]) for u in plan.resume],
        notes,
        frozenset(plan.due),
        {u: by_uuid[u] for u in plan.resume if u in by_uuid},
    )
