"""Fill hosts from a pool of interchangeable instances: vector bin packing that scales.

Clouds have few flavours, so the instances to place fall into a few hundred classes (zone,
flavour, band of measured CPU), each a count. Each step, a host picks the class whose
demand points the way its remaining room points (cosine of the two vectors, dimensions
weighted by how tight they are across the pool, larger classes first on ties: a variant of
the "DotProduct" heuristic of Panigrahy et al., *Heuristics for Vector Bin Packing*, 2011),
takes up to half of what fits, then looks again. A host is thus topped up in every
dimension at once, where filling it with one flavour until one dimension runs out (what a
per-flavour batch does) strands the others. All hosts take their step at once (one
hosts-by-classes matrix per round), so the numpy calls follow the rounds (some tens), not
the hosts.

Which instances of a class are placed, and which are left over when room runs out, follows
the order of ``items``: those listed first are placed first, so a caller that lists the
instances of the hosts most expensive to empty last gathers the left-overs on few hosts.

A class fits only hosts whose core tier is at least its own (``rules/cores.py``: a host's cores
must be fast enough for a moved instance); with one tier every class fits every host.
"""

from __future__ import annotations

import numpy as np

from watcher_geyser.fleet import VCPU

EPS = 1e-9
# how sharply the alignment favours the tightest dimensions (tuned on bench/solver_scale.py's
# families: 0 ignores tightness; 6 reached the hosts bound on deep and fleetgen fleets)
TIGHTNESS_POWER = 6


def fill_hosts(
    demand: np.ndarray,
    keys: np.ndarray,
    zone: np.ndarray,
    items: np.ndarray,
    residual: np.ndarray,
    host_zone: np.ndarray,
    scale: np.ndarray,
    tier: np.ndarray | None = None,
    host_tier: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Place ``items`` (instance indices, in priority order) into hosts' ``residual`` room.

    ``demand[v]`` is what instance v needs, ``keys[v]`` its class (equal keys: the class is
    charged the largest demand of its members), ``zone[v]`` its zone; ``residual`` (float[H, R],
    ``-inf`` for hosts that may not receive) is updated in place. Returns (placed items,
    their hosts); the items not returned found no room. ``tier[v]`` and ``host_tier[h]`` (core
    tiers, ``rules/cores.core_tiers``; None: no per-core limit): instance v fits host h only when
    ``host_tier[h] >= tier[v]``; a class takes the highest tier of its members.
    """
    placed_items: list[np.ndarray] = []
    placed_hosts: list[np.ndarray] = []
    inv_scale = 1.0 / np.maximum(scale, EPS)
    for z in np.unique(zone[items]):
        in_zone = items[zone[items] == z]
        order = np.argsort(keys[in_zone], kind="stable")  # stable: priority order kept within a class
        members = in_zone[order]
        class_keys = keys[members]
        starts = np.flatnonzero(np.r_[True, class_keys[1:] != class_keys[:-1]])
        ends = np.r_[starts[1:], len(members)]
        need = np.maximum.reduceat(demand[members], starts, axis=0)
        hosts = np.flatnonzero((host_zone == z) & np.isfinite(residual[:, VCPU]))
        count = (ends - starts).astype(np.int64)
        class_tier = None if tier is None else np.maximum.reduceat(tier[members], starts)
        # dimensions weigh by how tight they are: room in a dimension nobody lacks is no loss
        free = np.maximum(residual[hosts], 0).sum(axis=0)
        tight = np.clip((need * count[:, None]).sum(axis=0) / np.maximum(free, EPS), 0.01, 1.0)
        tiers = None if class_tier is None else (class_tier, host_tier)
        counts = _fill_rounds(need, count, residual, hosts, inv_scale * tight**TIGHTNESS_POWER, tiers)
        if not counts:
            continue
        rec_host, rec_class, rec_count = (np.concatenate(x) for x in zip(*counts))
        # the records of one class, in the order they were granted, take its members in priority order
        by_class = np.argsort(rec_class, kind="stable")
        rec_host, rec_class, rec_count = rec_host[by_class], rec_class[by_class], rec_count[by_class]
        first = np.r_[True, rec_class[1:] != rec_class[:-1]]
        offset = np.cumsum(rec_count) - rec_count
        offset -= np.maximum.accumulate(np.where(first, offset, 0))
        slot = np.repeat(starts[rec_class] + offset, rec_count)
        slot += np.arange(len(slot)) - np.repeat(np.cumsum(rec_count) - rec_count, rec_count)
        placed_items.append(members[slot])
        placed_hosts.append(np.repeat(rec_host, rec_count))
    if not placed_items:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(placed_items), np.concatenate(placed_hosts)


def _fill_rounds(
    need: np.ndarray, left: np.ndarray, residual: np.ndarray, hosts: np.ndarray, inv_scale: np.ndarray,
    tiers: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """All hosts at once, round after round: each picks the class best aligned with its room
    and asks for half of what fits; a class short of members grants the hosts in order
    (fullest first). ``tiers``: (core tier per class, per host), a class fitting only hosts of
    its tier or above. Returns (host, class, count) records in the order granted."""
    shape = need * inv_scale
    size = shape.max(axis=1)
    shape = shape / np.maximum(np.linalg.norm(shape, axis=1), EPS)[:, None]
    positive = need > EPS
    safe_need = np.where(positive, need, 1.0)
    room = (residual[hosts] * inv_scale).sum(axis=1)
    active = hosts[np.argsort(room, kind="stable")]
    records = []
    while len(active) and left.any():
        alive = np.flatnonzero(left > 0)  # classes used up drop out of the matrices
        r = residual[active]
        fits = np.ones((len(active), len(alive)), dtype=bool)
        if tiers is not None:
            fits &= tiers[1][active, None] >= tiers[0][None, alive]
        for d in range(need.shape[1]):
            fits &= need[None, alive, d] <= r[:, d, None] + EPS
        some = fits.any(axis=1)
        active, r, fits = active[some], r[some], fits[some]
        if not len(active):
            break
        room_shape = r * inv_scale
        aligned = room_shape @ shape[alive].T / np.maximum(np.linalg.norm(room_shape, axis=1), EPS)[:, None]
        best = np.argmax(np.where(fits, aligned + 0.1 * size[None, alive], -np.inf), axis=1)
        choice = alive[best]
        per_dim = np.where(positive[choice], np.floor((r + EPS) / safe_need[choice]), np.inf)
        most = np.minimum(per_dim.min(axis=1), left[choice]).astype(np.int64)
        want = np.maximum(1, most // 2)
        # grant in host order within each class: a class runs out for the last askers
        by_class = np.argsort(choice, kind="stable")
        chosen, asked = choice[by_class], want[by_class]
        before = np.cumsum(asked) - asked
        first = np.r_[True, chosen[1:] != chosen[:-1]]
        before -= np.maximum.accumulate(np.where(first, before, 0))
        granted = np.clip(left[chosen] - before, 0, asked)
        got = granted > 0
        h, c, k = active[by_class][got], chosen[got], granted[got]
        residual[h] -= need[c] * k[:, None]
        np.subtract.at(left, c, k)
        records.append((h, c, k))
    return records
